//! History probe: how fast the read model answers a player's statement,
//! balances at a past moment and game history when it holds many players
//! and movements (the issue's figures: 1,000,000 players, 10,000,000
//! movements).
//!
//! **Preparation** (skipped with `--reuse`): `--players` players registered
//! and funded by the benchmark fixture, then its realistic request mix
//! (bets, wins, rollbacks, payments) until `--commands` commands, committed
//! through a `JournalSink` as the sequencer writes them. Then the read model
//! (`croupier-readmodel`, the server's own projection thread) is started on
//! the directory and catches up from the journal: the time it takes is the
//! projection's throughput.
//!
//! **Measurements**: for `--queries` players drawn at random (seeded), on a
//! reader connection as the server's queries use: a statement page of 1,000
//! movements (`history::movements_matching`), the balances at a moment
//! drawn between the first and the last command
//! (`history::balances_at`), and a page of 50 game rounds
//! (`history::rounds`); latency percentiles of each.
//!
//! ```text
//! cargo run --release -p croupier-benches --bin history-probe \
//!     [-- --players P --commands N --queries Q --dir PATH --reuse --keep]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use croupier_benches::Fixture;
use engine::durable::recover;
use engine::sequencer::{CommitSink, Committed};
use engine::{Config, PlayerId};
use hdrhistogram::Histogram;
use readmodel::ReadModel;
use readmodel::history::{self, MovementFilter, RoundFilter};

const COMMIT_BATCH: usize = 4_096;

struct Args {
    players: u64,
    commands: u64,
    queries: u64,
    dir: PathBuf,
    reuse: bool,
    keep: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        players: 100_000,
        commands: 1_000_000,
        queries: 2_000,
        dir: std::env::temp_dir().join("croupier-history-probe"),
        reuse: false,
        keep: false,
    };
    let mut input = std::env::args().skip(1);
    while let Some(flag) = input.next() {
        let mut value = || input.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--players" => args.players = value()?.parse().map_err(|e| format!("--players: {e}"))?,
            "--commands" => args.commands = value()?.parse().map_err(|e| format!("--commands: {e}"))?,
            "--queries" => args.queries = value()?.parse().map_err(|e| format!("--queries: {e}"))?,
            "--dir" => args.dir = PathBuf::from(value()?),
            "--reuse" => args.reuse = true,
            "--keep" => args.keep = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.commands < args.players * 3 {
        return Err(format!(
            "--commands must cover the set-up: at least 3 per player ({})",
            args.players * 3
        ));
    }
    Ok(args)
}

/// Journals the fixture's set-up and mix, `commands` commands in all.
fn prepare(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let mut fixture = Fixture::empty(args.players);
    let opened = recover(&args.dir, Config::default(), Default::default()).map_err(|e| e.to_string())?;
    if opened.report.last_seq != 0 {
        return Err(format!("{} already holds a journal (use --reuse)", args.dir.display()));
    }
    let mut sink = opened.sink;
    let mut batch: Vec<Committed> = Vec::with_capacity(COMMIT_BATCH);
    let setup: Vec<_> = fixture.workload.setup().collect();
    let mut requests = setup.into_iter();
    while fixture.ledger.last_seq() < args.commands {
        let request = requests.next().unwrap_or_else(|| fixture.workload.next_request());
        let committed = fixture.apply_stamped(request);
        let seq = committed.envelope.seq;
        batch.push(committed);
        if batch.len() == COMMIT_BATCH || seq == args.commands {
            sink.commit(&batch).map_err(|e| format!("commit: {e:?}"))?;
            batch.clear();
        }
    }
    println!(
        "prepared: {} players, {} commands journaled in {:.1} s",
        fixture.ledger.players_len(),
        fixture.ledger.last_seq(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A small seeded generator (xorshift64*): the same players every run.
struct Draw(u64);

impl Draw {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % bound.max(1)
    }
}

fn report(name: &str, histogram: &Histogram<u64>, rows: u64) {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1_000.0;
    println!(
        "{name:<12} n={:>6}  p50 {:>7.3} ms  p99 {:>7.3} ms  p99.9 {:>7.3} ms  max {:>7.3} ms  ({:.1} rows per answer)",
        histogram.len(),
        ms(0.5),
        ms(0.99),
        ms(0.999),
        histogram.max() as f64 / 1_000.0,
        rows as f64 / histogram.len().max(1) as f64
    );
}

fn run(args: &Args) -> Result<(), String> {
    if !args.reuse {
        if args.dir.exists() {
            std::fs::remove_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
        }
        prepare(args)?;
    }
    let opened = recover(&args.dir, Config::default(), Default::default()).map_err(|e| e.to_string())?;
    let last_seq = opened.report.last_seq;
    let started = Instant::now();
    let (readmodel, feed) =
        ReadModel::start(&args.dir, Config::default(), opened.sink.durable_seq()).map_err(|e| e.to_string())?;
    while readmodel.applied_seq() < last_seq {
        std::thread::sleep(Duration::from_millis(20));
    }
    let caught_up_s = started.elapsed().as_secs_f64();
    println!(
        "read model: {last_seq} records projected in {caught_up_s:.1} s ({:.0} records/s; 0 if it was current)",
        last_seq as f64 / caught_up_s
    );
    let connection = readmodel::store::open_reader(&readmodel::store::path(&args.dir)).map_err(|e| e.to_string())?;
    let checkpoint = readmodel::store::checkpoint(&connection).map_err(|e| e.to_string())?;
    let movements: u64 = connection
        .query_row("SELECT COUNT(*) FROM movements", [], |row| row.get::<_, i64>(0))
        .map_err(|e| e.to_string())? as u64;
    let players = opened.ledger.players_len() as u64;
    println!("holding {players} players, {movements} movements");
    let first_ms: i64 = connection
        .query_row("SELECT MIN(time_ms) FROM movements", [], |row| row.get(0))
        .map_err(|e| e.to_string())?;
    let span_ms = checkpoint.time_ms.saturating_sub(first_ms as u64);

    let new_histogram = || Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string());
    let (mut statement, mut at, mut games) = (new_histogram()?, new_histogram()?, new_histogram()?);
    let mut rows = [0u64; 3];
    let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
    for _ in 0..args.queries {
        let player = PlayerId(1 + draw.below(players));
        let t = Instant::now();
        let page = history::movements_matching(&connection, player, &MovementFilter::default(), 1_000)
            .map_err(|e| e.to_string())?;
        statement
            .record(t.elapsed().as_micros() as u64)
            .map_err(|e| e.to_string())?;
        rows[0] += page.len() as u64;

        let moment = first_ms as u64 + draw.below(span_ms + 1);
        let t = Instant::now();
        let wallets = history::balances_at(&connection, player, moment).map_err(|e| e.to_string())?;
        at.record(t.elapsed().as_micros() as u64).map_err(|e| e.to_string())?;
        rows[1] += wallets.map_or(0, |w| w.len() as u64);

        let t = Instant::now();
        let filter = RoundFilter {
            before_seq: u64::MAX,
            ..RoundFilter::default()
        };
        let rounds = history::rounds(&connection, player, &filter, 50).map_err(|e| e.to_string())?;
        games
            .record(t.elapsed().as_micros() as u64)
            .map_err(|e| e.to_string())?;
        rows[2] += rounds.len() as u64;
    }
    report("statement", &statement, rows[0]);
    report("balances_at", &at, rows[1]);
    report("games", &games, rows[2]);
    drop(connection);
    drop(feed);
    drop(opened);
    if !args.keep {
        std::fs::remove_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("history-probe: {error}");
            ExitCode::FAILURE
        }
    }
}
