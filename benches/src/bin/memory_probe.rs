//! Memory probe: resident memory of a ledger with many players and a full
//! idempotency memory.
//!
//! Builds a ledger with `players` registered and funded players (default
//! 1,000,000), then applies workload requests until `retained` requests are
//! remembered for idempotency (default 10,000,000), reading `VmRSS` and
//! `VmHWM` from `/proc/self/status` after each phase. Target: RSS <= 2 GiB.
//!
//! An optional third argument applies that many further requests once the
//! retained count is reached (default 0): with the idempotency memory full,
//! every request then also evicts one, which shows the steady state.
//!
//! ```text
//! cargo run --release -p croupier-benches --bin memory-probe [-- PLAYERS [RETAINED [EXTRA]]]
//! ```

use std::process::ExitCode;
use std::time::Instant;

use croupier_benches::{Fixture, PLAYERS, RETAINED};
use engine::Config;

const TARGET_RSS: u64 = 2 << 30;
const MIB: f64 = (1 << 20) as f64;
const GIB: f64 = (1 << 30) as f64;

/// `VmRSS` and `VmHWM` of this process, in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kb| kb.trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("no {name} in /proc/self/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Memory after one phase of the probe.
struct Phase {
    rss: u64,
    hwm: u64,
    remembered: usize,
}

impl Phase {
    /// Bytes of RSS per request remembered since `earlier`.
    fn per_record_since(&self, earlier: &Phase) -> Option<f64> {
        let records = self.remembered.checked_sub(earlier.remembered)?;
        (records > 0).then(|| (self.rss as f64 - earlier.rss as f64) / records as f64)
    }
}

fn phase(name: &str, fixture: &Fixture, started: Instant) -> Phase {
    let (rss, hwm) = memory();
    let ledger = &fixture.ledger;
    println!(
        "{:<20} VmRSS {:>8.1} MiB  VmHWM {:>8.1} MiB  ({} players, {} requests remembered, {} rounds open, {:.1} s)",
        format!("{name}:"),
        rss as f64 / MIB,
        hwm as f64 / MIB,
        ledger.players_len(),
        ledger.remembered_len(),
        ledger.open_rounds_len(),
        started.elapsed().as_secs_f64(),
    );
    Phase {
        rss,
        hwm,
        remembered: ledger.remembered_len(),
    }
}

fn verdict(label: &str, phase: &Phase) {
    let verdict = |bytes| if bytes <= TARGET_RSS { "MET" } else { "MISSED" };
    println!(
        "{label}: {:.1} MiB ({:.3} GiB), peak VmHWM {:.1} MiB ({:.3} GiB); target RSS <= 2 GiB: {} \
         (peak: {})",
        phase.rss as f64 / MIB,
        phase.rss as f64 / GIB,
        phase.hwm as f64 / MIB,
        phase.hwm as f64 / GIB,
        verdict(phase.rss),
        verdict(phase.hwm),
    );
}

fn arg<T: std::str::FromStr>(args: &[String], index: usize, default: T, name: &str) -> T {
    match args.get(index) {
        None => default,
        Some(text) => text
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {text:?}")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "-h" || a == "--help") || args.len() > 4 {
        eprintln!(
            "usage: memory-probe [PLAYERS (default {PLAYERS})] [RETAINED (default {RETAINED})] \
             [EXTRA requests after that (default 0)]"
        );
        return ExitCode::from(2);
    }
    let players: u64 = arg(&args, 1, PLAYERS, "PLAYERS");
    let retained: usize = arg(&args, 2, RETAINED, "RETAINED");
    let extra: u64 = arg(&args, 3, 0, "EXTRA");
    assert!(players > 0, "PLAYERS must be positive");

    assert!(retained > 0, "RETAINED must be positive");
    // The retention limit is the retained count (the default config's is
    // 10,000,000), so that the extra requests run at the steady state.
    let config = Config {
        idempotency_len_max: retained,
        ..Config::default()
    };
    println!(
        "memory-probe: {players} players, {retained} retained requests \
         (idempotency_len_max {}, rounds_open_max {})",
        config.idempotency_len_max, config.rounds_open_max
    );

    let mut fixture = Fixture::with_config(players, config);
    let (rss_empty, _) = memory();
    println!("{:<20} VmRSS {:>8.1} MiB", "empty ledger:", rss_empty as f64 / MIB);

    let started = Instant::now();
    fixture.fund_where(|i| i % 3 == 0);
    let registered = phase("players registered", &fixture, started);
    let started = Instant::now();
    fixture.fund_where(|i| i % 3 != 0);
    let funded = phase("players funded", &fixture, started);
    let started = Instant::now();
    let applied = fixture.apply_until(|ledger| ledger.remembered_len() >= retained);
    let full = phase("workload applied", &fixture, started);
    println!("  ({applied} workload requests applied)");

    // Set-up records (deposit initiate + confirm) cost about what the
    // registration records cost: take the player's own share as the rest.
    let per_setup_record = funded.per_record_since(&registered).unwrap_or(0.0);
    let per_player_with_records = (funded.rss - rss_empty) as f64 / players as f64;
    let per_player = (registered.rss - rss_empty) as f64 / players as f64
        - per_setup_record * registered.remembered as f64 / players as f64;
    println!(
        "bytes per player:                {per_player:>8.1}  (registered minus empty, minus its registration \
         record at {per_setup_record:.1} B, the funded-minus-registered cost per set-up record)"
    );
    println!(
        "bytes per player, with set-up:   {per_player_with_records:>8.1}  (funded minus empty, / players: \
         includes its {:.1} set-up records)",
        funded.remembered as f64 / players as f64
    );
    match full.per_record_since(&funded) {
        Some(per_tx) => println!(
            "bytes per retained transaction:  {per_tx:>8.1}  (workload: delta RSS / delta remembered over {} \
             requests; includes the round store the bets grow)",
            full.remembered - funded.remembered
        ),
        None => println!(
            "bytes per retained transaction:  n/a (set-up already retained {})",
            funded.remembered
        ),
    }
    verdict("RSS total", &full);

    if extra > 0 {
        let started = Instant::now();
        fixture.apply_n(extra);
        let soaked = phase(&format!("+{extra} requests"), &fixture, started);
        verdict("RSS after the extra requests", &soaked);
    }
    ExitCode::SUCCESS
}
