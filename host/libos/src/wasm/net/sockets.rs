//! `wasi:sockets` on the [`Mediated`] view: the functions that reach the network decide
//! first (see the module docs of `net`), everything else is wasmtime-wasi's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::ResolveAddressStream;
use wasmtime_wasi::p2::bindings::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Network,
};
use wasmtime_wasi::p2::bindings::sockets::{ip_name_lookup, network, tcp, udp};
use wasmtime_wasi::p2::{SocketError, SocketResult, TcpSocket, UdpSocket};
use wasmtime_wasi::sockets::WasiSocketsView as _;
use wasmtime_wasi_io::poll::DynPollable;
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream};

use super::addr::{self, HostPart};
use super::gate::Way;
use crate::bindings::RuntimeError;
use crate::call::digest;
use crate::permit::Permit;
use crate::wasm::mediated::Mediated;

/// The guest's error for a refused or failed decision.
fn refused(e: RuntimeError) -> SocketError {
    match e {
        RuntimeError::Denied(_) | RuntimeError::NeedsApproval(_) => ErrorCode::AccessDenied,
        RuntimeError::Invalid(_) => ErrorCode::InvalidArgument,
        RuntimeError::LimitExceeded(_) => ErrorCode::NewSocketLimit,
        RuntimeError::NotFound | RuntimeError::Io(_) => ErrorCode::Unknown,
    }
    .into()
}

fn ip_of(address: IpAddress) -> IpAddr {
    match address {
        IpAddress::Ipv4((a, b, c, d)) => IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => {
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h))
        }
    }
}

impl Mediated<'_> {
    /// Decides reaching `to` (`net.connect`; see the module docs of `net`) and leaves the
    /// gate a pass for it, used once the decision's record is stored.
    fn decide_out(&mut self, to: SocketAddr) -> SocketResult<()> {
        let ip = addr::canonical(to.ip());
        let literal = addr::socket_resource(to);
        let name = self.cx.wasi.net().name_of(ip).cloned();
        let on_name = match &name {
            Some(name) => format!("{name}:{}", to.port()),
            None => literal.clone(),
        };
        let d = digest(&[b"net.connect", on_name.as_bytes(), literal.as_bytes()]);
        let mut permits: Vec<Permit> = Vec::with_capacity(2);
        if addr::special(ip) {
            let caps = self.cx.authority.authority().capabilities();
            if !addr::reaches(caps, "net.connect", HostPart::BeforePort, ip, &literal) {
                let why = format!(
                    "{literal} is an internal address (loopback, private, link-local or \
                     reserved): only a capability naming it reaches it"
                );
                return Err(refused(self.cx.refuse("net.connect", &on_name, why)));
            }
            if name.is_some() {
                permits.push(
                    self.cx
                        .permit("net.connect", &literal, Some(&d))
                        .map_err(refused)?,
                );
            }
        }
        permits.push(
            self.cx
                .permit("net.connect", &on_name, Some(&d))
                .map_err(refused)?,
        );
        self.open(Way::Out(to), permits)
    }

    /// Decides binding `port` (`net.bind`).
    fn decide_bind(&mut self, port: u16) -> SocketResult<()> {
        let resource = port.to_string();
        let d = digest(&[b"net.bind", resource.as_bytes()]);
        let permit = self
            .cx
            .permit("net.bind", &resource, Some(&d))
            .map_err(refused)?;
        self.open(Way::Bind(port), [permit])
    }

    /// Leaves the gate a pass for `way` under the decided `permits`.
    fn open(&mut self, way: Way, permits: impl IntoIterator<Item = Permit>) -> SocketResult<()> {
        let pending = self.cx.record_pending();
        if self.cx.wasi.net().gate.open(way, pending).is_err() {
            return Err(ErrorCode::NewSocketLimit.into());
        }
        for permit in permits {
            permit.done(None);
        }
        Ok(())
    }
}

impl network::Host for Mediated<'_> {
    fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
        network::Host::convert_error_code(&mut self.cx.sockets(), error)
    }

    fn network_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        network::Host::network_error_code(&mut self.cx.sockets(), err)
    }
}

impl network::HostNetwork for Mediated<'_> {
    fn drop(&mut self, this: Resource<Network>) -> wasmtime::Result<()> {
        network::HostNetwork::drop(&mut self.cx.sockets(), this)
    }
}

