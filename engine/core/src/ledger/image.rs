//! The ledger taken apart into plain data for a snapshot, and put back.
//!
//! A [`LedgerImage`] holds every piece of state the ledger's behaviour
//! depends on, moved out of the ledger (no copy of the big stores), as
//! plain data with a canonical encoding (`crate::codec`, at the end of this
//! file): hash tables become sorted vectors (so equal ledgers give equal
//! bytes) and are rebuilt on the way back, with their invariants checked.
//! Each domain encodes its own part in its folder (players, access, the
//! rounds in `gaming/rounds.rs`, payments, and the RG and bonus state inside
//! each wallet in `account.rs`); this file puts the parts in their frozen
//! order. The file format around it lives in the runtime crate,
//! `engine::snapshot`.

use std::collections::VecDeque;

use super::access::Access;
use super::account::BonusExtras;
use super::games::Catalogue;
use super::gaming::{GamingState, RoundParts, RoundStore};
use super::jackpots::Jackpots;
use super::payments::{PaymentsState, WithdrawalHolds};
use super::players::{Compliance, JurisdictionProfiles, Kyc, PlayersState, Profiles, ProfilesParts};
use super::rg::session::PlayerRg;
use super::store::{BetDetail, Detail, Key, PaymentDetail};
use super::store::{Fingerprinter, TxRecord, TxStore};
use super::{Config, Flows, History, Ledger};
use crate::codec::{Decode, DecodeError, Encode, Reader, Sink, codec_enum, codec_struct};
use crate::money::Currency;

/// Everything a ledger is, as plain data.
///
/// Public so that the runtime crate's snapshot file (`engine::snapshot`) can
/// archive it; its contents stay private to the ledger.
pub struct LedgerImage {
    pub(crate) config: Config,
    /// Accounts with their wallets, and jurisdiction rules.
    players: PlayersState,
    /// Operators, aggregators and game sessions.
    access: Access,
    /// Remembered requests, oldest first.
    requests: VecDeque<TxRecord>,
    /// Open payments evicted from `requests`, sorted by key.
    pinned_payments: Vec<TxRecord>,
    /// The gaming domain's open rounds.
    rounds: RoundParts,
    flows: Vec<Flows>,
    /// The payments domain's count of open payments.
    payments: PaymentsState,
    /// The sequence number of the last envelope applied.
    pub last_seq: u64,
    /// The time stamped into the last envelope applied.
    pub last_time_ms: u64,
    history_digest: u64,
    /// The players domain's profiles (format 5 on; empty in format 4).
    profiles: Profiles,
    /// The players' KYC reasons, checks and documents (format 6 on; empty
    /// before).
    kyc: Kyc,
    /// The jurisdictions' profile versions (format 7 on; before, the KYC
    /// gates in the players' part became versions in force since 0).
    jurisdictions: Option<ProfilesParts>,
    /// Each player's age band and due-diligence state, in player order
    /// (format 7 on; empty before: bands unknown, nothing counted).
    compliance: Vec<Compliance>,
    /// The players' RG session records (reality checks, session time
    /// limits, limit prompt dates) by player id (format 8 on; empty before).
    rg: Vec<(crate::ids::PlayerId, PlayerRg)>,
    /// The game catalogue (format 10 on; empty before: no bet was checked).
    games: Catalogue,
    /// The jackpot pools and their flows (format 11 on; none before).
    jackpots: Jackpots,
    /// The active bonuses' max bets and the queued bonuses, per wallet that
    /// has either (format 12 on; none before: one bonus at a time, no max
    /// bet).
    bonus_extras: Vec<BonusExtras>,
    /// The players' withdrawal holds, by player id (format 13 on; none
    /// before: an AML case's hold was the gateway's check then).
    withdrawal_holds: Vec<WithdrawalHolds>,
}

