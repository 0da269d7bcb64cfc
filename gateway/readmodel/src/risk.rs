//! The risk projection: anti-money-laundering rules evaluated as the
//! projection follows the journal (off the hot path: the sequencer never
//! waits for them), each alert with its evidence (the journal's sequence
//! numbers and amounts); a fraud score per player drawn from the views
//! (shared devices and addresses, chargebacks, bonus abuse); and the case
//! queue where compliance works the alerts.
//!
//! Rules run on the records that can raise them: a confirmed deposit
//! (velocity, structuring, cumulative deposits), a withdrawal request
//! (deposit then withdrawal with little play, bonus abuse), a win (large
//! wins), a payment's provider reference and a recorded payment method
//! (many payment methods; a holder other than the player: third-party
//! methods). Each reads its parameters from `risk_rules` as they are when
//! the record is projected. The money thresholds (velocity by amount,
//! structuring, large wins, cumulative deposits) measure in the rule's
//! currency: the record's own if the rule has an amount in it, else the
//! rule's first; every record in another currency is converted at the FX
//! rate in force when it was made (`crate::fx`), and its evidence row
//! keeps its currency, the rate and the converted amount; one without a
//! rate is listed with no converted amount and not counted. The
//! shipped amounts are the AML due-diligence threshold (EUR 2,000: EU AMLD
//! art. 11(d), stakes or winnings of EUR 2,000 or more, in one operation or
//! several that appear linked), in GBP and USD as PAM's shipped profiles
//! hold it. A rule raises at most one alert per player and currency within
//! its window, so a burst is one alert with all of its evidence.
//!
//! Alerts are derived from the journal alone: a rebuild derives the same
//! ones. Rule settings and cases are operators' work, and journaled too
//! (`engine::risk`): opening a case, assigning it, a note, an action's
//! record, the resolution, and a rule's settings are ledger commands that
//! the ledger checks and this projection applies ([`apply_work`]), so a
//! rebuild of the file (damaged, from a newer release, left unsynced)
//! derives the same cases, notes and settings, in the audit trail like
//! every operator command. A case's id is the sequence number of the
//! record that opened it. A record that no longer applies here (an alert
//! taken by another case meanwhile, a case resolved) changes nothing, on
//! every rebuild alike. Cases opened before this release were not
//! journaled (`opened_seq` is null): the upgrade keeps their rows, but a
//! rebuild of such a file cannot recover them. The actions a case takes
//! (suspending the player, requiring a new KYC check) are ledger commands,
//! journaled and audited.

use engine::command::Command;
use engine::payments::FX_RATE_SCALE;
use engine::risk as risk_work;
use engine::sequencer::Committed;
use engine::{Currency, PlayerId, TxRef, gaming, payments};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::ReadModelError;

/// The schema (appended to `store::MIGRATIONS`): the rules' settings with
/// the shipped defaults, alerts with their evidence, cases with their
/// alerts and notes, and an index that finds a player's payments.
pub const MIGRATION: &str = "
    CREATE INDEX cashier_by_player ON cashier_payments (player, created_ms);
    CREATE TABLE risk_rules (
        rule TEXT PRIMARY KEY,
        enabled INTEGER NOT NULL,
        window_ms INTEGER NOT NULL,
        count_min INTEGER NOT NULL,
        percent INTEGER NOT NULL,
        set_by INTEGER,
        set_ms INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE risk_rule_amounts (
        rule TEXT NOT NULL,
        currency TEXT NOT NULL,
        amount_minor INTEGER NOT NULL,
        PRIMARY KEY (rule, currency)
    ) WITHOUT ROWID;
    INSERT INTO risk_rules (rule, enabled, window_ms, count_min, percent) VALUES
        ('deposit_velocity', 1, 3600000, 5, 0),
        ('little_play', 1, 604800000, 1, 10),
        ('structuring', 1, 604800000, 3, 10),
        ('large_win', 1, 0, 1, 0),
        ('payment_methods', 1, 2592000000, 4, 0),
        ('cumulative_deposits', 1, 86400000, 1, 0),
        ('bonus_abuse', 1, 604800000, 1, 10);
    INSERT INTO risk_rule_amounts (rule, currency, amount_minor) VALUES
        ('structuring', 'EUR', 200000), ('structuring', 'GBP', 170000), ('structuring', 'USD', 215000),
        ('large_win', 'EUR', 200000), ('large_win', 'GBP', 170000), ('large_win', 'USD', 215000),
        ('cumulative_deposits', 'EUR', 200000), ('cumulative_deposits', 'GBP', 170000),
        ('cumulative_deposits', 'USD', 215000);
    CREATE TABLE risk_alerts (
        id INTEGER PRIMARY KEY,
        rule TEXT NOT NULL,
        player INTEGER NOT NULL,
        currency TEXT NOT NULL,
        seq INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        amount_minor INTEGER NOT NULL,
        summary TEXT NOT NULL,
        case_id INTEGER
    );
    CREATE INDEX risk_alerts_by_player ON risk_alerts (player, rule, currency, time_ms);
    CREATE INDEX risk_alerts_by_case ON risk_alerts (case_id, id);
    CREATE TABLE risk_evidence (
        alert INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        amount_minor INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        PRIMARY KEY (alert, seq)
    ) WITHOUT ROWID;
    CREATE TABLE risk_cases (
        id INTEGER PRIMARY KEY,
        player INTEGER NOT NULL,
        state TEXT NOT NULL,
        summary TEXT NOT NULL,
        assignee INTEGER,
        outcome TEXT,
        opened_by INTEGER NOT NULL,
        opened_ms INTEGER NOT NULL,
        resolved_by INTEGER,
        resolved_ms INTEGER
    );
    CREATE INDEX risk_cases_by_state ON risk_cases (state, id);
    CREATE TABLE risk_case_notes (
        id INTEGER PRIMARY KEY,
        case_id INTEGER NOT NULL,
        operator INTEGER NOT NULL,
        time_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        journal_seq INTEGER
    );
    CREATE INDEX risk_case_notes_by_case ON risk_case_notes (case_id, id);";

/// The schema change for journaled cases (appended to `store::MIGRATIONS`,
/// without a rebuild, so the cases made before it keep their rows): the
/// record that opened each case (its id too); null for a case opened
/// before cases were journaled, which a rebuild cannot recover.
pub const JOURNALED_MIGRATION: &str = "ALTER TABLE risk_cases ADD COLUMN opened_seq INTEGER;";

/// Evidence rows kept per alert at most (the summary counts them all).
pub const EVIDENCE_MAX: u32 = 100;
/// The longest window a rule may have: 366 days.
pub const WINDOW_MS_MAX: u64 = 366 * 86_400_000;

/// The AML rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// At least `count_min` deposits, or deposits of at least the amount,
    /// within the window.
    DepositVelocity,
    /// A withdrawal after deposits in the window with less than `percent`
    /// % of them wagered.
    LittlePlay,
    /// At least `count_min` deposits within the window each just below the
    /// amount (within `percent` % under it).
    Structuring,
    /// A win of at least the amount.
    LargeWin,
    /// At least `count_min` different payment methods within the window:
    /// the methods recorded for the player, and the providers' references
    /// of payments that named no method.
    PaymentMethods,
    /// Deposits within the window reach the amount (the deposit that
    /// crosses it raises the alert).
    CumulativeDeposits,
    /// A withdrawal after a deposit and a bonus grant in the window, with
    /// less than `percent` % of deposits and bonus wagered.
    BonusAbuse,
    /// A payment method whose holder's name differs from the player's
    /// profile name (a third-party method).
    ThirdPartyMethod,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Rule; 8] = [
        Rule::DepositVelocity,
        Rule::LittlePlay,
        Rule::Structuring,
        Rule::LargeWin,
        Rule::PaymentMethods,
        Rule::CumulativeDeposits,
        Rule::BonusAbuse,
        Rule::ThirdPartyMethod,
    ];

    /// Its stable name.
    pub fn name(self) -> &'static str {
        match self {
            Rule::DepositVelocity => "deposit_velocity",
            Rule::LittlePlay => "little_play",
            Rule::Structuring => "structuring",
            Rule::LargeWin => "large_win",
            Rule::PaymentMethods => "payment_methods",
            Rule::CumulativeDeposits => "cumulative_deposits",
            Rule::BonusAbuse => "bonus_abuse",
            Rule::ThirdPartyMethod => "third_party_method",
        }
    }

    /// The rule named `name`.
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.name() == name)
    }
}