impl ip_name_lookup::Host for Mediated<'_> {
    /// Decided as `net.resolve` on the name (lowercase).
    fn resolve_addresses(
        &mut self,
        network: Resource<Network>,
        name: String,
    ) -> SocketResult<Resource<ResolveAddressStream>> {
        let name = name.to_ascii_lowercase();
        let d = digest(&[b"net.resolve", name.as_bytes()]);
        let permit = self
            .cx
            .permit("net.resolve", &name, Some(&d))
            .map_err(refused)?;
        let stream =
            ip_name_lookup::Host::resolve_addresses(&mut self.cx.sockets(), network, name.clone())?;
        permit.done(None);
        self.cx
            .wasi
            .net()
            .lookups
            .insert(stream.rep(), Arc::from(name));
        Ok(stream)
    }
}

impl ip_name_lookup::HostResolveAddressStream for Mediated<'_> {
    /// Each address read is remembered as the name's, which a connect to it is decided on.
    fn resolve_next_address(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> SocketResult<Option<IpAddress>> {
        let rep = stream.rep();
        let next = ip_name_lookup::HostResolveAddressStream::resolve_next_address(
            &mut self.cx.sockets(),
            stream,
        )?;
        if let Some(address) = next {
            let net = self.cx.wasi.net();
            if let Some(name) = net.lookups.get(&rep).cloned() {
                net.remember(ip_of(address), &name);
            }
        }
        Ok(next)
    }

    fn subscribe(
        &mut self,
        stream: Resource<ResolveAddressStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        ip_name_lookup::HostResolveAddressStream::subscribe(&mut self.cx.sockets(), stream)
    }

    fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
        self.cx.wasi.net().lookups.remove(&stream.rep());
        ip_name_lookup::HostResolveAddressStream::drop(&mut self.cx.sockets(), stream)
    }
}

