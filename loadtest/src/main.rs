//! `croupier-loadtest`: load generator with honest latency figures.
//!
//! Two modes: `sequencer` drives the sequencer in process (the ceiling, no
//! journal, no HTTP); `wallet` drives a running `croupier serve` over
//! HTTP with signed bets and wins on N keep-alive connections, closed loop.
//! The open-loop mode (requests on a schedule, latency measured from the
//! intended send time so that stalls are not hidden) comes with the load
//! tester's own issue.

mod report;
mod sequencer;
mod wallet;

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
    /// The sequencer in process, in memory: the engine's ceiling.
    Sequencer(sequencer::SequencerArgs),
    /// Bets and wins over HTTP against a running `croupier serve`.
    Wallet(wallet::WalletArgs),
}

fn main() -> Result<()> {
    match Cli::parse().mode {
        Mode::Sequencer(args) => sequencer::run(args),
        Mode::Wallet(args) => wallet::run(args),
    }
}
