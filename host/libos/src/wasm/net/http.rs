//! `wasi:http/outgoing-handler` decided per request; `wasi:http/types` is wasmtime-wasi-http's.
//!
//! `handle` decides `http.request` on `METHOD:AUTHORITY/PATH` (the path percent-decoded, so
//! an encoded `..` is a `..` no grant covers; authorities with user information are refused
//! as invalid). The request is then sent by `send.rs`'s [`HttpHooks`], which first waits
//! until the decision's record is stored, resolves the host itself, refuses (audited) an
//! internal address that no capability naming it covers, and connects to exactly the
//! address it checked (TLS on top for `https`, the certificate checked against the name the
//! guest asked for). Redirects are the guest's to follow: each is a new `handle`, decided
//! again.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::p2::bindings::http::outgoing_handler;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Method};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::p2::{HttpError, HttpResult};
use wasmtime_wasi_http::{RequestOptions, WasiHttpView as _};

use super::addr;
use super::send::Decided;
use crate::bindings::RuntimeError;
use crate::call::{CallCtx, digest};
use crate::wasm::mediated::CallData;

fn method_name(method: &Method) -> &str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => other,
    }
}

/// What a request is decided on: `METHOD`, `AUTHORITY` and `/PATH` (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub method: String,
    pub authority: String,
    pub path: String,
}

impl Target {
    /// `METHOD:AUTHORITY/PATH`.
    pub fn resource(&self) -> String {
        format!("{}:{}{}", self.method, self.authority, self.path)
    }

    /// The same request named by the address `to` instead of its host: what a capability
    /// naming an internal address must cover (`METHOD:IP[:PORT]/PATH`, with the port when
    /// the request names one).
    pub fn at(&self, to: SocketAddr) -> String {
        let ip = addr::canonical(to.ip());
        let authority = match (self.names_port(), ip) {
            (true, _) => SocketAddr::new(ip, to.port()).to_string(),
            (false, IpAddr::V6(v6)) => format!("[{v6}]"),
            (false, v4) => v4.to_string(),
        };
        format!("{}:{authority}{}", self.method, self.path)
    }

    /// Whether the authority ends in `:PORT`.
    fn names_port(&self) -> bool {
        match self.authority.rsplit_once(':') {
            Some((host, port)) => {
                !port.is_empty()
                    && port.bytes().all(|b| b.is_ascii_digit())
                    && (!host.contains(':') || host.ends_with(']'))
            }
            None => false,
        }
    }
}

/// The [`Target`] of a request (see the module docs); `None` for one that has no authority,
/// names user information or a port outside 1–65535.
pub fn target(req: &HostOutgoingRequest) -> Option<Target> {
    let authority = req.authority.as_deref()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains(['@', '/', '\\', '?', '#']) {
        return None;
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') || host.ends_with(']') => (host, Some(port)),
        _ => (authority.as_str(), None),
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    let authority = match port {
        // The port as the number it is (`080` is 80); the sender uses the same number.
        Some(port) => match port.parse::<u16>() {
            Ok(n) if n > 0 => format!("{host}:{n}"),
            _ => return None,
        },
        None => host.to_owned(),
    };
    let path = req.path_with_query.as_deref().unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/");
    // Decided as servers may read it: escapes decoded, `\` a separator, `;params` dropped
    // from each segment (so `..;` and `..\` are the `..` no grant covers).
    let path = percent_decoded(path).replace('\\', "/");
    let path = path
        .split('/')
        .map(|segment| segment.split(';').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("/");
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    Some(Target {
        // As sent: methods are case-sensitive (`get` is not `GET`).
        method: method_name(&req.method).to_owned(),
        authority,
        path,
    })
}

/// `path` with its `%XX` escapes decoded (invalid UTF-8 shown as U+FFFD).
fn percent_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn refused(e: RuntimeError) -> HttpError {
    match e {
        RuntimeError::Invalid(_) => ErrorCode::HttpRequestUriInvalid.into(),
        RuntimeError::Io(m) => ErrorCode::InternalError(Some(m)).into(),
        _ => ErrorCode::HttpRequestDenied.into(),
    }
}

/// The version of `wasi:http` whose `outgoing-handler` this host defines (components
/// importing an older 0.2 version are linked to it by semver).
const OUTGOING_HANDLER: &str = "wasi:http/outgoing-handler@0.2.12";

/// Defines `wasi:http/outgoing-handler.handle` in `linker`, decided (see the module docs).
pub fn add_to_linker<T: CallData>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    type Args = (
        Resource<HostOutgoingRequest>,
        Option<Resource<RequestOptions>>,
    );
    type Ret = (Result<Resource<HostFutureIncomingResponse>, ErrorCode>,);
    linker.instance(OUTGOING_HANDLER)?.func_wrap(
        "handle",
        |mut store: StoreContextMut<'_, T>, (request, options): Args| -> wasmtime::Result<Ret> {
            store
                .data_mut()
                .before_unjournaled("wasi:http/outgoing-handler", "handle")?;
            match handle(store.data_mut().call_ctx(), request, options) {
                Ok(future) => Ok((Ok(future),)),
                Err(e) => Ok((Err(e.downcast()?),)),
            }
        },
    )?;
    Ok(())
}

/// `handle`, decided as `http.request` (see the module docs), then sent by the hooks.
fn handle(
    cx: &mut CallCtx,
    request: Resource<HostOutgoingRequest>,
    options: Option<Resource<RequestOptions>>,
) -> HttpResult<Resource<HostFutureIncomingResponse>> {
    let Some(target) = target(cx.table.get(&request)?) else {
        return Err(ErrorCode::HttpRequestUriInvalid.into());
    };
    let resource = target.resource();
    let d = digest(&[b"http.request", resource.as_bytes()]);
    let permit = cx
        .permit("http.request", &resource, Some(&d))
        .map_err(refused)?;
    let decided = Decided {
        pending: Some(cx.record_pending()),
        target,
        authority: Arc::clone(cx.authority.authority()),
        subject: Arc::clone(&cx.subject),
    };
    cx.wasi.net().hooks.next = Some(decided);
    let sent = outgoing_handler::Host::handle(&mut cx.http(), request, options);
    // Sent or not, nothing decided is left for another request.
    cx.wasi.net().hooks.next = None;
    if sent.is_ok() {
        permit.done(None);
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_decided_decoded_and_without_their_query() {
        assert_eq!(percent_decoded("/a%2e%2E/b%2Fc%zz%4"), "/a../b/c%zz%4");
    }
}
