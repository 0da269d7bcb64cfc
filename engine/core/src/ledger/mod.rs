//! The ledger: all wallet state and the pure function that changes it.
//!
//! [`Ledger::apply`] is deterministic: its result depends only on the
//! ledger's state and the envelope (which carries the time). It does no
//! I/O, reads no clock, spawns nothing and iterates no hash map, so
//! replaying the same envelopes into a fresh ledger gives the same outcomes
//! and the same [`Ledger::digest`].
//!
//! Each command's handler validates everything first and mutates only once
//! nothing can fail any more, so a rejected command changes nothing.
//!
//! The ledger is a struct of domain states, one folder per domain, each
//! with its commands (`command.rs`), its state, its apply functions, its
//! part of the snapshot image and its unit tests: `players/` (PAM:
//! registration, status, KYC, jurisdiction rules), `payments/` (deposits,
//! withdrawals, adjustments; the open payments), `gaming/` (bets, wins,
//! rollbacks; the open rounds), `rg/` (responsible gambling: exclusions,
//! time-outs, limits and their rolling windows), `bonus/` and `access/`
//! (operators, aggregators, game sessions), `games/` (the catalogue of
//! providers and games, checked on every bet once it holds a game),
//! `jackpots/` (progressive pools fed by covered bets, their wins, and
//! their part of conservation). [`Ledger::apply`] hands each
//! [`Command`] to its domain's `apply`. A new domain (games, jackpots,
//! compliance) gets its own folder here, a variant of [`Command`] and its
//! tags in `codec/wire.rs`.
//!
//! What several domains share stays beside them: `account.rs` (the
//! per-player record with its wallets, which also holds the RG and bonus
//! state of each wallet, see there why), `store.rs` (the request memory and
//! the fingerprints that key every table), the money [`Flows`], the
//! history (position in the total order and digest), and `image.rs` (the
//! snapshot image, assembled from the domains' parts).

/// Unwraps a `Result<_, Rejection>` inside a handler, returning the
/// rejection as the handler's outcome.
macro_rules! check {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(rejection) => return $crate::ledger::rejected(rejection),
        }
    };
}

pub mod access;
mod account;
pub mod analytics;
pub mod bonus;
pub mod games;
pub mod gaming;
mod image;
pub mod jackpots;
pub mod marketing;
pub mod payments;
pub mod players;
pub mod rg;
pub mod risk;
mod store;
pub mod support;

pub use self::access::{Access, Aggregator, Operator, Principal, Session};
use self::account::Player;
use self::games::Catalogue;
use self::gaming::GamingState;
pub use self::image::ImageError;
pub use self::image::{
    IMAGE_FORMAT_BONUS_QUEUES, IMAGE_FORMAT_GAMES, IMAGE_FORMAT_JACKPOTS, IMAGE_FORMAT_JURISDICTION_PROFILES,
    IMAGE_FORMAT_KYC, IMAGE_FORMAT_NO_PROFILES, IMAGE_FORMAT_PLAY_SESSION_RULES, IMAGE_FORMAT_PROFILES,
    IMAGE_FORMAT_RG, IMAGE_FORMAT_WITHDRAWAL_HOLDS, LedgerImage,
};
use self::jackpots::Jackpots;
use self::payments::PaymentsState;
use self::players::PlayersState;
use self::store::{Detail, Fingerprinter, Key, Retention, TxRecord, TxStore};
use crate::codec::{Encode, StableHasher, codec_struct, hash_bytes};
use crate::command::{AccountStatus, Command, Envelope, KycLevel, Query, Request, TxRef};
use crate::ids::{Jurisdiction, KeyId, PlayerId, SourceId};
use crate::money::{Amount, Currency};
use crate::outcome::{Balances, Outcome, Receipt, Rejection, TxSummary};

const DAY_MS: u64 = 86_400_000;