/// A rule's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSettings {
    /// The rule.
    pub rule: Rule,
    /// Off: it raises nothing.
    pub enabled: bool,
    /// Its window, ms (0 for `large_win`: every win counts alone).
    pub window_ms: u64,
    /// The count it needs (deposits, references), where it counts.
    pub count_min: u32,
    /// Its percentage (wagered share, structuring band), where it has one.
    pub percent: u32,
    /// Its amounts, minor units per currency.
    pub amounts: Vec<(Currency, i64)>,
    /// The operator who set it last (`None`: the shipped defaults).
    pub set_by: Option<u64>,
    /// When, ms since the epoch.
    pub set_ms: Option<u64>,
}

impl RuleSettings {
    fn amount(&self, currency: Currency) -> Option<i64> {
        self.amounts.iter().find(|(c, _)| *c == currency).map(|(_, a)| *a)
    }
}

/// The settings of `rule`.
pub fn rule(connection: &Connection, rule: Rule) -> Result<RuleSettings, ReadModelError> {
    let row = connection
        .prepare_cached(
            "SELECT enabled, window_ms, count_min, percent, set_by, set_ms FROM risk_rules WHERE rule = ?1",
        )?
        .query_row([rule.name()], |row| {
            Ok((
                row.get::<_, bool>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, Option<i64>>(4)?,
                row.get::<_, Option<i64>>(5)?,
            ))
        })
        .optional()?
        .ok_or_else(|| ReadModelError::Damaged(format!("no settings for rule {}", rule.name())))?;
    let mut statement = connection
        .prepare_cached("SELECT currency, amount_minor FROM risk_rule_amounts WHERE rule = ?1 ORDER BY currency")?;
    let amounts = statement
        .query_map([rule.name()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?
        .filter_map(|row| match row {
            Ok((code, amount)) => Currency::from_code(&code).map(|c| Ok((c, amount))),
            Err(error) => Some(Err(error)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RuleSettings {
        rule,
        enabled: row.0,
        window_ms: row.1 as u64,
        count_min: row.2 as u32,
        percent: row.3 as u32,
        amounts,
        set_by: row.4.map(|v| v as u64),
        set_ms: row.5.map(|v| v as u64),
    })
}

/// Every rule's settings.
pub fn rules(connection: &Connection) -> Result<Vec<RuleSettings>, ReadModelError> {
    Rule::ALL.into_iter().map(|r| rule(connection, r)).collect()
}

/// Replaces a rule's settings (`settings.set_by`/`set_ms` say who and when).
pub fn set_rule(connection: &Connection, settings: &RuleSettings) -> Result<(), ReadModelError> {
    let name = settings.rule.name();
    connection.execute(
        "UPDATE risk_rules SET enabled = ?2, window_ms = ?3, count_min = ?4, percent = ?5, set_by = ?6, set_ms = ?7
         WHERE rule = ?1",
        params![
            name,
            settings.enabled,
            settings.window_ms as i64,
            settings.count_min,
            settings.percent,
            settings.set_by.map(|v| v as i64),
            settings.set_ms.map(|v| v as i64)
        ],
    )?;
    connection.execute("DELETE FROM risk_rule_amounts WHERE rule = ?1", [name])?;
    for (currency, amount) in &settings.amounts {
        connection.execute(
            "INSERT INTO risk_rule_amounts (rule, currency, amount_minor) VALUES (?1, ?2, ?3)",
            params![name, currency.code(), amount],
        )?;
    }
    Ok(())
}

/// One journal record an alert rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// Its sequence number.
    pub seq: u64,
    /// What it was (`deposit`, `withdrawal_request`, `win`, `bonus_grant`,
    /// `payment_reference` ...).
    pub kind: String,
    /// Its amount, minor units (0 where none).
    pub amount_minor: i64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// The currency of `amount_minor` (the alert's, unless a rule summed
    /// across currencies).
    pub currency: String,
    /// The FX rate (scaled by 10^8) it was converted into the alert's
    /// currency at: the rate in force at `time_ms`. `None` in the alert's
    /// own currency, or when no rate was in force.
    pub rate_scaled: Option<i64>,
    /// The amount in the alert's currency; `None` when no rate was in
    /// force (the record is reported, and not counted).
    pub converted_minor: Option<i64>,
}

impl Evidence {
    fn plain(seq: u64, kind: &str, amount_minor: i64, time_ms: u64, currency: Currency) -> Evidence {
        Evidence {
            seq,
            kind: kind.into(),
            amount_minor,
            time_ms,
            currency: currency.code().into(),
            rate_scaled: None,
            converted_minor: Some(amount_minor),
        }
    }
}

/// The rules' settings a projection transaction has read: they change
/// only with the risk module's records, which make it forget them, and
/// the projection runs a rule on every win.
#[derive(Default)]
pub(crate) struct RuleMemo {
    read: Vec<RuleSettings>,
}

impl RuleMemo {
    /// `which`'s settings.
    fn get(&mut self, tx: &Transaction<'_>, which: Rule) -> Result<RuleSettings, ReadModelError> {
        if let Some(known) = self.read.iter().find(|settings| settings.rule == which) {
            return Ok(known.clone());
        }
        let settings = rule(tx, which)?;
        self.read.push(settings.clone());
        Ok(settings)
    }
}

/// Applies one committed record: runs the rules it can raise.
pub(crate) fn apply(
    tx: &Transaction<'_>,
    committed: &Committed,
    time_ms: u64,
    rules: &mut RuleMemo,
) -> Result<(), ReadModelError> {
    let request = &committed.envelope.request;
    if let Command::Risk(command) = &request.command {
        // Refused or not: forgetting costs one read.
        rules.read.clear();
        if !committed.outcome.is_ok() {
            return Ok(());
        }
        return apply_work(tx, committed, command);
    }
    let outcome = &committed.outcome;
    if !outcome.is_ok() {
        return Ok(());
    }
    let seq = committed.envelope.seq;
    match request.command.unwrapped() {
        Command::Payments(payments::Command::Deposit {
            player,
            currency,
            amount,
        }) => deposit_rules(tx, rules, *player, *currency, seq, amount.minor(), time_ms),
        Command::Payments(
            payments::Command::DepositConfirm { deposit } | payments::Command::DepositConfirmChecked { deposit },
        ) => {
            let Some((player, currency, amount)) = payment(tx, deposit)? else {
                return Ok(());
            };
            deposit_rules(tx, rules, player, currency, seq, amount, time_ms)
        }
        Command::Payments(payments::Command::WithdrawalRequest {
            player,
            currency,
            amount,
        }) => {
            let now = Event {
                player: *player,
                currency: *currency,
                seq,
                amount_minor: amount.minor(),
                time_ms,
            };
            little_play(tx, rules, &now)?;
            bonus_abuse(tx, rules, &now)
        }
        Command::Gaming(gaming::Command::Win(win)) => {
            let Some(receipt) = outcome.receipt() else {
                return Ok(());
            };
            let now = Event {
                player: win.player,
                currency: receipt.balances.currency,
                seq,
                amount_minor: receipt.cash_delta.minor() + receipt.bonus_delta.minor(),
                time_ms,
            };
            large_win(tx, rules, &now)
        }
        Command::Payments(payments::Command::PaymentReference { payment: paid, .. }) => {
            let Some((player, currency, _)) = payment(tx, paid)? else {
                return Ok(());
            };
            let now = Event {
                player,
                currency,
                seq,
                amount_minor: 0,
                time_ms,
            };
            payment_methods(tx, rules, &now)
        }
        Command::Payments(payments::Command::AddPaymentMethod {
            player, method, holder, ..
        }) => {
            let Some(currency) = player_currency(tx, *player)? else {
                return Ok(());
            };
            let now = Event {
                player: *player,
                currency,
                seq,
                amount_minor: 0,
                time_ms,
            };
            if *holder == payments::HolderMatch::Mismatch {
                third_party_method(tx, rules, &now, method.as_str())?;
            }
            payment_methods(tx, rules, &now)
        }
        _ => Ok(()),
    }
}

/// The record a rule looks at.
#[derive(Clone, Copy)]
struct Event {
    player: PlayerId,
    currency: Currency,
    seq: u64,
    amount_minor: i64,
    time_ms: u64,
}

fn payment(tx: &Transaction<'_>, payment: &TxRef) -> Result<Option<(PlayerId, Currency, i64)>, ReadModelError> {
    let row = tx
        .prepare_cached(
            "SELECT player, currency, amount_minor FROM cashier_payments WHERE source = ?1 AND ext_id = ?2",
        )?
        .query_row(params![payment.source.0, payment.id.as_str()], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?))
        })
        .optional()?;
    Ok(row.and_then(|(player, code, amount)| {
        Currency::from_code(&code).map(|currency| (PlayerId(player as u64), currency, amount))
    }))
}

