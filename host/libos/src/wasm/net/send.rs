//! Sending a decided `wasi:http` request: [`HttpHooks`].
//!
//! The request's decision (`http.rs`) leaves a [`Decided`] for the hooks, which wasmtime-wasi-
//! http calls with the request it built. The sender, in order: waits until the decision's
//! record is stored (nothing is sent otherwise); resolves the host; takes the first address
//! that is not internal, or is internal and covered by a held capability naming it
//! (`addr::reaches` on `METHOD:IP[:PORT]/PATH`), recording a denial for each internal one
//! it passes over (so the log shows why a name that resolves inside reached nothing);
//! connects to exactly that address (so a name cannot be resolved again, or rebound, to
//! another); for `https`, runs TLS over that connection, the certificate checked against the
//! name the guest asked for (webpki roots); then speaks HTTP/1.1 over it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use libos_authority::{Authority, Request};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::addr::{self, HostPart};
use super::http::Target;
use crate::permit::RecordPending;

/// Longest a connection may take to open when the request sets no limit (the call's own
/// time limit still ends it sooner).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a decided request carries to the sender.
pub struct Decided {
    /// The decision's record, waited for before anything is sent.
    pub pending: Option<RecordPending>,
    /// What was decided.
    pub target: Target,
    /// The call's authority: its capabilities (for internal addresses) and its audit log.
    pub authority: Arc<Authority>,
    /// The call's subject, for the denials the sender records.
    pub subject: Arc<str>,
}

/// The sender of one call's decided requests (see the module docs).
#[derive(Default)]
pub struct HttpHooks {
    pub(super) next: Option<Decided>,
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
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Sent {
        let decided = self.next.take();
        Box::new(async move {
            // Only a request `handle` decided is ever sent.
            let mut decided = decided.ok_or(Error::HttpRequestDenied)?;
            let pending = decided.pending.take().ok_or(Error::HttpRequestDenied)?;
            pending
                .stored()
                .await
                .map_err(|_| Error::HttpRequestDenied)?;
            send(decided, request, options).await
        })
    }
}

/// The first address `host:port` resolves to that this request may reach (see the module
/// docs); each internal one passed over is recorded as a denial.
async fn checked_address(decided: &Decided, host: &str, port: u16) -> Result<SocketAddr, Error> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let found: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|_| Error::DnsError {
                rcode: None,
                info_code: None,
            })?
            .collect(),
    };
    let caps = decided.authority.capabilities();
    for to in found {
        let ip = to.ip();
        if !addr::special(ip) {
            return Ok(to);
        }
        let named = decided.target.at(to);
        if addr::reaches(caps, "http.request", HostPart::HttpAuthority, ip, &named) {
            return Ok(to);
        }
        let request = Request {
            subject: &decided.subject,
            action: "http.request",
            resource: &named,
            args_digest: None,
            detail: None,
        };
        let why = format!(
            "{} resolves to the internal address {}: only a capability naming it reaches it",
            decided.target.authority,
            addr::canonical(ip)
        );
        decided.authority.refuse(&request, &why);
    }
    Err(Error::DestinationIpProhibited)
}

/// Sends `request` over a connection to the address it was checked for.
async fn send(
    decided: Decided,
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
> {
    let uri = request.uri().clone();
    let tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?.to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let to = checked_address(&decided, &host, port).await?;
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(CONNECT_TIMEOUT);
    let tcp = tokio::time::timeout(connect_timeout, tokio::net::TcpStream::connect(to))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(|_| Error::ConnectionRefused)?;
    // The origin-form the server expects: scheme and authority are only for proxies.
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = path.parse().map_err(|_| Error::HttpRequestUriInvalid)?;
    let (response, io) = if tls {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let name = match bare.parse::<IpAddr>() {
            Ok(ip) => rustls::pki_types::ServerName::from(ip),
            Err(_) => rustls::pki_types::ServerName::try_from(bare.to_owned())
                .map_err(|_| Error::HttpRequestUriInvalid)?,
        };
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|_| Error::TlsCertificateError)?;
        exchange(TokioIo::new(stream), request, options).await?
    } else {
        exchange(TokioIo::new(tcp), request, options).await?
    };
    Ok((response, io))
}

/// One HTTP/1.1 exchange over `io`.
async fn exchange<IO>(
    io: IO,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake(io)
        .await
        .map_err(Error::from)?;
    let driver = tokio::spawn(conn);
    let first_byte = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(CONNECT_TIMEOUT);
    let response = tokio::time::timeout(first_byte, sender.send_request(request))
        .await
        .map_err(|_| Error::ConnectionReadTimeout)?
        .map_err(Error::from)?;
    let response = response.map(|body| body.map_err(Error::from).boxed_unsync());
    let io = async move {
        match driver.await {
            Ok(done) => done.map_err(Error::from),
            Err(_) => Err(Error::ConnectionTerminated),
        }
    };
    Ok((response, Box::new(io)))
}