/// Limits and knobs of a ledger, fixed at start-up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Most players this ledger (shard) holds.
    pub players_max: u32,
    /// Most past requests remembered for idempotency (default 10,000,000).
    pub idempotency_len_max: usize,
    /// Requests older than this are forgotten (default 30 days). A retry or
    /// rollback arriving later is treated as new / unknown.
    pub idempotency_age_max_ms: u64,
    /// Rounds tracked (default 4,000,000). The count covers the last
    /// 4,000,000 round openings, closed rounds included, so an open round is
    /// forgotten once that many newer rounds were opened (its late wins are
    /// then refused as `UnknownRound`); at most this many are open at once.
    pub rounds_open_max: usize,
    /// Open rounds older than this are forgotten (default 7 days).
    pub round_age_max_ms: u64,
    /// Most deposits and withdrawals open at once (default 1,000,000).
    pub payments_open_max: usize,
    /// Delay before a limit increase or removal applies (default 24 h).
    pub limit_cooling_off_ms: u64,
    /// Most per-game contribution entries in one bonus (default 256).
    pub bonus_contributions_max: usize,
    /// Most operator accounts (default 10,000).
    pub operators_max: usize,
    /// Most aggregators (default 1,000).
    pub aggregators_max: usize,
    /// Most game sessions remembered at once (default 1,000,000).
    pub sessions_max: usize,
    /// How long a game session is remembered after it expired, so that late
    /// wins and rollbacks still land (default 30 days, as idempotency).
    pub session_retention_ms: u64,
    /// Secret key of the request fingerprints. Part of the state: it must
    /// stay the same for the life of the data (snapshots carry it).
    pub fingerprint_seed: [u64; 2],
}

impl Config {
    /// How long requests are remembered.
    pub(crate) fn request_retention(&self) -> Retention {
        Retention {
            len_max: self.idempotency_len_max,
            age_max_ms: self.idempotency_age_max_ms,
        }
    }

    /// How long rounds are tracked.
    pub(crate) fn round_retention(&self) -> Retention {
        Retention {
            len_max: self.rounds_open_max,
            age_max_ms: self.round_age_max_ms,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            players_max: 10_000_000,
            idempotency_len_max: 10_000_000,
            idempotency_age_max_ms: 30 * DAY_MS,
            rounds_open_max: 4_000_000,
            round_age_max_ms: 7 * DAY_MS,
            payments_open_max: 1_000_000,
            limit_cooling_off_ms: DAY_MS,
            bonus_contributions_max: 256,
            operators_max: 10_000,
            aggregators_max: 1_000,
            sessions_max: 1_000_000,
            session_retention_ms: 30 * DAY_MS,
            fingerprint_seed: [0x6372_6f75_7069_6572, 0x6c65_6467_6572_2d31],
        }
    }
}

/// Money that entered and left the ledger in one currency, for the
/// conservation check (DESIGN.md invariant 4). Sums are 128-bit: lifetime
/// turnover may exceed 64 bits even where no balance can.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flows {
    /// Confirmed deposits.
    pub deposits: i128,
    /// Completed withdrawals.
    pub withdrawals: i128,
    /// Stakes taken.
    pub bets: i128,
    /// Wins paid.
    pub wins: i128,
    /// Stakes refunded by rollbacks.
    pub rollbacks: i128,
    /// Bonus money granted.
    pub bonus_granted: i128,
    /// Bonus money forfeited (forfeit, expiry, conversion above the cap).
    pub bonus_forfeited: i128,
    /// Operator adjustments (signed).
    pub adjustments: i128,
}

codec_struct!(Flows {
    deposits,
    withdrawals,
    bets,
    wins,
    rollbacks,
    bonus_granted,
    bonus_forfeited,
    adjustments
});

impl Flows {
    /// What the sum of all balances (cash + bonus + reserved) must be.
    pub fn expected_balance(&self) -> i128 {
        self.deposits - self.withdrawals - self.bets + self.wins + self.rollbacks + self.bonus_granted
            - self.bonus_forfeited
            + self.adjustments
    }
}

/// A player's account data, as the ledger holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerInfo {
    /// The player.
    pub id: PlayerId,
    /// Operator-decided status.
    pub status: AccountStatus,
    /// KYC level.
    pub kyc: KycLevel,
    /// Licensing jurisdiction.
    pub jurisdiction: Jurisdiction,
    /// Base currency.
    pub currency: Currency,
    /// Self-excluded until (0: never was), ms since the epoch.
    pub self_excluded_until_ms: u64,
    /// Timed out until (0: never was), ms since the epoch.
    pub timed_out_until_ms: u64,
    /// Balances of every wallet.
    pub wallets: Vec<Balances>,
}