/// Methods handed to wasmtime-wasi unchanged: `(name(args) -> result)`.
macro_rules! delegate {
    ($trait:path; $( fn $name:ident(&mut self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )*) => {
        $(
            fn $name(&mut self $(, $arg: $ty)*) -> $ret {
                <_ as $trait>::$name(&mut self.cx.sockets() $(, $arg)*)
            }
        )*
    };
}

impl tcp::Host for Mediated<'_> {}

impl tcp::HostTcpSocket for Mediated<'_> {
    /// Decided as `net.bind` on the port.
    async fn start_bind(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        self.decide_bind(SocketAddr::from(local_address).port())?;
        tcp::HostTcpSocket::start_bind(&mut self.cx.sockets(), this, network, local_address).await
    }

    /// Decided as `net.connect` (see the module docs of `net`).
    fn start_connect(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        remote_address: IpSocketAddress,
    ) -> SocketResult<()> {
        self.decide_out(SocketAddr::from(remote_address))?;
        tcp::HostTcpSocket::start_connect(&mut self.cx.sockets(), this, network, remote_address)
    }

    /// Listening on a port is what its decided bind was for.
    async fn start_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        tcp::HostTcpSocket::start_listen(&mut self.cx.sockets(), this).await
    }

    delegate! { tcp::HostTcpSocket;
        fn finish_bind(&mut self, this: Resource<TcpSocket>) -> SocketResult<()>;
        fn finish_connect(&mut self, this: Resource<TcpSocket>) -> SocketResult<(Resource<DynInputStream>, Resource<DynOutputStream>)>;
        fn finish_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()>;
        fn accept(&mut self, this: Resource<TcpSocket>) -> SocketResult<(Resource<TcpSocket>, Resource<DynInputStream>, Resource<DynOutputStream>)>;
        fn local_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress>;
        fn remote_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress>;
        fn is_listening(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<bool>;
        fn address_family(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<IpAddressFamily>;
        fn set_listen_backlog_size(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()>;
        fn keep_alive_enabled(&mut self, this: Resource<TcpSocket>) -> SocketResult<bool>;
        fn set_keep_alive_enabled(&mut self, this: Resource<TcpSocket>, value: bool) -> SocketResult<()>;
        fn keep_alive_idle_time(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64>;
        fn set_keep_alive_idle_time(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()>;
        fn keep_alive_interval(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64>;
        fn set_keep_alive_interval(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()>;
        fn keep_alive_count(&mut self, this: Resource<TcpSocket>) -> SocketResult<u32>;
        fn set_keep_alive_count(&mut self, this: Resource<TcpSocket>, value: u32) -> SocketResult<()>;
        fn hop_limit(&mut self, this: Resource<TcpSocket>) -> SocketResult<u8>;
        fn set_hop_limit(&mut self, this: Resource<TcpSocket>, value: u8) -> SocketResult<()>;
        fn receive_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64>;
        fn set_receive_buffer_size(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()>;
        fn send_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64>;
        fn set_send_buffer_size(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()>;
        fn subscribe(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<Resource<DynPollable>>;
        fn shutdown(&mut self, this: Resource<TcpSocket>, shutdown_type: tcp::ShutdownType) -> SocketResult<()>;
        fn drop(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<()>;
    }
}

impl udp::Host for Mediated<'_> {}

impl udp::HostUdpSocket for Mediated<'_> {
    /// Decided as `net.bind` on the port.
    async fn start_bind(
        &mut self,
        this: Resource<UdpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        self.decide_bind(SocketAddr::from(local_address).port())?;
        udp::HostUdpSocket::start_bind(&mut self.cx.sockets(), this, network, local_address).await
    }

    /// With a remote address, decided as `net.connect` on it.
    async fn stream(
        &mut self,
        this: Resource<UdpSocket>,
        remote_address: Option<IpSocketAddress>,
    ) -> SocketResult<(
        Resource<udp::IncomingDatagramStream>,
        Resource<udp::OutgoingDatagramStream>,
    )> {
        if let Some(remote) = remote_address {
            self.decide_out(SocketAddr::from(remote))?;
        }
        udp::HostUdpSocket::stream(&mut self.cx.sockets(), this, remote_address).await
    }

    delegate! { udp::HostUdpSocket;
        fn finish_bind(&mut self, this: Resource<UdpSocket>) -> SocketResult<()>;
        fn local_address(&mut self, this: Resource<UdpSocket>) -> SocketResult<IpSocketAddress>;
        fn remote_address(&mut self, this: Resource<UdpSocket>) -> SocketResult<IpSocketAddress>;
        fn address_family(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<IpAddressFamily>;
        fn unicast_hop_limit(&mut self, this: Resource<UdpSocket>) -> SocketResult<u8>;
        fn set_unicast_hop_limit(&mut self, this: Resource<UdpSocket>, value: u8) -> SocketResult<()>;
        fn receive_buffer_size(&mut self, this: Resource<UdpSocket>) -> SocketResult<u64>;
        fn set_receive_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> SocketResult<()>;
        fn send_buffer_size(&mut self, this: Resource<UdpSocket>) -> SocketResult<u64>;
        fn set_send_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> SocketResult<()>;
        fn subscribe(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<Resource<DynPollable>>;
        fn drop(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<()>;
    }
}

impl udp::HostIncomingDatagramStream for Mediated<'_> {
    delegate! { udp::HostIncomingDatagramStream;
        fn receive(&mut self, this: Resource<udp::IncomingDatagramStream>, max_results: u64) -> SocketResult<Vec<udp::IncomingDatagram>>;
        fn subscribe(&mut self, this: Resource<udp::IncomingDatagramStream>) -> wasmtime::Result<Resource<DynPollable>>;
        fn drop(&mut self, this: Resource<udp::IncomingDatagramStream>) -> wasmtime::Result<()>;
    }
}

impl udp::HostOutgoingDatagramStream for Mediated<'_> {
    /// Every distinct address the datagrams name is decided as `net.connect` before any is
    /// sent; one refusal sends none.
    fn send(
        &mut self,
        this: Resource<udp::OutgoingDatagramStream>,
        datagrams: Vec<udp::OutgoingDatagram>,
    ) -> SocketResult<u64> {
        let mut decided: Vec<SocketAddr> = Vec::new();
        for datagram in &datagrams {
            if let Some(remote) = datagram.remote_address {
                let to = SocketAddr::from(remote);
                if !decided.contains(&to) {
                    self.decide_out(to)?;
                    decided.push(to);
                }
            }
        }
        udp::HostOutgoingDatagramStream::send(&mut self.cx.sockets(), this, datagrams)
    }

    async fn drop(&mut self, this: Resource<udp::OutgoingDatagramStream>) -> wasmtime::Result<()> {
        udp::HostOutgoingDatagramStream::drop(&mut self.cx.sockets(), this).await
    }

    delegate! { udp::HostOutgoingDatagramStream;
        fn check_send(&mut self, this: Resource<udp::OutgoingDatagramStream>) -> SocketResult<u64>;
        fn subscribe(&mut self, this: Resource<udp::OutgoingDatagramStream>) -> wasmtime::Result<Resource<DynPollable>>;
    }
}