fn player_currency(tx: &Transaction<'_>, player: PlayerId) -> Result<Option<Currency>, ReadModelError> {
    let code: Option<String> = tx
        .prepare_cached("SELECT currency FROM players WHERE player = ?1")?
        .query_row([player.0 as i64], |row| row.get(0))
        .optional()?;
    Ok(code.as_deref().and_then(Currency::from_code))
}

/// The currency a rule with amounts measures `currency`'s records in: its
/// own if the rule has an amount in it (or has no amounts), else the first
/// currency the rule has an amount in (by code), into which the records are
/// converted at the rates in force.
fn rule_currency(settings: &RuleSettings, currency: Currency) -> Currency {
    match settings.amounts.first() {
        Some((first, _)) if settings.amount(currency).is_none() => *first,
        _ => currency,
    }
}

/// `now` measured in the rule's currency ([`rule_currency`]).
fn in_rule_currency(settings: &RuleSettings, now: &Event) -> Event {
    Event {
        currency: rule_currency(settings, now.currency),
        ..*now
    }
}

/// `minor` of `from` in `into` at the rate in force at `at_ms`: the amount
/// (`None` without a rate, or on overflow) and the rate used (`None` in
/// the same currency). A rate set only the other way round is inverted.
fn convert(
    tx: &Transaction<'_>,
    minor: i64,
    from: Currency,
    into: Currency,
    at_ms: u64,
) -> Result<(Option<i64>, Option<i64>), ReadModelError> {
    if from == into {
        return Ok((Some(minor), None));
    }
    let rate = match crate::fx::rate_at(tx, from.code(), into.code(), at_ms)? {
        Some(rate) => Some(rate.rate_scaled),
        None => crate::fx::rate_at(tx, into.code(), from.code(), at_ms)?.and_then(|inverse| {
            let scale = i128::from(FX_RATE_SCALE);
            i64::try_from(scale * scale / i128::from(inverse.rate_scaled))
                .ok()
                .filter(|r| *r > 0)
        }),
    };
    let Some(rate) = rate else {
        return Ok((None, None));
    };
    let converted = crate::fx::convert_minor(minor, from.exponent(), into.exponent(), rate);
    Ok((converted, Some(rate)))
}

/// The player's deposits in every currency within the window, each with
/// its amount in `at.currency` at the rate in force when it was made.
fn deposits_converted(tx: &Transaction<'_>, at: &Event, window_ms: u64) -> Result<Vec<Evidence>, ReadModelError> {
    let since = at.time_ms.saturating_sub(window_ms);
    let mut found = movements_in(tx, at, DEPOSIT_KINDS, since, None)?;
    found.retain(|m| m.amount_minor > 0);
    for deposit in &mut found {
        deposit.kind = "deposit".into();
        if let Some(from) = Currency::from_code(&deposit.currency) {
            (deposit.converted_minor, deposit.rate_scaled) =
                convert(tx, deposit.amount_minor, from, at.currency, deposit.time_ms)?;
        }
    }
    Ok(found)
}

/// The sum of what converted, and a note on what did not.
fn converted_total(found: &[Evidence], into: Currency) -> (i64, String) {
    let total = found.iter().filter_map(|e| e.converted_minor).sum();
    let missing = found.iter().filter(|e| e.converted_minor.is_none()).count();
    let note = if missing == 0 {
        String::new()
    } else {
        format!(
            "; {missing} amount(s) with no rate into {} in force, not counted",
            into.code()
        )
    };
    (total, note)
}

fn deposit_rules(
    tx: &Transaction<'_>,
    rules: &mut RuleMemo,
    player: PlayerId,
    currency: Currency,
    seq: u64,
    amount_minor: i64,
    time_ms: u64,
) -> Result<(), ReadModelError> {
    let now = Event {
        player,
        currency,
        seq,
        amount_minor,
        time_ms,
    };
    deposit_velocity(tx, rules, &now)?;
    structuring(tx, rules, &now)?;
    cumulative_deposits(tx, rules, &now)
}

/// The rule's settings if it is on and has not alerted on this player and
/// currency within its window.
fn armed(
    tx: &Transaction<'_>,
    rules: &mut RuleMemo,
    which: Rule,
    now: &Event,
) -> Result<Option<RuleSettings>, ReadModelError> {
    armed_with(tx, rules.get(tx, which)?, now)
}

/// [`armed`] for a rule that measures in its own currency: the settings
/// and the event in that currency ([`rule_currency`]), if it is armed.
/// Reads the settings once.
fn armed_in_its_currency(
    tx: &Transaction<'_>,
    rules: &mut RuleMemo,
    which: Rule,
    now: &Event,
) -> Result<Option<(RuleSettings, Event)>, ReadModelError> {
    let settings = rules.get(tx, which)?;
    let at = in_rule_currency(&settings, now);
    Ok(armed_with(tx, settings, &at)?.map(|settings| (settings, at)))
}

/// [`armed`] with the rule's settings already read.
fn armed_with(
    tx: &Transaction<'_>,
    settings: RuleSettings,
    now: &Event,
) -> Result<Option<RuleSettings>, ReadModelError> {
    let which = settings.rule;
    if !settings.enabled {
        return Ok(None);
    }
    if settings.window_ms > 0 {
        let since = now.time_ms.saturating_sub(settings.window_ms) as i64;
        let recent: Option<i64> = tx
            .prepare_cached(
                "SELECT id FROM risk_alerts WHERE player = ?1 AND rule = ?2 AND currency = ?3 AND time_ms > ?4 LIMIT 1",
            )?
            .query_row(
                params![now.player.0 as i64, which.name(), now.currency.code(), since],
                |row| row.get(0),
            )
            .optional()?;
        if recent.is_some() {
            return Ok(None);
        }
    }
    Ok(Some(settings))
}