/// A violated conservation law, found by [`Ledger::check_conservation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{currency}: balances sum to {actual} minor units but flows say {expected}")]
pub struct ConservationError {
    /// The currency out of balance.
    pub currency: Currency,
    /// Sum of all balances.
    pub actual: i128,
    /// What the flows require.
    pub expected: i128,
}

/// What a handler needs to know about the envelope.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx {
    pub(crate) seq: u64,
    pub(crate) time_ms: u64,
    pub(crate) source: SourceId,
    /// Fingerprint of the request's own (source, id).
    pub(crate) key: Key,
}

/// What a handler produced: the outcome and what to remember with it.
pub(crate) type Applied = (Outcome, Detail);

pub(crate) fn rejected(rejection: Rejection) -> Applied {
    (Outcome::Rejected(rejection), Detail::Plain)
}

/// What [`Ledger::admit`] makes of a request.
#[derive(Debug)]
pub enum Admission {
    /// It changes nothing: a query, or a request id seen before.
    Answered(Outcome),
    /// It must be applied (with [`Ledger::apply_fresh`]).
    Fresh(Fresh),
}

/// A request found new by [`Ledger::admit`], with its idempotency key (and
/// its payload fingerprint, if it came printed), so applying it does not
/// compute them again.
#[derive(Debug)]
pub struct Fresh {
    key: Key,
    payload: Option<u64>,
}

/// A request's fingerprints: its idempotency key (keyed SipHash of source
/// and id) and its payload fingerprint (XXH3 of the command's canonical
/// encoding). Computing them is a third of what applying a bet costs, and
/// they depend on nothing but the request and the ledger's secret seed, so
/// a producer computes them on its own thread ([`Printer`]) and the single
/// writer only checks the table ([`Ledger::admit_printed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prints {
    key: Key,
    payload: u64,
}

/// Computes [`Prints`] off the single writer: the ledger's fingerprint
/// functions under its secret seed ([`Ledger::printer`]). Only prints made
/// by the printer of the same ledger may be given to it; replay computes
/// them itself, so the journal and the digest never depend on them.
#[derive(Clone)]
pub struct Printer(Fingerprinter);

impl std::fmt::Debug for Printer {
    // The seed is a secret: it never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Printer(..)")
    }
}

impl Printer {
    /// The fingerprints of `request`.
    pub fn prints(&self, request: &Request) -> Prints {
        Prints {
            key: self.0.request(request.source, &request.id),
            payload: self.0.payload(&request.command),
        }
    }
}

/// The ledger's position in the total order and the running digest of the
/// commands and outcomes that brought it there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct History {
    /// Sequence number of the last envelope applied.
    last_seq: u64,
    /// Latest time stamped into an envelope (time never goes back).
    last_time_ms: u64,
    /// Hash of (digest before, seq, payload fingerprint, outcome) per
    /// applied command.
    digest: u64,
}

/// The wallet ledger of one shard: the domains' states, and what they share.
pub struct Ledger {
    config: Config,
    /// Accounts, their wallets (with each wallet's limits and bonus), and
    /// jurisdiction rules.
    players: PlayersState,
    /// Deposits and withdrawals not yet final.
    payments: PaymentsState,
    /// Open rounds.
    gaming: GamingState,
    /// Operators, aggregators, game sessions.
    access: Access,
    /// Providers and games; bets are checked against it once it holds one.
    games: Catalogue,
    /// Jackpot pools; bets are looked up in them once there is one.
    jackpots: Jackpots,
    /// Remembered requests: idempotency, transaction lookups, payment
    /// life-cycles, bets to roll back.
    requests: TxStore,
    /// The keys of `requests` and of the rounds.
    fingerprints: Fingerprinter,
    /// Money in and out per currency, for conservation.
    flows: [Flows; Currency::ALL.len()],
    /// Where the ledger stands in the total order, and the digest of how
    /// it got there.
    history: History,
    /// Where a command and then its outcome are encoded to be hashed (not
    /// state: kept only to reuse its allocation).
    encoded: Vec<u8>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new(config: Config) -> Ledger {
        Ledger {
            fingerprints: Fingerprinter::new(config.fingerprint_seed),
            players: PlayersState::default(),
            payments: PaymentsState::default(),
            gaming: GamingState::new(config.round_retention()),
            access: Access::default(),
            games: Catalogue::default(),
            jackpots: Jackpots::default(),
            requests: TxStore::new(config.request_retention()),
            config,
            flows: [Flows::default(); Currency::ALL.len()],
            history: History::default(),
            encoded: Vec::new(),
        }
    }

