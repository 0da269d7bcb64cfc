//! The history projection agrees with the ledger: every request's lookup is
//! what `Ledger::transaction` says, balances are the ledger's, and a
//! player's movements include payment follow-ups. It survives restarts:
//! resumed from its checkpoint, rebuilt when its file is gone, seeded from
//! a snapshot when the journal before it was retired. The profiles view
//! follows profiles, statuses and erasures, and seeds from a snapshot too.

use std::path::Path;
use std::time::Duration;

use engine::command::Command;
use engine::durable::{JournalSink, SnapshotPolicy, recover, take_snapshot};
use engine::sequencer::{CommitSink, Committed};
use engine::workload::{WORKLOAD_SOURCE, Workload};
use engine::{Amount, Config, Currency, Envelope, ExtId, Ledger, PlayerId, Request, TxRef};
use engine::{payments, players};
use journal::{JournalConfig, Retirement};
use readmodel::{ReadModel, history};

const T0: u64 = 1_780_000_000_000;
const WAIT: Duration = Duration::from_secs(10);

fn journal_config() -> JournalConfig {
    JournalConfig {
        segment_size_bytes: 64 * 1024,
        ..JournalConfig::default()
    }
}

/// A ledger, its journal and its read model, driven batch by batch.
struct Node {
    ledger: Ledger,
    sink: JournalSink,
    view: ReadModel,
    requests: Vec<Request>,
}

impl Node {
    fn open(dir: &Path) -> Node {
        Node::open_with_feed(dir, readmodel::FEED_BATCHES_MAX)
    }

    fn open_with_feed(dir: &Path, feed_batches: usize) -> Node {
        let mut recovered = recover(dir, Config::default(), journal_config()).unwrap();
        let durable = recovered.sink.durable_seq();
        let (view, feed) = ReadModel::start_with(dir, Config::default(), durable, feed_batches).unwrap();
        recovered.sink.set_tap(Box::new(feed));
        Node {
            ledger: recovered.ledger,
            sink: recovered.sink,
            view,
            requests: Vec::new(),
        }
    }

    fn run(&mut self, requests: impl IntoIterator<Item = Request>) {
        let requests: Vec<Request> = requests.into_iter().collect();
        for chunk in requests.chunks(25) {
            let committed: Vec<Committed> = chunk
                .iter()
                .filter_map(|request| {
                    // Reads and retries are answered without a record, as
                    // the sequencer does.
                    if self.ledger.answer(request).is_some() {
                        return None;
                    }
                    let seq = self.ledger.last_seq() + 1;
                    let envelope = Envelope {
                        seq,
                        time_ms: T0 + seq * 1_000,
                        request: request.clone(),
                    };
                    let outcome = self.ledger.apply(&envelope);
                    Some(Committed { envelope, outcome })
                })
                .collect();
            self.sink.commit(&committed).unwrap();
        }
        self.requests.extend(requests);
    }

    async fn settle(&self) {
        self.view.wait_for(self.ledger.last_seq(), WAIT).await.unwrap();
    }

