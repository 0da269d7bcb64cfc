//! `croupier-admin`: the operator's command-line tool.
//!
//! Offline, on a data directory: `journal verify` (checksums, hash chain and
//! record decoding; exit code 0 only if intact), `journal inspect` (records
//! as a table or JSON, filtered by sequence range, player and kind) and
//! `replay` (rebuild the ledger from the newest usable snapshot and the
//! journal, or `--from-genesis`, and print its digest and per-currency
//! totals) and `snapshot` (take one now, then apply the retention policy).
//! It also answers what the engine alone knows: currencies and how an amount
//! is stored.
//!
//! Online, over a running server's operator API ([`online`]): `login`
//! stores the server and a token, then `players`, `kyc`, `limits`,
//! `self-exclude`, `time-out`, `history`, `balance`, `statement`,
//! `balances`, `sessions`, `devices`, `operators`, `audit`, `jurisdictions`,
//! `deposits`, `withdrawals`, `alerts` and `cases`. Tables by default, `--json` for scripts; `completions` prints
//! a shell's completion script. Exit codes are in [`online::EXIT_CODES`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser, Subcommand};
use engine::durable::{SnapshotPolicy, take_snapshot};
use engine::sequencer::Committed;
use engine::{Amount, Config, Currency, Outcome, PlayerId};
use journal::{Reader, Retirement};

mod online;