/// Movements of `kinds` of the player in the currency since `since_ms`
/// (through the current record), oldest first: (seq, kind, cash + bonus moved, time).
fn movements(
    tx: &Transaction<'_>,
    now: &Event,
    kinds: &[&str],
    since_ms: u64,
) -> Result<Vec<Evidence>, ReadModelError> {
    movements_in(tx, now, kinds, since_ms, Some(now.currency))
}

/// [`movements`] in one currency, or in every currency (`None`).
fn movements_in(
    tx: &Transaction<'_>,
    now: &Event,
    kinds: &[&str],
    since_ms: u64,
    currency: Option<Currency>,
) -> Result<Vec<Evidence>, ReadModelError> {
    // The kinds are this module's constants, never input.
    let kinds_sql: Vec<String> = kinds.iter().map(|kind| format!("'{kind}'")).collect();
    let sql = format!(
        "SELECT seq, kind, cash_delta + bonus_delta, time_ms, currency FROM movements
         WHERE player = ?1 AND time_ms >= ?2 AND (?3 IS NULL OR currency = ?3) AND kind IN ({}) ORDER BY seq",
        kinds_sql.join(", ")
    );
    let mut statement = tx.prepare_cached(&sql)?;
    let rows = statement.query_map(
        params![now.player.0 as i64, since_ms as i64, currency.map(|c| c.code())],
        |row| {
            let amount_minor = row.get(2)?;
            Ok(Evidence {
                seq: row.get::<_, i64>(0)? as u64,
                kind: row.get(1)?,
                amount_minor,
                time_ms: row.get::<_, i64>(3)? as u64,
                currency: row.get(4)?,
                rate_scaled: None,
                converted_minor: Some(amount_minor),
            })
        },
    )?;
    let mut found = Vec::new();
    for row in rows {
        let row = row?;
        if row.seq <= now.seq {
            found.push(row);
        }
    }
    Ok(found)
}

const DEPOSIT_KINDS: &[&str] = &["deposit", "deposit_confirm"];

fn deposits(tx: &Transaction<'_>, now: &Event, window_ms: u64) -> Result<Vec<Evidence>, ReadModelError> {
    let mut found = movements(tx, now, DEPOSIT_KINDS, now.time_ms.saturating_sub(window_ms))?;
    found.retain(|m| m.amount_minor > 0);
    for deposit in &mut found {
        deposit.kind = "deposit".into();
    }
    Ok(found)
}

/// Money staked in the window: bets less what rollbacks gave back.
fn wagered(tx: &Transaction<'_>, now: &Event, window_ms: u64) -> Result<i64, ReadModelError> {
    let moved = movements(tx, now, &["bet", "rollback"], now.time_ms.saturating_sub(window_ms))?;
    Ok(-moved.iter().map(|m| m.amount_minor).sum::<i64>())
}

fn deposit_velocity(tx: &Transaction<'_>, rules: &mut RuleMemo, now: &Event) -> Result<(), ReadModelError> {
    let Some((settings, at)) = armed_in_its_currency(tx, rules, Rule::DepositVelocity, now)? else {
        return Ok(());
    };
    let found = deposits_converted(tx, &at, settings.window_ms)?;
    let (total, note) = converted_total(&found, at.currency);
    let by_count = found.len() as u64 >= u64::from(settings.count_min.max(1));
    let by_amount = settings.amount(at.currency).is_some_and(|amount| total >= amount);
    if !(by_count || by_amount) {
        return Ok(());
    }
    let summary = format!(
        "{} deposits totalling {} minor {} within {} min{note}",
        found.len(),
        total,
        at.currency.code(),
        settings.window_ms / 60_000
    );
    raise(tx, Rule::DepositVelocity, &at, total, &summary, &found)
}

fn structuring(tx: &Transaction<'_>, rules: &mut RuleMemo, now: &Event) -> Result<(), ReadModelError> {
    let Some((settings, at)) = armed_in_its_currency(tx, rules, Rule::Structuring, now)? else {
        return Ok(());
    };
    let Some(threshold) = settings.amount(at.currency) else {
        return Ok(());
    };
    let floor = threshold - threshold * i64::from(settings.percent.min(100)) / 100;
    let just_below = |amount: Option<i64>| amount.is_some_and(|amount| amount >= floor && amount < threshold);
    let (this, _) = convert(tx, now.amount_minor, now.currency, at.currency, now.time_ms)?;
    if !just_below(this) {
        return Ok(());
    }
    let mut found = deposits_converted(tx, &at, settings.window_ms)?;
    let unconverted: Vec<Evidence> = found.iter().filter(|d| d.converted_minor.is_none()).cloned().collect();
    found.retain(|d| just_below(d.converted_minor));
    if (found.len() as u64) < u64::from(settings.count_min.max(1)) {
        return Ok(());
    }
    let (total, _) = converted_total(&found, at.currency);
    let (_, note) = converted_total(&unconverted, at.currency);
    let summary = format!(
        "{} deposits between {floor} and {threshold} minor {} (just below the threshold) within {} min, {total} in all{note}",
        found.len(),
        at.currency.code(),
        settings.window_ms / 60_000
    );
    found.extend(unconverted);
    found.sort_by_key(|e| e.seq);
    raise(tx, Rule::Structuring, &at, total, &summary, &found)
}

fn cumulative_deposits(tx: &Transaction<'_>, rules: &mut RuleMemo, now: &Event) -> Result<(), ReadModelError> {
    let Some((settings, at)) = armed_in_its_currency(tx, rules, Rule::CumulativeDeposits, now)? else {
        return Ok(());
    };
    let Some(threshold) = settings.amount(at.currency) else {
        return Ok(());
    };
    let found = deposits_converted(tx, &at, settings.window_ms)?;
    let (total, note) = converted_total(&found, at.currency);
    if total < threshold {
        return Ok(());
    }
    let summary = format!(
        "deposits of {total} minor {} within {} min reach the threshold of {threshold}{note}",
        at.currency.code(),
        settings.window_ms / 60_000
    );
    raise(tx, Rule::CumulativeDeposits, &at, total, &summary, &found)
}

fn little_play(tx: &Transaction<'_>, rules: &mut RuleMemo, now: &Event) -> Result<(), ReadModelError> {
    let Some(settings) = armed(tx, rules, Rule::LittlePlay, now)? else {
        return Ok(());
    };
    let found = deposits(tx, now, settings.window_ms)?;
    let deposited: i64 = found.iter().map(|d| d.amount_minor).sum();
    if deposited <= 0 {
        return Ok(());
    }
    let wagered = wagered(tx, now, settings.window_ms)?;
    // wagered < percent % of deposited, in integers.
    if i128::from(wagered) * 100 >= i128::from(deposited) * i128::from(settings.percent) {
        return Ok(());
    }
    let summary = format!(
        "withdrawal of {} minor {} after deposits of {deposited} with {wagered} wagered within {} min (under {} %)",
        now.amount_minor,
        now.currency.code(),
        settings.window_ms / 60_000,
        settings.percent
    );
    let mut evidence = found;
    evidence.push(withdrawal(now));
    raise(tx, Rule::LittlePlay, now, now.amount_minor, &summary, &evidence)
}

fn withdrawal(now: &Event) -> Evidence {
    Evidence::plain(
        now.seq,
        "withdrawal_request",
        now.amount_minor,
        now.time_ms,
        now.currency,
    )
}

