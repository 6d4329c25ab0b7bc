//! `wasi:random`, journaled: what the guest was given is answered from the journal on replay.

use wasmtime_wasi::WasiView as _;
use wasmtime_wasi::p2::bindings::random::{insecure, insecure_seed, random};

use super::{Call, Journaled};

const RANDOM: &str = "wasi:random/random";
const INSECURE: &str = "wasi:random/insecure";
const SEED: &str = "wasi:random/insecure-seed";

impl random::Host for Journaled<'_> {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        let call = Call::new(RANDOM, "get-random-bytes", &(len,))?;
        self.wasi_read(&call, |p| {
            random::Host::get_random_bytes(p.ctx().ctx.random(), len)
        })
    }

    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        let call = Call::new(RANDOM, "get-random-u64", &())?;
        self.wasi_read(&call, |p| {
            random::Host::get_random_u64(p.ctx().ctx.random())
        })
    }
}

impl insecure::Host for Journaled<'_> {
    fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        let call = Call::new(INSECURE, "get-insecure-random-bytes", &(len,))?;
        self.wasi_read(&call, |p| {
            insecure::Host::get_insecure_random_bytes(p.ctx().ctx.random(), len)
        })
    }

    fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
        let call = Call::new(INSECURE, "get-insecure-random-u64", &())?;
        self.wasi_read(&call, |p| {
            insecure::Host::get_insecure_random_u64(p.ctx().ctx.random())
        })
    }
}

impl insecure_seed::Host for Journaled<'_> {
    fn insecure_seed(&mut self) -> wasmtime::Result<(u64, u64)> {
        let call = Call::new(SEED, "insecure-seed", &())?;
        self.wasi_read(&call, |p| {
            insecure_seed::Host::insecure_seed(p.ctx().ctx.random())
        })
    }
}
