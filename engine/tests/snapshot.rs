//! Snapshots: a restored ledger behaves exactly like the one it was taken
//! from; recovery starts from the newest usable snapshot, replays only the
//! journal after it, and skips snapshots that are damaged, foreign or
//! taken under another configuration; the background snapshotter runs
//! beside a live sequencer.

use std::path::Path;
use std::time::Duration;

use engine::command::{BonusGrant, Command, LimitKind, LimitMetric, LimitPeriod};
use engine::durable::{RecoveryError, SnapshotPolicy, recover, replay, replay_from_genesis, take_snapshot};
use engine::ledger::ImageError;
use engine::rg;
use engine::sequencer::{CommitSink, Committed, Sequencer, SequencerConfig};
use engine::snapshot::{self, SnapshotError};
use engine::snapshotter::{Snapshotter, SnapshotterConfig};
use engine::workload::{WORKLOAD_SOURCE, Workload};
use engine::{Amount, Config, Currency, Envelope, ExtId, Ledger, PlayerId, Request};
use journal::{JournalConfig, Retirement};

const T0: u64 = 1_750_000_000_000;

fn journal_config() -> JournalConfig {
    JournalConfig {
        segment_size_bytes: 64 * 1024,
        ..JournalConfig::default()
    }
}

/// Tiny retention: snapshots then hold evicted requests, pinned open
/// payments and forgotten rounds.
fn small_config() -> Config {
    Config {
        idempotency_len_max: 500,
        rounds_open_max: 100,
        ..Config::default()
    }
}

/// Requests over 50 players: the workload's mix plus limits and bonuses.
fn requests(seed: u64, count: usize) -> Vec<Request> {
    let mut workload = Workload::new(seed, 50, Currency::EUR);
    let mut requests: Vec<Request> = workload.setup().collect();
    for n in 0..count {
        let player = PlayerId(n as u64 % 50 + 1);
        let command = match n % 97 {
            13 => Command::Rg(rg::Command::SetLimit {
                player,
                currency: Currency::EUR,
                limit: LimitKind {
                    metric: LimitMetric::Wager,
                    period: LimitPeriod::Day,
                },
                amount: Some(Amount::from_minor(5_000_000 + n as i64)),
            }),
            41 => Command::from(BonusGrant {
                player,
                currency: Currency::EUR,
                amount: Amount::from_minor(2_000),
                wagering: Amount::from_minor(10_000),
                conversion_cap: Amount::from_minor(50_000),
                expires_at_ms: T0 + 3_600_000,
                contributions: Vec::new(),
                default_contribution_pct: 100,
            }),
            _ => {
                requests.push(workload.next_request());
                continue;
            }
        };
        requests.push(Request {
            source: WORKLOAD_SOURCE,
            id: ExtId::new(&format!("extra-{seed}-{n}")).unwrap(),
            command,
        });
    }
    requests
}

/// A ledger and its journal, driven batch by batch without a sequencer thread.
struct Node {
    ledger: Ledger,
    sink: engine::durable::JournalSink,
}

impl Node {
    fn open(dir: &Path, config: Config) -> Node {
        let recovered = recover(dir, config, journal_config()).unwrap();
        Node {
            ledger: recovered.ledger,
            sink: recovered.sink,
        }
    }

    fn stamp(&self, offset: u64, request: Request) -> Envelope {
        let seq = self.ledger.last_seq() + 1 + offset;
        Envelope {
            seq,
            time_ms: T0 + seq * 1_000,
            request,
        }
    }

    fn run(&mut self, requests: &[Request]) -> Vec<engine::Outcome> {
        let mut outcomes = Vec::new();
        for chunk in requests.chunks(50) {
            let envelopes: Vec<Envelope> = (0..).zip(chunk).map(|(i, r)| self.stamp(i, r.clone())).collect();
            let committed: Vec<Committed> = envelopes
                .into_iter()
                .map(|envelope| {
                    let outcome = self.ledger.apply(&envelope);
                    Committed { envelope, outcome }
                })
                .collect();
            outcomes.extend(committed.iter().map(|c| c.outcome.clone()));
            self.sink.commit(&committed).unwrap();
        }
        outcomes
    }
}

fn snapshot_now(dir: &Path, config: &Config, policy: SnapshotPolicy) -> engine::durable::SnapshotTaken {
    take_snapshot(dir, config.clone(), None, policy)
        .unwrap()
        .expect("something new to snapshot")
}

