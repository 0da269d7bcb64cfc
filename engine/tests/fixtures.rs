//! Data directories written by earlier builds still start: every journal
//! and snapshot format from the first frozen one onward is read, replays to
//! the same digest and balances it had when it was written, and its records
//! encode back to the same bytes.
//!
//! Each `tests/fixtures/format-N/` is a small data directory (journal, one
//! snapshot in the middle, the journal after it) written by the build that
//! froze format N, with `expected.txt` holding what that build saw. The rule
//! (ARCHITECTURE.md, "Formats that last"): a change to the record or
//! snapshot encoding bumps its version, keeps the old decoder, and adds a
//! fixture written by the new build; the old fixtures must keep passing.
//!
//! To write the fixture of a new format (only then):
//! `CROUPIER_WRITE_FIXTURE=format-N cargo test -p croupier-engine --test fixtures -- --ignored`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use engine::command::{
    AccountStatus, AggregatorCredential, Bet, BonusGrant, Command, KycLevel, LimitKind, LimitMetric, LimitPeriod, Role,
    RoundRef, Win, WinKind,
};
use engine::durable::{SnapshotPolicy, recover, replay, replay_from_genesis, take_snapshot};
use engine::players::{DocumentKind, DocumentStatus, KycDocument, KycSource, ProfileIndexes, SealedProfile};
use engine::sequencer::{CommitSink, Committed};
use engine::workload::{WORKLOAD_SOURCE, Workload};
use engine::{
    Amount, Config, Currency, Envelope, ExtId, GameCode, Jurisdiction, Ledger, Name, OperatorId, PlayerId, Reason,
    Request, RoundId, RsaPublicKeyDer, Secret, SourceId, TokenHash, TxRef,
};
use engine::{BlindIndex, KeyId};
use engine::{JackpotCode, ProviderCode, Title};
use engine::{access, bonus, games, gaming, jackpots, payments, players, rg};
use journal::JournalConfig;

