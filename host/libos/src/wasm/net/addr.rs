//! Network resources as decisions name them, and the address ranges a name never reaches.
//!
//! * `net.connect` is decided on `HOST:PORT`: the name the guest resolved (lowercase), or the
//!   address itself (`10.0.0.5:80`, `[::1]:443`) when it connects to one it did not resolve.
//! * `net.bind` on `PORT` (`0`: an ephemeral port), `net.resolve` on the name.
//! * `http.request` on `METHOD:AUTHORITY/PATH` (authority lowercase with its port when the
//!   request names one, path without the query).
//!
//! An address in a [`special`] range (loopback, private, link-local, shared, unspecified,
//! multicast, reserved, IPv6 forms embedding one, and this machine's own interface
//! addresses) is reached only when a held capability **names it** (its resource's host part
//! is that very address; IPv6 brackets escaped, `\[::1\]:443`) and covers the resource. A capability for a name or
//! a wildcard never covers one, so a name that resolves (or is rebound) to an internal address
//! reaches nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use libos_authority::{Capability, CapabilitySet};

/// The address in its plainest form: an IPv4 address mapped into IPv6 is the IPv4 one.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `HOST:PORT` of `addr` as a resource (`[v6]:port` for IPv6).
pub fn socket_resource(addr: SocketAddr) -> String {
    SocketAddr::new(canonical(addr.ip()), addr.port()).to_string()
}

/// Whether `ip` lies in a range a name or a wildcard capability never reaches, or is an
/// address of this machine's own interfaces (where a service listening on all interfaces
/// answers as it does on loopback).
pub fn special(ip: IpAddr) -> bool {
    let ip = canonical(ip);
    let ranged = match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    };
    ranged || own_addresses().contains(&ip)
}

/// How long the list of this machine's addresses is kept before it is read again.
const OWN_KEPT: std::time::Duration = std::time::Duration::from_secs(2);

/// This machine's interface addresses (read from `/proc/net/fib_trie` and
/// `/proc/net/if_inet6`, kept for [`OWN_KEPT`]).
fn own_addresses() -> std::sync::Arc<Vec<IpAddr>> {
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Instant;
    type Kept = Option<(Instant, Arc<Vec<IpAddr>>)>;
    static KEPT: Mutex<Kept> = Mutex::new(None);
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((at, list)) = kept.as_ref()
        && at.elapsed() < OWN_KEPT
    {
        return Arc::clone(list);
    }
    let list = Arc::new(read_own_addresses());
    *kept = Some((Instant::now(), Arc::clone(&list)));
    list
}

fn read_own_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/proc/net/fib_trie") {
        // `|-- 192.0.2.2` followed by `/32 host LOCAL`: an address of this machine.
        let mut last: Option<Ipv4Addr> = None;
        for line in text.lines() {
            let item = line.trim_start_matches([' ', '|', '-', '+']).trim();
            if let Ok(ip) = item.parse::<Ipv4Addr>() {
                last = Some(ip);
            } else if item.starts_with("/32 host LOCAL")
                && let Some(ip) = last
            {
                out.push(IpAddr::V4(ip));
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/if_inet6") {
        for hex in text.lines().filter_map(|l| l.split_whitespace().next()) {
            if hex.len() == 32
                && let Ok(n) = u128::from_str_radix(hex, 16)
            {
                out.push(IpAddr::V6(Ipv6Addr::from(n)));
            }
        }
    }
    out
}

fn special_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        || a >= 240
        // shared address space (carrier-grade NAT), 100.64.0.0/10
        || (a == 100 && (b & 0xc0) == 64)
        // benchmarking, 198.18.0.0/15
        || (a == 198 && (b & 0xfe) == 18)
}

fn special_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    // IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) forms embed an IPv4 address.
    let embedded = Ipv4Addr::new(
        (seg[6] >> 8) as u8,
        seg[6] as u8,
        (seg[7] >> 8) as u8,
        seg[7] as u8,
    );
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local
        || (seg[0] & 0xffc0) == 0xfe80 // link-local
        || (seg[0] & 0xffc0) == 0xfec0 // site-local
        || (seg[..6] == [0; 6] && special_v4(embedded))
        || (seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && special_v4(embedded))
}