/// The image layout of snapshot format 4: everything but the profiles.
pub const IMAGE_FORMAT_NO_PROFILES: u32 = 4;
/// The image layout of snapshot format 5: format 4, then the profiles.
pub const IMAGE_FORMAT_PROFILES: u32 = 5;
/// The image layout of snapshot format 6: format 5, then the KYC records.
pub const IMAGE_FORMAT_KYC: u32 = 6;
/// The image layout of snapshot format 7: format 6 (with the rules' list
/// empty), then the jurisdiction profiles and the players' age bands and
/// due-diligence states.
pub const IMAGE_FORMAT_JURISDICTION_PROFILES: u32 = 7;
/// The image layout of snapshot format 8: format 7, then the players' RG
/// session records.
pub const IMAGE_FORMAT_RG: u32 = 8;
/// The image layout of snapshot format 9: format 8 with each jurisdiction
/// profile's play-session rules after its other fields, and each RG
/// record's last activity after its other fields.
pub const IMAGE_FORMAT_PLAY_SESSION_RULES: u32 = 9;
/// The image layout of snapshot format 10: format 9, then the game
/// catalogue (providers, games).
pub const IMAGE_FORMAT_GAMES: u32 = 10;
/// The image layout of snapshot format 11: format 10, then the jackpot
/// pools and their flows.
pub const IMAGE_FORMAT_JACKPOTS: u32 = 11;
/// The image layout of snapshot format 12: format 11, then the wallets'
/// bonus max bets and queues.
pub const IMAGE_FORMAT_BONUS_QUEUES: u32 = 12;
/// The image layout of snapshot format 13: format 12, then the players'
/// withdrawal holds.
pub const IMAGE_FORMAT_WITHDRAWAL_HOLDS: u32 = 13;