const T0: u64 = 1_780_000_000_000;
/// Players whose balances `expected.txt` records.
const WATCHED: [(u64, Currency); 4] = [
    (1, Currency::EUR),
    (2, Currency::EUR),
    (3, Currency::EUR),
    (101, Currency::USD),
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn journal_config() -> JournalConfig {
    JournalConfig {
        segment_size_bytes: 64 * 1024,
        ..JournalConfig::default()
    }
}

/// Copies a fixture's data directory somewhere writable (recovery may
/// write: a lock file, a new segment).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// What a build saw after writing a fixture: `key value` lines.
fn expected_of(ledger: &Ledger, snapshot_seq: u64, records: usize) -> BTreeMap<String, String> {
    let mut expected = BTreeMap::new();
    expected.insert("last_seq".to_owned(), ledger.last_seq().to_string());
    expected.insert("digest".to_owned(), format!("{:016x}", ledger.digest()));
    expected.insert("snapshot_seq".to_owned(), snapshot_seq.to_string());
    expected.insert("records".to_owned(), records.to_string());
    for (player, currency) in WATCHED {
        let value = match ledger.balances(PlayerId(player), currency) {
            Ok(b) => format!(
                "cash={} bonus={} reserved={}",
                b.cash.minor(),
                b.bonus.minor(),
                b.reserved.minor()
            ),
            Err(rejection) => format!("{rejection:?}"),
        };
        expected.insert(format!("balance.{player}.{currency}"), value);
    }
    // Since snapshot format 5 (absent before: no profiles then).
    let profiles: Vec<String> = (1..=ledger.players_len() as u64)
        .filter_map(|id| {
            let record = ledger.profile(PlayerId(id)).ok().flatten()?;
            let key = record.sealed.as_ref().map(|s| format!("{:?}", s.profile.key_id));
            Some(format!("{id}:{}:{}", key.unwrap_or_default(), record.is_erased()))
        })
        .collect();
    if !profiles.is_empty() {
        expected.insert("profiles".to_owned(), profiles.join(","));
    }
    // Since snapshot format 6 (absent before: no KYC records then).
    let kyc: Vec<String> = (1..=ledger.players_len() as u64)
        .filter_map(|id| {
            let record = ledger.kyc(PlayerId(id)).ok().flatten()?;
            let level = ledger.player_info(PlayerId(id)).ok()?.kyc;
            let last_event = record.check.as_ref().map_or(0, |c| c.last_event_ms);
            let statuses: Vec<String> = record
                .documents
                .iter()
                .map(|d| format!("{:?}", d.document.status))
                .collect();
            Some(format!(
                "{id}:{level:?}:{}:{last_event}:{}",
                record.reason.as_ref().map_or("-", |r| r.as_str()).replace(' ', "_"),
                statuses.join("+")
            ))
        })
        .collect();
    if !kyc.is_empty() {
        expected.insert("kyc".to_owned(), kyc.join(","));
    }
    // Since snapshot format 7 (absent before: the KYC gates of the old
    // command are versions set by the system, and no band or count).
    let profiles = ledger.jurisdiction_profiles();
    let default = profiles.versions(None).map(|v| ("default".to_owned(), v));
    let versions: Vec<String> = default
        .into_iter()
        .chain(profiles.jurisdictions().map(|(code, v)| (code.to_string(), v)))
        .flat_map(|(code, versions)| {
            versions
                .all()
                .iter()
                .filter(|v| v.set_by != OperatorId::SYSTEM)
                .map(move |v| format!("{code}:{}:{}", v.effective_from_ms, v.set_by.0))
        })
        .collect();
    if !versions.is_empty() {
        expected.insert("jurisdiction_profiles".to_owned(), versions.join(","));
    }
    let compliance: Vec<String> = (1..=ledger.players_len() as u64)
        .filter_map(|id| {
            let (band, due_diligence) = ledger.compliance(PlayerId(id)).ok()?;
            if band == players::AgeBand::Unknown && due_diligence.is_none() {
                return None;
            }
            let deposited = due_diligence.map_or(0, |d| d.deposited(Currency::EUR).minor());
            let recorded = due_diligence.is_some_and(|d| d.recorded.is_some());
            Some(format!("{id}:{}:{deposited}:{recorded}", band.name()))
        })
        .collect();
    if !compliance.is_empty() {
        expected.insert("compliance".to_owned(), compliance.join(","));
    }
    // Since snapshot format 8 (absent before: no reality-check interval or
    // session time limit could be set).
    let rg: Vec<String> = (1..=ledger.players_len() as u64)
        .filter_map(|id| {
            let status = ledger.rg_status(PlayerId(id), 0).ok()?;
            if status.reality_check_interval_ms.is_none() && status.session_limit_ms.is_none() {
                return None;
            }
            Some(format!(
                "{id}:{:?}:{:?}:{:?}:{:?}",
                status.reality_check_interval_ms,
                status.session_limit_ms,
                status.session_limit_pending,
                status.reality_check.map(|check| check.due_at_ms)
            ))
        })
        .collect();
    if !rg.is_empty() {
        expected.insert("rg".to_owned(), rg.join(","));
    }
    // Since snapshot format 9 (absent before: no version had play-session
    // rules): the versions with them, and where their players' sessions
    // stand.
    let rules: Vec<String> = profiles
        .jurisdictions()
        .flat_map(|(code, versions)| versions.all().iter().map(move |v| (code, v)))
        .filter(|(_, v)| v.profile.play_sessions != players::PlaySessionRules::NONE)
        .map(|(code, v)| {
            let rules = v.profile.play_sessions;
            format!(
                "{code}:{}:{}:{}",
                v.effective_from_ms, rules.reality_check_by_default, rules.idle_end_min
            )
        })
        .collect();
    if !rules.is_empty() {
        expected.insert("play_session_rules".to_owned(), rules.join(","));
        let sessions: Vec<String> = (1..=ledger.players_len() as u64)
            .filter_map(|id| {
                let status = ledger.rg_status(PlayerId(id), 0).ok()?;
                let profile =
                    ledger.profile_in_force(ledger.player_info(PlayerId(id)).ok()?.jurisdiction, status.at_ms);
                (profile.play_sessions != players::PlaySessionRules::NONE).then(|| {
                    format!(
                        "{id}:{:?}:{}:{:?}",
                        status.session_started_ms,
                        status.net_position.minor(),
                        status.bets_refused
                    )
                })
            })
            .collect();
        expected.insert("play_sessions".to_owned(), sessions.join(","));
    }
    // Since snapshot format 10 (absent before: no catalogue).
    let catalogue = ledger.catalogue();
    if !catalogue.is_empty() {
        let providers: Vec<String> = catalogue
            .providers()
            .iter()
            .map(|p| format!("{}:{}", p.code, p.aggregators.len()))
            .collect();
        expected.insert("game_providers".to_owned(), providers.join(","));
        let games: Vec<String> = catalogue
            .games()
            .iter()
            .map(|g| {
                format!(
                    "{}:{}:{}:{}:{}",
                    g.aggregator.0,
                    g.code,
                    g.kind.name(),
                    g.rtp_default_bp,
                    g.enabled
                )
            })
            .collect();
        expected.insert("games".to_owned(), games.join(","));
    }
    // Since snapshot format 12 (absent before: one bonus at a time, no max
    // bet): the wallets with queued bonuses or a max bet.
    let bonuses: Vec<String> = (1..=ledger.players_len() as u64)
        .flat_map(|id| {
            let wallets = ledger
                .player_info(PlayerId(id))
                .map(|info| info.wallets)
                .unwrap_or_default();
            wallets.into_iter().filter_map(move |w| {
                let list = ledger.bonuses(PlayerId(id), w.currency).ok()?;
                let shown = list.bonuses.len() > 1 || list.bonuses.iter().any(|b| b.max_bet.is_some());
                shown.then(|| {
                    let each: Vec<String> = list
                        .bonuses
                        .iter()
                        .map(|b| {
                            let max_bet = b.max_bet.map_or("-".to_owned(), |m| m.minor().to_string());
                            format!("{}/{}/{}/{max_bet}", b.serial, b.amount.minor(), b.wagered.minor())
                        })
                        .collect();
                    format!("{id}.{}:{}", w.currency, each.join("+"))
                })
            })
        })
        .collect();
    if !bonuses.is_empty() {
        expected.insert("bonuses".to_owned(), bonuses.join(","));
    }
    // Since snapshot format 13 (absent before: holds were the gateway's).
    let holds: Vec<String> = (1..=ledger.players_len() as u64)
        .filter_map(|id| {
            let holds = ledger.withdrawal_holds(PlayerId(id));
            let names: Vec<&str> = holds.iter().map(|h| h.as_str()).collect();
            (!names.is_empty()).then(|| format!("{id}:{}", names.join("+")))
        })
        .collect();
    if !holds.is_empty() {
        expected.insert("withdrawal_holds".to_owned(), holds.join(","));
    }
    // Since snapshot format 11 (absent before: no pools).
    let jackpots = ledger.jackpots();
    if !jackpots.is_empty() {
        let pools: Vec<String> = jackpots
            .pools()
            .iter()
            .map(|p| {
                format!(
                    "{}:{}:{}:{}:{}",
                    p.pool.code,
                    p.balance.minor(),
                    p.contributed,
                    p.wins,
                    p.last_win.map_or(0, |w| w.amount.minor())
                )
            })
            .collect();
        expected.insert("jackpots".to_owned(), pools.join(","));
        let flows = jackpots.flows(Currency::EUR);
        expected.insert(
            "jackpot_flows.EUR".to_owned(),
            format!("{}:{}:{}", flows.contributed, flows.seeded, flows.paid),
        );
    }
    expected
}

fn read_expected(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (key, value) = line.split_once(' ').expect("`key value`");
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

/// Every record of the journal, as stored.
fn raw_records(dir: &Path) -> Vec<Vec<u8>> {
    let mut records = Vec::new();
    for batch in journal::Reader::open(dir).unwrap().batches() {
        records.extend(batch.unwrap().records.into_iter().map(|bytes| bytes.to_vec()));
    }
    records
}

#[test]
fn every_frozen_format_recovers_to_what_its_build_saw() {
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let fixture = entry.unwrap().path();
        if !fixture.join("expected.txt").is_file() {
            continue;
        }
        let name = fixture.file_name().unwrap().to_string_lossy().into_owned();
        let expected = read_expected(&fixture.join("expected.txt"));
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&fixture.join("data"), dir.path());

        // The whole history from the genesis, ignoring the snapshot.
        let (genesis, _) = replay_from_genesis(dir.path(), Config::default()).unwrap();
        let snapshot_seq: u64 = expected["snapshot_seq"].parse().unwrap();
        let records = raw_records(dir.path());
        assert_eq!(
            expected_of(&genesis, snapshot_seq, records.len()),
            expected,
            "{name}: replay from the genesis"
        );

        // The snapshot plus the journal after it.
        let (restored, report) = replay(dir.path(), Config::default()).unwrap();
        assert_eq!(
            report.snapshot.as_ref().map(|info| info.seq),
            Some(snapshot_seq),
            "{name}: the snapshot is read ({:?})",
            report.skipped_snapshots
        );
        assert_eq!(
            expected_of(&restored, snapshot_seq, records.len()),
            expected,
            "{name}: snapshot + journal"
        );

        // Records decode, and this build encodes them to the same bytes:
        // the encoding of every tag in them is unchanged.
        for (n, bytes) in records.iter().enumerate() {
            let record = engine::record::decode(bytes).unwrap_or_else(|e| panic!("{name}: record {n}: {e}"));
            if bytes[0] == engine::record::RECORD_FORMAT_VERSION {
                assert_eq!(&engine::record::encode(&record), bytes, "{name}: record {n} re-encoded");
            }
        }

        // The snapshot loads, and this build writes the same ledger to the
        // same bytes when it is of the current snapshot format: the image's
        // encoding (every domain's part, in its order) is unchanged.
        for (_, path) in engine::snapshot::list(dir.path()).unwrap() {
            let bytes = std::fs::read(&path).unwrap();
            let (ledger, info, _) = engine::snapshot::load(&path, &Config::default()).unwrap();
            if bytes[8..12] == engine::snapshot::SNAPSHOT_FORMAT_VERSION.to_le_bytes() {
                let out = tempfile::tempdir().unwrap();
                let (written, _) = engine::snapshot::write(out.path(), ledger, info.chain_hash).unwrap();
                assert!(
                    std::fs::read(&written.path).unwrap() == bytes,
                    "{name}: snapshot re-encoded"
                );
            }
        }

        // A server starts on it and goes on writing.
        let mut recovered = recover(dir.path(), Config::default(), journal_config()).unwrap();
        assert_eq!(recovered.ledger.digest(), genesis.digest());
        let envelope = Envelope {
            seq: recovered.ledger.last_seq() + 1,
            // Later than anything a fixture holds.
            time_ms: T0 + 3_650 * 86_400_000,
            request: Request {
                source: WORKLOAD_SOURCE,
                id: ExtId::new("after-the-upgrade").unwrap(),
                command: Command::Payments(payments::Command::Deposit {
                    player: PlayerId(1),
                    currency: Currency::EUR,
                    amount: Amount::from_minor(1_00),
                }),
            },
        };
        let outcome = recovered.ledger.apply(&envelope);
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
        recovered.sink.commit(&[Committed { envelope, outcome }]).unwrap();
        let digest = recovered.ledger.digest();
        drop(recovered);
        let (again, _) = replay_from_genesis(dir.path(), Config::default()).unwrap();
        assert_eq!(again.digest(), digest, "{name}: old and new records replay together");
        checked += 1;
    }
    assert!(checked >= 1, "no fixture found under {}", fixtures().display());
}