fn bonus_abuse(tx: &Transaction<'_>, rules: &mut RuleMemo, now: &Event) -> Result<(), ReadModelError> {
    let Some(settings) = armed(tx, rules, Rule::BonusAbuse, now)? else {
        return Ok(());
    };
    let since = now.time_ms.saturating_sub(settings.window_ms);
    let found = deposits(tx, now, settings.window_ms)?;
    let Some(first_deposit) = found.first().map(|d| d.seq) else {
        return Ok(());
    };
    let grants: Vec<Evidence> = movements(tx, now, &["bonus_grant"], since)?
        .into_iter()
        .filter(|g| g.seq > first_deposit && g.amount_minor > 0)
        .collect();
    if grants.is_empty() {
        return Ok(());
    }
    let funded: i64 = found.iter().chain(&grants).map(|m| m.amount_minor).sum();
    let wagered = wagered(tx, now, settings.window_ms)?;
    if i128::from(wagered) * 100 >= i128::from(funded) * i128::from(settings.percent) {
        return Ok(());
    }
    let summary = format!(
        "deposit, bonus of {} minor {}, then a withdrawal of {} with {wagered} wagered (under {} % of {funded})",
        grants.iter().map(|g| g.amount_minor).sum::<i64>(),
        now.currency.code(),
        now.amount_minor,
        settings.percent
    );
    let mut evidence = found;
    evidence.extend(grants);
    evidence.push(withdrawal(now));
    raise(tx, Rule::BonusAbuse, now, now.amount_minor, &summary, &evidence)
}

/// Runs on every win: the threshold is compared before the alert window
/// is looked up, which most wins never need.
fn large_win(tx: &Transaction<'_>, rules: &mut RuleMemo, now: &Event) -> Result<(), ReadModelError> {
    let settings = rules.get(tx, Rule::LargeWin)?;
    if !settings.enabled {
        return Ok(());
    }
    let at = in_rule_currency(&settings, now);
    let Some(threshold) = settings.amount(at.currency) else {
        return Ok(());
    };
    let (converted, rate_scaled) = convert(tx, now.amount_minor, now.currency, at.currency, now.time_ms)?;
    let Some(amount) = converted else {
        // No rate in force: nothing to compare; the win is not silently
        // taken for under the threshold, it raises nothing it cannot measure.
        return Ok(());
    };
    if amount < threshold || armed_with(tx, settings, &at)?.is_none() {
        return Ok(());
    }
    let rate = rate_scaled.map_or_else(String::new, |r| {
        format!(" = {amount} minor {} at {r}/10^8", at.currency.code())
    });
    let summary = format!(
        "a win of {} minor {}{rate} (threshold {threshold} {})",
        now.amount_minor,
        now.currency.code(),
        at.currency.code()
    );
    let evidence = [Evidence {
        rate_scaled,
        converted_minor: converted,
        ..Evidence::plain(now.seq, "win", now.amount_minor, now.time_ms, now.currency)
    }];
    raise(tx, Rule::LargeWin, &at, amount, &summary, &evidence)
}

fn payment_methods(tx: &Transaction<'_>, rules: &mut RuleMemo, now: &Event) -> Result<(), ReadModelError> {
    let Some(settings) = armed(tx, rules, Rule::PaymentMethods, now)? else {
        return Ok(());
    };
    let since = now.time_ms.saturating_sub(settings.window_ms) as i64;
    let mut seen = std::collections::BTreeSet::new();
    let mut evidence = Vec::new();
    // The methods recorded for the player (in any state since).
    let mut statement = tx.prepare_cached(
        "SELECT method, seq, added_ms FROM payment_methods WHERE player = ?1 AND added_ms >= ?2 AND seq <= ?3
         ORDER BY seq",
    )?;
    let rows = statement.query_map(params![now.player.0 as i64, since, now.seq as i64], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    })?;
    for row in rows {
        let (method, seq, added_ms) = row?;
        if seen.insert(("method".to_owned(), method)) {
            evidence.push(Evidence::plain(
                seq as u64,
                "payment_method",
                0,
                added_ms as u64,
                now.currency,
            ));
        }
    }
    // Payments that named no method: the provider's reference stands for
    // the instrument.
    let mut statement = tx.prepare_cached(
        "SELECT p.provider, p.reference, p.amount_minor, p.kind, t.seq, t.time_ms, p.currency FROM cashier_payments p
         JOIN transactions t ON t.source = p.source AND t.ext_id = p.ext_id
         WHERE p.player = ?1 AND p.created_ms >= ?2 AND p.currency = ?3 AND p.reference IS NOT NULL
         AND p.method IS NULL ORDER BY t.seq",
    )?;
    let rows = statement.query_map(params![now.player.0 as i64, since, now.currency.code()], |row| {
        let amount_minor = row.get(2)?;
        Ok((
            (row.get::<_, String>(0)?, row.get::<_, String>(1)?),
            Evidence {
                amount_minor,
                kind: row.get(3)?,
                seq: row.get::<_, i64>(4)? as u64,
                time_ms: row.get::<_, i64>(5)? as u64,
                currency: row.get(6)?,
                rate_scaled: None,
                converted_minor: Some(amount_minor),
            },
        ))
    })?;
    for row in rows {
        let (reference, found) = row?;
        if seen.insert(reference) {
            evidence.push(found);
        }
    }
    if (seen.len() as u64) < u64::from(settings.count_min.max(1)) {
        return Ok(());
    }
    evidence.sort_by_key(|e| e.seq);
    let summary = format!(
        "{} different payment methods within {} min (recorded methods, and the providers' references of payments that named none)",
        seen.len(),
        settings.window_ms / 60_000
    );
    raise(tx, Rule::PaymentMethods, now, 0, &summary, &evidence)
}

/// A method whose holder is not the player: one alert per method, with the
/// record that added it as evidence.
fn third_party_method(
    tx: &Transaction<'_>,
    rules: &mut RuleMemo,
    now: &Event,
    method: &str,
) -> Result<(), ReadModelError> {
    let Some(_settings) = armed(tx, rules, Rule::ThirdPartyMethod, now)? else {
        return Ok(());
    };
    let kind: Option<String> = tx
        .prepare_cached("SELECT kind FROM payment_methods WHERE player = ?1 AND method = ?2")?
        .query_row(params![now.player.0 as i64, method], |row| row.get(0))
        .optional()?;
    let summary = format!(
        "payment method {method} ({}) is held in another name than the player's profile (third-party method)",
        kind.as_deref().unwrap_or("unknown kind")
    );
    let evidence = [Evidence::plain(now.seq, "payment_method", 0, now.time_ms, now.currency)];
    raise(tx, Rule::ThirdPartyMethod, now, 0, &summary, &evidence)
}

fn raise(
    tx: &Transaction<'_>,
    which: Rule,
    now: &Event,
    amount_minor: i64,
    summary: &str,
    evidence: &[Evidence],
) -> Result<(), ReadModelError> {
    tx.prepare_cached(
        "INSERT INTO risk_alerts (rule, player, currency, seq, time_ms, amount_minor, summary)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        which.name(),
        now.player.0 as i64,
        now.currency.code(),
        now.seq as i64,
        now.time_ms as i64,
        amount_minor,
        summary
    ])?;
    let alert = tx.last_insert_rowid();
    // The most recent ones when there are more than the cap.
    let skip = evidence.len().saturating_sub(EVIDENCE_MAX as usize);
    for item in &evidence[skip..] {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO risk_evidence (alert, seq, kind, amount_minor, time_ms, currency, rate_scaled,
             converted_minor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            alert,
            item.seq as i64,
            item.kind,
            item.amount_minor,
            item.time_ms as i64,
            item.currency,
            item.rate_scaled,
            item.converted_minor
        ])?;
    }
    Ok(())
}

// ------------------------------------------------------------------ reads