    /// Every request's lookup and every watched wallet agree with the ledger.
    async fn check_against_ledger(&self) {
        self.settle().await;
        let refs: Vec<TxRef> = self
            .requests
            .iter()
            .map(|r| TxRef {
                source: r.source,
                id: r.id.clone(),
            })
            .collect();
        let expected: Vec<_> = refs.iter().map(|tx| self.ledger.transaction(tx)).collect();
        let (found, as_of) = self
            .view
            .query(move |c| {
                refs.iter()
                    .map(|tx| history::transaction(c, tx))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .unwrap();
        assert!(as_of >= self.ledger.last_seq());
        let mut compared = 0;
        for (expected, found) in expected.iter().zip(&found) {
            let Some(expected) = expected else { continue };
            let found = found.as_ref().expect("the view knows every request the ledger does");
            assert_eq!(
                (found.seq, found.time_ms, &found.outcome),
                (expected.seq, expected.time_ms, &expected.outcome)
            );
            assert_eq!(
                found.state,
                state_name(expected.state),
                "request at seq {}",
                expected.seq
            );
            compared += 1;
        }
        assert!(compared > 100, "{compared}");
        let players = self.ledger.players_len() as u64;
        let expected: Vec<_> = (1..=players + 1)
            .map(|p| self.ledger.balances(PlayerId(p), Currency::EUR))
            .collect();
        let (found, _) = self
            .view
            .query(move |c| {
                (1..=players + 1)
                    .map(|p| history::balances(c, PlayerId(p), Currency::EUR))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .unwrap();
        assert_eq!(found, expected);
    }
}

fn state_name(state: engine::outcome::TxState) -> &'static str {
    use engine::outcome::{PaymentState, TxState};
    match state {
        TxState::Done => "done",
        TxState::RolledBack => "rolled_back",
        TxState::Tombstone => "tombstone",
        TxState::Payment(p) => match p {
            PaymentState::Initiated => "initiated",
            PaymentState::Confirmed => "confirmed",
            PaymentState::Failed => "failed",
            PaymentState::Requested => "requested",
            PaymentState::Approved => "approved",
            PaymentState::Rejected => "rejected",
            PaymentState::Completed => "completed",
        },
    }
}

fn workload(seed: u64, count: usize) -> Vec<Request> {
    let mut workload = Workload::new(seed, 40, Currency::EUR);
    let mut requests: Vec<Request> = workload.setup().collect();
    requests.extend((0..count).map(|_| workload.next_request()));
    requests
}

fn request(id: &str, command: Command) -> Request {
    Request {
        source: WORKLOAD_SOURCE,
        id: ExtId::new(id).unwrap(),
        command,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_and_balances_agree_with_the_ledger_and_survive_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path());
    node.run(workload(3, 2_000));
    node.check_against_ledger().await;
    let digest = node.ledger.digest();
    let requests = std::mem::take(&mut node.requests);
    drop(node);

    // Resumed from its checkpoint.
    let mut node = Node::open(dir.path());
    node.requests = requests.clone();
    assert_eq!(node.ledger.digest(), digest);
    node.check_against_ledger().await;
    node.run(workload(4, 300).into_iter().skip(80));
    node.check_against_ledger().await;
    let requests = std::mem::take(&mut node.requests);
    drop(node);

    // Rebuilt from the journal when its file is gone.
    readmodel::store::remove(&readmodel::store::path(dir.path())).unwrap();
    let mut node = Node::open(dir.path());
    node.requests = requests;
    node.check_against_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_wait_is_answered_by_a_commit_it_never_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path());
    node.run(workload(5, 1_000));
    let last = node.ledger.last_seq();
    let applied = node.view.wait_in_background(last, WAIT).await.unwrap();
    assert!(applied >= last, "answered at {applied}, before {last}");
    let commits = node.view.commits();
    assert!(commits.total >= 1, "{commits:?}");
    assert_eq!(
        commits.hurried, 0,
        "a background wait cut a gathering short: {commits:?}"
    );
    // What it waited for is there.
    node.check_against_ledger().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_players_history_holds_every_movement_including_payment_follow_ups() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path());
    let eur = Currency::EUR;
    let player = PlayerId(1);
    let payment = |id: &str| TxRef {
        source: WORKLOAD_SOURCE,
        id: ExtId::new(id).unwrap(),
    };
    node.run([
        request(
            "reg",
            Command::Players(players::Command::RegisterPlayer {
                currency: eur,
                jurisdiction: engine::Jurisdiction::new("MT").unwrap(),
            }),
        ),
        request(
            "dep",
            Command::Payments(payments::Command::DepositInitiate {
                player,
                currency: eur,
                amount: Amount::from_minor(10_000),
            }),
        ),
        request(
            "dep-ok",
            Command::Payments(payments::Command::DepositConfirm {
                deposit: payment("dep"),
            }),
        ),
        request(
            "wd",
            Command::Payments(payments::Command::WithdrawalRequest {
                player,
                currency: eur,
                amount: Amount::from_minor(3_000),
            }),
        ),
        request(
            "wd-ok",
            Command::Payments(payments::Command::WithdrawalApprove {
                withdrawal: payment("wd"),
            }),
        ),
        request(
            "wd-done",
            Command::Payments(payments::Command::WithdrawalComplete {
                withdrawal: payment("wd"),
            }),
        ),
    ]);
    node.settle().await;
    let (movements, as_of) = node
        .view
        .query(move |c| history::movements(c, player, None, 0, 100))
        .await
        .unwrap();
    assert_eq!(as_of, 6);
    let steps: Vec<(&str, i64, i64, i64)> = movements
        .iter()
        .map(|m| {
            (
                m.kind.as_str(),
                m.cash_delta.minor(),
                m.balances.cash.minor(),
                m.balances.reserved.minor(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("deposit_initiate", 0, 0, 0),
            ("deposit_confirm", 10_000, 10_000, 0),
            ("withdrawal_request", -3_000, 7_000, 3_000),
            ("withdrawal_approve", 0, 7_000, 3_000),
            ("withdrawal_complete", 0, 7_000, 0),
        ]
    );
    // Paging: after the second movement, one at a time.
    let (page, _) = node
        .view
        .query(move |c| history::movements(c, player, Some(Currency::EUR), 3, 1))
        .await
        .unwrap();
    assert_eq!(page.iter().map(|m| m.seq).collect::<Vec<_>>(), [4]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_journal_before_a_snapshot_retired_balances_start_from_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path());
    node.run(workload(5, 3_000));
    drop(node);
    // No read model yet: as if it was deleted, or added by an upgrade.
    readmodel::store::remove(&readmodel::store::path(dir.path())).unwrap();
    let policy = SnapshotPolicy {
        keep: 1,
        retire: Some(Retirement::Remove),
    };
    let taken = take_snapshot(dir.path(), Config::default(), None, policy)
        .unwrap()
        .unwrap();
    assert!(
        journal::Reader::open(dir.path()).unwrap().first_seq() > 1,
        "segments were retired"
    );

    let mut node = Node::open(dir.path());
    node.settle().await;
    let players = node.ledger.players_len() as u64;
    let expected: Vec<_> = (1..=players)
        .map(|p| node.ledger.balances(PlayerId(p), Currency::EUR))
        .collect();
    let (found, as_of) = node
        .view
        .query(move |c| {
            (1..=players)
                .map(|p| history::balances(c, PlayerId(p), Currency::EUR))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        .unwrap();
    assert_eq!(found, expected);
    assert_eq!(as_of, node.ledger.last_seq());
    assert!(taken.info.seq <= as_of);
    // And it goes on following.
    node.run(workload(6, 200).into_iter().skip(80));
    node.settle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_the_feed_drops_are_read_back_from_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    // A feed of one batch: the sink outruns the projection at once.
    let mut node = Node::open_with_feed(dir.path(), 1);
    node.run(workload(8, 3_000));
    node.check_against_ledger().await;
    assert!(
        node.view.gaps_recovered() > 0,
        "the feed never overflowed: the test did not test anything"
    );
}

/// The profiles view follows registrations with a profile, changes,
/// statuses and erasures, holds only the sealed bytes, and is seeded alike
/// from a snapshot when the journal before it was retired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profiles_view_follows_profiles_statuses_and_erasures_and_seeds_from_a_snapshot() {
    use engine::command::AccountStatus;
    use engine::players::{ProfileIndexes, SealedProfile};
    use engine::{BlindIndex, Jurisdiction, KeyId, OperatorId, Reason};
    use readmodel::profiles::{self, ProfileView};

    let sealed = |key: u8| SealedProfile::new(KeyId([key; 16]), 1, [key; 12], &[key; 48]).unwrap();
    let register = |key: u8| {
        Command::Players(players::Command::RegisterProfiled {
            currency: Currency::EUR,
            jurisdiction: Jurisdiction::new("GB").unwrap(),
            profile: Box::new(sealed(key)),
            indexes: ProfileIndexes {
                email: BlindIndex([key; 16]),
                identity: BlindIndex([key; 16]),
            },
            operator: OperatorId(3),
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path());
    node.run(workload(9, 50));
    let first = node.ledger.players_len() as u64 + 1;
    node.run([
        request("p-1", register(1)),
        request("p-2", register(2)),
        request("p-dup", register(2)),
        request(
            "s-1",
            Command::Players(players::Command::SetStatus {
                player: PlayerId(first),
                status: AccountStatus::Suspended,
                reason: Reason::new("review").unwrap(),
                operator: OperatorId(4),
            }),
        ),
        request(
            "e-2",
            Command::Players(players::Command::ErasePlayer {
                player: PlayerId(first + 1),
                reason: Reason::new("erasure").unwrap(),
                operator: OperatorId(5),
            }),
        ),
    ]);
    assert_eq!(node.ledger.players_len() as u64, first + 1, "the duplicate was refused");
    async fn views(node: &Node, last: u64) -> Vec<Option<ProfileView>> {
        let query = move |c: &rusqlite::Connection| {
            (1..=last)
                .map(|p| profiles::profile(c, PlayerId(p)))
                .collect::<Result<Vec<_>, _>>()
        };
        node.view.query(query).await.unwrap().0
    }
    node.settle().await;
    let followed = views(&node, first + 1).await;
    let suspended = followed[first as usize - 1].clone().unwrap();
    assert_eq!(
        suspended,
        ProfileView {
            jurisdiction: Some(Jurisdiction::new("GB").unwrap()),
            status: "suspended".into(),
            status_reason: Some("review".into()),
            status_by: Some(OperatorId(4)),
            profile: Some(sealed(1)),
            profile_by: Some(OperatorId(3)),
            erased: None,
            registered_at_ms: suspended.registered_at_ms,
        }
    );
    // Every player followed from the journal has its registration time,
    // and the two registered here are no earlier than the workload's.
    let times: Vec<u64> = followed
        .iter()
        .map(|view| view.as_ref().and_then(|v| v.registered_at_ms).unwrap())
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{times:?}");
    assert!(times[0] > 0, "{times:?}");
    let erased = followed[first as usize].clone().unwrap();
    assert_eq!((erased.profile, erased.status.as_str()), (None, "closed"));
    assert_eq!(
        erased.erased.map(|(by, reason, _)| (by, reason)),
        Some((OperatorId(5), "erasure".into()))
    );
    assert_eq!(followed[0].as_ref().map(|v| v.status.as_str()), Some("active"));
    drop(node);

    readmodel::store::remove(&readmodel::store::path(dir.path())).unwrap();
    let policy = SnapshotPolicy {
        keep: 1,
        retire: Some(Retirement::Remove),
    };
    take_snapshot(dir.path(), Config::default(), None, policy)
        .unwrap()
        .unwrap();
    let node = Node::open(dir.path());
    node.settle().await;
    assert_eq!(views(&node, first + 1).await, followed, "seeded from the snapshot");
}