/// Writes the fixture named by `CROUPIER_WRITE_FIXTURE` (never overwriting
/// one): the history below, a snapshot after its first part, the rest after.
#[test]
#[ignore = "writes a new fixture; run by hand when a format changes"]
fn write_fixture() {
    let Ok(name) = std::env::var("CROUPIER_WRITE_FIXTURE") else {
        return;
    };
    let fixture = fixtures().join(&name);
    assert!(!fixture.exists(), "{} exists: fixtures are frozen", fixture.display());
    let data = fixture.join("data");
    let config = Config::default();
    let mut recovered = recover(&data, config.clone(), journal_config()).unwrap();
    let (first, second) = history();
    for (n, part) in [first, second].into_iter().enumerate() {
        for chunk in part.chunks(20) {
            let committed: Vec<Committed> = chunk
                .iter()
                .map(|request| {
                    let seq = recovered.ledger.last_seq() + 1;
                    let envelope = Envelope {
                        seq,
                        time_ms: T0 + seq * 60_000,
                        request: request.clone(),
                    };
                    let outcome = recovered.ledger.apply(&envelope);
                    Committed { envelope, outcome }
                })
                .collect();
            recovered.sink.commit(&committed).unwrap();
        }
        if n == 0 {
            take_snapshot(&data, config.clone(), None, SnapshotPolicy::default())
                .unwrap()
                .expect("a snapshot");
        }
    }
    let snapshot_seq = engine::snapshot::list(&data).unwrap()[0].0;
    let records = raw_records(&data).len();
    let expected = expected_of(&recovered.ledger, snapshot_seq, records);
    let mut text = format!("# Written by the build that froze {name}; never edit.\n");
    for (key, value) in expected {
        text.push_str(&format!("{key} {value}\n"));
    }
    std::fs::write(fixture.join("expected.txt"), text).unwrap();
}

