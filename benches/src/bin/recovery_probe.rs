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
//!   (`dd iflag=nocache`, per file: nothing else on the machine is touched).
//!
//! ```text
//! cargo run --release -p croupier-benches --bin recovery_probe \
//!     [-- --commands N --players P --dir PATH --reuse --keep --runs replay,recover,cold]
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use croupier_benches::{Fixture, PLAYERS, cpu_ticks};
use engine::Config;
use engine::durable::{RecoveryReport, recover, replay};
use engine::sequencer::{CommitSink, Committed};

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
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        commands: 10_000_000,
        players: PLAYERS,
        dir: std::env::temp_dir().join("croupier-recovery-probe"),
        reuse: false,
        keep: false,
        runs: vec!["replay".into(), "recover".into(), "cold".into()],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--commands" => args.commands = value()?.parse().map_err(|e| format!("--commands: {e}"))?,
            "--players" => args.players = value()?.parse().map_err(|e| format!("--players: {e}"))?,
            "--dir" => args.dir = PathBuf::from(value()?),
            "--runs" => args.runs = value()?.split(',').map(str::to_owned).collect(),
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
            name == "LOCK" || name.ends_with(".seg") || name == "next-segment.prepared"
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
        report.torn_tail_bytes,
        report.digest,
        if wall_s * 1e7 / report.commands.max(1) as f64 <= TARGET_S {
            "met"
        } else {
            "MISSED"
        },
    );
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
            other => eprintln!("recovery_probe: unknown run {other}, skipped"),
        }
    }
    if !args.keep {
        let _ = clear(&args.dir);
    }
    ExitCode::SUCCESS
}
