//! `wasi:sockets` and `wasi:http` served to an ordinary WASI component (fixture `sockets`,
//! which reaches the network through `std::net` and `wasi:http` like third-party code does),
//! every lookup, connect, bind, datagram and request decided at call time. Each test runs
//! a local server that counts what reaches it, so a refusal is shown to have left no effect.

use crate::common;

use std::net::{TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::server::Server;
use common::{Env, call, load, ok_json, rt};
use libos::host::{LoadedTool, ToolHost};
use libos_guests as guests;

/// An HTTP/1.1 answer: `/redirect` sends to `/secret`, everything else says which path.
fn http_reply(request: &str) -> String {
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    if path == "/redirect" {
        return "HTTP/1.1 302 Found\r\nlocation: /secret\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into();
    }
    let body = format!("you asked for {path}");
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn echo(request: &str) -> String {
    format!("echo:{request}")
}

struct Probe {
    env: Env,
    host: ToolHost,
    tool: LoadedTool,
}

impl Probe {
    fn new() -> Probe {
        let env = Env::new();
        let host = env.host();
        let tool = rt().block_on(load(&host, guests::SOCKETS));
        Probe { env, host, tool }
    }

    /// Calls the probe holding `caps` (under `policy`, if any).
    fn call(
        &self,
        caps: &[&str],
        policy: Option<&str>,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let options = self.env.options(caps, policy);
        let report = rt().block_on(call(&self.host, &self.tool, &input.to_string(), &options));
        match &report.result {
            Ok(_) => Ok(ok_json(&report)),
            Err(e) => Err(e.to_string()),
        }
    }

    /// (verdict, resource) of every `action` record so far.
    fn decided(&self, action: &str) -> Vec<(String, String)> {
        self.env
            .audit(&self.host)
            .into_iter()
            .filter(|(_, a, _)| a == action)
            .map(|(v, _, r)| (v, r))
            .collect()
    }
}

fn tcp(host: &str, port: u16) -> serde_json::Value {
    serde_json::json!({"op": "tcp", "host": host, "port": port, "send": "hi"})
}

#[test]
fn a_connect_needs_a_capability_naming_the_internal_address_and_a_refusal_reaches_nobody() {
    let server = Server::start(echo);
    let probe = Probe::new();
    let p = server.port;
    let named = format!("net.connect:127.0.0.1:{p}");
    let allowed = probe.call(&[&named], None, tcp("127.0.0.1", p)).unwrap();
    assert_eq!(allowed["reply"], "echo:hi");
    assert_eq!(server.hits(), 1);

    // Refused: nothing held, another port, and capabilities that do not name the address
    // (a wildcard, every action, a name that resolves to it).
    let other_port = format!("net.connect:127.0.0.1:{}", p.wrapping_add(1));
    let wildcard = format!("net.connect:*:{p}");
    let by_name = format!("net.connect:localhost:{p}");
    for caps in [
        vec![],
        vec![other_port.as_str()],
        vec![wildcard.as_str()],
        vec!["*"],
        vec![by_name.as_str(), "net.resolve:localhost"],
    ] {
        let host = if caps.len() == 2 {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let err = probe.call(&caps, None, tcp(host, p)).unwrap_err();
        assert!(err.contains("PermissionDenied"), "{caps:?}: {err}");
    }
    assert_eq!(server.hits(), 1, "no refused connect reached the server");
    let records = probe.decided("net.connect");
    assert!(
        records.contains(&("allow".into(), format!("127.0.0.1:{p}"))),
        "{records:?}"
    );
    assert!(
        records.contains(&("deny".into(), format!("localhost:{p}"))),
        "{records:?}"
    );
    assert_eq!(
        records.iter().filter(|(v, _)| v == "deny").count(),
        5,
        "{records:?}"
    );

    // A name is decided on itself and on the internal address it resolved to.
    let both = probe
        .call(
            &[&by_name, &named, "net.resolve:localhost"],
            None,
            tcp("localhost", p),
        )
        .unwrap();
    assert_eq!(both["reply"], "echo:hi");
    assert_eq!(server.hits(), 2);
}

#[test]
fn lookups_and_binds_are_decided_on_the_name_and_the_port() {
    let probe = Probe::new();
    let resolve = serde_json::json!({"op": "resolve", "host": "LocalHost"});
    let err = probe.call(&[], None, resolve.clone()).unwrap_err();
    assert!(err.contains("PermissionDenied"), "{err}");
    let found = probe
        .call(&["net.resolve:localhost"], None, resolve)
        .unwrap();
    assert!(
        found["addresses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "127.0.0.1"),
        "{found}"
    );
    assert_eq!(
        probe.decided("net.resolve"),
        vec![
            ("deny".into(), "localhost".into()),
            ("allow".into(), "localhost".into())
        ]
    );

    // A port nobody uses: free it, then bind it through the probe.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = serde_json::json!({"op": "listen", "port": port});
    let err = probe
        .call(&["net.bind:1"], None, listen.clone())
        .unwrap_err();
    assert!(err.contains("PermissionDenied"), "{err}");
    let bound = probe
        .call(&[&format!("net.bind:{port}")], None, listen)
        .unwrap();
    assert_eq!(bound["port"], port);
    let ephemeral = serde_json::json!({"op": "listen", "port": 0});
    assert!(
        probe
            .call(&[&format!("net.bind:{port}")], None, ephemeral.clone())
            .is_err()
    );
    assert!(probe.call(&["net.bind:0"], None, ephemeral).is_ok());
}

#[test]
fn every_datagram_destination_is_decided() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    let got = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&got);
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        while let Ok((n, from)) = server.recv_from(&mut buf) {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut reply = b"pong:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = server.send_to(&reply, from);
        }
    });
    let probe = Probe::new();
    let udp = serde_json::json!({"op": "udp", "host": "127.0.0.1", "port": port, "send": "ping"});
    let err = probe.call(&["net.bind:0"], None, udp.clone()).unwrap_err();
    assert!(err.contains("PermissionDenied"), "{err}");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(got.load(Ordering::SeqCst), 0, "a refused datagram was sent");
    let to = format!("net.connect:127.0.0.1:{port}");
    let reply = probe.call(&["net.bind:0", &to], None, udp).unwrap();
    assert_eq!(reply["reply"], "pong:ping");
    assert_eq!(got.load(Ordering::SeqCst), 1);
}