/// A version of a jurisdiction's profile (`None`: the default profile):
/// a GBP stake cap of `cap` if given, a EUR due-diligence threshold of
/// 100.00 (so the fixture's player 1 reaches it), KYC before withdrawals.
fn jurisdiction_profile(code: Option<&str>, effective_from_ms: Option<u64>, cap: Option<i64>) -> Command {
    let profile = players::JurisdictionProfile {
        young_adult_until_age_years: 25,
        kyc: engine::command::JurisdictionRules {
            kyc_before_deposit: false,
            kyc_before_bet: false,
            kyc_before_withdrawal: true,
        },
        stake_caps: cap
            .map(|adult| players::StakeCap {
                currency: Currency::GBP,
                adult: Amount::from_minor(adult),
                young_adult: Amount::from_minor(adult / 2),
            })
            .into_iter()
            .collect(),
        bonus_wagering_cap_x: Some(10),
        self_exclusion_min_days: 1,
        due_diligence_thresholds: vec![players::CurrencyAmount {
            currency: Currency::EUR,
            amount: Amount::from_minor(10_000),
        }],
        ..players::JurisdictionProfile::UNRESTRICTED
    };
    Command::Players(players::Command::SetJurisdictionProfile {
        jurisdiction: code.map(|c| Jurisdiction::new(c).unwrap()),
        profile: Box::new(profile),
        effective_from_ms,
        operator: OperatorId(1),
    })
}

/// A sealed profile under key `key` (its bytes are the gateway's; the
/// ledger only stores them).
fn sealed(key: u8, version: u8) -> SealedProfile {
    SealedProfile::new(KeyId([key; 16]), 1, [version; 12], &[key ^ version; 64]).unwrap()
}

/// A registration with a profile and its blind indexes.
fn profiled(key: u8, email: [u8; 16], identity: [u8; 16]) -> Command {
    Command::Players(players::Command::RegisterProfiled {
        currency: Currency::EUR,
        jurisdiction: Jurisdiction::new("GB").unwrap(),
        profile: Box::new(sealed(key, 1)),
        indexes: ProfileIndexes {
            email: BlindIndex(email),
            identity: BlindIndex(identity),
        },
        operator: OperatorId(2),
    })
}

/// The provider's verdict on player 103's check, as of `event_ms`.
fn kyc_verdict(event_ms: u64, level: KycLevel) -> Command {
    Command::Players(players::Command::ApplyKycVerdict {
        player: PlayerId(103),
        check: ExtId::new("app-fx-1").unwrap(),
        event_ms,
        level,
        reason: Reason::new("provider verdict").unwrap(),
    })
}

/// A passport with the number hash `number`.
fn kyc_document(player: PlayerId, number: [u8; 16], status: DocumentStatus, expires_on_day: Option<u32>) -> Command {
    Command::Players(players::Command::RecordKycDocument {
        player,
        document: Box::new(KycDocument {
            kind: DocumentKind::Passport,
            issuing_country: Jurisdiction::new("GB").unwrap(),
            number: BlindIndex(number),
            expires_on_day,
            provider_ref: Some(ExtId::new("doc-fx").unwrap()),
            status,
            reason: None,
        }),
        source: KycSource::Operator(OperatorId(1)),
    })
}