/// Why an image cannot become a ledger.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The image was taken under another configuration: replaying the
    /// journal on top of it could give other outcomes than it recorded.
    #[error("the snapshot was taken with another ledger configuration ({0})")]
    ConfigChanged(&'static str),
    /// The image breaks an invariant of the ledger's state.
    #[error("the snapshot's state is inconsistent: {0}")]
    Inconsistent(&'static str),
}

impl LedgerImage {
    /// A generous estimate of the archive's size in bytes.
    pub fn encoded_len_estimate(&self) -> usize {
        let records = self.requests.len() + self.pinned_payments.len();
        let rounds = self.rounds.open.len() + self.rounds.order.len();
        (records * 256 + self.players.len() * 512 + rounds * 96).saturating_add(1 << 20)
    }
}

impl Ledger {
    /// Takes the ledger apart for a snapshot (consuming it: the stores move,
    /// nothing big is copied).
    pub fn into_image(mut self) -> LedgerImage {
        let (requests, pinned_payments) = self.requests.into_parts();
        let profiles = std::mem::take(&mut self.players.profiles);
        let kyc = std::mem::take(&mut self.players.kyc);
        let jurisdictions = Some(self.players.jurisdictions.to_parts());
        let compliance = self.players.compliance();
        let rg = self.players.rg_records();
        let bonus_extras = self.players.bonus_extras();
        let withdrawal_holds = self.payments.take_holds();
        LedgerImage {
            withdrawal_holds,
            bonus_extras,
            rg,
            games: self.games,
            jackpots: self.jackpots,
            profiles,
            kyc,
            jurisdictions,
            compliance,
            config: self.config,
            players: self.players,
            access: self.access,
            requests,
            pinned_payments,
            rounds: self.gaming.rounds.into_parts(),
            flows: self.flows.to_vec(),
            payments: self.payments,
            last_seq: self.history.last_seq,
            last_time_ms: self.history.last_time_ms,
            history_digest: self.history.digest,
        }
    }

    /// Rebuilds a ledger from an image taken under `config`.
    pub fn from_image(image: LedgerImage, config: &Config) -> Result<Ledger, ImageError> {
        if let Some(field) = config_difference(&image.config, config) {
            return Err(ImageError::ConfigChanged(field));
        }
        let inconsistent = |what| Err(ImageError::Inconsistent(what));
        if image.players.len() > config.players_max as usize {
            return inconsistent("more players than the configuration allows");
        }
        let access = &image.access;
        if access.operators_len() > config.operators_max
            || access.aggregators_len() > config.aggregators_max
            || access.sessions_len() > config.sessions_max
        {
            return inconsistent("more operators, aggregators or sessions than the configuration allows");
        }
        let Ok(flows) = <[Flows; Currency::ALL.len()]>::try_from(image.flows) else {
            return inconsistent("money flows for another set of currencies");
        };
        let Some(txs) = TxStore::from_parts(config.request_retention(), image.requests, image.pinned_payments) else {
            return inconsistent("remembered requests break the store's limits or repeat a key");
        };
        let Some(rounds) = RoundStore::from_parts(config.round_retention(), image.rounds) else {
            return inconsistent("rounds break the store's limits or repeat a key");
        };
        if image
            .profiles
            .last_player()
            .is_some_and(|last| last.0 > image.players.len() as u64)
        {
            return inconsistent("a profile of a player that does not exist");
        }
        if image
            .kyc
            .last_player()
            .is_some_and(|last| last.0 > image.players.len() as u64)
        {
            return inconsistent("KYC records of a player that does not exist");
        }
        let mut players = image.players;
        players.profiles = image.profiles;
        players.kyc = image.kyc;
        if let Some(parts) = image.jurisdictions {
            let Some(jurisdictions) = JurisdictionProfiles::from_parts(parts, image.last_time_ms) else {
                return inconsistent("jurisdiction profiles out of order, invalid or too many");
            };
            players.jurisdictions = jurisdictions;
            if !players.restore_compliance(image.compliance) {
                return inconsistent("age bands and due-diligence states for another number of players");
            }
        }
        if !players.restore_rg(image.rg) {
            return inconsistent("RG session records of a player that does not exist, or out of order");
        }
        if !players.restore_bonus_extras(image.bonus_extras) {
            return inconsistent("bonus queues or max bets of a wallet without an active bonus, or out of order");
        }
        let mut payments = image.payments;
        let holds_known = image
            .withdrawal_holds
            .last()
            .is_none_or(|last| last.player.0 <= players.len() as u64 && last.player.0 > 0);
        if !holds_known || !payments.restore_holds(image.withdrawal_holds) {
            return inconsistent(
                "withdrawal holds of a player that does not exist, out of order, repeated or too many",
            );
        }
        let ledger = Ledger {
            fingerprints: Fingerprinter::new(config.fingerprint_seed),
            config: image.config,
            players,
            payments,
            gaming: GamingState { rounds },
            access: image.access,
            games: image.games,
            jackpots: image.jackpots,
            requests: txs,
            flows,
            history: History {
                last_seq: image.last_seq,
                last_time_ms: image.last_time_ms,
                digest: image.history_digest,
            },
            encoded: Vec::new(),
        };
        if ledger.check_conservation().is_err() {
            return inconsistent("balances do not add up to the money flows");
        }
        Ok(ledger)
    }
}

/// The first field in which two configurations differ, if any.
fn config_difference(a: &Config, b: &Config) -> Option<&'static str> {
    let Config {
        players_max,
        idempotency_len_max,
        idempotency_age_max_ms,
        rounds_open_max,
        round_age_max_ms,
        payments_open_max,
        limit_cooling_off_ms,
        bonus_contributions_max,
        operators_max,
        aggregators_max,
        sessions_max,
        session_retention_ms,
        fingerprint_seed,
    } = a;
    [
        (*players_max != b.players_max, "players_max"),
        (*idempotency_len_max != b.idempotency_len_max, "idempotency_len_max"),
        (
            *idempotency_age_max_ms != b.idempotency_age_max_ms,
            "idempotency_age_max_ms",
        ),
        (*rounds_open_max != b.rounds_open_max, "rounds_open_max"),
        (*round_age_max_ms != b.round_age_max_ms, "round_age_max_ms"),
        (*payments_open_max != b.payments_open_max, "payments_open_max"),
        (*limit_cooling_off_ms != b.limit_cooling_off_ms, "limit_cooling_off_ms"),
        (
            *bonus_contributions_max != b.bonus_contributions_max,
            "bonus_contributions_max",
        ),
        (*operators_max != b.operators_max, "operators_max"),
        (*aggregators_max != b.aggregators_max, "aggregators_max"),
        (*sessions_max != b.sessions_max, "sessions_max"),
        (*session_retention_ms != b.session_retention_ms, "session_retention_ms"),
        (*fingerprint_seed != b.fingerprint_seed, "fingerprint_seed"),
    ]
    .into_iter()
    .find_map(|(differs, field)| differs.then_some(field))
}