    /// Applies one envelope and returns its outcome.
    ///
    /// A request whose (source, id) was seen before returns the stored
    /// outcome if the command is identical, and [`Rejection::Conflict`]
    /// otherwise; neither changes state.
    ///
    /// # Panics
    /// If `envelope.seq` does not increase: the sequencer guarantees it, so a
    /// violation is a bug upstream, and applying out of order would corrupt
    /// the history.
    pub fn apply(&mut self, envelope: &Envelope) -> Outcome {
        match self.admit(&envelope.request) {
            Admission::Fresh(fresh) => self.apply_fresh(envelope, fresh),
            // Journals written before reads and retries left the journal
            // still hold them: they keep their sequence numbers on replay.
            Admission::Answered(outcome) => {
                self.stamp(envelope);
                outcome
            }
        }
    }

    /// [`Ledger::apply`] with the request's fingerprints computed ahead by
    /// this ledger's [`Printer`]: replay's path, whose reader thread prints
    /// the next records while this one applies.
    ///
    /// # Panics
    /// As [`Ledger::apply`].
    pub fn apply_printed(&mut self, envelope: &Envelope, prints: Prints) -> Outcome {
        match self.admit_printed(&envelope.request, prints) {
            Admission::Fresh(fresh) => self.apply_fresh(envelope, fresh),
            Admission::Answered(outcome) => {
                self.stamp(envelope);
                outcome
            }
        }
    }

    /// Applies an envelope whose request [`Ledger::admit`] found `fresh`
    /// (and nothing was applied since): the sequencer's path, which looks
    /// the request up once.
    ///
    /// # Panics
    /// As [`Ledger::apply`].
    pub fn apply_fresh(&mut self, envelope: &Envelope, fresh: Fresh) -> Outcome {
        let request = &envelope.request;
        let key = fresh.key;
        debug_assert!(key == self.fingerprints.request(request.source, &request.id));
        debug_assert!(self.requests.get(key).is_none(), "admitted as fresh, then applied");
        self.stamp(envelope);
        let ctx = Ctx {
            seq: envelope.seq,
            time_ms: self.history.last_time_ms,
            source: request.source,
            key,
        };
        let mut encoded = std::mem::take(&mut self.encoded);
        let payload = match fresh.payload {
            Some(payload) => payload,
            None => {
                encoded.clear();
                request.command.encode(&mut encoded);
                self.fingerprints.payload_of_encoded(&encoded)
            }
        };
        let (outcome, detail) = self.execute(ctx, &request.command);
        self.fold_history(&mut encoded, envelope.seq, payload, &outcome);
        self.encoded = encoded;
        let record = TxRecord {
            key,
            payload,
            seq: ctx.seq,
            time_ms: ctx.time_ms,
            outcome: outcome.clone(),
            detail,
        };
        self.requests.insert(record);
        outcome
    }

    fn stamp(&mut self, envelope: &Envelope) {
        assert!(
            envelope.seq > self.history.last_seq,
            "sequence went from {} to {}",
            self.history.last_seq,
            envelope.seq
        );
        self.history.last_seq = envelope.seq;
        self.history.last_time_ms = self.history.last_time_ms.max(envelope.time_ms);
    }

    /// Answers `request` without changing anything, if it changes nothing:
    /// a query, or a request whose (source, id) was seen before (its stored
    /// outcome if the command is identical, [`Rejection::Conflict`]
    /// otherwise, [`Rejection::BetRolledBack`] for a bet a rollback came
    /// before). `None` means the request must be applied.
    pub fn answer(&self, request: &Request) -> Option<Outcome> {
        match self.admit(request) {
            Admission::Answered(outcome) => Some(outcome),
            Admission::Fresh(_) => None,
        }
    }