fn http(path: &str, port: u16, follow: bool) -> serde_json::Value {
    serde_json::json!({"op": "http", "method": "GET", "scheme": "http",
        "authority": format!("127.0.0.1:{port}"), "path": path, "follow": follow})
}

#[test]
fn http_requests_are_decided_per_method_authority_and_path_and_redirects_again() {
    let server = Server::start(http_reply);
    let probe = Probe::new();
    let p = server.port;
    let public = format!("http.request:GET:127.0.0.1:{p}/public/**");
    let ok = probe
        .call(&[&public], None, http("/public/a?x=1", p, false))
        .unwrap();
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["body"], "you asked for /public/a?x=1");
    assert_eq!(server.hits(), 1);

    for path in [
        "/secret",
        "/public/../secret",
        "/public/%2e%2e/secret",
        "/public%2f..%2fsecret",
    ] {
        let err = probe
            .call(&[&public], None, http(path, p, false))
            .unwrap_err();
        assert!(err.contains("HttpRequestDenied"), "{path}: {err}");
    }
    // A capability that does not name the internal address reaches nothing.
    let err = probe
        .call(
            &["http.request:GET:*/**"],
            None,
            http("/public/a", p, false),
        )
        .unwrap_err();
    assert!(err.contains("DestinationIpProhibited"), "{err}");
    assert_eq!(server.hits(), 1, "no refused request reached the server");

    // A redirect is a new request, decided again: allowed to /redirect, refused to /secret.
    let hop = format!("http.request:GET:127.0.0.1:{p}/redirect");
    let err = probe
        .call(&[&hop], None, http("/redirect", p, true))
        .unwrap_err();
    assert!(err.contains("HttpRequestDenied"), "{err}");
    assert_eq!(server.hits(), 2);
    let secret = format!("http.request:GET:127.0.0.1:{p}/secret");
    let followed = probe
        .call(&[&hop, &secret], None, http("/redirect", p, true))
        .unwrap();
    assert_eq!(followed["body"], "you asked for /secret");
    let records = probe.decided("http.request");
    assert!(
        records.contains(&("allow".into(), format!("GET:127.0.0.1:{p}/secret"))),
        "{records:?}"
    );
    assert!(
        records.contains(&("deny".into(), format!("GET:127.0.0.1:{p}/public/../secret"))),
        "{records:?}"
    );
}

