//! `croupier demo`: a real, short session of the engine (registration,
//! funding, a realistic bet/win/rollback/payment mix from several producer
//! threads through the sequencer) that prints balances, conservation and
//! throughput. It commits to memory, or with `--data-dir` to the journal
//! (recovering first).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use engine::Query;
use engine::durable::recover;
use engine::sequencer::{CommitSink, Completion, MemorySink, Sequencer, SequencerConfig, SequencerHandle, SystemClock};
use engine::workload::Workload;
use engine::{Command, Config, Currency, Ledger, Outcome, PlayerId, Request};
use journal::JournalConfig;

/// The knobs of the demo.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Players to register and fund.
    #[arg(long, default_value_t = 10_000)]
    pub players: u64,
    /// Requests to play after set-up.
    #[arg(long, default_value_t = 1_000_000)]
    pub requests: u64,
    /// Producer threads submitting concurrently.
    #[arg(long, default_value_t = 2)]
    pub producers: u64,
    /// Seed of the simulated session.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Journal to this data directory (recovering what is there first)
    /// instead of committing to memory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl Default for DemoArgs {
    fn default() -> DemoArgs {
        DemoArgs {
            players: 10_000,
            requests: 1_000_000,
            producers: 2,
            seed: 42,
            data_dir: None,
        }
    }
}

pub fn run(args: &DemoArgs) -> Result<()> {
    if args.players == 0 || args.producers == 0 {
        bail!("--players and --producers must be at least 1");
    }
    let ledger = match &args.data_dir {
        None => {
            println!(
                "croupier engine demo: in-memory commit sink, nothing is written to disk (use --data-dir to journal)"
            );
            let sequencer = Sequencer::start(
                Ledger::new(Config::default()),
                MemorySink::counting(),
                SystemClock,
                sequencer_config(),
            )
            .context("starting the sequencer")?;
            session(sequencer, args)?
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let recovered = recover(dir, Config::default(), JournalConfig::default())
                .with_context(|| format!("recovering from {}", dir.display()))?;
            let report = &recovered.report;
            println!(
                "croupier engine demo: journal in {}; recovered {} commands (last seq {}) in {:.2?}; a second run replays the same ids, so every request is an idempotent retry",
                dir.display(),
                report.commands,
                report.last_seq,
                report.elapsed
            );
            let sequencer = Sequencer::start(recovered.ledger, recovered.sink, SystemClock, sequencer_config())
                .context("starting the sequencer")?;
            session(sequencer, args)?
        }
    };
    ledger.check_conservation().context("conservation check failed")?;
    let flows = ledger.flows(Currency::EUR);
    println!(
        "EUR flows: deposits {}, withdrawals {}, bets {}, wins {}, rollbacks {}; balances sum {} (conservation holds)",
        flows.deposits,
        flows.withdrawals,
        flows.bets,
        flows.wins,
        flows.rollbacks,
        ledger.balance_total(Currency::EUR)
    );
    println!("last seq {}, digest {:016x}", ledger.last_seq(), ledger.digest());
    Ok(())
}

fn sequencer_config() -> SequencerConfig {
    SequencerConfig::default()
}

/// Registers and funds the players, plays the mix, shows three balances and
/// stops the sequencer; returns the final ledger.
fn session<S: CommitSink>(sequencer: Sequencer<S>, args: &DemoArgs) -> Result<Ledger> {
    let handle = sequencer.handle();
    let started = Instant::now();
    let setup: Vec<Request> = Workload::new(args.seed, args.players, Currency::EUR).setup().collect();
    let setup_len = setup.len();
    let rejected = drive(&handle, setup)?;
    println!(
        "set-up: {} players registered and funded ({setup_len} requests, {rejected} rejected) in {:.2?}",
        args.players,
        started.elapsed()
    );

    let started = Instant::now();
    let per_producer = args.requests / args.producers;
    let producers: Vec<_> = (0..args.producers)
        .map(|n| {
            let handle = handle.clone();
            let mut workload = Workload::new(args.seed + 1 + n, args.players, Currency::EUR)
                .with_source(engine::SourceId(100 + n as u32));
            let requests: Vec<Request> = (0..per_producer).map(|_| workload.next_request()).collect();
            std::thread::spawn(move || drive(&handle, requests))
        })
        .collect();
    let mut rejected = 0;
    for producer in producers {
        rejected += producer
            .join()
            .map_err(|_| anyhow::anyhow!("a producer thread panicked"))??;
    }
    let elapsed = started.elapsed();
    let played = per_producer * args.producers;
    let stats = handle.stats();
    println!(
        "played {played} requests from {} producers in {elapsed:.2?}: {:.0} requests/s submit-to-reply ({rejected} refused by business rules); {} batches committed",
        args.producers,
        played as f64 / elapsed.as_secs_f64(),
        stats.batches.load(Ordering::Relaxed)
    );
    for player in [1, args.players / 2 + 1, args.players] {
        show_balance(&handle, PlayerId(player))?;
    }
    let (ledger, _sink) = sequencer.shutdown().context("stopping the sequencer")?;
    Ok(ledger)
}

fn show_balance(handle: &SequencerHandle, player: PlayerId) -> Result<()> {
    let command = Command::Query(Query::Balance {
        player,
        currency: Currency::EUR,
    });
    let query = Request {
        source: engine::SourceId(0),
        id: engine::ExtId::new("demo-query")?,
        command,
    };
    if let Outcome::Balance(b) = submit(handle, query)?.wait()?.outcome {
        let show = |a: engine::Amount| a.to_decimal(b.currency);
        println!(
            "player {player:>7}: cash {} {}, bonus {}, reserved {}",
            show(b.cash),
            b.currency,
            show(b.bonus),
            show(b.reserved)
        );
    }
    Ok(())
}

/// Submits every request, keeping a bounded window in flight; returns how many were rejected.
fn drive(handle: &SequencerHandle, requests: Vec<Request>) -> Result<u64> {
    const WINDOW: usize = 4_096;
    let mut pending: VecDeque<Completion> = VecDeque::with_capacity(WINDOW);
    let mut rejected = 0;
    let mut settle = |completion: Completion| -> Result<()> {
        rejected += u64::from(!completion.wait()?.outcome.is_ok());
        Ok(())
    };
    for request in requests {
        if pending.len() == WINDOW {
            settle(pending.pop_front().expect("window is full"))?;
        }
        pending.push_back(submit(handle, request)?);
    }
    pending.into_iter().try_for_each(settle)?;
    Ok(rejected)
}

fn submit(handle: &SequencerHandle, request: Request) -> Result<Completion> {
    Ok(handle.submit_waiting(request)?)
}
