//! The `paperhub` binary: parse arguments, run, map the outcome to an exit code.
//!
//! Exit codes: 0 success (and on a broken pipe, so `paperhub stats | head`
//! is quiet), 1 when a command ran but failed its goal, 2 on error.

use std::process::ExitCode;

// The importer's parser and writer threads allocate many short strings at
// once; glibc malloc made them contend on its arena lock (6% of import time
// in `__lll_lock_wait_private`). mimalloc uses per-thread heaps.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use paperhub::cli::{Cli, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    paperhub::telemetry::init();
    match cli.run() {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Unsuccessful) => ExitCode::from(1),
        Err(err) => {
            let broken_pipe = err.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
