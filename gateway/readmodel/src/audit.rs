//! The audit trail: every command an operator submitted, as the journal
//! holds it, one row per journal record (its `seq`), with who (operator id
//! and name), what (the command's kind), when, the target (a player, an
//! operator or an aggregator), and the value before and after where the
//! journal holds them.
//!
//! The trail *is* the journal: each row is derived from one committed record
//! and names its sequence number, so anyone can check it against
//! `croupier-admin journal inspect`, whose hash chain makes it
//! tamper-evident. This table is only an index over it, rebuilt from the
//! journal like every read model. Refused commands are operator actions
//! too: they are recorded with their outcome and change no "before".
//!
//! "Before" values come from the journal as well: an operator's role before
//! a change is in the change's outcome (`OperatorChanged`), a player's
//! status in the profiles view the same records built, a balance before a
//! movement from its receipt (balance after − delta), and a limit, KYC
//! level, exclusion or time-out from the previous accepted row that set the
//! same field. Sealed personal data is never decrypted here: a profile
//! change reads "changed" (the journal holds ciphertext only).

use engine::command::{AccountStatus, Command, KycLevel, LimitMetric, LimitPeriod};
use engine::outcome::Outcome;
use engine::sequencer::Committed;
use engine::{Amount, Currency, Ledger, OperatorId, PlayerId, Role, SourceId, TxRef};
use engine::{access, bonus, payments, players, rg, risk, support};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The schema migration that creates the tables (appended to
/// `store::MIGRATIONS`). A file made before it is rebuilt from the journal
/// (`store::open`), so the trail starts with the journal, not with the
/// upgrade.
pub(crate) const MIGRATION: &str = "CREATE TABLE operators (
        operator INTEGER PRIMARY KEY,
        source INTEGER NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        time_ms INTEGER NOT NULL,
        operator INTEGER NOT NULL,
        operator_name TEXT NOT NULL,
        request_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        target_type TEXT,
        target INTEGER,
        field TEXT,
        before TEXT,
        after TEXT,
        detail TEXT,
        ok INTEGER NOT NULL,
        outcome BLOB NOT NULL
    );
    CREATE INDEX audit_by_operator ON audit (operator, seq);
    CREATE INDEX audit_by_target ON audit (target_type, target, seq);
    CREATE INDEX audit_by_kind ON audit (kind, seq);
    CREATE INDEX audit_by_field ON audit (target_type, target, field, seq);";

/// The name the trail gives the server itself, which creates the first
/// operator ([`OperatorId::SYSTEM`]).
pub const SYSTEM_NAME: &str = "system";

/// What a row is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A player.
    Player(PlayerId),
    /// An operator.
    Operator(OperatorId),
    /// An aggregator, by the source its requests carry.
    Aggregator(SourceId),
}

impl Target {
    fn parts(self) -> (&'static str, i64) {
        match self {
            Target::Player(player) => ("player", player.0 as i64),
            Target::Operator(operator) => ("operator", i64::from(operator.0)),
            Target::Aggregator(source) => ("aggregator", i64::from(source.0)),
        }
    }

    fn from_parts(kind: &str, id: i64) -> Option<Target> {
        match kind {
            "player" => Some(Target::Player(PlayerId(id as u64))),
            "operator" => Some(Target::Operator(OperatorId(u32::try_from(id).ok()?))),
            "aggregator" => Some(Target::Aggregator(SourceId(u32::try_from(id).ok()?))),
            _ => None,
        }
    }
}

/// One operator action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// The journal record's sequence number.
    pub seq: u64,
    /// When the ledger applied it, ms since the epoch.
    pub time_ms: u64,
    /// Who (0: the server itself, for the first operator).
    pub operator: OperatorId,
    /// The operator's name.
    pub operator_name: String,
    /// The request id it was sent under (its `Idempotency-Key`).
    pub request_id: String,
    /// The command's kind (`set_status`, `set_operator_role` ...).
    pub kind: String,
    /// What it is about, if anything.
    pub target: Option<Target>,
    /// Which value it changes (`status`, `role`, `limit:deposit:day:EUR` ...).
    pub field: Option<String>,
    /// That value before, where the journal holds it.
    pub before: Option<String>,
    /// That value after (for a refusal: the value asked for).
    pub after: Option<String>,
    /// A reason or other context (never personal data).
    pub detail: Option<String>,
    /// The outcome the ledger recorded.
    pub outcome: Outcome,
}