/// Every kind of command, accepted and refused, then the workload's mix.
fn history() -> (Vec<Request>, Vec<Request>) {
    let mut workload = Workload::new(7, 100, Currency::EUR);
    let mut first: Vec<Request> = workload.setup().collect();
    let operator = SourceId(0);
    let id = |text: &str| ExtId::new(text).unwrap();
    let player = PlayerId(1);
    let eur = Currency::EUR;
    let minor = Amount::from_minor;
    let round = |text: &str| RoundRef {
        id: RoundId::new(text).unwrap(),
        game: GameCode::new("slots").unwrap(),
    };
    let tx = |text: &str| TxRef {
        source: operator,
        id: id(text),
    };
    let commands = vec![
        Command::Access(access::Command::CreateOperator {
            token: TokenHash([1; 32]),
            role: Role::Admin,
            name: Name::new("first").unwrap(),
            operator: OperatorId::SYSTEM,
        }),
        Command::Access(access::Command::CreateOperator {
            token: TokenHash([2; 32]),
            role: Role::Support,
            name: Name::new("support").unwrap(),
            operator: OperatorId(1),
        }),
        Command::Access(access::Command::CreateAggregator {
            name: Name::new("hmac-games").unwrap(),
            credential: AggregatorCredential::Hmac(Secret([7; 32])),
            operator: OperatorId(1),
        }),
        Command::Access(access::Command::CreateAggregator {
            name: Name::new("rsa-games").unwrap(),
            credential: AggregatorCredential::RsaPublicKey(RsaPublicKeyDer::new(&[0x30, 0x82, 1, 2]).unwrap()),
            operator: OperatorId(1),
        }),
        Command::Players(players::Command::RegisterPlayer {
            currency: Currency::USD,
            jurisdiction: Jurisdiction::new("SE").unwrap(),
        }),
        Command::Players(players::Command::SetJurisdictionRules {
            jurisdiction: Jurisdiction::new("SE").unwrap(),
            rules: engine::command::JurisdictionRules {
                kyc_before_deposit: false,
                kyc_before_bet: false,
                kyc_before_withdrawal: true,
            },
        }),
        Command::Players(players::Command::SetKyc {
            player,
            level: KycLevel::Verified,
        }),
        Command::Payments(payments::Command::Deposit {
            player,
            currency: eur,
            amount: minor(50_000),
        }),
        Command::Payments(payments::Command::DepositInitiate {
            player,
            currency: eur,
            amount: minor(20_00),
        }),
        Command::Payments(payments::Command::DepositConfirm { deposit: tx("fx-8") }),
        Command::Payments(payments::Command::DepositInitiate {
            player,
            currency: eur,
            amount: minor(30_00),
        }),
        Command::Payments(payments::Command::DepositFail { deposit: tx("fx-10") }),
        Command::Payments(payments::Command::WithdrawalRequest {
            player,
            currency: eur,
            amount: minor(40_00),
        }),
        Command::Payments(payments::Command::WithdrawalApprove {
            withdrawal: tx("fx-12"),
        }),
        Command::Payments(payments::Command::WithdrawalComplete {
            withdrawal: tx("fx-12"),
        }),
        Command::Payments(payments::Command::WithdrawalRequest {
            player,
            currency: eur,
            amount: minor(10_00),
        }),
        Command::Payments(payments::Command::WithdrawalReject {
            withdrawal: tx("fx-15"),
        }),
        Command::Rg(rg::Command::SetLimit {
            player,
            currency: eur,
            limit: LimitKind {
                metric: LimitMetric::Deposit,
                period: LimitPeriod::Week,
            },
            amount: Some(minor(100_000)),
        }),
        Command::from(Bet {
            player,
            currency: eur,
            amount: minor(5_00),
            round: round("fx-r1"),
            close_round: false,
        }),
        Command::from(Win {
            player,
            currency: eur,
            amount: minor(7_50),
            round: round("fx-r1"),
            kind: WinKind::Regular,
            close_round: true,
            bet: Some(id("fx-18")),
        }),
        Command::from(Bet {
            player,
            currency: eur,
            amount: minor(3_00),
            round: round("fx-r2"),
            close_round: false,
        }),
        Command::Gaming(gaming::Command::Rollback {
            player,
            bet: id("fx-20"),
        }),
        Command::from(Bet {
            player,
            currency: eur,
            amount: minor(100_000_000),
            round: round("fx-r3"),
            close_round: false,
        }),
        Command::from(Bet {
            player,
            currency: eur,
            amount: minor(2_00),
            round: round("fx-r4"),
            close_round: false,
        }),
        Command::Gaming(gaming::Command::EndRound {
            player,
            round: round("fx-r4"),
        }),
        Command::Payments(payments::Command::Adjust {
            player,
            currency: eur,
            amount: minor(-1_00),
            reason: Reason::new("fixture correction").unwrap(),
            operator: OperatorId(1),
        }),
        Command::from(BonusGrant {
            player: PlayerId(2),
            currency: eur,
            amount: minor(10_00),
            wagering: minor(10_000),
            contributions: vec![
                (GameCode::new("slots").unwrap(), 100),
                (GameCode::new("roulette").unwrap(), 10),
            ],
            default_contribution_pct: 50,
            conversion_cap: minor(50_00),
            // Still active in the snapshot.
            expires_at_ms: T0 + 30 * 86_400_000,
        }),
        Command::Bonus(bonus::Command::Forfeit {
            player: PlayerId(7),
            currency: eur,
        }),
        Command::from(BonusGrant {
            player: PlayerId(3),
            currency: eur,
            amount: minor(5_00),
            wagering: minor(50_00),
            contributions: Vec::new(),
            default_contribution_pct: 100,
            conversion_cap: minor(20_00),
            // Expired by the second part, which starts by expiring it.
            expires_at_ms: T0 + 400 * 60_000,
        }),
        Command::Bonus(bonus::Command::Expire {
            player: PlayerId(3),
            currency: eur,
        }),
        Command::Rg(rg::Command::SelfExclude {
            player: PlayerId(4),
            until_ms: T0 + 86_400_000,
        }),
        Command::Rg(rg::Command::TimeOut {
            player: PlayerId(5),
            until_ms: T0 + 86_400_000,
        }),
        Command::Players(players::Command::SetAccountStatus {
            player: PlayerId(6),
            status: AccountStatus::Suspended,
            operator: OperatorId(1),
        }),
        // Since snapshot format 5: profiles (sealed bytes here are opaque
        // to the ledger), a duplicate, a change, a status with its reason,
        // an erasure.
        profiled(0x11, [1; 16], [2; 16]),
        profiled(0x12, [1; 16], [3; 16]),
        profiled(0x13, [4; 16], [5; 16]),
        Command::Players(players::Command::UpdateProfile {
            player: PlayerId(103),
            profile: Box::new(sealed(0x13, 2)),
            indexes: ProfileIndexes {
                email: BlindIndex([6; 16]),
                identity: BlindIndex([5; 16]),
            },
            operator: OperatorId(2),
        }),
        Command::Players(players::Command::SetStatus {
            player: PlayerId(102),
            status: AccountStatus::Suspended,
            reason: Reason::new("source of funds review").unwrap(),
            operator: OperatorId(1),
        }),
        Command::Players(players::Command::ErasePlayer {
            player: PlayerId(102),
            reason: Reason::new("erasure request 1").unwrap(),
            operator: OperatorId(1),
        }),
        Command::Access(access::Command::IssueSession {
            token: TokenHash([9; 32]),
            player,
            currency: eur,
            aggregator: SourceId(3),
            expires_at_ms: T0 + 86_400_000,
            operator: OperatorId(2),
        }),
        Command::InSession {
            token: TokenHash([9; 32]),
            command: Box::new(Command::from(Bet {
                player,
                currency: eur,
                amount: minor(1_00),
                round: round("fx-r5"),
                close_round: true,
            })),
        },
        Command::InSession {
            token: TokenHash([8; 32]),
            command: Box::new(Command::from(Bet {
                player,
                currency: eur,
                amount: minor(1_00),
                round: round("fx-r6"),
                close_round: true,
            })),
        },
        // Since snapshot format 6: KYC checks, verdicts (one stale),
        // decisions with reasons, documents (one taken, one expired).
        Command::Players(players::Command::StartKycCheck {
            player: PlayerId(103),
            check: id("app-fx-1"),
            operator: OperatorId(1),
        }),
        kyc_verdict(T0 + 1_000, KycLevel::Verified),
        kyc_verdict(T0 + 500, KycLevel::Pending),
        Command::Players(players::Command::SetKycLevel {
            player: PlayerId(2),
            level: KycLevel::Rejected,
            reason: Reason::new("document unreadable").unwrap(),
            operator: OperatorId(1),
        }),
        kyc_document(PlayerId(103), [7; 16], DocumentStatus::Verified, Some(30_000)),
        kyc_document(PlayerId(2), [7; 16], DocumentStatus::Pending, None),
        kyc_document(PlayerId(2), [8; 16], DocumentStatus::Verified, Some(1)),
        kyc_document(PlayerId(2), [8; 16], DocumentStatus::Expired, Some(1)),
        // Since snapshot format 7: jurisdiction profiles (one in force, one
        // scheduled, the default), an age band at registration and one
        // changed, the due-diligence threshold reached and recorded.
        jurisdiction_profile(Some("GB"), None, Some(5_00)),
        jurisdiction_profile(Some("GB"), Some(T0 + 30 * 86_400_000), None),
        jurisdiction_profile(None, None, None),
        jurisdiction_profile(Some("SE"), None, None),
        Command::Players(players::Command::RegisterAged {
            currency: Currency::GBP,
            jurisdiction: Jurisdiction::new("GB").unwrap(),
            profile: Box::new(sealed(0x14, 1)),
            indexes: ProfileIndexes {
                email: BlindIndex([8; 16]),
                identity: BlindIndex([9; 16]),
            },
            age_band: players::AgeBand::YoungAdult,
            operator: OperatorId(2),
        }),
        Command::Players(players::Command::SetAgeBand {
            player: PlayerId(104),
            band: players::AgeBand::Adult,
            operator: OperatorId(2),
        }),
        Command::Payments(payments::Command::Deposit {
            player,
            currency: eur,
            amount: minor(15_000),
        }),
        Command::Payments(payments::Command::Deposit {
            player,
            currency: eur,
            amount: minor(1_00),
        }),
        Command::Players(players::Command::RecordDueDiligence {
            player,
            reason: Reason::new("fixture: source of funds seen").unwrap(),
            operator: OperatorId(1),
        }),
        // Since snapshot format 8: reality checks (an interval, a login, a
        // movement in a session that reports it, an acknowledgement), session
        // time limits (one at once, a raise scheduled), a limit review, and
        // a refused interval. A day's interval and limits keep the
        // workload's bets of player 1 going.
        Command::Rg(rg::Command::SetRealityCheckInterval {
            player,
            interval_ms: Some(86_400_000),
        }),
        Command::Players(players::Command::RecordLogin {
            player,
            context: players::LoginContext {
                device: BlindIndex([0x21; 16]),
                ip: BlindIndex([0x22; 16]),
                agent: players::AgentFamily {
                    browser: players::Browser::Firefox,
                    os: players::Os::Linux,
                },
            },
        }),
        Command::InSession {
            token: TokenHash([9; 32]),
            command: Box::new(Command::from(Bet {
                player,
                currency: eur,
                amount: minor(1_00),
                round: round("fx-r7"),
                close_round: true,
            })),
        },
        Command::Rg(rg::Command::AcknowledgeRealityCheck { player }),
        Command::Rg(rg::Command::SetSessionTimeLimit {
            player,
            limit_ms: Some(12 * 3_600_000),
        }),
        Command::Rg(rg::Command::SetSessionTimeLimit {
            player,
            limit_ms: Some(86_400_000),
        }),
        Command::Rg(rg::Command::RecordLimitReview { player: PlayerId(2) }),
        Command::Rg(rg::Command::SetRealityCheckInterval {
            player: PlayerId(2),
            interval_ms: Some(0),
        }),
        // Since snapshot format 9: a profile with play-session rules (IM:
        // reality checks every hour by default, sessions end after 30 idle
        // minutes), one from before them (tag 47), and player 105 of IM
        // funded; its bets follow below.
        Command::Players(players::Command::SetJurisdictionProfile {
            jurisdiction: Some(Jurisdiction::new("IM").unwrap()),
            profile: Box::new(players::JurisdictionProfile {
                play_sessions: players::PlaySessionRules {
                    reality_check_by_default: true,
                    idle_end_min: 30,
                },
                ..players::JurisdictionProfile::UNRESTRICTED
            }),
            effective_from_ms: None,
            operator: OperatorId(1),
        }),
        Command::Players(players::Command::SetJurisdictionProfileV1 {
            jurisdiction: Some(Jurisdiction::new("IE").unwrap()),
            profile: players::ProfileV1(Box::new(players::JurisdictionProfile::UNRESTRICTED)),
            effective_from_ms: None,
            operator: OperatorId(1),
        }),
        Command::Players(players::Command::RegisterPlayer {
            currency: eur,
            jurisdiction: Jurisdiction::new("IM").unwrap(),
        }),
        Command::Payments(payments::Command::Deposit {
            player: PlayerId(105),
            currency: eur,
            amount: minor(10_000),
        }),
    ];
    // Ids "fx-<n>" with n the position, which the payment and rollback
    // commands above refer to.
    for (n, command) in commands.into_iter().enumerate() {
        // In-session commands come from the session's aggregator.
        let source = match command {
            Command::InSession { .. } => SourceId(3),
            _ => operator,
        };
        first.push(Request {
            source,
            id: id(&format!("fx-{n}")),
            command,
        });
    }
    // Player 105 bets once a minute: the hour's reality check falls due
    // (a bet refused), is acknowledged, and play goes on.
    let mt_bet = |n: usize| {
        Command::from(Bet {
            player: PlayerId(105),
            currency: eur,
            amount: minor(10),
            round: round(&format!("fx-mt-{n}")),
            close_round: true,
        })
    };
    let mut mt_session: Vec<Command> = (0..62).map(mt_bet).collect();
    mt_session.push(Command::Rg(rg::Command::AcknowledgeRealityCheck {
        player: PlayerId(105),
    }));
    mt_session.push(mt_bet(62));
    first.extend(mt_session.into_iter().enumerate().map(|(n, command)| Request {
        source: operator,
        id: id(&format!("fx-mt-{n}")),
        command,
    }));
    // A conflict: an id seen before with another command.
    first.push(Request {
        source: operator,
        id: id("fx-7"),
        command: Command::Payments(payments::Command::Deposit {
            player,
            currency: eur,
            amount: minor(1),
        }),
    });
    first.extend((0..200).map(|_| workload.next_request()));
    // Since snapshot format 10: a catalogue before the snapshot, so its
    // image holds one; from then on every bet is checked against it (the
    // workload's bets, from a source that is no aggregator, are refused as
    // unknown games).
    first.extend(
        catalogue_history()
            .into_iter()
            .enumerate()
            .map(|(n, (source, command))| Request {
                source,
                id: id(&format!("fx-games-{n}")),
                command,
            }),
    );
    // Since snapshot format 11: a pool over the catalogue's slots, bets
    // reaching its must-drop cap and the drop, a jackpot win and an award
    // before the snapshot; a contribution and its rollback after.
    first.extend(
        jackpot_history()
            .into_iter()
            .enumerate()
            .map(|(n, (source, command))| Request {
                source,
                id: id(&format!("fx-jackpots-{n}")),
                command,
            }),
    );
    // Since snapshot format 12: bonuses queued behind player 2's active
    // one (one with a max bet), an active bonus with a max bet for player
    // 12, and the grant of tag 20 refused while bonuses queue; the second
    // part forfeits the active one (the next becomes active) and names an
    // unknown serial.
    first.extend(
        bonus_queue_history()
            .into_iter()
            .enumerate()
            .map(|(n, command)| Request {
                source: operator,
                id: id(&format!("fx-bonus-queue-{n}")),
                command,
            }),
    );
    // Since snapshot format 13: withdrawal holds (two on player 1, one on
    // player 3) and an approval they refuse; the second part lifts one of
    // player 1's (still held: refused again), then the other (approved).
    let hold = |player: u64, name: &str, place: bool| {
        let (hold, reason, operator) = (id(name), Reason::new("fixture case").unwrap(), OperatorId(1));
        let player = PlayerId(player);
        Command::Payments(if place {
            payments::Command::HoldWithdrawals {
                player,
                hold,
                reason,
                operator,
            }
        } else {
            payments::Command::ReleaseWithdrawals {
                player,
                hold,
                reason,
                operator,
            }
        })
    };
    let approve_held = || {
        Command::Payments(payments::Command::WithdrawalApprove {
            withdrawal: TxRef {
                source: operator,
                id: id("fx-hold-w"),
            },
        })
    };
    let held_first = [
        (
            "fx-hold-w",
            Command::Payments(payments::Command::WithdrawalRequest {
                player: PlayerId(1),
                currency: eur,
                amount: Amount::from_minor(5_00),
            }),
        ),
        ("fx-hold-1", hold(1, "case-1", true)),
        ("fx-hold-2", hold(1, "case-2", true)),
        ("fx-hold-3", hold(3, "case-3", true)),
        ("fx-hold-approve-0", approve_held()),
    ];
    first.extend(held_first.into_iter().map(|(name, command)| Request {
        source: operator,
        id: id(name),
        command,
    }));
    let mut second = vec![Request {
        source: operator,
        id: id("fx-expire"),
        command: Command::Bonus(bonus::Command::Expire {
            player: PlayerId(3),
            currency: eur,
        }),
    }];
    second.extend((0..150).map(|_| workload.next_request()));
    second.push(Request {
        source: SourceId(3),
        id: id("fx-jackpots-late"),
        command: jackpot_bet("fx-jackpots-late", 200),
    });
    second.push(Request {
        source: SourceId(3),
        id: id("fx-jackpots-late-rollback"),
        command: Command::Gaming(gaming::Command::Rollback {
            player: PlayerId(1),
            bet: id("fx-jackpots-late"),
        }),
    });
    second.push(Request {
        source: operator,
        id: id("fx-games-disable"),
        command: Command::Games(games::Command::SetGameEnabled {
            aggregator: SourceId(3),
            code: GameCode::new("slots").unwrap(),
            enabled: false,
            operator: OperatorId(1),
        }),
    });
    for (n, serial) in [None, Some(99)].into_iter().enumerate() {
        second.push(Request {
            source: operator,
            id: id(&format!("fx-bonus-forfeit-{n}")),
            command: Command::Bonus(bonus::Command::ForfeitBonus {
                player: PlayerId(2),
                currency: eur,
                serial,
            }),
        });
    }
    let held_second = [
        ("fx-release-1", hold(1, "case-1", false)),
        ("fx-hold-approve-1", approve_held()),
        ("fx-release-2", hold(1, "case-2", false)),
        ("fx-release-9", hold(1, "case-9", false)),
        ("fx-hold-approve-2", approve_held()),
    ];
    second.extend(held_second.into_iter().map(|(name, command)| Request {
        source: operator,
        id: id(name),
        command,
    }));
    // Hours later (the workload's requests between): the idle end closed
    // that session, so this bet opens a new one.
    second.push(Request {
        source: operator,
        id: id("fx-mt-later"),
        command: mt_bet(63),
    });
    (first, second)
}