/// An alert with its evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertView {
    /// Its id.
    pub id: u64,
    /// The rule that raised it.
    pub rule: String,
    /// The player.
    pub player: PlayerId,
    /// The currency it was measured in.
    pub currency: String,
    /// The record that raised it.
    pub seq: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// The amount it is about, minor units.
    pub amount_minor: i64,
    /// What the rule saw.
    pub summary: String,
    /// The case it is in (`None`: in the queue).
    pub case_id: Option<u64>,
    /// The records it rests on, oldest first.
    pub evidence: Vec<Evidence>,
}

/// Which alerts.
#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    /// Only this rule's.
    pub rule: Option<String>,
    /// Only this player's.
    pub player: Option<PlayerId>,
    /// `Some(true)`: only those in the queue (in no case); `Some(false)`:
    /// only those in a case.
    pub queued: Option<bool>,
    /// Only those with a larger id (paging).
    pub after_id: u64,
    /// At most this many, oldest first.
    pub limit: u32,
}

const ALERT_COLUMNS: &str = "id, rule, player, currency, seq, time_ms, amount_minor, summary, case_id";

fn alert_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AlertView> {
    Ok(AlertView {
        id: row.get::<_, i64>(0)? as u64,
        rule: row.get(1)?,
        player: PlayerId(row.get::<_, i64>(2)? as u64),
        currency: row.get(3)?,
        seq: row.get::<_, i64>(4)? as u64,
        time_ms: row.get::<_, i64>(5)? as u64,
        amount_minor: row.get(6)?,
        summary: row.get(7)?,
        case_id: row.get::<_, Option<i64>>(8)?.map(|c| c as u64),
        evidence: Vec::new(),
    })
}

fn with_evidence(connection: &Connection, mut alert: AlertView) -> Result<AlertView, ReadModelError> {
    let mut statement = connection.prepare_cached(
        "SELECT seq, kind, amount_minor, time_ms, currency, rate_scaled, converted_minor FROM risk_evidence
         WHERE alert = ?1 ORDER BY seq",
    )?;
    let currency = alert.currency.clone();
    let rows = statement.query_map([alert.id as i64], |row| {
        let amount_minor = row.get(2)?;
        let own: Option<String> = row.get(4)?;
        // Evidence raised before conversions existed: the alert's currency.
        let converted_minor = if own.is_some() { row.get(6)? } else { Some(amount_minor) };
        Ok(Evidence {
            seq: row.get::<_, i64>(0)? as u64,
            kind: row.get(1)?,
            amount_minor,
            time_ms: row.get::<_, i64>(3)? as u64,
            currency: own.unwrap_or_else(|| currency.clone()),
            rate_scaled: row.get(5)?,
            converted_minor,
        })
    })?;
    alert.evidence = rows.collect::<Result<_, _>>()?;
    Ok(alert)
}

/// Alerts matching `filter`, oldest first, with their evidence.
pub fn alerts(connection: &Connection, filter: &AlertFilter) -> Result<Vec<AlertView>, ReadModelError> {
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM risk_alerts WHERE id > ?1 AND (?2 IS NULL OR rule = ?2)
         AND (?3 IS NULL OR player = ?3)
         AND (?4 IS NULL OR (?4 = 1 AND case_id IS NULL) OR (?4 = 0 AND case_id IS NOT NULL))
         ORDER BY id LIMIT ?5"
    );
    let found: Vec<AlertView> = connection
        .prepare_cached(&sql)?
        .query_map(
            params![
                filter.after_id as i64,
                filter.rule,
                filter.player.map(|p| p.0 as i64),
                filter.queued,
                filter.limit
            ],
            alert_row,
        )?
        .collect::<Result<_, _>>()?;
    found.into_iter().map(|a| with_evidence(connection, a)).collect()
}

/// The alert `id`, with its evidence.
pub fn alert(connection: &Connection, id: u64) -> Result<Option<AlertView>, ReadModelError> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM risk_alerts WHERE id = ?1");
    let found = connection
        .prepare_cached(&sql)?
        .query_row([id as i64], alert_row)
        .optional()?;
    found.map(|a| with_evidence(connection, a)).transpose()
}

/// What the metrics count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskCounts {
    /// Alerts raised per rule, every rule listed.
    pub by_rule: Vec<(&'static str, u64)>,
    /// Cases not resolved.
    pub open_cases: u64,
}

/// Alerts raised per rule and cases not resolved: the metrics.
pub fn counts(connection: &Connection) -> Result<RiskCounts, ReadModelError> {
    let mut by_rule = Vec::new();
    for which in Rule::ALL {
        let count: i64 = connection
            .prepare_cached("SELECT COUNT(*) FROM risk_alerts WHERE rule = ?1")?
            .query_row([which.name()], |row| row.get(0))?;
        by_rule.push((which.name(), count as u64));
    }
    let open: i64 = connection
        .prepare_cached("SELECT COUNT(*) FROM risk_cases WHERE state = 'open'")?
        .query_row([], |row| row.get(0))?;
    Ok(RiskCounts {
        by_rule,
        open_cases: open as u64,
    })
}

/// One reason in a player's fraud score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScoreReason {
    /// `shared_device`, `shared_ip`, `chargebacks`, `bonus_abuse`, `aml_alerts`.
    pub signal: &'static str,
    /// Points it adds.
    pub points: u32,
    /// What was found.
    pub detail: String,
}

/// A player's fraud score, 0 to 100, with the reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Score {
    /// The sum of the reasons' points, at most 100.
    pub score: u32,
    /// Why, largest first.
    pub reasons: Vec<ScoreReason>,
}

/// Points per finding and the most each signal adds.
const SCORE_WEIGHTS: [(&str, u32, u32); 5] = [
    ("shared_device", 25, 50),
    ("shared_ip", 10, 20),
    ("chargebacks", 20, 40),
    ("bonus_abuse", 25, 50),
    ("aml_alerts", 5, 20),
];

/// The fraud score of `player`: devices and IP addresses shared with
/// other players (PAM's login flags), chargebacks, bonus-abuse alerts and
/// other AML alerts, each a number of findings times its weight, capped.
pub fn score(connection: &Connection, player: PlayerId) -> Result<Score, ReadModelError> {
    let p = player.0 as i64;
    let shared = |kind: &str| -> Result<(i64, i64), ReadModelError> {
        Ok(connection
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(MAX(s.players), 0) FROM login_identifiers i
                 JOIN identifier_players s ON s.kind = i.kind AND s.hash = i.hash
                 WHERE i.player = ?1 AND i.kind = ?2 AND s.players > 1",
            )?
            .query_row(params![p, kind], |row| Ok((row.get(0)?, row.get(1)?)))?)
    };
    let (devices, device_players) = shared("device")?;
    let (ips, ip_players) = shared("ip")?;
    let (chargebacks, charged): (i64, i64) = connection
        .prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(charged_back_minor), 0) FROM cashier_payments
             WHERE player = ?1 AND kind = 'deposit' AND charged_back_minor > 0",
        )?
        .query_row([p], |row| Ok((row.get(0)?, row.get(1)?)))?;
    let count_alerts = |sql: &str| -> Result<i64, ReadModelError> {
        Ok(connection.prepare_cached(sql)?.query_row([p], |row| row.get(0))?)
    };
    let abuse = count_alerts("SELECT COUNT(*) FROM risk_alerts WHERE player = ?1 AND rule = 'bonus_abuse'")?;
    let aml = count_alerts("SELECT COUNT(*) FROM risk_alerts WHERE player = ?1 AND rule <> 'bonus_abuse'")?;
    let findings = [
        (
            devices,
            format!("{devices} device(s) also used by other players (up to {device_players} players)"),
        ),
        (
            ips,
            format!("{ips} IP address(es) also used by other players (up to {ip_players} players)"),
        ),
        (
            chargebacks,
            format!("{chargebacks} deposit(s) charged back, {charged} minor units in all"),
        ),
        (abuse, format!("{abuse} bonus-abuse alert(s)")),
        (aml, format!("{aml} other AML alert(s)")),
    ];
    let mut reasons: Vec<ScoreReason> = SCORE_WEIGHTS
        .iter()
        .zip(findings)
        .filter(|(_, (count, _))| *count > 0)
        .map(|((signal, each, cap), (count, detail))| ScoreReason {
            signal,
            points: (*each).saturating_mul(count.min(100) as u32).min(*cap),
            detail,
        })
        .collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.points));
    let score = reasons.iter().map(|r| r.points).sum::<u32>().min(100);
    Ok(Score { score, reasons })
}

