//! `wasi:http/outgoing-handler` decided per request; `wasi:http/types` is wasmtime-wasi-http's.
//!
//! `handle` decides `http.request` on `METHOD:AUTHORITY/PATH` (the path percent-decoded, so
//! an encoded `..` is a `..` no grant covers; authorities with user information are refused
//! as invalid). The request is then sent by [`HttpHooks`], which first waits until the
//! decision's record is stored, resolves the host itself and refuses an internal address
//! that no capability names (see `addr.rs`). A plain `http` request is sent to exactly the
//! address that was checked; an `https` one to the name, whose certificate must then match it
//! (an internal server cannot prove a public name). Redirects are the guest's to follow: each
//! is a new `handle`, decided again.

use std::net::{IpAddr, SocketAddr};

use http_body_util::BodyExt;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::p2::bindings::http::outgoing_handler;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Method};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::p2::{HttpError, HttpResult};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks, WasiHttpView as _};

use super::addr::{self, HostPart};
use crate::bindings::RuntimeError;
use crate::call::CallCtx;
use crate::call::digest;
use crate::permit::RecordPending;
use crate::wasm::mediated::CallData;

/// What a decided request carries to the sender.
struct Decided {
    /// The decision's record, waited for before anything is sent.
    pending: RecordPending,
    /// Internal addresses a held capability names (the only ones the request may reach).
    named: Vec<IpAddr>,
}

/// The sender of one call's decided requests (see the module docs).
#[derive(Default)]
pub struct HttpHooks {
    next: Option<Decided>,
}

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

/// `METHOD:AUTHORITY/PATH` of a request (see the module docs); `None` for one that has no
/// authority or names user information.
pub fn resource(req: &HostOutgoingRequest) -> Option<String> {
    let authority = req.authority.as_deref()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains(['@', '/', '\\', '?', '#']) {
        return None;
    }
    let authority = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
            format!("{}:{port}", host.strip_suffix('.').unwrap_or(host))
        }
        _ => authority.strip_suffix('.').unwrap_or(&authority).to_owned(),
    };
    let path = req.path_with_query.as_deref().unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let path = percent_decoded(path);
    let path = if path.starts_with('/') {
        path
    } else {
        format!("/{path}")
    };
    Some(format!(
        "{}:{authority}{path}",
        method_name(&req.method).to_ascii_uppercase()
    ))
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
            match handle(store.data_mut().call_ctx(), request, options) {
                Ok(future) => Ok((Ok(future),)),
                Err(e) => Ok((Err(e.downcast()?),)),
            }
        },
    )?;
    Ok(())
}

/// `handle`, decided as `http.request` (see the module docs), then sent by [`HttpHooks`].
fn handle(
    cx: &mut CallCtx,
    request: Resource<HostOutgoingRequest>,
    options: Option<Resource<RequestOptions>>,
) -> HttpResult<Resource<HostFutureIncomingResponse>> {
    let Some(resource) = resource(cx.table.get(&request)?) else {
        return Err(ErrorCode::HttpRequestUriInvalid.into());
    };
    let d = digest(&[b"http.request", resource.as_bytes()]);
    let permit = cx
        .permit("http.request", &resource, Some(&d))
        .map_err(refused)?;
    let caps = cx.authority.authority().capabilities();
    let named = caps
        .iter()
        .filter_map(|cap| cap.resource.split_once(':'))
        .filter_map(|(_, rest)| {
            addr::host_of(rest.split('/').next().unwrap_or(rest))
                .parse()
                .ok()
        })
        .filter(|ip| addr::named(caps, "http.request", HostPart::HttpAuthority, *ip))
        .collect();
    let pending = cx.record_pending();
    cx.wasi.net().hooks.next = Some(Decided { pending, named });
    let sent = outgoing_handler::Host::handle(&mut cx.http(), request, options);
    // Sent or not, nothing decided is left for another request.
    cx.wasi.net().hooks.next = None;
    if sent.is_ok() {
        permit.done(None);
    }
    sent
}

/// The address to send to: the first `host` resolves to that is not internal, or is internal
/// and named.
async fn checked_address(host: &str, port: u16, named: &[IpAddr]) -> Result<SocketAddr, Error> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let found: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| Error::DnsError {
                rcode: None,
                info_code: None,
            })?
            .collect(),
    };
    found
        .into_iter()
        .find(|a| !addr::special(a.ip()) || named.contains(&addr::canonical(a.ip())))
        .ok_or(Error::DestinationIpProhibited)
}

type Sent = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Sent {
        let decided = self.next.take();
        Box::new(async move {
            let Some(decided) = decided else {
                return Err(Error::HttpRequestDenied);
            };
            decided
                .pending
                .stored()
                .await
                .map_err(|_| Error::HttpRequestDenied)?;
            let uri = request.uri().clone();
            let tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
            let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?;
            let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
            let to = checked_address(host, port, &decided.named).await?;
            if !tls {
                let mut parts = uri.into_parts();
                parts.authority = Some(
                    to.to_string()
                        .parse()
                        .map_err(|_| Error::HttpRequestUriInvalid)?,
                );
                *request.uri_mut() =
                    http::Uri::from_parts(parts).map_err(|_| Error::HttpRequestUriInvalid)?;
            }
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_decided_decoded_and_without_their_query() {
        assert_eq!(percent_decoded("/a%2e%2E/b%2Fc%zz%4"), "/a../b/c%zz%4");
    }
}
