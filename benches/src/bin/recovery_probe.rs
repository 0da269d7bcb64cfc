//! Recovery probe: how long `engine::durable::recover` takes to rebuild the
//! ledger from a journal of many commands. Target: 10,000,000 commands in
//! <= 10 s.
//!
//! **Preparation** (skipped with `--reuse`): an empty [`Fixture`] of
//! `--players` players (default 1,000,000); its set-up requests (three per
//! player) and then requests of the realistic mix, until `--commands`
//! (default 10,000,000) are applied, are committed through a `JournalSink`
//! (`FlushPolicy::Always`, 4,096 commands per commit, what the sequencer
//! writes), stamped as the fixture stamps them. The sink comes from
//! `recover` on the empty directory, as a server starts.
//!
//! **Measurements**, each rebuilding a fresh ledger (`--runs`, default all):
//!
//! * `replay`: `engine::durable::replay` (journal reader + record decode +
//!   `Ledger::apply`; no open scan, no lock), page cache warm;
//! * `recover`: `engine::durable::recover` (`Journal::open`, which scans and
//!   checks every batch, then the same replay), page cache warm;
//! * `cold`: `recover` after the segments were evicted from the page cache
//!   (`dd iflag=nocache`, per file: nothing else on the machine is touched);
//! * `snapshot`: `take_snapshot` through seq `--snapshot-at` (default: 95%
//!   of the commands, rounded down to a commit boundary), the way the
//!   background snapshotter takes one: rebuilt from the journal, then
//!   encoded, written and fsynced. Target for recovery from it: <= 2 s;
//! * `snap-recover`: `recover` again, now from that snapshot plus the
//!   journal after it (page cache warm);
//! * `stall`: the sequencer over the recovered ledger (`--players` players,
//!   all retained requests) serving a closed-loop producer (window 64),
//!   first alone, then while the snapshotter takes a snapshot: latency
//!   percentiles of both phases side by side. The snapshotter never touches
//!   the sequencer, so any difference is contention for the 2 cores.
//!
//! ```text
//! cargo run --release -p croupier-benches --bin recovery_probe \
//!     [-- --commands N --players P --dir PATH --reuse --keep \
//!         --runs replay,recover,cold,snapshot,snap-recover,stall --snapshot-at SEQ]
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use croupier_benches::{CURRENCY, Fixture, PLAYERS, Producer, cpu_ticks};
use engine::durable::{RecoveryReport, SnapshotPolicy, recover, replay, take_snapshot};
use engine::sequencer::{CommitSink, Committed, Sequencer, SequencerConfig, SystemClock};
use engine::snapshotter::{Snapshotter, SnapshotterConfig};
use engine::workload::Workload;
use engine::{Config, SourceId};
use hdrhistogram::Histogram;

const TARGET_S: f64 = 10.0;
const COMMIT_BATCH: usize = 4_096;
const GIB: f64 = (1u64 << 30) as f64;

struct Args {
    commands: u64,
    players: u64,
    dir: PathBuf,
    reuse: bool,
    keep: bool,
    runs: Vec<String>,
    snapshot_at: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        commands: 10_000_000,
        players: PLAYERS,
        dir: std::env::temp_dir().join("croupier-recovery-probe"),
        reuse: false,
        keep: false,
        runs: ["replay", "recover", "cold", "snapshot", "snap-recover", "stall"]
            .map(str::to_owned)
            .to_vec(),
        snapshot_at: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--commands" => args.commands = value()?.parse().map_err(|e| format!("--commands: {e}"))?,
            "--players" => args.players = value()?.parse().map_err(|e| format!("--players: {e}"))?,
            "--dir" => args.dir = PathBuf::from(value()?),
            "--runs" => args.runs = value()?.split(',').map(str::to_owned).collect(),
            "--snapshot-at" => args.snapshot_at = Some(value()?.parse().map_err(|e| format!("--snapshot-at: {e}"))?),
            "--reuse" => args.reuse = true,
            "--keep" => args.keep = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.commands < 3 * args.players {
        return Err(format!(
            "--commands must cover the set-up ({} requests)",
            3 * args.players
        ));
    }
    Ok(args)
}

/// Segment files of the journal in `dir`, sorted.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|path| path.extension().is_some_and(|ext| ext == "seg"));
    files.sort();
    files
}