// ------------------------------------------------------------------ cases

/// Why a case change was refused.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    /// A case needs at least one alert.
    #[error("a case needs at least one alert")]
    NoAlerts,
    /// No such alert.
    #[error("no alert {0}")]
    UnknownAlert(u64),
    /// The alert is in a case already.
    #[error("alert {alert} is in case {case} already")]
    AlertInCase {
        /// The alert.
        alert: u64,
        /// Its case.
        case: u64,
    },
    /// The alerts are about different players.
    #[error("the alerts are about different players: a case is about one")]
    PlayersDiffer,
    /// No such case.
    #[error("no case {0}")]
    UnknownCase(u64),
    /// The case is resolved: it changes no more.
    #[error("case {0} is resolved")]
    Resolved(u64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] ReadModelError),
}

impl From<rusqlite::Error> for CaseError {
    fn from(error: rusqlite::Error) -> CaseError {
        CaseError::Store(ReadModelError::Sql(error))
    }
}

/// A note on a case: an annotation, an assignment, an action, the resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteView {
    /// The operator who wrote it.
    pub operator: u64,
    /// When, ms since the epoch.
    pub time_ms: u64,
    /// `opened`, `note`, `assigned`, `action`, `resolved`.
    pub kind: String,
    /// The text.
    pub text: String,
    /// The journal record of an action (its command's sequence number).
    pub journal_seq: Option<u64>,
}

/// A case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseView {
    /// Its id.
    pub id: u64,
    /// The player.
    pub player: PlayerId,
    /// `open` or `resolved`.
    pub state: String,
    /// What it is about.
    pub summary: String,
    /// The operator working it.
    pub assignee: Option<u64>,
    /// How it was resolved (`reported`, `no_action`, `false_positive`).
    pub outcome: Option<String>,
    /// Who opened it.
    pub opened_by: u64,
    /// When.
    pub opened_ms: u64,
    /// Who resolved it.
    pub resolved_by: Option<u64>,
    /// When.
    pub resolved_ms: Option<u64>,
}

/// A case with its alerts and notes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseFile {
    /// The case.
    pub case: CaseView,
    /// Its alerts, with evidence.
    pub alerts: Vec<AlertView>,
    /// Its notes, oldest first.
    pub notes: Vec<NoteView>,
}

const CASE_COLUMNS: &str =
    "id, player, state, summary, assignee, outcome, opened_by, opened_ms, resolved_by, resolved_ms";

fn case_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CaseView> {
    Ok(CaseView {
        id: row.get::<_, i64>(0)? as u64,
        player: PlayerId(row.get::<_, i64>(1)? as u64),
        state: row.get(2)?,
        summary: row.get(3)?,
        assignee: row.get::<_, Option<i64>>(4)?.map(|v| v as u64),
        outcome: row.get(5)?,
        opened_by: row.get::<_, i64>(6)? as u64,
        opened_ms: row.get::<_, i64>(7)? as u64,
        resolved_by: row.get::<_, Option<i64>>(8)?.map(|v| v as u64),
        resolved_ms: row.get::<_, Option<i64>>(9)?.map(|v| v as u64),
    })
}

/// Opens a case on `alerts` (all in the queue, all about one player).
pub fn open_case(
    connection: &Connection,
    alerts: &[u64],
    summary: &str,
    operator: u64,
    time_ms: u64,
) -> Result<u64, CaseError> {
    let mut player = None;
    for id in alerts {
        let found = alert(connection, *id)?.ok_or(CaseError::UnknownAlert(*id))?;
        if let Some(case) = found.case_id {
            return Err(CaseError::AlertInCase { alert: *id, case });
        }
        if player.is_some_and(|p| p != found.player) {
            return Err(CaseError::PlayersDiffer);
        }
        player = Some(found.player);
    }
    let player = player.ok_or(CaseError::NoAlerts)?;
    connection.execute(
        "INSERT INTO risk_cases (player, state, summary, opened_by, opened_ms) VALUES (?1, 'open', ?2, ?3, ?4)",
        params![player.0 as i64, summary, operator as i64, time_ms as i64],
    )?;
    let case = connection.last_insert_rowid() as u64;
    for id in alerts {
        connection.execute(
            "UPDATE risk_alerts SET case_id = ?1 WHERE id = ?2",
            params![case as i64, *id as i64],
        )?;
    }
    add_note(connection, case, operator, time_ms, "opened", summary, None)?;
    Ok(case)
}

fn open_one(connection: &Connection, case: u64) -> Result<CaseView, CaseError> {
    let found = find_case(connection, case)?.ok_or(CaseError::UnknownCase(case))?;
    if found.state != "open" {
        return Err(CaseError::Resolved(case));
    }
    Ok(found)
}

fn add_note(
    connection: &Connection,
    case: u64,
    operator: u64,
    time_ms: u64,
    kind: &str,
    text: &str,
    journal_seq: Option<u64>,
) -> Result<(), CaseError> {
    connection.execute(
        "INSERT INTO risk_case_notes (case_id, operator, time_ms, kind, text, journal_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            case as i64,
            operator as i64,
            time_ms as i64,
            kind,
            text,
            journal_seq.map(|s| s as i64)
        ],
    )?;
    Ok(())
}

/// Assigns an open case to `assignee`.
pub fn assign(connection: &Connection, case: u64, assignee: u64, operator: u64, time_ms: u64) -> Result<(), CaseError> {
    open_one(connection, case)?;
    connection.execute(
        "UPDATE risk_cases SET assignee = ?2 WHERE id = ?1",
        params![case as i64, assignee as i64],
    )?;
    let text = format!("assigned to operator {assignee}");
    add_note(connection, case, operator, time_ms, "assigned", &text, None)
}

/// Adds a note (`kind` `note`, or `action` with the journal record of the
/// command it sent) to an open case.
pub fn annotate(
    connection: &Connection,
    case: u64,
    kind: &str,
    text: &str,
    journal_seq: Option<u64>,
    operator: u64,
    time_ms: u64,
) -> Result<(), CaseError> {
    open_one(connection, case)?;
    add_note(connection, case, operator, time_ms, kind, text, journal_seq)
}

/// Resolves an open case with its outcome and the finding.
pub fn resolve(
    connection: &Connection,
    case: u64,
    outcome: &str,
    text: &str,
    operator: u64,
    time_ms: u64,
) -> Result<(), CaseError> {
    open_one(connection, case)?;
    connection.execute(
        "UPDATE risk_cases SET state = 'resolved', outcome = ?2, resolved_by = ?3, resolved_ms = ?4 WHERE id = ?1",
        params![case as i64, outcome, operator as i64, time_ms as i64],
    )?;
    add_note(
        connection,
        case,
        operator,
        time_ms,
        "resolved",
        &format!("{outcome}: {text}"),
        None,
    )
}

/// The case `id`.
pub fn find_case(connection: &Connection, id: u64) -> Result<Option<CaseView>, ReadModelError> {
    let sql = format!("SELECT {CASE_COLUMNS} FROM risk_cases WHERE id = ?1");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([id as i64], case_row)
        .optional()?)
}