    /// Looks `request` up once: answered without a change (a query or a
    /// seen id), or fresh and to be applied with [`Ledger::apply_fresh`].
    /// The sequencer answers the first kind without a sequence number or a
    /// journal record: reads and retries cost no disk and no flush.
    pub fn admit(&self, request: &Request) -> Admission {
        if let Command::Query(query) = &request.command {
            return Admission::Answered(self.query(query));
        }
        let key = self.fingerprints.request(request.source, &request.id);
        self.admit_keyed(request, key, None)
    }

    /// [`Ledger::admit`] with the request's fingerprints computed ahead by
    /// [`Ledger::printer`]'s printer (on a producer's thread): the single
    /// writer then hashes nothing.
    pub fn admit_printed(&self, request: &Request, prints: Prints) -> Admission {
        debug_assert!(prints == self.printer().prints(request), "prints of another ledger");
        if let Command::Query(query) = &request.command {
            return Admission::Answered(self.query(query));
        }
        self.admit_keyed(request, prints.key, Some(prints.payload))
    }

    /// The printer of this ledger's fingerprints, for producers.
    pub fn printer(&self) -> Printer {
        Printer(self.fingerprints.clone())
    }

    // Always inlined: `admit` and `admit_printed` each keep one call.
    #[inline(always)]
    fn admit_keyed(&self, request: &Request, key: Key, payload: Option<u64>) -> Admission {
        let Some(seen) = self.requests.get(key) else {
            return Admission::Fresh(Fresh { key, payload });
        };
        let payload = payload.unwrap_or_else(|| self.fingerprints.payload(&request.command));
        Admission::Answered(match (&seen.detail, request.command.unwrapped()) {
            (Detail::Tombstone, Command::Gaming(gaming::Command::Bet(_))) => {
                Outcome::Rejected(Rejection::BetRolledBack)
            }
            _ if seen.payload == payload && !matches!(seen.detail, Detail::Tombstone) => seen.outcome.clone(),
            _ => Outcome::Rejected(Rejection::Conflict),
        })
    }

    /// Hands a command to its domain. Kept out of line: inlined into
    /// `apply_fresh`, every domain's handlers would swell its frame and
    /// slow the bet and win path (measured with `apply_count`).
    #[inline(never)]
    fn execute(&mut self, ctx: Ctx, command: &Command) -> Applied {
        // Bets and wins first: one comparison before their own dispatch.
        if let Command::Gaming(command) = command {
            return self.apply_gaming(ctx, command);
        }
        match command {
            Command::Players(command) => self.players.apply(&ctx, command, &self.config),
            Command::Payments(command) => self.apply_payments(ctx, command),
            Command::Gaming(_) => unreachable!("dispatched above"),
            Command::Rg(command) => self.apply_rg(ctx, command),
            Command::Bonus(command) => self.apply_bonus(ctx, command),
            Command::Access(command) => self.apply_access(ctx, command),
            Command::Games(command) => self.apply_games(command),
            Command::Jackpots(command) => self.apply_jackpots(ctx, command),
            Command::Risk(command) => self.apply_risk(ctx, command),
            Command::Support(command) => self.apply_support(ctx, command),
            Command::Analytics(command) => self.apply_analytics(ctx, command),
            Command::Marketing(command) => self.apply_marketing(command),
            Command::InSession { token, command } => self.in_session(ctx, token, command),
            Command::Query(_) => unreachable!("queries are answered before execution"),
        }
    }

    fn query(&self, query: &Query) -> Outcome {
        match query {
            Query::Balance { player, currency } => match self.balances(*player, *currency) {
                Ok(balances) => Outcome::Balance(balances),
                Err(rejection) => Outcome::Rejected(rejection),
            },
            Query::Transaction { tx } => match self.transaction(tx) {
                Some(summary) => Outcome::Transaction(Box::new(summary)),
                None => Outcome::Rejected(Rejection::UnknownTransaction),
            },
            Query::Rg { player, at_ms } => match self.rg_status(*player, *at_ms) {
                Ok(status) => Outcome::Rg(Box::new(status)),
                Err(rejection) => Outcome::Rejected(rejection),
            },
            Query::Bonuses { player, currency } => match self.bonuses(*player, *currency) {
                Ok(list) => Outcome::Bonuses(Box::new(list)),
                Err(rejection) => Outcome::Rejected(rejection),
            },
        }
    }