/// Removes `dir` if it looks like a journal directory this probe made.
fn clear(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        return Ok(());
    }
    let ours = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .all(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name == "LOCK" || name.ends_with(".seg") || name == "next-segment.prepared" || name == "snapshots"
        });
    if !ours {
        return Err(format!("{} holds other files; refusing to delete it", dir.display()));
    }
    std::fs::remove_dir_all(dir).map_err(|e| e.to_string())
}

/// Journals `commands` commands of the fixture's set-up and mix through a `JournalSink`.
fn prepare(args: &Args) {
    let started = Instant::now();
    let mut fixture = Fixture::empty(args.players);
    let opened = recover(&args.dir, Config::default(), Default::default()).expect("open a new journal");
    assert_eq!(opened.report.last_seq, 0, "a new journal");
    let mut sink = opened.sink;
    drop(opened.ledger);
    let mut batch: Vec<Committed> = Vec::with_capacity(COMMIT_BATCH);
    let mut push = |fixture: &mut Fixture, request: engine::Request, setup: bool| {
        let committed = fixture.apply_stamped(request);
        let seq = committed.envelope.seq;
        assert!(
            !setup || committed.outcome.is_ok(),
            "set-up request {seq} failed: {:?}",
            committed.outcome
        );
        batch.push(committed);
        if batch.len() == COMMIT_BATCH || seq == args.commands {
            sink.commit(&batch).expect("commit");
            batch.clear();
        }
    };
    let setup: Vec<_> = fixture.workload.setup().collect();
    for request in setup {
        push(&mut fixture, request, true);
    }
    let funded_s = started.elapsed().as_secs_f64();
    while fixture.ledger.last_seq() < args.commands {
        let request = fixture.workload.next_request();
        push(&mut fixture, request, false);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = sink.journal().stats();
    println!(
        "prepared: {} players funded in {funded_s:.1} s; {} commands journaled in {elapsed:.1} s \
         ({:.0} cmd/s: apply + encode + append + msync, one thread); {} requests remembered, digest {:016x}; \
         journal data {:.3} GiB ({:.1} B per command with framing) in {} batches, {} msyncs, {} segment rolls \
         ({} waited)",
        fixture.ledger.players_len(),
        fixture.ledger.last_seq(),
        fixture.ledger.last_seq() as f64 / elapsed,
        fixture.ledger.remembered_len(),
        fixture.ledger.digest(),
        stats.bytes as f64 / GIB,
        stats.bytes as f64 / stats.records.max(1) as f64,
        stats.batches,
        stats.syncs,
        stats.segment_rolls,
        stats.roll_waits,
    );
}

/// Bytes of the segments resident in the page cache (from `fincore`), if known.
fn cached_bytes(files: &[PathBuf]) -> Option<u64> {
    let output = Command::new("fincore")
        .args(["--bytes", "--noheadings", "--output", "RES"])
        .args(files)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    Some(text.lines().filter_map(|line| line.trim().parse::<u64>().ok()).sum())
}

/// CPUs used by other processes between two `cpu_ticks` samples `wall_s` apart.
fn others_cpus(before: Option<(u64, u64)>, wall_s: f64) -> String {
    match (before, cpu_ticks()) {
        (Some(before), Some(after)) => {
            let others = (after.0 - before.0).saturating_sub(after.1 - before.1);
            format!("{:.2}", others as f64 / 100.0 / wall_s)
        }
        _ => "?".into(),
    }
}

/// Drops the segments' pages from the page cache.
fn evict(files: &[PathBuf]) {
    for file in files {
        let status = Command::new("dd")
            .arg(format!("if={}", file.display()))
            .args(["iflag=nocache", "count=0", "status=none"])
            .status()
            .expect("run dd");
        assert!(status.success(), "dd iflag=nocache {}", file.display());
    }
}

fn describe(name: &str, wall_s: f64, report: &RecoveryReport, others: &str) {
    println!(
        "{name}: {:.2} s wall ({:.2} s in the report): {} commands in {} batches, {:.0} cmd/s, last seq {}, \
         torn tail {} B, digest {:016x} -> {} (target <= {TARGET_S} s for 10M); other processes used {others} CPUs",
        wall_s,
        report.elapsed.as_secs_f64(),
        report.commands,
        report.batches,
        report.commands as f64 / wall_s,
        report.last_seq,
        report.torn_tail_bytes(),
        report.digest,
        if wall_s * 1e7 / report.commands.max(1) as f64 <= TARGET_S {
            "met"
        } else {
            "MISSED"
        },
    );
}

/// Closed-loop load on the recovered ledger, without and then during a snapshot.
fn stall(args: &Args) {
    let recovered = recover(&args.dir, Config::default(), Default::default()).expect("recover");
    let players = recovered.ledger.players_len() as u64;
    let remembered = recovered.ledger.remembered_len();
    let snapshotter = Snapshotter::spawn(
        args.dir.clone(),
        Config::default(),
        recovered.sink.durable_seq(),
        SnapshotterConfig {
            every_commands: 0,
            poll: std::time::Duration::from_millis(20),
            policy: SnapshotPolicy { keep: 1, retire: None },
        },
    )
    .expect("start the snapshotter");
    let sequencer = Sequencer::start(
        recovered.ledger,
        recovered.sink,
        SystemClock,
        SequencerConfig::default(),
    )
    .expect("start the sequencer");
    let mut workload = Workload::new(0x5eed, players, CURRENCY).with_source(SourceId(77));
    let mut producer = Producer::new(sequencer.handle(), 64);
    // Latency of the whole phase, and the worst reply of each 10,000-request
    // chunk with the time it ended, to place stalls on the snapshot's timeline.
    let phase = |producer: &mut Producer, workload: &mut Workload, until: &mut dyn FnMut() -> bool| {
        let started = Instant::now();
        let mut requests = 0;
        let mut all = producer.latency.clone();
        all.reset();
        let mut worst = (0.0, 0u64);
        while !until() {
            producer.latency.reset();
            producer.run((0..10_000).map(|_| workload.next_request()).collect());
            requests += 10_000;
            all.add(&producer.latency).expect("same bounds");
            if producer.latency.max() > worst.1 {
                worst = (started.elapsed().as_secs_f64(), producer.latency.max());
            }
        }
        (requests, started.elapsed().as_secs_f64(), all, worst)
    };
    let quiet_until = Instant::now() + std::time::Duration::from_secs(10);
    let quiet = phase(&mut producer, &mut workload, &mut || Instant::now() >= quiet_until);
    let reply = snapshotter.request();
    let mut done = None;
    let during = phase(&mut producer, &mut workload, &mut || {
        if done.is_none() {
            done = reply.try_recv().ok();
        }
        done.is_some()
    });
    let taken = done.expect("snapshot finished").expect("snapshot taken");
    drop(producer);
    snapshotter.stop();
    sequencer.shutdown().expect("shut down");
    println!(
        "stall probe: {players} players, {remembered} requests remembered; snapshot of seq {:?} took {:.2} s \
         (rebuild {:.2} s, encode {:.2} s, write {:.2} s)",
        taken.as_ref().map(|t| t.info.seq),
        taken
            .as_ref()
            .map_or(0.0, |t| (t.rebuild + t.write.encode + t.write.io).as_secs_f64()),
        taken.as_ref().map_or(0.0, |t| t.rebuild.as_secs_f64()),
        taken.as_ref().map_or(0.0, |t| t.write.encode.as_secs_f64()),
        taken.as_ref().map_or(0.0, |t| t.write.io.as_secs_f64()),
    );
    let show = |name: &str, (requests, seconds, latency, worst): &(u64, f64, Histogram<u64>, (f64, u64))| {
        let us = |q: f64| latency.value_at_quantile(q) as f64 / 1e3;
        println!(
            "  {name}: {requests} requests in {seconds:.1} s ({:.0} cmd/s); latency p50 {:.0} us, p99 {:.0} us, \
             p99.9 {:.0} us, max {:.1} ms (in the chunk ending {:.1} s into the phase)",
            *requests as f64 / seconds,
            us(0.5),
            us(0.99),
            us(0.999),
            worst.1 as f64 / 1e6,
            worst.0,
        );
    };
    show("without a snapshot", &quiet);
    show("during the snapshot", &during);
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("recovery_probe: {message}");
            return ExitCode::FAILURE;
        }
    };
    if !args.reuse {
        if let Err(message) = clear(&args.dir) {
            eprintln!("recovery_probe: {message}");
            return ExitCode::FAILURE;
        }
        prepare(&args);
    }
    let files = segments(&args.dir);
    let (len, allocated) =
        files
            .iter()
            .filter_map(|file| std::fs::metadata(file).ok())
            .fold((0, 0), |(len, blocks), meta| {
                use std::os::unix::fs::MetadataExt;
                (len + meta.len(), blocks + meta.blocks() * 512)
            });
    println!(
        "journal {}: {} segments, {:.3} GiB on disk ({:.3} GiB allocated), {:.3} GiB in the page cache",
        args.dir.display(),
        files.len(),
        len as f64 / GIB,
        allocated as f64 / GIB,
        cached_bytes(&files).unwrap_or(0) as f64 / GIB,
    );

    for run in &args.runs {
        match run.as_str() {
            "replay" => {
                let ticks = cpu_ticks();
                let started = Instant::now();
                let (ledger, report) = replay(&args.dir, Config::default()).expect("replay");
                let wall = started.elapsed().as_secs_f64();
                let others = others_cpus(ticks, wall);
                describe("replay (reader + decode + apply, warm cache)", wall, &report, &others);
                drop(ledger);
            }
            "recover" | "cold" => {
                if run == "cold" {
                    evict(&files);
                    println!(
                        "evicted: {:.3} GiB of the segments left in the page cache",
                        cached_bytes(&files).unwrap_or(0) as f64 / GIB
                    );
                }
                let ticks = cpu_ticks();
                let started = Instant::now();
                let recovered = recover(&args.dir, Config::default(), Default::default()).expect("recover");
                let wall = started.elapsed().as_secs_f64();
                let others = others_cpus(ticks, wall);
                let name = if run == "cold" {
                    "recover (open scan + replay, cold cache)"
                } else {
                    "recover (open scan + replay, warm cache)"
                };
                describe(name, wall, &recovered.report, &others);
                drop(recovered);
            }
            "snapshot" => {
                let through = args
                    .snapshot_at
                    .unwrap_or(args.commands / 20 * 19 / COMMIT_BATCH as u64 * COMMIT_BATCH as u64);
                let policy = SnapshotPolicy { keep: 1, retire: None };
                let started = Instant::now();
                let taken = take_snapshot(&args.dir, Config::default(), Some(through), policy)
                    .expect("take a snapshot")
                    .expect("something to snapshot");
                println!(
                    "snapshot through seq {}: {:.2} s in all: rebuilt in {:.2} s ({} commands replayed{}), \
                     encoded in {:.2} s, written and fsynced in {:.2} s ({:.3} GiB, {:.0} MB/s)",
                    taken.info.seq,
                    started.elapsed().as_secs_f64(),
                    taken.rebuild.as_secs_f64(),
                    taken.replayed_commands,
                    taken
                        .base
                        .map(|b| format!(" on top of seq {}", b.seq))
                        .unwrap_or_default(),
                    taken.write.encode.as_secs_f64(),
                    taken.write.io.as_secs_f64(),
                    taken.info.len_bytes as f64 / GIB,
                    taken.info.len_bytes as f64 / 1e6 / taken.write.io.as_secs_f64(),
                );
            }
            "snap-recover" => {
                let started = Instant::now();
                let recovered = recover(&args.dir, Config::default(), Default::default()).expect("recover");
                let wall = started.elapsed().as_secs_f64();
                let report = &recovered.report;
                let timings = report.snapshot_timings;
                println!(
                    "recover from snapshot (warm cache): {wall:.2} s wall: snapshot at seq {} read in {:.2} s, \
                     validated and decoded in {:.2} s, tables rebuilt in {:.2} s; then {} journaled commands replayed; \
                     last seq {}, digest {:016x} -> {} (target <= 2 s)",
                    report.snapshot.as_ref().map_or(0, |s| s.seq),
                    timings.io.as_secs_f64(),
                    timings.encode.as_secs_f64(),
                    timings.rebuild.as_secs_f64(),
                    report.commands,
                    report.last_seq,
                    report.digest,
                    if wall <= 2.0 { "met" } else { "MISSED" },
                );
            }
            "stall" => stall(&args),
            other => eprintln!("recovery_probe: unknown run {other}, skipped"),
        }
    }
    if !args.keep {
        let _ = clear(&args.dir);
    }
    ExitCode::SUCCESS
}