#[test]
fn a_policy_that_asks_or_forbids_refuses_with_a_typed_error() {
    let server = Server::start(echo);
    let probe = Probe::new();
    let p = server.port;
    let named = format!("net.connect:127.0.0.1:{p}");
    for policy in [
        r#"@id("ask-net") @decision("ask") permit(principal, action == Action::"net.connect", resource);"#,
        r#"@id("all") permit(principal, action, resource); @id("no-net") forbid(principal, action == Action::"net.connect", resource);"#,
    ] {
        let err = probe
            .call(&[&named], Some(policy), tcp("127.0.0.1", p))
            .unwrap_err();
        assert!(err.contains("PermissionDenied"), "{policy}: {err}");
    }
    assert_eq!(server.hits(), 0);
}

#[test]
fn hostile_addresses_and_names_never_panic_the_host() {
    let probe = Probe::new();
    for (host, port) in [
        ("", 1),
        ("::", 0),
        ("0.0.0.0", 80),
        ("169.254.169.254", 80),
        ("[::1]", 80),
        (&"a".repeat(5000), 80),
        ("bad\0name", 80),
    ] {
        let r = probe.call(&["net.connect", "net.resolve"], None, tcp(host, port));
        assert!(r.is_err(), "{host}:{port} reached: {r:?}");
    }
    for authority in [
        "user@127.0.0.1",
        "",
        "127.0.0.1:99999",
        "[::1",
        "exa mple.com",
    ] {
        let input = serde_json::json!({"op": "http", "scheme": "http", "authority": authority, "path": "/"});
        assert!(
            probe.call(&["http.request"], None, input).is_err(),
            "{authority}"
        );
    }
}

