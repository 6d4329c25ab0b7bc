//! The WASI baseline served to ordinary `wasm32-wasip2` components.
//!
//! Linked: cli (environment, exit, stdio, terminals), io, clocks, random and filesystem.
//! Not linked: sockets, http and everything else (import validation refuses such components
//! before this matters). The context is empty and deterministic: no environment variables,
//! no arguments, empty stdin, stdout/stderr captured with a cap, clocks from the host's clock
//! provider, randomness from a host-seeded generator, and preopened directories only for the
//! capabilities the call holds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView as _};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::{
    FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiView,
};

use crate::providers::Clock;
use crate::wasm::pipe::CappedPipe;

struct HasIo;

impl HasData for HasIo {
    type Data<'a> = &'a mut ResourceTable;
}

/// Adds the WASI baseline and filesystem interfaces (nothing else) to `linker`.
pub fn add_to_linker<T: WasiView>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random};
    use wasmtime_wasi_io::bindings::wasi::io;

    let l = linker;
    io::error::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    io::poll::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    io::streams::add_to_linker::<T, HasIo>(l, |t| t.ctx().table)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    random::random::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    Ok(())
}

/// A directory the guest may see through `wasi:filesystem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    /// Host directory.
    pub host: PathBuf,
    /// Name the guest sees (`.` for the working directory itself).
    pub guest: String,
    /// Whether the guest may also write.
    pub writable: bool,
}

/// Everything the WASI context of one call is built from.
#[derive(Clone)]
pub struct WasiSetup {
    pub clock: Arc<dyn Clock>,
    pub seed: u64,
    pub stdout: CappedPipe,
    pub stderr: CappedPipe,
    pub preopens: Vec<Preopen>,
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

/// Builds the WASI context of one call.
pub fn build_ctx(setup: WasiSetup) -> Result<WasiCtx, std::io::Error> {
    let mut b = builder(&setup);
    for p in &setup.preopens {
        let perms = if p.writable {
            FsPerms::ReadWrite
        } else {
            FsPerms::ReadOnly
        };
        b.preopened_dir(&p.host, &p.guest, perms)
            .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    }
    Ok(b.build())
}

/// Builds the WASI context of `setup` without its preopens (which only opening can fail).
pub fn build_without_preopens(setup: &WasiSetup) -> WasiCtx {
    builder(setup).build()
}

/// Everything of `setup` but its preopens: output, clocks, seeded randomness, no network.
fn builder(setup: &WasiSetup) -> WasiCtxBuilder {
    let mut b = WasiCtxBuilder::new();
    b.stdout(setup.stdout.clone())
        .stderr(setup.stderr.clone())
        .wall_clock(WallAdapter(setup.clock.clone()))
        .monotonic_clock(MonotonicAdapter(setup.clock.clone()))
        .secure_random(StdRng::seed_from_u64(setup.seed))
        .insecure_random(StdRng::seed_from_u64(
            setup.seed.rotate_left(17) ^ 0x9e37_79b9,
        ))
        .insecure_random_seed(u128::from(setup.seed))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    b
}