/// Queued bonuses and max bets (snapshot format 12).
fn bonus_queue_history() -> Vec<Command> {
    let queued = |player: u64, minor: i64, max_bet: Option<i64>| {
        Command::Bonus(bonus::Command::GrantQueued {
            grant: BonusGrant {
                player: PlayerId(player),
                currency: Currency::EUR,
                amount: Amount::from_minor(minor),
                wagering: Amount::from_minor(minor * 5),
                contributions: vec![(GameCode::new("slots").unwrap(), 100)],
                default_contribution_pct: 20,
                conversion_cap: Amount::from_minor(minor),
                expires_at_ms: T0 + 30 * 86_400_000,
            },
            max_bet: max_bet.map(Amount::from_minor),
        })
    };
    let legacy = match queued(2, 1_00, None) {
        Command::Bonus(bonus::Command::GrantQueued { grant, .. }) => Command::from(grant),
        _ => unreachable!("a queued grant"),
    };
    vec![
        queued(2, 3_00, None),
        queued(2, 2_00, Some(50_00)),
        queued(12, 4_00, Some(5_00)),
        legacy,
    ]
}

/// A EUR bet of `minor` by player 1 on the catalogue's "slots".
fn jackpot_bet(round: &str, minor: i64) -> Command {
    Command::from(Bet {
        player: PlayerId(1),
        currency: Currency::EUR,
        amount: Amount::from_minor(minor),
        round: RoundRef {
            id: RoundId::new(round).unwrap(),
            game: GameCode::new("slots").unwrap(),
        },
        close_round: false,
    })
}

