//! Monitoring probe: the game monitoring's lag, from commit to the bet
//! and its win visible in the read model's per-game figures
//! (`readmodel::monitoring`, issue #14's "game-monitoring lag"), with the
//! read model holding `--players` players.
//!
//! **Preparation**: the benchmark fixture's players registered and funded,
//! journaled through a `JournalSink` as the sequencer writes them; then the
//! server's read model is started on the directory, fed by the sink as in
//! the server, and catches up.
//!
//! **Measurement**: `--probes` times, a seeded random player bets 1.00 and
//! wins 1.00 in the game `probe` in one committed batch; the clock starts
//! when the commit returns (the batch is durable, as when the sequencer
//! acknowledges it) and stops when the game's hour row counts the bet and
//! the prize on a reader connection. Two ways of looking, as the alert
//! probe: `asked` (a read that waits for the durable sequence number, as
//! the operator API's performance routes do) and `polled` (a reader that
//! polls the table every 0.2 ms, as a dashboard refresh would see it).
//!
//! ```text
//! cargo run --release -p croupier-benches --bin monitoring-probe \
//!     [-- --players P --probes N --dir PATH]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use croupier_benches::Fixture;
use engine::command::{Bet, RoundRef, Win, WinKind};
use engine::durable::recover;
use engine::sequencer::{CommitSink, Committed};
use engine::workload::WORKLOAD_SOURCE;
use engine::{Amount, Command, Config, Currency, ExtId, GameCode, PlayerId, Request, RoundId, gaming};
use hdrhistogram::Histogram;
use readmodel::ReadModel;

const COMMIT_BATCH: usize = 4_096;
/// The probe's stake and prize, minor units.
const PROBE_MINOR: i64 = 100;

struct Args {
    players: u64,
    probes: u64,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        players: 100_000,
        probes: 400,
        dir: std::env::temp_dir().join("croupier-monitoring-probe"),
    };
    let mut input = std::env::args().skip(1);
    while let Some(flag) = input.next() {
        let mut value = || input.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--players" => args.players = value()?.parse().map_err(|e| format!("--players: {e}"))?,
            "--probes" => args.probes = value()?.parse().map_err(|e| format!("--probes: {e}"))?,
            "--dir" => args.dir = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
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

fn report(name: &str, histogram: &Histogram<u64>) {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1_000.0;
    println!(
        "{name:<7} n={:>5}  p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>7.3} ms",
        histogram.len(),
        ms(0.5),
        ms(0.99),
        histogram.max() as f64 / 1_000.0
    );
}

fn request(id: String, command: gaming::Command) -> Request {
    Request {
        source: WORKLOAD_SOURCE,
        id: ExtId::new(&id).expect("valid id"),
        command: Command::Gaming(command),
    }
}

/// A bet of 1.00 and a win of 1.00 in one round of the game `probe`.
fn bet_and_win(n: u64, player: PlayerId) -> [Request; 2] {
    let round = RoundRef {
        id: RoundId::new(&format!("probe-{n}")).expect("valid id"),
        game: GameCode::new("probe").expect("valid code"),
    };
    let bet = Bet {
        player,
        currency: Currency::EUR,
        amount: Amount::from_minor(PROBE_MINOR),
        round: round.clone(),
        close_round: false,
    };
    let win = Win {
        player,
        currency: Currency::EUR,
        amount: Amount::from_minor(PROBE_MINOR),
        round,
        kind: WinKind::Regular,
        close_round: true,
        bet: None,
    };
    [
        request(format!("probe-bet-{n}"), gaming::Command::Bet(bet)),
        request(format!("probe-win-{n}"), gaming::Command::Win(win)),
    ]
}

fn run(args: &Args) -> Result<(), String> {
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    }
    let started = Instant::now();
    let mut fixture = Fixture::empty(args.players);
    let opened = recover(&args.dir, Config::default(), Default::default()).map_err(|e| e.to_string())?;
    let mut sink = opened.sink;
    let setup: Vec<_> = fixture.workload.setup().collect();
    for chunk in setup.chunks(COMMIT_BATCH) {
        let batch: Vec<Committed> = chunk.iter().map(|r| fixture.apply_stamped(r.clone())).collect();
        sink.commit(&batch).map_err(|e| format!("commit: {e:?}"))?;
    }
    println!(
        "prepared: {} players, {} commands journaled in {:.1} s",
        fixture.ledger.players_len(),
        fixture.ledger.last_seq(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let (view, feed) = ReadModel::start(&args.dir, Config::default(), sink.durable_seq()).map_err(|e| e.to_string())?;
    sink.set_tap(Box::new(feed));
    let last = fixture.ledger.last_seq();
    while view.applied_seq() < last {
        std::thread::sleep(Duration::from_millis(20));
    }
    let path = readmodel::store::path(&args.dir);
    let connection = readmodel::store::open_reader(&path).map_err(|e| e.to_string())?;
    println!(
        "read model: {last} records projected in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| e.to_string())?;
    let new_histogram = || Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string());
    let (mut asked, mut polled) = (new_histogram()?, new_histogram()?);
    let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
    // Probe `n` is visible once the game's rows count n + 1 bets and as
    // many prizes.
    let visible = |n: u64| -> Result<bool, String> {
        connection
            .query_row(
                "SELECT COALESCE(SUM(bets), 0), COALESCE(SUM(prize), 0) FROM game_hours WHERE game = 'probe'",
                [],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
            )
            .map(|(bets, prize)| bets as u64 > n && prize >= (n as i64 + 1) * PROBE_MINOR)
            .map_err(|e| e.to_string())
    };
    for n in 0..args.probes {
        let player = PlayerId(1 + draw.below(args.players));
        let batch: Vec<Committed> = bet_and_win(n, player)
            .into_iter()
            .map(|r| fixture.apply_stamped(r))
            .collect();
        let win_seq = batch[1].envelope.seq;
        if !batch.iter().all(|c| c.outcome.is_ok()) {
            return Err(format!("probe {n} was refused: {:?}", batch[1].outcome));
        }
        sink.commit(&batch).map_err(|e| format!("commit: {e:?}"))?;
        let t = Instant::now();
        if n % 2 == 0 {
            runtime
                .block_on(view.wait_for(win_seq, Duration::from_secs(10)))
                .map_err(|e| e.to_string())?;
            if !visible(n)? {
                return Err(format!("probe {n}: not in the figures at seq {win_seq}"));
            }
            asked
                .record(t.elapsed().as_micros() as u64)
                .map_err(|e| e.to_string())?;
        } else {
            while !visible(n)? {
                if t.elapsed() > Duration::from_secs(10) {
                    return Err(format!("probe {n}: not in the figures at seq {win_seq} after 10 s"));
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            polled
                .record(t.elapsed().as_micros() as u64)
                .map_err(|e| e.to_string())?;
        }
    }
    report("asked", &asked);
    report("polled", &polled);
    drop(connection);
    drop(sink);
    runtime.block_on(view.finished(Duration::from_secs(30)));
    std::fs::remove_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    Ok(())
}

fn main() -> ExitCode {
    match parse_args().and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("monitoring-probe: {error}");
            ExitCode::FAILURE
        }
    }
}