// The snapshot image (see `crate::codec`: append fields, never reorder;
// tags are never reused). The order is frozen (format 4): the players'
// part (accounts, then jurisdictions), access, the request memory, the
// rounds, the flows, the open payments, the history; format 5 appends the
// profiles, format 6 the KYC records, format 8 the RG session records;
// format 9 extends two records (the profiles' play-session rules, the RG
// records' last activity), decoded in the older layouts by `decode_v1`;
// format 10 appends the game catalogue, format 11 the jackpot pools,
// format 12 the wallets' bonus max bets and queues, format 13 the players'
// withdrawal holds.
// [`Encode`] writes the newest layout.
impl Encode for LedgerImage {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.config.encode(out);
        self.players.encode(out);
        self.access.encode(out);
        self.requests.encode(out);
        self.pinned_payments.encode(out);
        self.rounds.encode(out);
        self.flows.encode(out);
        self.payments.encode(out);
        self.last_seq.encode(out);
        self.last_time_ms.encode(out);
        self.history_digest.encode(out);
        self.profiles.encode(out);
        self.kyc.encode(out);
        match &self.jurisdictions {
            Some(parts) => parts.encode(out),
            None => ProfilesParts::default().encode(out),
        }
        self.compliance.encode(out);
        self.rg.encode(out);
        self.games.encode(out);
        self.jackpots.encode(out);
        self.bonus_extras.encode(out);
        self.withdrawal_holds.encode(out);
    }
}