    /// Folds an applied command into the history digest: the stable hash
    /// of (digest so far, seq, payload fingerprint, outcome), encoded into
    /// `encoded` (a reused buffer).
    fn fold_history(&mut self, encoded: &mut Vec<u8>, seq: u64, payload: u64, outcome: &Outcome) {
        encoded.clear();
        self.history.digest.encode(encoded);
        seq.encode(encoded);
        payload.encode(encoded);
        outcome.encode(encoded);
        self.history.digest = hash_bytes(DIGEST_KEY, encoded);
    }

    /// A cheap digest of the ledger: the running hash of every applied
    /// command and outcome, the money flows and the counts. Two ledgers fed
    /// the same envelopes have the same digest; retries and queries, which
    /// change nothing, leave it as it is.
    pub fn digest(&self) -> u64 {
        StableHasher::new(DIGEST_KEY)
            .add(&self.history.digest)
            .add(&self.flows)
            .add(&(self.players.len() as u64))
            .add(&(self.payments.open_len() as u64))
            .finish()
    }

    /// The player's withdrawal holds, in the order placed (empty: their
    /// withdrawals may be approved).
    pub fn withdrawal_holds(&self, player: PlayerId) -> &[crate::ids::ExtId] {
        self.payments.holds_of(player)
    }

    /// A wallet's balances.
    pub fn balances(&self, player: PlayerId, currency: Currency) -> Result<Balances, Rejection> {
        let player = self.player(player)?;
        player
            .wallet(currency)
            .map(|w| w.balances())
            .ok_or(Rejection::CurrencyMismatch { currency })
    }

    /// A player's account data.
    pub fn player_info(&self, id: PlayerId) -> Result<PlayerInfo, Rejection> {
        let player = self.player(id)?;
        Ok(PlayerInfo {
            id,
            status: player.status,
            kyc: player.kyc,
            jurisdiction: player.jurisdiction,
            currency: player.currency,
            self_excluded_until_ms: player.self_excluded_until_ms,
            timed_out_until_ms: player.timed_out_until_ms,
            wallets: player.wallets.iter().map(|w| w.balances()).collect(),
        })
    }

    /// A player's profile record (sealed profile, status reason, erasure),
    /// if the player has one; `UnknownPlayer` if there is no such player.
    pub fn profile(&self, id: PlayerId) -> Result<Option<&players::ProfileRecord>, Rejection> {
        self.player(id)?;
        Ok(self.players.profiles.get(id))
    }

    /// A player's KYC record (reason, check, documents), if the player has
    /// one; `UnknownPlayer` if there is no such player. The level is in
    /// [`Ledger::player_info`].
    pub fn kyc(&self, id: PlayerId) -> Result<Option<&players::KycRecord>, Rejection> {
        self.player(id)?;
        Ok(self.players.kyc.get(id))
    }

    /// The data keys live profiles are sealed under: every other key in
    /// the gateway's key store belongs to an erased player or to a
    /// registration that never landed, and may be destroyed.
    pub fn profile_keys(&self) -> Vec<KeyId> {
        self.players.profiles.live_keys().collect()
    }

    /// What became of an earlier request, if it is still remembered.
    pub fn transaction(&self, tx: &TxRef) -> Option<TxSummary> {
        let record = self.requests.get(self.fingerprints.request(tx.source, &tx.id))?;
        Some(TxSummary {
            seq: record.seq,
            time_ms: record.time_ms,
            state: record.state(),
            outcome: record.outcome.clone(),
        })
    }

    /// Money flows of one currency since the beginning.
    pub fn flows(&self, currency: Currency) -> Flows {
        self.flows[currency.index()]
    }

    /// Sum of every wallet's cash + bonus + reserved in `currency` (scans all players).
    pub fn balance_total(&self, currency: Currency) -> i128 {
        self.players
            .iter()
            .filter_map(|p| p.wallet(currency))
            .map(|w| i128::from(w.cash.minor()) + i128::from(w.bonus.minor()) + i128::from(w.reserved.minor()))
            .sum()
    }