/// The case `id` with its alerts and notes.
pub fn case_file(connection: &Connection, id: u64) -> Result<Option<CaseFile>, ReadModelError> {
    let Some(case) = find_case(connection, id)? else {
        return Ok(None);
    };
    let sql = format!("SELECT {ALERT_COLUMNS} FROM risk_alerts WHERE case_id = ?1 ORDER BY id");
    let alerts: Vec<AlertView> = connection
        .prepare_cached(&sql)?
        .query_map([id as i64], alert_row)?
        .collect::<Result<_, _>>()?;
    let alerts = alerts
        .into_iter()
        .map(|a| with_evidence(connection, a))
        .collect::<Result<_, _>>()?;
    let mut statement = connection.prepare_cached(
        "SELECT operator, time_ms, kind, text, journal_seq FROM risk_case_notes WHERE case_id = ?1 ORDER BY id",
    )?;
    let notes = statement
        .query_map([id as i64], |row| {
            Ok(NoteView {
                operator: row.get::<_, i64>(0)? as u64,
                time_ms: row.get::<_, i64>(1)? as u64,
                kind: row.get(2)?,
                text: row.get(3)?,
                journal_seq: row.get::<_, Option<i64>>(4)?.map(|s| s as u64),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(Some(CaseFile { case, alerts, notes }))
}

/// Which cases.
#[derive(Clone, Debug, Default)]
pub struct CaseFilter {
    /// `open` or `resolved`.
    pub state: Option<String>,
    /// Only those assigned to this operator.
    pub assignee: Option<u64>,
    /// Only this player's.
    pub player: Option<PlayerId>,
    /// Only those with a larger id.
    pub after_id: u64,
    /// At most this many, oldest first.
    pub limit: u32,
}

/// Cases matching `filter`, oldest first.
pub fn cases(connection: &Connection, filter: &CaseFilter) -> Result<Vec<CaseView>, ReadModelError> {
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM risk_cases WHERE id > ?1 AND (?2 IS NULL OR state = ?2)
         AND (?3 IS NULL OR assignee = ?3) AND (?4 IS NULL OR player = ?4) ORDER BY id LIMIT ?5"
    );
    let found = connection
        .prepare_cached(&sql)?
        .query_map(
            params![
                filter.after_id as i64,
                filter.state,
                filter.assignee.map(|a| a as i64),
                filter.player.map(|p| p.0 as i64),
                filter.limit
            ],
            case_row,
        )?
        .collect::<Result<_, _>>()?;
    Ok(found)
}

/// The oldest open case of `player`, if any: while there is one, the
/// player's withdrawals are held (the cashier refuses to approve them).
pub fn open_case_of(connection: &Connection, player: PlayerId) -> Result<Option<u64>, ReadModelError> {
    let found: Option<i64> = connection
        .prepare_cached("SELECT id FROM risk_cases WHERE player = ?1 AND state = 'open' ORDER BY id LIMIT 1")?
        .query_row([player.0 as i64], |row| row.get(0))
        .optional()?;
    Ok(found.map(|id| id as u64))
}

/// Applies an operator's accepted risk record: a case opened or changed,
/// a rule's settings. One that no longer applies (a retry journaled by an
/// older build, an alert in a case already, a case resolved, a rule this
/// build does not know) changes nothing.
fn apply_work(tx: &Transaction<'_>, committed: &Committed, command: &risk_work::Command) -> Result<(), ReadModelError> {
    use risk_work::{CaseCommand, CaseUpdate};
    let envelope = &committed.envelope;
    let time_ms = envelope.time_ms;
    let applied = match command {
        risk_work::Command::Case(CaseCommand::Open {
            player,
            alerts,
            summary,
            operator,
        }) => {
            let opened = matches!(committed.outcome, engine::Outcome::CaseOpened { case } if case == envelope.seq);
            if !opened {
                return Ok(());
            }
            open_journaled(
                tx,
                envelope.seq,
                *player,
                alerts,
                summary.as_str(),
                u64::from(operator.0),
                time_ms,
            )
        }
        risk_work::Command::Case(CaseCommand::Update {
            case,
            update,
            text,
            operator,
        }) => {
            let operator = u64::from(operator.0);
            match update {
                CaseUpdate::Assign { assignee } => assign(tx, *case, u64::from(assignee.0), operator, time_ms),
                CaseUpdate::Note => annotate(tx, *case, "note", text.as_str(), None, operator, time_ms),
                CaseUpdate::Action { seq } => {
                    annotate(tx, *case, "action", text.as_str(), Some(*seq), operator, time_ms)
                }
                CaseUpdate::Resolve { outcome } => resolve(tx, *case, outcome.name(), text.as_str(), operator, time_ms),
            }
        }
        risk_work::Command::SetRule { settings, operator } => {
            let Some(rule) = Rule::from_name(settings.rule.as_str()) else {
                return Ok(());
            };
            let stored = RuleSettings {
                rule,
                enabled: settings.enabled,
                window_ms: settings.window_ms,
                count_min: settings.count_min,
                percent: settings.percent,
                amounts: settings.amounts.iter().map(|(c, a)| (*c, a.minor())).collect(),
                set_by: Some(u64::from(operator.0)),
                set_ms: Some(time_ms),
            };
            return set_rule(tx, &stored);
        }
    };
    match applied {
        Ok(()) | Err(CaseError::NoAlerts) => Ok(()),
        Err(CaseError::Store(error)) => Err(error),
        Err(refused) => {
            tracing::debug!(seq = envelope.seq, %refused, "risk record no longer applies: nothing changed");
            Ok(())
        }
    }
}

/// Opens the journaled case `id` (its opening record's sequence number) on
/// `alerts`, all about `player` and in no case yet.
fn open_journaled(
    connection: &Connection,
    id: u64,
    player: PlayerId,
    alerts: &[u64],
    summary: &str,
    operator: u64,
    time_ms: u64,
) -> Result<(), CaseError> {
    if check_open(connection, alerts)? != player {
        return Err(CaseError::PlayersDiffer);
    }
    if find_case(connection, id)?.is_some() {
        // A case kept from before cases were journaled holds the id.
        return Err(CaseError::AlertInCase {
            alert: alerts[0],
            case: id,
        });
    }
    connection.execute(
        "INSERT INTO risk_cases (id, player, state, summary, opened_by, opened_ms, opened_seq)
         VALUES (?1, ?2, 'open', ?3, ?4, ?5, ?1)",
        params![id as i64, player.0 as i64, summary, operator as i64, time_ms as i64],
    )?;
    for alert in alerts {
        connection.execute(
            "UPDATE risk_alerts SET case_id = ?1 WHERE id = ?2",
            params![id as i64, *alert as i64],
        )?;
    }
    add_note(connection, id, operator, time_ms, "opened", summary, None)
}

/// Checks that `alerts` can open a case (each known, in no case, all
/// about one player) and names their player.
pub fn check_open(connection: &Connection, alerts: &[u64]) -> Result<PlayerId, CaseError> {
    let mut player = None;
    for id in alerts {
        let found = alert(connection, *id)?.ok_or(CaseError::UnknownAlert(*id))?;
        if let Some(case) = found.case_id {
            return Err(CaseError::AlertInCase { alert: *id, case });
        }
        if player.is_some_and(|p| p != found.player) {
            return Err(CaseError::PlayersDiffer);
        }
        player = Some(found.player);
    }
    player.ok_or(CaseError::NoAlerts)
}

/// Checks that case `id` exists and is open.
pub fn check_case_open(connection: &Connection, id: u64) -> Result<CaseView, CaseError> {
    open_one(connection, id)
}