#[test]
fn a_restored_ledger_behaves_exactly_like_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let mut node = Node::open(dir.path(), config.clone());
    let history = requests(1, 3_000);
    node.run(&history);
    let taken = snapshot_now(dir.path(), &config, SnapshotPolicy::default());
    assert_eq!(taken.info.seq, node.ledger.last_seq());
    assert_eq!(taken.info.digest, node.ledger.digest());
    assert_eq!(taken.replayed_commands, node.ledger.last_seq());

    let (mut restored, info, _) = snapshot::load(&taken.info.path, &config).unwrap();
    assert_eq!(info, taken.info);
    assert_eq!(restored.digest(), node.ledger.digest());
    assert_eq!(restored.remembered_len(), node.ledger.remembered_len());
    assert_eq!(restored.open_rounds_len(), node.ledger.open_rounds_len());
    assert!(
        node.ledger.remembered_len() > 500,
        "open payments are pinned past the limit"
    );
    for player in 1..=50 {
        let player = PlayerId(player);
        assert_eq!(restored.player_info(player), node.ledger.player_info(player));
        assert_eq!(
            restored.limits_in_force(player, Currency::EUR, T0 * 2),
            node.ledger.limits_in_force(player, Currency::EUR, T0 * 2)
        );
    }

    // New traffic and retries of old requests (remembered or forgotten)
    // get the same outcomes from both.
    let mut future = requests(2, 2_000);
    future.extend(history.iter().rev().take(800).cloned());
    for (offset, request) in future.into_iter().enumerate() {
        let envelope = node.stamp(offset as u64, request);
        assert_eq!(
            restored.apply(&envelope),
            node.ledger.apply(&envelope),
            "seq {}",
            envelope.seq
        );
    }
    assert_eq!(restored.digest(), node.ledger.digest());
    restored.check_conservation().unwrap();
}

#[test]
fn recovery_replays_only_the_journal_after_the_newest_snapshot() {
    for how in [Retirement::Archive, Retirement::Remove] {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::default();
        let mut node = Node::open(dir.path(), config.clone());
        let policy = SnapshotPolicy {
            keep: 2,
            retire: Some(how),
        };
        let mut taken = Vec::new();
        for round in 0..3 {
            node.run(&requests(10 + round, 1_500));
            taken.push(snapshot_now(dir.path(), &config, policy));
        }
        let tail = requests(20, 700);
        node.run(&tail);
        let (digest, last_seq) = (node.ledger.digest(), node.ledger.last_seq());
        drop(node);

        assert_eq!(snapshot::list(dir.path()).unwrap().len(), 2, "keeps two");
        assert!(taken[2].base.is_some(), "each snapshot starts from the one before");
        assert!(taken.iter().map(|t| t.retired_segments).sum::<usize>() > 0);

        let recovered = recover(dir.path(), config.clone(), journal_config()).unwrap();
        let report = &recovered.report;
        assert_eq!(report.snapshot.as_ref().map(|s| s.seq), Some(taken[2].info.seq));
        assert_eq!(report.commands, last_seq - taken[2].info.seq);
        assert_eq!((report.last_seq, report.digest), (last_seq, digest));
        assert!(report.skipped_snapshots.is_empty());
        recovered.ledger.check_conservation().unwrap();
        drop(recovered);

        let (offline, _) = replay(dir.path(), config.clone()).unwrap();
        assert_eq!(offline.digest(), digest);
        // The history before the snapshots is gone from the live directory.
        assert!(matches!(
            replay_from_genesis(dir.path(), config.clone()),
            Err(RecoveryError::NoUsableSnapshot { .. })
        ));
        let verified = journal::verify(dir.path()).unwrap();
        assert!(verified.is_ok(), "{verified:?}");
        assert_eq!(verified.first_seq == 1, how == Retirement::Archive);
    }
}