    /// Checks conservation (DESIGN.md invariant 4, with the jackpot pools)
    /// and that no balance is negative, for every currency: the wallets
    /// hold what the flows say plus what pools paid them, and the pools
    /// what was contributed and seeded minus what they paid. Scans all
    /// players: for tests and audits.
    pub fn check_conservation(&self) -> Result<(), ConservationError> {
        for &currency in Currency::ALL {
            let jackpots = self.jackpots.flows(currency);
            let sums = [
                (
                    self.balance_total(currency),
                    self.flows(currency).expected_balance() + jackpots.paid,
                ),
                (self.jackpots.balance_total(currency), jackpots.expected_pools()),
            ];
            for (actual, expected) in sums {
                if actual != expected {
                    return Err(ConservationError {
                        currency,
                        actual,
                        expected,
                    });
                }
            }
        }
        if let Some(pool) = self.jackpots.pools().iter().find(|p| p.balance.is_negative()) {
            return Err(ConservationError {
                currency: pool.pool.currency,
                actual: i128::from(pool.balance.minor()),
                expected: 0,
            });
        }
        let negative = self
            .players
            .iter()
            .flat_map(|p| &p.wallets)
            .find(|w| w.cash.is_negative() || w.bonus.is_negative() || w.reserved.is_negative());
        if let Some(wallet) = negative {
            let currency = wallet.currency;
            let actual = i128::from(wallet.cash.min(wallet.bonus).min(wallet.reserved).minor());
            return Err(ConservationError {
                currency,
                actual,
                expected: 0,
            });
        }
        Ok(())
    }

    /// Sequence number of the last applied envelope.
    pub fn last_seq(&self) -> u64 {
        self.history.last_seq
    }

    /// Registered players.
    pub fn players_len(&self) -> usize {
        self.players.len()
    }

    /// Requests currently remembered for idempotency.
    pub fn remembered_len(&self) -> usize {
        self.requests.len()
    }

    /// Rounds currently open.
    pub fn open_rounds_len(&self) -> usize {
        self.gaming.rounds.len()
    }

    /// The configuration the ledger runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn player(&self, id: PlayerId) -> Result<&Player, Rejection> {
        self.players.get(id)
    }

    fn player_mut(&mut self, id: PlayerId) -> Result<&mut Player, Rejection> {
        self.players.get_mut(id)
    }

    /// The profile of `jurisdiction` in force at `time_ms` (its own, else
    /// the default profile's, else [`players::JurisdictionProfile::UNRESTRICTED`]).
    pub fn profile_in_force(&self, jurisdiction: Jurisdiction, time_ms: u64) -> &players::JurisdictionProfile {
        self.players.jurisdictions.in_force(jurisdiction, time_ms)
    }

    /// Every jurisdiction's profile versions, and the default profile's.
    pub fn jurisdiction_profiles(&self) -> &players::JurisdictionProfiles {
        &self.players.jurisdictions
    }

    /// A player's age band and due-diligence state.
    pub fn compliance(&self, id: PlayerId) -> Result<(players::AgeBand, Option<&players::DueDiligence>), Rejection> {
        let player = self.player(id)?;
        Ok((player.age_band, player.due_diligence.as_deref()))
    }

    fn flows_mut(&mut self, currency: Currency) -> &mut Flows {
        &mut self.flows[currency.index()]
    }

    /// A receipt for a movement on `player`'s `currency` wallet, with the
    /// deltas taken from the balances before and after.
    fn receipt(&self, ctx: Ctx, player: PlayerId, before: Balances) -> Outcome {
        Outcome::Moved(self.moved(ctx, player, before))
    }

    /// The [`Receipt`] of [`Ledger::receipt`].
    fn moved(&self, ctx: Ctx, player: PlayerId, before: Balances) -> Receipt {
        let after = self
            .balances(player, before.currency)
            .expect("wallet of a movement exists");
        debug_assert!(!after.cash.is_negative() && !after.bonus.is_negative() && !after.reserved.is_negative());
        Receipt {
            seq: ctx.seq,
            cash_delta: Amount::from_minor(after.cash.minor() - before.cash.minor()),
            bonus_delta: Amount::from_minor(after.bonus.minor() - before.bonus.minor()),
            balances: after,
        }
    }
}

/// Seed of the history digest's XXH3-64 ("digest-1"): a constant, so that
/// the digest of the same history is the same anywhere.
const DIGEST_KEY: u64 = 0x6469_6765_7374_2d31;