/// The jackpots' part of the history (snapshot format 11): a pool over the
/// HMAC aggregator's (source 3) slots, 5 % of each stake, seeded with 1.00,
/// dropping once it holds 1.10; bets up to the drop, a jackpot win paid
/// from it, an award, and a refused award.
fn jackpot_history() -> Vec<(SourceId, Command)> {
    let operator = SourceId(0);
    let aggregator = SourceId(3);
    let pool = jackpots::Pool {
        code: JackpotCode::new("mega").unwrap(),
        name: Title::new("Mega Slots").unwrap(),
        currency: Currency::EUR,
        games: vec![jackpots::CoveredGame {
            aggregator,
            code: GameCode::new("slots").unwrap(),
        }],
        contribution_bp: 500,
        seed: Amount::from_minor(100),
        must_drop: Some(Amount::from_minor(110)),
    };
    let award = |player| {
        Command::Jackpots(jackpots::Command::Award {
            pool: JackpotCode::new("mega").unwrap(),
            player: PlayerId(player),
            operator: OperatorId(1),
        })
    };
    let jackpot_win = Command::from(Win {
        player: PlayerId(1),
        currency: Currency::EUR,
        amount: Amount::from_minor(30),
        round: RoundRef {
            id: RoundId::new("fx-jackpots-1").unwrap(),
            game: GameCode::new("slots").unwrap(),
        },
        kind: WinKind::Jackpot,
        close_round: false,
        bet: None,
    });
    vec![
        (
            operator,
            Command::Jackpots(jackpots::Command::CreatePool {
                pool: Box::new(pool),
                operator: OperatorId(1),
            }),
        ),
        (aggregator, jackpot_bet("fx-jackpots-1", 100)),
        (aggregator, jackpot_bet("fx-jackpots-2", 100)),
        (aggregator, jackpot_bet("fx-jackpots-3", 100)),
        (aggregator, jackpot_win),
        (aggregator, jackpot_bet("fx-jackpots-4", 100)),
        (operator, award(2)),
        (operator, award(101)),
    ]
}