/// Which rows to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this operator's actions.
    pub operator: Option<OperatorId>,
    /// Only actions about this player.
    pub player: Option<PlayerId>,
    /// Only this kind of command.
    pub kind: Option<String>,
    /// Only from this time on, ms since the epoch (inclusive).
    pub from_ms: Option<u64>,
    /// Only before this time, ms since the epoch (exclusive).
    pub to_ms: Option<u64>,
    /// Only rows after this sequence number (the cursor).
    pub after_seq: u64,
}

/// The change a command makes, as the trail shows it.
#[derive(Default)]
struct Change {
    target: Option<Target>,
    field: Option<String>,
    before: Option<String>,
    after: Option<String>,
    detail: Option<String>,
}

/// Folds one committed record into the trail, if an operator sent it. Runs
/// before the other projections see the record, so the views it reads
/// (profiles, transactions, operators) still hold the state before it.
pub(crate) fn apply(tx: &Transaction<'_>, committed: &Committed) -> Result<(), ReadModelError> {
    let envelope = &committed.envelope;
    let request = &envelope.request;
    let command = request.command.unwrapped();
    let outcome = &committed.outcome;
    let who = match operator_of(tx, request.source)? {
        Some(who) => Some(who),
        // The server creates the first operator under its own source (0),
        // and places the holds of AML cases opened before they were the
        // ledger's (the risk module's start-up sweep).
        None if request.source == SourceId(0)
            && matches!(
                command,
                Command::Access(access::Command::CreateOperator { .. })
                    | Command::Payments(payments::Command::HoldWithdrawals { .. })
            ) =>
        {
            Some((OperatorId::SYSTEM, SYSTEM_NAME.to_owned()))
        }
        None => None,
    };
    if let Some((operator, name)) = who {
        let change = change(tx, command, outcome)?;
        let (target_type, target) = change.target.map(Target::parts).unzip();
        tx.prepare_cached(
            "INSERT OR REPLACE INTO audit (seq, time_ms, operator, operator_name, request_id, kind, target_type,
                 target, field, before, after, detail, ok, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )?
        .execute(params![
            envelope.seq as i64,
            envelope.time_ms as i64,
            operator.0,
            name,
            request.id.as_str(),
            command.kind(),
            target_type,
            target,
            change.field,
            change.before,
            change.after,
            change.detail,
            outcome.is_ok(),
            engine::codec::to_bytes(outcome),
        ])?;
    }
    follow_operators(tx, command, outcome)
}

/// The operator whose requests carry `source`, with its name.
fn operator_of(tx: &Transaction<'_>, source: SourceId) -> Result<Option<(OperatorId, String)>, ReadModelError> {
    Ok(tx
        .prepare_cached("SELECT operator, name FROM operators WHERE source = ?1")?
        .query_row(params![source.0], |row| Ok((OperatorId(row.get(0)?), row.get(1)?)))
        .optional()?)
}