#[derive(Parser)]
#[command(name = "croupier-admin", version, about = "Croupier operator tool", after_help = online::EXIT_CODES)]
struct Cli {
    /// Print JSON (one object, or one per line for `journal inspect`) instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// List the supported currencies and their minor-unit exponents.
    Currencies,
    /// Show how an amount is stored: minor units, or a clear refusal.
    Amount {
        /// Decimal amount in the currency's major unit, e.g. 12.50.
        value: String,
        /// ISO 4217 code, e.g. EUR.
        currency: String,
    },
    /// Offline journal tools; they only read the directory.
    #[command(subcommand)]
    Journal(JournalCmd),
    /// Rebuild the ledger from a data directory; print its digest and per-currency totals.
    Replay {
        /// The data directory.
        dir: PathBuf,
        /// Ignore snapshots and replay the whole journal (it must still start at seq 1).
        #[arg(long)]
        from_genesis: bool,
    },
    /// Take a snapshot of a data directory now (safe while a server runs),
    /// then keep the newest snapshots and retire the journal behind them.
    Snapshot {
        /// The data directory.
        dir: PathBuf,
        /// Snapshots to keep.
        #[arg(long, default_value_t = 2)]
        keep: usize,
        /// What to do with journal segments behind the oldest kept snapshot.
        #[arg(long, value_enum, default_value_t = RetireArg::Archive)]
        retire: RetireArg,
    },
    /// Print a shell's completion script (e.g. `croupier-admin completions bash > /etc/bash_completion.d/croupier-admin`).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    #[command(flatten)]
    Online(online::Command),
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RetireArg {
    /// Move them to `archive/` in the data directory.
    Archive,
    /// Delete them.
    Remove,
    /// Leave them in place.
    Keep,
}

#[derive(Subcommand)]
enum JournalCmd {
    /// Check every checksum, the whole hash chain and every record; exit 0 only if intact.
    Verify {
        /// The data directory.
        dir: PathBuf,
    },
    /// Print journal records.
    Inspect {
        /// The data directory.
        dir: PathBuf,
        /// First sequence number to print.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Last sequence number to print.
        #[arg(long)]
        to: Option<u64>,
        /// Only records about this player.
        #[arg(long)]
        player: Option<u64>,
        /// Only commands of this kind (e.g. bet, win, rollback, deposit_confirm).
        #[arg(long)]
        kind: Option<String>,
    },
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    let json = cli.json;
    match cli.command {
        Cmd::Currencies => currencies(),
        Cmd::Amount { value, currency } => amount(&value, &currency)?,
        Cmd::Journal(JournalCmd::Verify { dir }) => return verify(&dir),
        Cmd::Journal(JournalCmd::Inspect {
            dir,
            from,
            to,
            player,
            kind,
        }) => {
            let filter = Filter {
                from,
                to: to.unwrap_or(u64::MAX),
                player: player.map(PlayerId),
                kind,
            };
            inspect(&dir, &filter, json)?;
        }
        Cmd::Replay { dir, from_genesis } => replay(&dir, from_genesis)?,
        Cmd::Snapshot { dir, keep, retire } => snapshot(&dir, keep, retire)?,
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "croupier-admin", &mut std::io::stdout());
        }
        Cmd::Online(command) => {
            if let Err(failure) = online::run(command, online::Output { json }) {
                eprintln!("croupier-admin: {}", failure.message());
                return Ok(ExitCode::from(failure.code()));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn currencies() {
    println!("{:<6} {:>8}", "code", "decimals");
    for currency in Currency::ALL {
        println!("{:<6} {:>8}", currency.code(), currency.exponent());
    }
}

fn amount(value: &str, currency: &str) -> Result<()> {
    let currency: Currency = currency.parse().with_context(|| format!("currency {currency:?}"))?;
    let amount = Amount::parse(value, currency).with_context(|| format!("amount {value:?} in {currency}"))?;
    println!(
        "{} {currency} = {} minor units",
        amount.to_decimal(currency),
        amount.minor()
    );
    Ok(())
}

fn check_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    Ok(())
}

fn verify(dir: &Path) -> Result<ExitCode> {
    check_dir(dir)?;
    let report = journal::verify(dir).with_context(|| format!("verifying {}", dir.display()))?;
    if let Some(corruption) = &report.corruption {
        println!("DAMAGED: first bad seq {}: {corruption}", corruption.seq);
        println!(
            "intact before it: {} batches, {} records, up to seq {}",
            report.batches, report.records, report.last_seq
        );
        return Ok(ExitCode::FAILURE);
    }
    // The chain is intact; every record must also be a valid engine record.
    for batch in Reader::open(dir)?.batches() {
        let batch = batch?;
        for (seq, bytes) in (batch.first_seq..).zip(&batch.records) {
            if let Err(error) = decode_at(seq, bytes) {
                println!("DAMAGED: first bad seq {seq}: {error:#}");
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    println!(
        "intact: {} segments, {} batches, {} records, last seq {}, last batch hash {:?}",
        report.segments, report.batches, report.records, report.last_seq, report.last_hash
    );
    if report.archived_segments > 0 {
        println!(
            "({} of the segments are archived in archive/)",
            report.archived_segments
        );
    }
    if report.first_seq > 1 {
        println!(
            "history before seq {} was retired and removed: the chain is checked from the anchor in {}",
            report.first_seq,
            journal::ANCHOR_FILE_NAME
        );
    }
    if let Some(torn) = &report.torn_tail {
        println!(
            "note: a torn last write of {} bytes follows at byte {} of {} (it never completed, so it was \
             never acknowledged); opening the journal copies it to {} and then truncates it",
            torn.len_bytes,
            torn.offset_bytes,
            torn.segment.display(),
            dir.join(journal::QUARANTINE_DIR_NAME).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn decode_at(seq: u64, bytes: &[u8]) -> Result<Committed> {
    let record = engine::record::decode(bytes).with_context(|| format!("record {seq}"))?;
    if record.envelope.seq != seq {
        bail!("record at seq {seq} claims seq {}", record.envelope.seq);
    }
    Ok(record)
}

struct Filter {
    from: u64,
    to: u64,
    player: Option<PlayerId>,
    kind: Option<String>,
}

impl Filter {
    fn accepts(&self, record: &Committed) -> bool {
        let command = &record.envelope.request.command;
        let player = command.player().or(match record.outcome {
            Outcome::Registered { player } => Some(player),
            _ => None,
        });
        let seq = record.envelope.seq;
        seq >= self.from
            && seq <= self.to
            && self.player.is_none_or(|p| player == Some(p))
            && self.kind.as_deref().is_none_or(|k| command.kind() == k)
    }
}

fn inspect(dir: &Path, filter: &Filter, json: bool) -> Result<()> {
    check_dir(dir)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if !json {
        let header = format!(
            "{:>10}  {:>13}  {:>6}  {:<24} {:<20} {:>8}  outcome",
            "seq", "time_ms", "source", "id", "kind", "player"
        );
        if writeln!(out, "{header}").is_err() {
            return Ok(()); // stdout already closed
        }
    }
    for batch in Reader::open(dir)?.batches_from(filter.from) {
        let batch = batch?;
        for (seq, bytes) in (batch.first_seq..).zip(&batch.records) {
            if seq > filter.to {
                return Ok(());
            }
            let record = decode_at(seq, bytes)?;
            if filter.accepts(&record) {
                match print_record(&mut out, &record, json) {
                    // The reader went away (`| head`): a normal end, not an error.
                    Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                    other => other?,
                }
            }
        }
    }
    Ok(())
}

fn print_record(out: &mut impl Write, record: &Committed, json: bool) -> std::io::Result<()> {
    let envelope = &record.envelope;
    let request = &envelope.request;
    let player = request.command.player().map(|p| p.0);
    if json {
        let line = serde_json::json!({
            "seq": envelope.seq,
            "time_ms": envelope.time_ms,
            "source": request.source.0,
            "id": request.id.as_str(),
            "kind": request.command.kind(),
            "player": player,
            "ok": record.outcome.is_ok(),
            "command": format!("{:?}", request.command),
            "outcome": format!("{:?}", record.outcome),
        });
        writeln!(out, "{line}")
    } else {
        let player = player.map_or_else(|| "-".to_string(), |p| p.to_string());
        writeln!(
            out,
            "{:>10}  {:>13}  {:>6}  {:<24} {:<20} {:>8}  {:?}",
            envelope.seq,
            envelope.time_ms,
            request.source.0,
            request.id.as_str(),
            request.command.kind(),
            player,
            record.outcome
        )
    }
}

fn snapshot(dir: &Path, keep: usize, retire: RetireArg) -> Result<()> {
    check_dir(dir)?;
    if keep == 0 {
        bail!("--keep must be at least 1");
    }
    let policy = SnapshotPolicy {
        keep,
        retire: match retire {
            RetireArg::Archive => Some(Retirement::Archive),
            RetireArg::Remove => Some(Retirement::Remove),
            RetireArg::Keep => None,
        },
    };
    let taken = take_snapshot(dir, Config::default(), None, policy)
        .with_context(|| format!("taking a snapshot of {}", dir.display()))?;
    let Some(taken) = taken else {
        println!("nothing new: the newest snapshot already holds the whole journal");
        return Ok(());
    };
    let info = &taken.info;
    match &taken.base {
        Some(base) => println!(
            "rebuilt from snapshot at seq {} plus {} journaled commands in {:.2?}",
            base.seq, taken.replayed_commands, taken.rebuild
        ),
        None => println!(
            "rebuilt from the journal ({} commands) in {:.2?}",
            taken.replayed_commands, taken.rebuild
        ),
    }
    println!(
        "snapshot {}: seq {}, digest {:016x}, {} bytes, encoded in {:.2?}, written and synced in {:.2?}",
        info.path.display(),
        info.seq,
        info.digest,
        info.len_bytes,
        taken.write.encode,
        taken.write.io
    );
    if taken.retired_segments > 0 {
        println!("retired {} journal segments", taken.retired_segments);
    }
    Ok(())
}

fn replay(dir: &Path, from_genesis: bool) -> Result<()> {
    check_dir(dir)?;
    let replayed = if from_genesis {
        engine::durable::replay_from_genesis(dir, Config::default())
    } else {
        engine::durable::replay(dir, Config::default())
    };
    let (ledger, report) = replayed.with_context(|| format!("replaying {}", dir.display()))?;
    let ledger = &ledger;
    for skipped in &report.skipped_snapshots {
        println!("skipped snapshot: {skipped}");
    }
    if let Some(snapshot) = &report.snapshot {
        println!(
            "started from snapshot {} (seq {}, loaded in {:.2?})",
            snapshot.path.display(),
            snapshot.seq,
            report.snapshot_timings.io + report.snapshot_timings.encode + report.snapshot_timings.rebuild
        );
    }
    println!(
        "replayed {} commands in {} batches ({:.2?}); last seq {}; digest {:016x}",
        report.commands, report.batches, report.elapsed, report.last_seq, report.digest
    );
    if let Some(torn) = &report.torn_tail {
        println!(
            "not replayed: a torn last write of {} bytes at byte {} of {} (never acknowledged)",
            torn.len_bytes,
            torn.offset_bytes,
            torn.segment.display()
        );
    }
    println!("{} players", ledger.players_len());
    println!(
        "{:<6} {:>20} {:>20} {:>20} {:>20} {:>20}",
        "ccy", "balances", "deposits", "withdrawals", "bets", "wins"
    );
    for &currency in Currency::ALL {
        let flows = ledger.flows(currency);
        let balances = ledger.balance_total(currency);
        if balances == 0 && flows == engine::Flows::default() {
            continue;
        }
        let show = |minor: i128| engine::money::wide_decimal(minor, currency);
        println!(
            "{:<6} {:>20} {:>20} {:>20} {:>20} {:>20}",
            currency.code(),
            show(balances),
            show(flows.deposits),
            show(flows.withdrawals),
            show(flows.bets),
            show(flows.wins)
        );
    }
    ledger.check_conservation().context("conservation check failed")?;
    println!("conservation holds");
    Ok(())
}