#[test]
fn damaged_foreign_and_reconfigured_snapshots_are_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::default();
    let keep_all = SnapshotPolicy { keep: 3, retire: None };
    let mut node = Node::open(dir.path(), config.clone());
    node.run(&requests(30, 1_000));
    let older = snapshot_now(dir.path(), &config, keep_all);
    node.run(&requests(31, 1_000));
    let newer = snapshot_now(dir.path(), &config, keep_all);
    let digest = node.ledger.digest();
    drop(node);

    // A torn newest snapshot: recovery falls back to the older one.
    let bytes = std::fs::read(&newer.info.path).unwrap();
    std::fs::write(&newer.info.path, &bytes[..bytes.len() - 1]).unwrap();
    assert!(matches!(
        snapshot::load(&newer.info.path, &config),
        Err(SnapshotError::Damaged { .. })
    ));
    let recovered = recover(dir.path(), config.clone(), journal_config()).unwrap();
    assert_eq!(recovered.report.snapshot.as_ref().map(|s| s.seq), Some(older.info.seq));
    assert_eq!(recovered.report.skipped_snapshots.len(), 1);
    assert_eq!(recovered.report.digest, digest);
    drop(recovered);

    // A flipped bit anywhere in the payload is caught.
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 3] ^= 0x01;
    std::fs::write(&newer.info.path, &flipped).unwrap();
    let error = snapshot::load(&newer.info.path, &config).err().unwrap();
    assert!(error.to_string().contains("checksum"), "{error}");

    // A snapshot of another history (same seq) is refused by the chain hash.
    let other = tempfile::tempdir().unwrap();
    let mut stranger = Node::open(other.path(), config.clone());
    stranger.run(&requests(99, 1_000));
    let foreign = snapshot_now(other.path(), &config, keep_all);
    assert_eq!(foreign.info.seq, older.info.seq);
    std::fs::remove_file(&newer.info.path).unwrap();
    std::fs::copy(&foreign.info.path, &older.info.path).unwrap();
    let recovered = recover(dir.path(), config.clone(), journal_config()).unwrap();
    assert!(recovered.report.snapshot.is_none(), "falls back to the genesis");
    assert!(recovered.report.skipped_snapshots[0].contains("hash chain"));
    assert_eq!(recovered.report.digest, digest);
    drop(recovered);

    // Another configuration would replay differently: refused by name.
    let changed = Config {
        idempotency_len_max: 123,
        ..config.clone()
    };
    match snapshot::load(&foreign.info.path, &changed) {
        Err(SnapshotError::Unusable { source, .. }) => {
            assert_eq!(source, ImageError::ConfigChanged("idempotency_len_max"))
        }
        Err(other) => panic!("expected a configuration error, got {other}"),
        Ok(_) => panic!("loaded under another configuration"),
    }
}

#[test]
fn the_snapshotter_runs_beside_a_live_sequencer() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::default();
    let recovered = recover(dir.path(), config.clone(), journal_config()).unwrap();
    let durable = recovered.sink.durable_seq();
    let snapshotter = Snapshotter::spawn(
        dir.path().to_path_buf(),
        config.clone(),
        durable,
        SnapshotterConfig {
            every_commands: 3_000,
            poll: Duration::from_millis(2),
            policy: SnapshotPolicy::default(),
        },
    )
    .unwrap();
    let mut now = T0;
    let clock = move || {
        now += 1;
        now
    };
    let sequencer_config = SequencerConfig {
        ring_capacity: 1_024,
        batch_len_max: 64,
        ..SequencerConfig::default()
    };
    let sequencer = Sequencer::start(recovered.ledger, recovered.sink, clock, sequencer_config).unwrap();
    let handle = sequencer.handle();
    for request in requests(40, 20_000) {
        handle.submit_waiting(request).unwrap().wait().unwrap();
    }
    let (ledger, _) = sequencer.shutdown().unwrap();
    let on_demand = snapshotter.request().recv().unwrap();
    let status = snapshotter.status();
    snapshotter.stop();
    assert!(status.last_error.is_none(), "{:?}", status.last_error);
    assert!(status.taken >= 2, "took {} snapshots", status.taken);
    let newest = match on_demand {
        Ok(Some(taken)) => taken.info,
        Ok(None) => status.last.unwrap().info,
        Err(error) => panic!("on-demand snapshot failed: {error}"),
    };
    assert_eq!(newest.seq, ledger.last_seq());
    assert_eq!(newest.digest, ledger.digest());

    let recovered = recover(dir.path(), config, journal_config()).unwrap();
    assert_eq!(recovered.report.snapshot.map(|s| s.seq), Some(ledger.last_seq()));
    assert_eq!(recovered.report.commands, 0);
    assert_eq!(recovered.report.digest, ledger.digest());
}