/// The host of a `host[:port]` authority, without brackets around an IPv6 address.
pub fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// Which part of a capability's resource names the host, per action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostPart {
    /// `HOST:PORT` (`net.connect`).
    BeforePort,
    /// `METHOD:AUTHORITY/PATH` (`http.request`).
    HttpAuthority,
}

/// The held capabilities whose resource names `ip` itself (see the module docs), its host
/// part read as `part` says.
pub fn naming(caps: &CapabilitySet, part: HostPart, ip: IpAddr) -> Vec<Capability> {
    let ip = canonical(ip);
    caps.iter()
        .filter(|cap| {
            // IPv6 brackets are escaped in a glob (`\[::1\]:443`).
            let resource = cap.resource.replace('\\', "");
            let host = match part {
                HostPart::BeforePort => host_of(&resource),
                HostPart::HttpAuthority => match resource.split_once(':') {
                    Some((_, rest)) => host_of(rest.split('/').next().unwrap_or(rest)),
                    None => return false,
                },
            };
            host.parse::<IpAddr>().is_ok_and(|h| canonical(h) == ip)
        })
        .cloned()
        .collect()
}

/// Whether `action` on `resource`, which names the internal address `ip`, is covered by a
/// held capability that names `ip` itself: the only way to reach one. A capability naming
/// the address for another port or path does not let any other capability through.
pub fn reaches(
    caps: &CapabilitySet,
    action: &str,
    part: HostPart,
    ip: IpAddr,
    resource: &str,
) -> bool {
    let naming = naming(caps, part, ip);
    !naming.is_empty()
        && CapabilitySet::new(naming).is_ok_and(|set| set.matching(action, resource).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(list: &[&str]) -> CapabilitySet {
        CapabilitySet::new(list.iter().map(|c| c.parse().unwrap()).collect()).unwrap()
    }

    #[test]
    fn internal_ranges_are_special_and_public_ones_are_not() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(special(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "100.128.0.1",
        ] {
            assert!(!special(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_a_capability_naming_the_address_reaches_it() {
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let held = caps(&[
            "net.connect:127.0.0.1:8080",
            "http.request:GET:127.0.0.1:9000/**",
        ]);
        let connect = |held: &CapabilitySet, ip: &str, res: &str| {
            reaches(
                held,
                "net.connect",
                HostPart::BeforePort,
                ip.parse().unwrap(),
                res,
            )
        };
        assert!(connect(&held, "127.0.0.1", "127.0.0.1:8080"));
        assert!(connect(&held, "::ffff:127.0.0.1", "127.0.0.1:8080"));
        assert!(!connect(&held, "127.0.0.2", "127.0.0.2:8080"));
        assert!(reaches(
            &held,
            "http.request",
            HostPart::HttpAuthority,
            ip,
            "GET:127.0.0.1:9000/a"
        ));
        assert!(!reaches(
            &held,
            "http.request",
            HostPart::HttpAuthority,
            ip,
            "GET:127.0.0.1:9001/a"
        ));
        for wide in [
            "net.connect:*:8080",
            "net.connect",
            "*",
            "net.*:localhost:*",
            "net.connect:127.0.0.*:80",
        ] {
            assert!(
                !connect(&caps(&[wide]), "127.0.0.1", "127.0.0.1:8080"),
                "{wide}"
            );
        }
        // Naming the address for one port lets no wildcard through for another.
        let mixed = caps(&["net.connect:127.0.0.1:9", "net.connect:*", "*"]);
        assert!(!connect(&mixed, "127.0.0.1", "127.0.0.1:8080"));
        assert!(connect(&caps(&["net.*:\\[::1\\]:*"]), "::1", "[::1]:443"));
        assert!(!connect(
            &caps(&["netx.*:127.0.0.1:1"]),
            "127.0.0.1",
            "127.0.0.1:1"
        ));
    }

    #[test]
    fn resources_print_the_canonical_address() {
        assert_eq!(
            socket_resource("[::ffff:10.0.0.1]:80".parse().unwrap()),
            "10.0.0.1:80"
        );
        assert_eq!(socket_resource("[::1]:443".parse().unwrap()), "[::1]:443");
        assert_eq!(host_of("[::1]:80"), "::1");
        assert_eq!(host_of("example.com:8080"), "example.com");
        assert_eq!(host_of("example.com"), "example.com");
    }
}
