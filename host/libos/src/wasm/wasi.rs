//! The WASI baseline served to ordinary `wasm32-wasip2` components.
//!
//! Linked: cli (environment, exit, stdio, terminals), io, clocks, random, filesystem,
//! sockets and http (`wasi:http/types` and `outgoing-handler`). Nothing else is linked
//! (import validation refuses such components before this matters). The context is empty and deterministic: no environment variables,
//! no arguments, empty stdin, stdout/stderr captured with a cap, clocks from the host's clock
//! provider, randomness from a host-seeded generator. The filesystem, the clocks and
//! stdout/stderr are the runtime's own hosts (`mediated.rs`, `wasi_fs.rs`): every file
//! operation is decided like `libos:runtime/fs`, a clock read like `clock.read`, the output
//! streams like `log.write`; the working directory is preopened as `.` when the call holds any
//! `fs.*` capability, and the preopen grants nothing by itself. Every name lookup, connect,
//! bind, datagram destination and HTTP request is decided at call time (`net/`); the
//! sockets of a call check the call's [`NetGate`] before every system call.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

use crate::providers::Clock;
use crate::wasm::mediated::{CallData, HasMediated, mediated};
use crate::wasm::net::gate::NetGate;
use crate::wasm::pipe::CappedPipe;

struct HasIo;

impl HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

/// Adds the WASI baseline and filesystem interfaces (nothing else) to `linker`: the
/// filesystem, clocks and stdout/stderr decided by the runtime, the rest wasmtime-wasi's.
pub fn add_to_linker<T: CallData>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    add_to_linker_but(linker, &[])
}

/// The interfaces [`add_to_linker_but`] leaves to its caller when asked to: their calls are
/// what an agent process journals (`libos-process`'s `journal/wasi/`).
pub const JOURNALED: &[&str] = &[
    "wasi:io/poll",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:filesystem/preopens",
    "wasi:sockets/instance-network",
];

/// [`add_to_linker`], except the interfaces named in `own` (unversioned names from
/// [`JOURNALED`]), which the caller links itself.
pub fn add_to_linker_but<T: CallData>(
    linker: &mut Linker<T>,
    own: &[&str],
) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random};
    use wasmtime_wasi_io::bindings::wasi::io;

    let ours = |name: &str| !own.contains(&name);
    let l = linker;
    io::error::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    if ours("wasi:io/poll") {
        io::poll::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    }
    io::streams::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    if ours("wasi:clocks/wall-clock") {
        clocks::wall_clock::add_to_linker::<T, HasMediated>(l, mediated)?;
    }
    if ours("wasi:clocks/monotonic-clock") {
        clocks::monotonic_clock::add_to_linker::<T, HasMediated>(l, mediated)?;
    }
    filesystem::types::add_to_linker::<T, HasMediated>(l, mediated)?;
    if ours("wasi:filesystem/preopens") {
        filesystem::preopens::add_to_linker::<T, HasMediated>(l, mediated)?;
    }
    if ours("wasi:random/random") {
        random::random::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    }
    if ours("wasi:random/insecure") {
        random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    }
    if ours("wasi:random/insecure-seed") {
        random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    }
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    if ours("wasi:cli/stdout") {
        cli::stdout::add_to_linker::<T, HasMediated>(l, mediated)?;
    }
    if ours("wasi:cli/stderr") {
        cli::stderr::add_to_linker::<T, HasMediated>(l, mediated)?;
    }
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    add_network_to_linker(l, ours("wasi:sockets/instance-network"))
}

/// `wasi:sockets` and `wasi:http`: what reaches out is decided (`net/`), the rest is
/// wasmtime-wasi's and wasmtime-wasi-http's (`instance-network` only if `instance_network`).
fn add_network_to_linker<T: CallData>(
    l: &mut Linker<T>,
    instance_network: bool,
) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::sockets;
    use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView as _};
    use wasmtime_wasi_http::p2::bindings::http;
    use wasmtime_wasi_http::{WasiHttp, WasiHttpView as _};

    sockets::network::add_to_linker::<T, WasiSockets>(l, &Default::default(), T::sockets)?;
    if instance_network {
        sockets::instance_network::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    }
    sockets::tcp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::udp_create_socket::add_to_linker::<T, WasiSockets>(l, T::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<T, HasMediated>(l, mediated)?;
    sockets::tcp::add_to_linker::<T, HasMediated>(l, mediated)?;
    sockets::udp::add_to_linker::<T, HasMediated>(l, mediated)?;
    http::types::add_to_linker::<T, WasiHttp>(l, &Default::default(), |t| t.call_ctx().http())?;
    crate::wasm::net::add_http_to_linker(l)
}

/// Everything the WASI context of one call is built from.
#[derive(Clone)]
pub struct WasiSetup {
    pub clock: Arc<dyn Clock>,
    pub seed: crate::host::Seed,
    pub stdout: CappedPipe,
    pub stderr: CappedPipe,
}

struct WallAdapter(Arc<dyn Clock>);

impl HostWallClock for WallAdapter {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        self.0.now()
    }
}

struct MonotonicAdapter(Arc<dyn Clock>);

impl HostMonotonicClock for MonotonicAdapter {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        self.0.monotonic()
    }
}

/// Builds the WASI context of one call (it has no preopens: see `wasi_fs.rs`); its sockets
/// check `gate` before every system call.
pub fn build_ctx(setup: &WasiSetup, gate: Arc<NetGate>) -> WasiCtx {
    let mut b = builder(setup);
    b.allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(true)
        .socket_addr_check(move |addr, used| Box::pin(Arc::clone(&gate).check(addr, used)));
    b.build()
}

/// Everything of `setup`: output, clocks, seeded randomness, no network.
fn builder(setup: &WasiSetup) -> WasiCtxBuilder {
    let mut b = WasiCtxBuilder::new();
    b.stdout(setup.stdout.clone())
        .stderr(setup.stderr.clone())
        .wall_clock(WallAdapter(setup.clock.clone()))
        .monotonic_clock(MonotonicAdapter(setup.clock.clone()));
    match setup.seed {
        crate::host::Seed::Fixed(seed) => b
            .secure_random(StdRng::seed_from_u64(seed))
            .insecure_random(StdRng::seed_from_u64(seed.rotate_left(17) ^ 0x9e37_79b9))
            .insecure_random_seed(u128::from(seed)),
        crate::host::Seed::Fresh => b
            .secure_random(rand::make_rng::<StdRng>())
            .insecure_random(rand::make_rng::<StdRng>())
            .insecure_random_seed(rand::random::<u128>()),
    };
    b.allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    b
}