/// The catalogue's part of the history (snapshot format 10): a provider on
/// the HMAC aggregator (source 3), two games, a refused record, a game
/// disabled and enabled again, and bets each check passes or refuses.
fn catalogue_history() -> Vec<(SourceId, Command)> {
    let operator = SourceId(0);
    let aggregator = SourceId(3);
    let mt = Jurisdiction::new("MT").unwrap();
    let eur = Currency::EUR;
    let game = |code: &str, min: i64| games::Game {
        aggregator,
        code: GameCode::new(code).unwrap(),
        provider: ProviderCode::new("studio").unwrap(),
        name: Title::new("A Game of Chance").unwrap(),
        kind: games::GameType::Slot,
        volatility: games::Volatility::Medium,
        rtp_variants_bp: vec![9_400, 9_600],
        rtp_default_bp: 9_600,
        rtp_by_jurisdiction: vec![(Jurisdiction::new("GB").unwrap(), 9_400)],
        limits: vec![games::BetLimit {
            currency: eur,
            min: Amount::from_minor(min),
            max: Amount::from_minor(10_000),
        }],
        jurisdictions: vec![mt],
        enabled: true,
    };
    let upsert = |game: games::Game| {
        Command::Games(games::Command::UpsertGame {
            game: Box::new(game),
            operator: OperatorId(1),
        })
    };
    let enable = |enabled| {
        Command::Games(games::Command::SetGameEnabled {
            aggregator,
            code: GameCode::new("live-roulette").unwrap(),
            enabled,
            operator: OperatorId(1),
        })
    };
    let bet = |n: usize, code: &str, minor: i64| {
        Command::from(Bet {
            player: PlayerId(1),
            currency: eur,
            amount: Amount::from_minor(minor),
            round: RoundRef {
                id: RoundId::new(&format!("fx-games-{n}")).unwrap(),
                game: GameCode::new(code).unwrap(),
            },
            close_round: true,
        })
    };
    let mut roulette = game("live-roulette", 100);
    roulette.kind = games::GameType::Live;
    roulette.volatility = games::Volatility::Unrated;
    let mut invalid = game("broken", 10);
    invalid.rtp_default_bp = 9_000;
    vec![
        (
            operator,
            Command::Games(games::Command::UpsertProvider {
                provider: games::Provider {
                    code: ProviderCode::new("studio").unwrap(),
                    name: Title::new("Studio One").unwrap(),
                    aggregators: vec![aggregator],
                },
                operator: OperatorId(1),
            }),
        ),
        (operator, upsert(game("slots", 10))),
        (operator, upsert(roulette)),
        (operator, upsert(invalid)),
        (aggregator, bet(0, "slots", 50)),
        (aggregator, bet(1, "slots", 5)),
        (aggregator, bet(2, "unknown", 50)),
        (operator, enable(false)),
        (aggregator, bet(3, "live-roulette", 500)),
        (operator, enable(true)),
        (aggregator, bet(4, "live-roulette", 500)),
    ]
}
