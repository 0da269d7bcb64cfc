//! `croupier-loadtest`: load against a running (or spawned) `croupier serve`
//! over the wire, with honest latency figures and a money check at the end.
//!
//! `run` drives a scenario (`scenario.rs`) on N connections over HTTP/1.1,
//! 2 or 3, closed loop (each connection waits for its reply) or open loop
//! (`--rate`: requests on a schedule, latency measured from the intended
//! send time, so a stall is not hidden by the requests it kept from being
//! sent). It ends by comparing
//! every player's balance on the server with what the acknowledged replies
//! imply (`check.rs`), and writes `summary.json` and `report.html` if asked
//! (`report.rs`). `compare a.json b.json` prints the ratios of two runs.
//!
//! It speaks only the wire protocols (`croupier-protocol`, which brings
//! the engine's value types: amounts, currencies, ids); it links no engine
//! runtime (sequencer, journal) and no server. The in-process sequencer ceiling is
//! `croupier-benches`' `sequencer-load`.

mod check;
mod client;
mod fixture;
mod pace;
mod report;
mod run;
mod scenario;
mod spawn;
mod svg;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "croupier-loadtest", version, about = "Croupier load generator")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// A scenario over HTTP against a running `croupier serve` (or one it
    /// spawns with `--spawn`).
    #[command(alias = "wallet")]
    Run(run::RunArgs),
    /// The ratios of two runs' `summary.json` (b over a).
    Compare {
        /// The first run's summary (the baseline).
        a: PathBuf,
        /// The second run's summary.
        b: PathBuf,
    },
}

fn main() -> Result<()> {
    match Cli::parse().mode {
        Mode::Run(args) => run::run(args),
        Mode::Compare { a, b } => report::compare(&a, &b),
    }
}