/// Keeps the operators table (who each source is, and their role) in step.
fn follow_operators(tx: &Transaction<'_>, command: &Command, outcome: &Outcome) -> Result<(), ReadModelError> {
    let Command::Access(command) = command else {
        return Ok(());
    };
    match (command, outcome) {
        (access::Command::CreateOperator { role, name, .. }, Outcome::OperatorCreated { operator, source }) => {
            insert_operator(tx, *operator, *source, name.as_str(), *role)
        }
        (command, Outcome::OperatorChanged { .. }) => {
            let role = match command {
                access::Command::SetOperatorRole { role, .. } => *role,
                access::Command::DisableOperator { .. } => Role::Disabled,
                _ => return Ok(()),
            };
            if let Some(target) = command.target_operator() {
                tx.prepare_cached("UPDATE operators SET role = ?2 WHERE operator = ?1")?
                    .execute(params![target.0, role.name()])?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn insert_operator(
    tx: &Transaction<'_>,
    operator: OperatorId,
    source: SourceId,
    name: &str,
    role: Role,
) -> Result<(), ReadModelError> {
    tx.prepare_cached("INSERT OR REPLACE INTO operators (operator, source, name, role) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![operator.0, source.0, name, role.name()])?;
    Ok(())
}

/// What `command` changes, with the value before where the journal holds it.
fn change(tx: &Transaction<'_>, command: &Command, outcome: &Outcome) -> Result<Change, ReadModelError> {
    let player = command.player().map(Target::Player);
    let change = match command {
        Command::Players(command) => players_change(tx, command, outcome)?,
        Command::Rg(command) => rg_change(tx, command)?,
        Command::Payments(command) => payments_change(tx, command, outcome)?,
        Command::Bonus(bonus::Command::Grant(grant) | bonus::Command::GrantQueued { grant, .. }) => Change {
            field: Some(format!("bonus:{}", grant.currency)),
            after: Some(money(grant.amount, grant.currency)),
            ..Change::default()
        },
        Command::Bonus(bonus::Command::RedeemPoints { grant, points, .. }) => Change {
            field: Some(format!("bonus:{}", grant.currency)),
            after: Some(money(grant.amount, grant.currency)),
            detail: Some(format!("{points} loyalty points")),
            ..Change::default()
        },
        Command::Bonus(bonus::Command::SetVipTier { tier, .. }) => Change {
            field: Some("vip_tier".to_owned()),
            after: Some(tier.as_ref().map_or_else(|| "none".to_owned(), ToString::to_string)),
            ..Change::default()
        },
        Command::Access(command) => access_change(tx, command, outcome)?,
        Command::Risk(command) => risk_change(command, outcome),
        Command::Support(command) => support_change(command, outcome),
        Command::Marketing(engine::marketing::Command::AttributePlayer { brand, affiliate, .. }) => Change {
            field: Some("attribution".to_owned()),
            after: Some(format!(
                "brand {}, affiliate {}",
                // `marketing::DEFAULT_BRAND`, spelled out: the audit may not
                // import a module the store's migrations list (a cycle).
                brand.as_ref().map_or("default", |b| b.as_str()),
                affiliate.as_ref().map_or("none", |a| a.as_str())
            )),
            ..Change::default()
        },
        _ => Change::default(),
    };
    Ok(Change {
        target: change.target.or(player),
        ..change
    })
}

/// An AML case's change (the field names the case: its opening record's
/// seq) or a rule's settings.
fn risk_change(command: &risk::Command, outcome: &Outcome) -> Change {
    match command {
        risk::Command::Case(risk::CaseCommand::Open { summary, .. }) => Change {
            field: match outcome {
                Outcome::CaseOpened { case } => Some(format!("case:{case}")),
                _ => None,
            },
            after: Some("open".into()),
            detail: Some(summary.as_str().to_owned()),
            ..Change::default()
        },
        risk::Command::Case(risk::CaseCommand::Update { case, update, text, .. }) => Change {
            field: Some(format!("case:{case}")),
            after: Some(match update {
                risk::CaseUpdate::Resolve { outcome } => format!("resolved: {}", outcome.name()),
                risk::CaseUpdate::Assign { assignee } => format!("assigned: operator {}", assignee.0),
                other => other.name().to_owned(),
            }),
            detail: Some(text.as_str().to_owned()),
            ..Change::default()
        },
        risk::Command::SetRule { settings, .. } => Change {
            field: Some(format!("rule:{}", settings.rule.as_str())),
            after: Some(format!(
                "enabled {}, window {} ms, count {}, percent {}",
                settings.enabled, settings.window_ms, settings.count_min, settings.percent
            )),
            ..Change::default()
        },
    }
}

/// A ticket's change (the field names the ticket: its opening record's
/// seq) or a note on a player (the field names the note).
fn support_change(command: &support::Command, outcome: &Outcome) -> Change {
    match command {
        support::Command::OpenTicket { subject, priority, .. } => Change {
            field: match outcome {
                Outcome::TicketOpened { ticket } => Some(format!("ticket:{ticket}")),
                _ => None,
            },
            after: Some(format!("open, {}", priority.name())),
            detail: Some(subject.as_str().to_owned()),
            ..Change::default()
        },
        support::Command::UpdateTicket { ticket, change, .. } => Change {
            field: Some(format!("ticket:{ticket}")),
            after: Some(match change {
                support::TicketChange::Assign { assignee: Some(a) } => format!("assigned: operator {}", a.0),
                support::TicketChange::Assign { assignee: None } => "unassigned".to_owned(),
                support::TicketChange::Status { status } => format!("status: {}", status.name()),
                support::TicketChange::Priority { priority } => format!("priority: {}", priority.name()),
            }),
            ..Change::default()
        },
        support::Command::AddMessage { ticket, author, .. } => Change {
            field: Some(format!("ticket:{ticket}")),
            after: Some(format!("message from the {}", author.kind())),
            ..Change::default()
        },
        support::Command::AddNote { .. } => Change {
            field: match outcome {
                Outcome::NoteAdded { note } => Some(format!("note:{note}")),
                _ => None,
            },
            after: Some("note".to_owned()),
            ..Change::default()
        },
        support::Command::TicketSynced {
            ticket,
            external,
            through_seq,
            failure,
        } => Change {
            field: Some(format!("ticket:{ticket}")),
            after: Some(match failure {
                Some(_) => format!("sync failed after record {through_seq}"),
                None => format!("synced through record {through_seq}"),
            }),
            detail: failure
                .as_ref()
                .map(|f| f.as_str().to_owned())
                .or_else(|| external.as_ref().map(|e| format!("external {}", e.as_str()))),
            ..Change::default()
        },
    }
}

fn players_change(
    tx: &Transaction<'_>,
    command: &players::Command,
    outcome: &Outcome,
) -> Result<Change, ReadModelError> {
    let registered = match outcome {
        Outcome::Registered { player } => Some(Target::Player(*player)),
        _ => None,
    };
    Ok(match command {
        players::Command::RegisterPlayer { currency, jurisdiction }
        | players::Command::RegisterProfiled {
            currency, jurisdiction, ..
        }
        | players::Command::RegisterAged {
            currency, jurisdiction, ..
        } => Change {
            target: registered,
            field: Some("account".into()),
            after: Some("registered".into()),
            detail: Some(format!("currency {currency}, jurisdiction {jurisdiction}")),
            ..Change::default()
        },
        players::Command::SetJurisdictionRules { jurisdiction, rules } => Change {
            field: Some(format!("jurisdiction_rules:{jurisdiction}")),
            after: Some(format!(
                "kyc before deposit {}, bet {}, withdrawal {}",
                rules.kyc_before_deposit, rules.kyc_before_bet, rules.kyc_before_withdrawal
            )),
            ..Change::default()
        },
        players::Command::SetAccountStatus { player, status, .. } => status_change(tx, *player, *status, None)?,
        players::Command::SetStatus {
            player, status, reason, ..
        } => status_change(tx, *player, *status, Some(reason.as_str()))?,
        players::Command::SetKyc { player, level } => Change {
            field: Some("kyc".into()),
            before: Some(previous(tx, Target::Player(*player), "kyc")?.unwrap_or_else(|| "none".into())),
            after: Some(crate::kyc::level_name(*level).into()),
            ..Change::default()
        },
        players::Command::StartKycCheck { player, check, .. } => Change {
            field: Some("kyc_check".into()),
            before: previous(tx, Target::Player(*player), "kyc_check")?,
            after: Some(check.as_str().to_owned()),
            ..Change::default()
        },
        players::Command::SetKycLevel {
            player, level, reason, ..
        } => kyc_change(tx, *player, *level, reason.as_str())?,
        players::Command::ApplyKycVerdict {
            player,
            level,
            reason,
            check,
            ..
        } => match outcome {
            // A stale or repeated verdict changed nothing: say so.
            Outcome::KycEventIgnored { level: kept } => Change {
                field: Some("kyc".into()),
                before: Some(crate::kyc::level_name(*kept).into()),
                after: Some(crate::kyc::level_name(*kept).into()),
                detail: Some(format!(
                    "ignored verdict {} from check {check}",
                    crate::kyc::level_name(*level)
                )),
                ..Change::default()
            },
            _ => kyc_change(tx, *player, *level, reason.as_str())?,
        },
        // The number is a blind index: the trail names the document only.
        players::Command::RecordKycDocument { document, .. } => Change {
            field: Some("kyc_document".into()),
            after: Some(crate::kyc::status_name(document.status).into()),
            detail: Some(format!(
                "{} issued by {}",
                crate::kyc::kind_name(document.kind),
                document.issuing_country
            )),
            ..Change::default()
        },
        // Device and address are blind indexes: the trail names the report only.
        players::Command::RecordLogin { .. } => Change {
            field: Some("session".into()),
            after: Some("login".into()),
            ..Change::default()
        },
        players::Command::RecordLogout { .. } => Change {
            field: Some("session".into()),
            after: Some("logout".into()),
            ..Change::default()
        },
        players::Command::SetJurisdictionProfile {
            jurisdiction,
            effective_from_ms,
            ..
        }
        | players::Command::SetJurisdictionProfileV1 {
            jurisdiction,
            effective_from_ms,
            ..
        } => Change {
            field: Some(format!(
                "jurisdiction_profile:{}",
                jurisdiction.map_or_else(|| "default".to_owned(), |j| j.to_string())
            )),
            after: Some(match outcome {
                Outcome::Scheduled { .. } => "scheduled".into(),
                _ => "in force".into(),
            }),
            detail: effective_from_ms.map(|ms| format!("effective from {ms} ms")),
            ..Change::default()
        },
        players::Command::RecordDueDiligence { reason, .. } => Change {
            field: Some("due_diligence".into()),
            after: Some("recorded".into()),
            detail: Some(reason.as_str().to_owned()),
            ..Change::default()
        },
        players::Command::SetAgeBand { band, .. } => Change {
            field: Some("age_band".into()),
            after: Some(band.name().into()),
            ..Change::default()
        },
        // Sealed: the trail says that it changed, never what it holds.
        players::Command::UpdateProfile { .. } => Change {
            field: Some("profile".into()),
            after: Some("changed".into()),
            ..Change::default()
        },
        players::Command::ErasePlayer { reason, .. } => Change {
            field: Some("profile".into()),
            after: Some("erased".into()),
            detail: Some(reason.as_str().to_owned()),
            ..Change::default()
        },
    })
}

fn kyc_change(tx: &Transaction<'_>, player: PlayerId, level: KycLevel, reason: &str) -> Result<Change, ReadModelError> {
    Ok(Change {
        field: Some("kyc".into()),
        before: Some(previous(tx, Target::Player(player), "kyc")?.unwrap_or_else(|| "none".into())),
        after: Some(crate::kyc::level_name(level).into()),
        detail: Some(reason.to_owned()),
        ..Change::default()
    })
}

fn status_change(
    tx: &Transaction<'_>,
    player: PlayerId,
    status: AccountStatus,
    reason: Option<&str>,
) -> Result<Change, ReadModelError> {
    let before: Option<String> = tx
        .prepare_cached("SELECT status FROM profiles WHERE player = ?1")?
        .query_row(params![player.0 as i64], |row| row.get(0))
        .optional()?;
    Ok(Change {
        field: Some("status".into()),
        before,
        after: Some(crate::profiles::status_name(status).into()),
        detail: reason.map(str::to_owned),
        ..Change::default()
    })
}

fn rg_change(tx: &Transaction<'_>, command: &rg::Command) -> Result<Change, ReadModelError> {
    let (field, after) = match command {
        rg::Command::SelfExclude { until_ms, .. } => ("self_exclusion".to_owned(), format!("until {until_ms}")),
        rg::Command::TimeOut { until_ms, .. } => ("time_out".to_owned(), format!("until {until_ms}")),
        rg::Command::SetLimit {
            currency,
            limit,
            amount,
            ..
        } => (
            format!(
                "limit:{}:{}:{currency}",
                metric_name(limit.metric),
                period_name(limit.period)
            ),
            amount.map_or_else(|| "none".to_owned(), |amount| money(amount, *currency)),
        ),
        rg::Command::SetRealityCheckInterval { interval_ms, .. } => (
            "reality_check_interval".to_owned(),
            interval_ms.map_or_else(|| "default".to_owned(), |ms| format!("{ms} ms")),
        ),
        rg::Command::AcknowledgeRealityCheck { .. } => ("reality_check".to_owned(), "acknowledged".to_owned()),
        rg::Command::SetSessionTimeLimit { limit_ms, .. } => (
            "session_time_limit".to_owned(),
            limit_ms.map_or_else(|| "none".to_owned(), |ms| format!("{ms} ms")),
        ),
        rg::Command::RecordLimitReview { .. } => ("limit_review".to_owned(), "reviewed".to_owned()),
    };
    let before = previous(tx, Target::Player(command.player()), &field)?;
    Ok(Change {
        field: Some(field),
        before: before.or_else(|| Some("none".into())),
        after: Some(after),
        ..Change::default()
    })
}

/// What a hold change left: the player's holds now.
fn hold_count(outcome: &Outcome) -> String {
    match outcome {
        Outcome::WithdrawalHolds { holds: 0 } => "released (no hold left)".into(),
        Outcome::WithdrawalHolds { holds } => format!("held ({holds} hold(s))"),
        _ => "unchanged".into(),
    }
}

fn payments_change(
    tx: &Transaction<'_>,
    command: &payments::Command,
    outcome: &Outcome,
) -> Result<Change, ReadModelError> {
    let (payment, state) = match command {
        payments::Command::DepositInitiate { currency, amount, .. }
        | payments::Command::Deposit { currency, amount, .. }
        | payments::Command::WithdrawalRequest { currency, amount, .. } => {
            return Ok(cash_change(*currency, *amount, None, outcome));
        }
        payments::Command::Adjust {
            currency,
            amount,
            reason,
            ..
        } => return Ok(cash_change(*currency, *amount, Some(reason.as_str()), outcome)),
        payments::Command::ReconciliationImport {
            provider,
            file,
            matched,
            items,
        } => {
            return Ok(Change {
                field: Some(format!("reconciliation:{provider}:{file}")),
                after: Some("imported".into()),
                detail: Some(format!("{matched} matched, {} differences", items.len())),
                ..Change::default()
            });
        }
        payments::Command::ReconciliationResolve {
            provider,
            file,
            reference,
            reason,
            ..
        } => {
            return Ok(Change {
                field: Some(format!("reconciliation:{provider}:{file}:{reference}")),
                before: Some("open".into()),
                after: Some("resolved".into()),
                detail: Some(reason.as_str().to_owned()),
                ..Change::default()
            });
        }
        payments::Command::HoldWithdrawals { hold, reason, .. } => {
            return Ok(Change {
                field: Some(format!("withdrawal_hold:{hold}")),
                before: Some("none".into()),
                after: Some(hold_count(outcome)),
                detail: Some(reason.as_str().to_owned()),
                ..Change::default()
            });
        }
        payments::Command::ReleaseWithdrawals { hold, reason, .. } => {
            return Ok(Change {
                field: Some(format!("withdrawal_hold:{hold}")),
                before: Some("held".into()),
                after: Some(hold_count(outcome)),
                detail: Some(reason.as_str().to_owned()),
                ..Change::default()
            });
        }
        payments::Command::SetFxRate {
            base,
            quote,
            rate_scaled,
            effective_at_ms,
            ..
        } => {
            return Ok(Change {
                field: Some(format!("fx:{base}/{quote}")),
                after: Some(format!("{rate_scaled} / 10^8 from {effective_at_ms} ms")),
                ..Change::default()
            });
        }
        payments::Command::AddPaymentMethod {
            player,
            method,
            kind,
            reference,
            holder,
            ..
        } => {
            return Ok(Change {
                target: Some(Target::Player(*player)),
                field: Some(format!("payment_method:{method}")),
                after: Some("active".into()),
                detail: Some(format!("{} {reference}, holder {}", kind.name(), holder.name())),
                ..Change::default()
            });
        }
        payments::Command::SetPaymentMethodState {
            player,
            method,
            state,
            reason,
            ..
        } => {
            let before: Option<String> = tx
                .prepare_cached("SELECT state FROM payment_methods WHERE player = ?1 AND method = ?2")?
                .query_row(rusqlite::params![player.0 as i64, method.as_str()], |row| row.get(0))
                .optional()?;
            return Ok(Change {
                target: Some(Target::Player(*player)),
                field: Some(format!("payment_method:{method}")),
                before,
                after: Some(state.name().into()),
                detail: Some(reason.as_str().to_owned()),
            });
        }
        payments::Command::PaymentMethodUse { payment, method } => {
            let player = payment_row(tx, payment)?.and_then(|(player, _)| player);
            return Ok(Change {
                target: player.map(Target::Player),
                field: Some(format!("payment:{}:{}", payment.source, payment.id)),
                after: Some(format!("method {method}")),
                ..Change::default()
            });
        }
        payments::Command::DepositConfirm { deposit } | payments::Command::DepositConfirmChecked { deposit } => {
            (deposit, "confirmed")
        }
        payments::Command::DepositFail { deposit } => (deposit, "failed"),
        payments::Command::WithdrawalApprove { withdrawal } => (withdrawal, "approved"),
        payments::Command::WithdrawalReject { withdrawal } => (withdrawal, "rejected"),
        payments::Command::WithdrawalComplete { withdrawal } => (withdrawal, "completed"),
        payments::Command::DepositExpire { deposit, .. } => (deposit, "failed"),
        payments::Command::DepositChargeback { deposit, .. } => (deposit, "charged_back"),
        payments::Command::PaymentReference { payment, .. } => (payment, "referenced"),
        payments::Command::WithdrawalFirstApproval { withdrawal } => (withdrawal, "first_approval"),
        payments::Command::WithdrawalApproveSecond { withdrawal, .. } => (withdrawal, "approved"),
        payments::Command::WithdrawalReverse { withdrawal, .. } => (withdrawal, "rejected"),
    };
    let (player, before) = payment_row(tx, payment)?.unzip();
    Ok(Change {
        target: player.flatten().map(Target::Player),
        field: Some(format!("payment:{}:{}", payment.source, payment.id)),
        before,
        after: Some(state.into()),
        ..Change::default()
    })
}

/// A movement of cash: the balance before and after from its receipt.
fn cash_change(currency: Currency, amount: Amount, reason: Option<&str>, outcome: &Outcome) -> Change {
    let amount = money(amount, currency);
    let (before, after) = match outcome.receipt() {
        Some(receipt) => {
            let cash = receipt.balances.cash;
            let before = cash.checked_sub(receipt.cash_delta).unwrap_or(cash);
            (Some(money(before, currency)), Some(money(cash, currency)))
        }
        None => (None, None),
    };
    Change {
        field: Some(format!("cash:{currency}")),
        before,
        after,
        detail: Some(match reason {
            Some(reason) => format!("amount {amount}: {reason}"),
            None => format!("amount {amount}"),
        }),
        ..Change::default()
    }
}

/// A payment's player and state, from the transactions the history holds.
fn payment_row(tx: &Transaction<'_>, payment: &TxRef) -> Result<Option<(Option<PlayerId>, String)>, ReadModelError> {
    Ok(tx
        .prepare_cached("SELECT player, state FROM transactions WHERE source = ?1 AND ext_id = ?2")?
        .query_row(params![payment.source.0, payment.id.as_str()], |row| {
            Ok((row.get::<_, Option<i64>>(0)?.map(|p| PlayerId(p as u64)), row.get(1)?))
        })
        .optional()?)
}

fn access_change(tx: &Transaction<'_>, command: &access::Command, outcome: &Outcome) -> Result<Change, ReadModelError> {
    Ok(match command {
        access::Command::CreateOperator { role, name, .. } => Change {
            target: match outcome {
                Outcome::OperatorCreated { operator, .. } => Some(Target::Operator(*operator)),
                _ => None,
            },
            field: Some("role".into()),
            after: Some(role.name().into()),
            detail: Some(format!("name {name}")),
            ..Change::default()
        },
        access::Command::CreateAggregator { name, .. } => Change {
            target: match outcome {
                Outcome::AggregatorCreated { aggregator } => Some(Target::Aggregator(*aggregator)),
                _ => None,
            },
            detail: Some(format!("name {name}")),
            ..Change::default()
        },
        access::Command::IssueSession {
            aggregator,
            expires_at_ms,
            currency,
            ..
        } => Change {
            detail: Some(format!(
                "aggregator {aggregator}, currency {currency}, until {expires_at_ms}"
            )),
            ..Change::default()
        },
        access::Command::SetOperatorRole { target, .. }
        | access::Command::DisableOperator { target, .. }
        | access::Command::RotateOperatorToken { target, .. } => {
            let before = match outcome {
                Outcome::OperatorChanged { role_before, .. } => Some(role_before.name().to_owned()),
                _ => operator_role(tx, *target)?,
            };
            let (field, after) = match command {
                access::Command::SetOperatorRole { role, .. } => ("role", Some(role.name().to_owned())),
                access::Command::DisableOperator { .. } => ("role", Some(Role::Disabled.name().to_owned())),
                _ => ("token", Some("rotated".to_owned())),
            };
            Change {
                target: Some(Target::Operator(*target)),
                field: Some(field.into()),
                // A token is never shown: only that it was replaced.
                before: if field == "token" { None } else { before },
                after,
                ..Change::default()
            }
        }
        // Neither the hash nor the secret is shown: only that it was set.
        access::Command::SetOperatorCredential { target, .. }
        | access::Command::SetOperatorSealedCredential { target, .. } => Change {
            target: Some(Target::Operator(*target)),
            field: Some("credential".into()),
            after: Some("set".into()),
            ..Change::default()
        },
    })
}

fn operator_role(tx: &Transaction<'_>, operator: OperatorId) -> Result<Option<String>, ReadModelError> {
    Ok(tx
        .prepare_cached("SELECT role FROM operators WHERE operator = ?1")?
        .query_row(params![operator.0], |row| row.get(0))
        .optional()?)
}

/// The value the previous accepted row set `field` of `target` to.
fn previous(tx: &Transaction<'_>, target: Target, field: &str) -> Result<Option<String>, ReadModelError> {
    let (target_type, id) = target.parts();
    Ok(tx
        .prepare_cached(
            "SELECT after FROM audit WHERE target_type = ?1 AND target = ?2 AND field = ?3 AND ok = 1
             ORDER BY seq DESC LIMIT 1",
        )?
        .query_row(params![target_type, id, field], |row| row.get(0))
        .optional()?
        .flatten())
}

fn money(amount: Amount, currency: Currency) -> String {
    format!("{} {currency}", amount.to_decimal(currency))
}

fn metric_name(metric: LimitMetric) -> &'static str {
    match metric {
        LimitMetric::Deposit => "deposit",
        LimitMetric::Loss => "loss",
        LimitMetric::Wager => "wager",
    }
}

fn period_name(period: LimitPeriod) -> &'static str {
    match period {
        LimitPeriod::Day => "day",
        LimitPeriod::Week => "week",
        LimitPeriod::Month => "month",
    }
}

/// Seeds the operators from a snapshot's ledger (when the journal before
/// it was retired: the trail then starts after the snapshot).
pub(crate) fn seed(tx: &Transaction<'_>, ledger: &Ledger) -> Result<(), ReadModelError> {
    let access = ledger.access();
    for id in 1..=access.operators_len() as u32 {
        if let Some(operator) = access.operator(OperatorId(id)) {
            insert_operator(
                tx,
                OperatorId(id),
                operator.source,
                operator.name.as_str(),
                operator.role,
            )?;
        }
    }
    Ok(())
}

/// Up to `limit` rows matching `filter`, oldest first.
pub fn entries(connection: &Connection, filter: &AuditFilter, limit: usize) -> Result<Vec<AuditEntry>, ReadModelError> {
    let mut statement = connection.prepare_cached(
        "SELECT seq, time_ms, operator, operator_name, request_id, kind, target_type, target, field, before, after,
             detail, outcome
         FROM audit
         WHERE seq > ?1
           AND (?2 IS NULL OR operator = ?2)
           AND (?3 IS NULL OR (target_type = 'player' AND target = ?3))
           AND (?4 IS NULL OR kind = ?4)
           AND (?5 IS NULL OR time_ms >= ?5)
           AND (?6 IS NULL OR time_ms < ?6)
         ORDER BY seq LIMIT ?7",
    )?;
    let rows = statement.query_map(
        params![
            filter.after_seq as i64,
            filter.operator.map(|o| o.0),
            filter.player.map(|p| p.0 as i64),
            filter.kind,
            filter.from_ms.map(|t| t as i64),
            filter.to_ms.map(|t| t as i64),
            limit as i64,
        ],
        |row| {
            Ok((
                (
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, u32>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                ),
                (row.get::<_, Option<String>>(6)?, row.get::<_, Option<i64>>(7)?),
                (
                    row.get::<_, Option<String>>(8)?,
                    row.get::<_, Option<String>>(9)?,
                    row.get::<_, Option<String>>(10)?,
                    row.get::<_, Option<String>>(11)?,
                ),
                row.get::<_, Vec<u8>>(12)?,
            ))
        },
    )?;
    let mut entries = Vec::new();
    for row in rows {
        let ((seq, time_ms, operator, operator_name, request_id, kind), target, texts, outcome) = row?;
        let (field, before, after, detail) = texts;
        let outcome = engine::codec::from_bytes::<Outcome>(&outcome)
            .map_err(|_| ReadModelError::Damaged(format!("audit row {seq}: outcome")))?;
        let target = match target {
            (Some(kind), Some(id)) => Target::from_parts(&kind, id),
            _ => None,
        };
        entries.push(AuditEntry {
            seq: seq as u64,
            time_ms: time_ms as u64,
            operator: OperatorId(operator),
            operator_name,
            request_id,
            kind,
            target,
            field,
            before,
            after,
            detail,
            outcome,
        });
    }
    Ok(entries)
}