#[test]
fn naming_an_internal_address_for_one_port_or_path_opens_nothing_else() {
    let server = Server::start(http_reply);
    let probe = Probe::new();
    let p = server.port;
    // A capability naming the address for another port, beside wildcards that would cover
    // the port: the wildcards still reach nothing internal.
    let other = format!("net.connect:127.0.0.1:{}", p.wrapping_add(1));
    for caps in [
        vec![other.as_str(), "net.connect:*"],
        vec![other.as_str(), "*"],
        vec![other.as_str(), "net.connect:**", "net.resolve"],
    ] {
        let host = if caps.len() == 3 {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let err = probe.call(&caps, None, tcp(host, p)).unwrap_err();
        assert!(err.contains("PermissionDenied"), "{caps:?}: {err}");
    }
    // The same for HTTP: /public named, /secret only under a wildcard.
    let public = format!("http.request:GET:127.0.0.1:{p}/public/**");
    for wide in ["http.request:GET:*/**", "http.request", "*"] {
        let err = probe
            .call(&[&public, wide], None, http("/secret", p, false))
            .unwrap_err();
        assert!(err.contains("DestinationIpProhibited"), "{wide}: {err}");
    }
    let by_name = format!("http.request:GET:localhost:{p}/**");
    let input = serde_json::json!({"op": "http", "method": "GET", "scheme": "http",
        "authority": format!("localhost:{p}"), "path": "/secret"});
    let err = probe.call(&[&public, &by_name], None, input).unwrap_err();
    assert!(err.contains("DestinationIpProhibited"), "{err}");
    assert_eq!(server.hits(), 0, "nothing reached the server");
    // The sender's refusal is in the record, on the address it refused.
    let records = probe.decided("http.request");
    assert!(
        records.contains(&("deny".into(), format!("GET:127.0.0.1:{p}/secret"))),
        "{records:?}"
    );
    // Named for the very port and path, it is reached.
    let secret = format!("http.request:GET:127.0.0.1:{p}/secret");
    let ok = probe
        .call(&[&secret], None, http("/secret", p, false))
        .unwrap();
    assert_eq!(ok["body"], "you asked for /secret");
}

#[test]
fn https_connects_to_the_checked_address_and_checks_the_name() {
    // A plain TCP server standing in for an HTTPS one: the handshake fails (no certificate
    // for the name), but the connection went to the address that was checked.
    let server = Server::start(echo);
    let probe = Probe::new();
    let p = server.port;
    let input = serde_json::json!({"op": "http", "method": "GET", "scheme": "https",
        "authority": format!("127.0.0.1:{p}"), "path": "/"});
    let named = format!("http.request:GET:127.0.0.1:{p}/**");
    let err = probe.call(&[&named], None, input.clone()).unwrap_err();
    assert!(err.contains("Tls"), "{err}");
    assert_eq!(server.hits(), 1);
    let err = probe
        .call(&["http.request:GET:*/**"], None, input)
        .unwrap_err();
    assert!(err.contains("DestinationIpProhibited"), "{err}");
    assert_eq!(server.hits(), 1);
}

#[test]
fn ports_paths_and_methods_are_decided_as_they_are_sent() {
    let server = Server::start(http_reply);
    let probe = Probe::new();
    let p = server.port;
    let public = format!("http.request:GET:127.0.0.1:{p}/public/**");
    // Forms a server may read as `..` or as another path.
    for path in [
        "/public/..;/secret",
        "/public/..%5csecret",
        "/public/..\\secret",
    ] {
        let err = probe
            .call(&[&public], None, http(path, p, false))
            .unwrap_err();
        assert!(err.contains("HttpRequestDenied"), "{path}: {err}");
    }
    // A port that is no port is refused, not sent to the default one.
    let wide = "http.request:GET:127.0.0.1:*/**";
    for authority in [
        "127.0.0.1:180000",
        "127.0.0.1:0",
        "127.0.0.1:99999999999999999999",
    ] {
        let input = serde_json::json!({"op": "http", "method": "GET", "scheme": "http",
            "authority": authority, "path": "/public/a"});
        let err = probe.call(&[wide, &public], None, input).unwrap_err();
        assert!(err.contains("HttpRequestUriInvalid"), "{authority}: {err}");
    }
    // Methods are case-sensitive on the wire, and so is the decision.
    let lower = serde_json::json!({"op": "http", "method": "get", "scheme": "http",
        "authority": format!("127.0.0.1:{p}"), "path": "/public/a"});
    let err = probe.call(&[&public], None, lower).unwrap_err();
    assert!(err.contains("HttpRequestDenied"), "{err}");
    assert_eq!(server.hits(), 0);
}

#[test]
fn this_machines_own_addresses_are_internal() {
    // The address this machine would reach the outside from, if it has one.
    let Some(own) = UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| s.connect("192.0.2.1:9").map(|()| s))
        .and_then(|s| s.local_addr())
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
    else {
        return;
    };
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let probe = Probe::new();
    let host = own.to_string();
    let err = probe
        .call(&["net.connect:*"], None, tcp(&host, port))
        .unwrap_err();
    assert!(err.contains("PermissionDenied"), "{own}: {err}");
    assert!(
        listener.accept().is_err(),
        "a connection reached the listener"
    );
}