impl LedgerImage {
    /// Decodes an image of layout `format` ([`IMAGE_FORMAT_NO_PROFILES`],
    /// [`IMAGE_FORMAT_PROFILES`], [`IMAGE_FORMAT_KYC`], [`IMAGE_FORMAT_JURISDICTION_PROFILES`],
    /// [`IMAGE_FORMAT_RG`], [`IMAGE_FORMAT_PLAY_SESSION_RULES`], [`IMAGE_FORMAT_GAMES`] or
    /// [`IMAGE_FORMAT_JACKPOTS`], [`IMAGE_FORMAT_BONUS_QUEUES`] or
    /// [`IMAGE_FORMAT_WITHDRAWAL_HOLDS`]) that must use all of `bytes`.
    pub fn decode_format(bytes: &[u8], format: u32) -> Result<LedgerImage, DecodeError> {
        if !(IMAGE_FORMAT_NO_PROFILES..=IMAGE_FORMAT_WITHDRAWAL_HOLDS).contains(&format) {
            return Err(DecodeError::UnknownVersion {
                what: "snapshot image",
                version: format,
            });
        }
        let input = &mut Reader::new(bytes);
        let image = LedgerImage {
            config: Decode::decode(input)?,
            players: Decode::decode(input)?,
            access: Decode::decode(input)?,
            requests: Decode::decode(input)?,
            pinned_payments: Decode::decode(input)?,
            rounds: Decode::decode(input)?,
            flows: Decode::decode(input)?,
            payments: Decode::decode(input)?,
            last_seq: Decode::decode(input)?,
            last_time_ms: Decode::decode(input)?,
            history_digest: Decode::decode(input)?,
            profiles: match format {
                IMAGE_FORMAT_NO_PROFILES => Profiles::default(),
                _ => Decode::decode(input)?,
            },
            kyc: match format {
                IMAGE_FORMAT_NO_PROFILES | IMAGE_FORMAT_PROFILES => Kyc::default(),
                _ => Decode::decode(input)?,
            },
            jurisdictions: match format {
                IMAGE_FORMAT_JURISDICTION_PROFILES | IMAGE_FORMAT_RG => Some(ProfilesParts::decode_v1(input)?),
                IMAGE_FORMAT_PLAY_SESSION_RULES
                | IMAGE_FORMAT_GAMES
                | IMAGE_FORMAT_JACKPOTS
                | IMAGE_FORMAT_BONUS_QUEUES
                | IMAGE_FORMAT_WITHDRAWAL_HOLDS => Some(Decode::decode(input)?),
                _ => None,
            },
            compliance: match format {
                IMAGE_FORMAT_JURISDICTION_PROFILES
                | IMAGE_FORMAT_RG
                | IMAGE_FORMAT_PLAY_SESSION_RULES
                | IMAGE_FORMAT_GAMES
                | IMAGE_FORMAT_JACKPOTS
                | IMAGE_FORMAT_BONUS_QUEUES
                | IMAGE_FORMAT_WITHDRAWAL_HOLDS => Decode::decode(input)?,
                _ => Vec::new(),
            },
            rg: match format {
                IMAGE_FORMAT_RG => PlayerRg::decode_v1_list(input)?,
                IMAGE_FORMAT_PLAY_SESSION_RULES
                | IMAGE_FORMAT_GAMES
                | IMAGE_FORMAT_JACKPOTS
                | IMAGE_FORMAT_BONUS_QUEUES
                | IMAGE_FORMAT_WITHDRAWAL_HOLDS => Decode::decode(input)?,
                _ => Vec::new(),
            },
            games: match format {
                IMAGE_FORMAT_GAMES
                | IMAGE_FORMAT_JACKPOTS
                | IMAGE_FORMAT_BONUS_QUEUES
                | IMAGE_FORMAT_WITHDRAWAL_HOLDS => Decode::decode(input)?,
                _ => Catalogue::default(),
            },
            jackpots: match format {
                IMAGE_FORMAT_JACKPOTS | IMAGE_FORMAT_BONUS_QUEUES | IMAGE_FORMAT_WITHDRAWAL_HOLDS => {
                    Decode::decode(input)?
                }
                _ => Jackpots::default(),
            },
            bonus_extras: match format {
                IMAGE_FORMAT_BONUS_QUEUES | IMAGE_FORMAT_WITHDRAWAL_HOLDS => Decode::decode(input)?,
                _ => Vec::new(),
            },
            withdrawal_holds: match format {
                IMAGE_FORMAT_WITHDRAWAL_HOLDS => Decode::decode(input)?,
                _ => Vec::new(),
            },
        };
        input.finish()?;
        Ok(image)
    }
}
codec_struct!(Config {
    players_max,
    idempotency_len_max,
    idempotency_age_max_ms,
    rounds_open_max,
    round_age_max_ms,
    payments_open_max,
    limit_cooling_off_ms,
    bonus_contributions_max,
    operators_max,
    aggregators_max,
    sessions_max,
    session_retention_ms,
    fingerprint_seed
});
codec_struct!(TxRecord {
    key,
    payload,
    seq,
    time_ms,
    outcome,
    detail
});
codec_enum!(Detail: u8 { 1 => Plain, 2 => Bet(bet), 3 => Payment(payment), 4 => Tombstone });
codec_struct!(BetDetail {
    player,
    currency,
    bonus_serial,
    cash,
    bonus,
    wagering_credit,
    round,
    rolled_back
});
codec_struct!(PaymentDetail {
    player,
    currency,
    amount,
    state
});
impl Encode for Key {
    fn encode<S: Sink>(&self, out: &mut S) {
        self.0.encode(out);
        self.1.encode(out);
    }
}

impl Decode for Key {
    fn decode(input: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Key(u64::decode(input)?, u64::decode(input)?))
    }
}
