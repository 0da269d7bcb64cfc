//! The players domain's commands (account life-cycle, profiles, KYC,
//! jurisdiction profiles, due diligence) and the account types they carry.

use super::jurisdictions::{AgeBand, JurisdictionProfile, ProfileV1};
use super::kyc::{KycDocument, KycSource};
use crate::ids::{BlindIndex, ExtId, IdError, Jurisdiction, KeyId, OperatorId, PlayerId, Reason};
use crate::money::Currency;

/// What the players domain (PAM) can be asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Opens an account with a wallet in its base currency.
    RegisterPlayer {
        /// Base currency; its wallet is created at once.
        currency: Currency,
        /// Where the player is licensed.
        jurisdiction: Jurisdiction,
    },
    /// Sets what a jurisdiction demands before money moves: since
    /// jurisdiction profiles, a version of the jurisdiction's profile in
    /// force from now with these KYC gates (its other fields those in
    /// force for it now). Kept because old journals replay it.
    SetJurisdictionRules {
        /// The jurisdiction the rules apply to.
        jurisdiction: Jurisdiction,
        /// The rules.
        rules: JurisdictionRules,
    },
    /// Operator decision on an account: active, suspended, closed.
    SetAccountStatus {
        /// The player.
        player: PlayerId,
        /// The new status.
        status: AccountStatus,
        /// Who decided.
        operator: OperatorId,
    },
    /// Records a KYC decision.
    SetKyc {
        /// The player.
        player: PlayerId,
        /// The new level.
        level: KycLevel,
    },
    /// Opens an account with a profile: as [`Command::RegisterPlayer`],
    /// plus the sealed profile and its blind indexes, refused with
    /// [`crate::Rejection::DuplicatePlayer`] if another player has either.
    RegisterProfiled {
        /// Base currency; its wallet is created at once.
        currency: Currency,
        /// Where the player is licensed.
        jurisdiction: Jurisdiction,
        /// The profile, encrypted by the gateway (boxed: every command in
        /// the ring is as big as the biggest, and bets are the many).
        profile: Box<SealedProfile>,
        /// What makes a player unique.
        indexes: ProfileIndexes,
        /// Who registered the player.
        operator: OperatorId,
    },
    /// Replaces a player's profile (or gives one to a player registered
    /// without): refused if another player has either blind index, or the
    /// player was erased.
    UpdateProfile {
        /// The player.
        player: PlayerId,
        /// The new profile, encrypted by the gateway (boxed, as above).
        profile: Box<SealedProfile>,
        /// Its blind indexes.
        indexes: ProfileIndexes,
        /// Who changed it.
        operator: OperatorId,
    },
    /// Operator decision on an account with its reason (the successor of
    /// [`Command::SetAccountStatus`], which has none).
    SetStatus {
        /// The player.
        player: PlayerId,
        /// The new status.
        status: AccountStatus,
        /// Why.
        reason: Reason,
        /// Who decided.
        operator: OperatorId,
    },
    /// Right to erasure: drops the sealed profile and its blind indexes and
    /// closes the account for good. Amounts and ids stay; the gateway then
    /// destroys the data key, so the profile left in older journal records
    /// can never be opened again.
    ErasePlayer {
        /// The player.
        player: PlayerId,
        /// Why (the request's reference).
        reason: Reason,
        /// Who erased.
        operator: OperatorId,
    },
    /// Opens a check at the KYC provider: the level becomes pending (a
    /// verified player stays verified until the provider decides), and
    /// only verdicts on this check count from now on.
    StartKycCheck {
        /// The player.
        player: PlayerId,
        /// The provider's reference of the check (applicant id).
        check: ExtId,
        /// Who started it.
        operator: OperatorId,
    },
    /// An operator's KYC decision with its reason (the successor of
    /// [`Command::SetKyc`], which has none).
    SetKycLevel {
        /// The player.
        player: PlayerId,
        /// The new level.
        level: KycLevel,
        /// Why.
        reason: Reason,
        /// Who decided.
        operator: OperatorId,
    },
    /// Records an identity document, or changes the one with the same
    /// number (its status, expiry, reason): answered with
    /// [`crate::Outcome::KycDocumentRecorded`].
    RecordKycDocument {
        /// The player.
        player: PlayerId,
        /// The document (boxed: every command in the ring is as big as the
        /// biggest).
        document: Box<KycDocument>,
        /// Who recorded it.
        source: KycSource,
    },
    /// The provider's verdict on a check, as of the provider's event time:
    /// applied only if the check is the player's current one and nothing
    /// as recent was applied, so duplicates and stale events that arrive
    /// late change nothing ([`crate::Outcome::KycEventIgnored`]).
    ApplyKycVerdict {
        /// The player.
        player: PlayerId,
        /// The provider's reference of the check.
        check: ExtId,
        /// When the provider decided, ms since the epoch (its clock).
        event_ms: u64,
        /// The level the verdict gives.
        level: KycLevel,
        /// Why.
        reason: Reason,
    },
    /// The operator's front end reports that a player logged in. Recorded
    /// for any player not erased, also a blocked one (the outcome says
    /// why the account is blocked, for the front end to refuse play). It
    /// starts a play session (reality checks and the session time limit
    /// count from it); the context is kept by the journal alone.
    RecordLogin {
        /// The player.
        player: PlayerId,
        /// Where from, pseudonymized by the gateway.
        context: LoginContext,
    },
    /// The operator's front end reports that a player logged out (of the
    /// session open on that device). Recorded for any known player; it
    /// ends the play session.
    RecordLogout {
        /// The player.
        player: PlayerId,
        /// Where from, pseudonymized by the gateway.
        context: LoginContext,
    },
    /// A compliance operator sets a version of a jurisdiction's profile
    /// (or of the default profile), in force from `effective_from_ms`:
    /// scheduled if later than the command's time, refused
    /// ([`crate::Rejection::TimeNotInFuture`]) if earlier. A version on
    /// the same time as an earlier one replaces it.
    SetJurisdictionProfile {
        /// The jurisdiction (`None`: the default profile).
        jurisdiction: Option<Jurisdiction>,
        /// The profile (boxed: every command in the ring is as big as the
        /// biggest).
        profile: Box<JurisdictionProfile>,
        /// When it takes effect, ms since the epoch (`None`: at the
        /// command's time).
        effective_from_ms: Option<u64>,
        /// Who set it.
        operator: OperatorId,
    },
    /// [`Command::SetJurisdictionProfile`] as journaled before profiles
    /// had play-session rules (tag 47): the version has
    /// [`PlaySessionRules::NONE`](super::PlaySessionRules::NONE). Decoded
    /// from old journals; the gateway sends the current command.
    SetJurisdictionProfileV1 {
        /// The jurisdiction (`None`: the default profile).
        jurisdiction: Option<Jurisdiction>,
        /// The profile.
        profile: ProfileV1,
        /// When it takes effect (`None`: at the command's time).
        effective_from_ms: Option<u64>,
        /// Who set it.
        operator: OperatorId,
    },
    /// A compliance operator records the due diligence that lifts the
    /// block on deposits and bets past the jurisdiction's threshold.
    RecordDueDiligence {
        /// The player.
        player: PlayerId,
        /// The finding and the case's reference.
        reason: Reason,
        /// Who recorded it.
        operator: OperatorId,
    },
    /// The player's age band changed (the gateway saw, at a login, that the
    /// sealed date of birth crossed the profile's young-adult age).
    SetAgeBand {
        /// The player.
        player: PlayerId,
        /// The band now.
        band: AgeBand,
        /// Who reported it (the operator whose front end reported the login).
        operator: OperatorId,
    },
    /// [`Command::RegisterProfiled`] with the player's age band, which the
    /// gateway derived from the sealed date of birth and the profile's
    /// young-adult age; the wallet gets the profile's deposit-limit
    /// defaults (as every registration does).
    RegisterAged {
        /// Base currency; its wallet is created at once.
        currency: Currency,
        /// Where the player is licensed.
        jurisdiction: Jurisdiction,
        /// The profile, encrypted by the gateway (boxed, as above).
        profile: Box<SealedProfile>,
        /// What makes a player unique.
        indexes: ProfileIndexes,
        /// The player's age band.
        age_band: AgeBand,
        /// Who registered the player.
        operator: OperatorId,
    },
}

impl Command {
    /// The player the command is about, if it names one.
    pub fn player(&self) -> Option<PlayerId> {
        match self {
            Command::SetAccountStatus { player, .. }
            | Command::SetKyc { player, .. }
            | Command::UpdateProfile { player, .. }
            | Command::SetStatus { player, .. }
            | Command::ErasePlayer { player, .. }
            | Command::StartKycCheck { player, .. }
            | Command::SetKycLevel { player, .. }
            | Command::RecordKycDocument { player, .. }
            | Command::ApplyKycVerdict { player, .. }
            | Command::RecordDueDiligence { player, .. }
            | Command::SetAgeBand { player, .. } => Some(*player),
            Command::RecordLogin { player, .. } | Command::RecordLogout { player, .. } => Some(*player),
            Command::RegisterPlayer { .. }
            | Command::SetJurisdictionRules { .. }
            | Command::RegisterProfiled { .. }
            | Command::SetJurisdictionProfile { .. }
            | Command::SetJurisdictionProfileV1 { .. }
            | Command::RegisterAged { .. } => None,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::RegisterPlayer { .. } => "register_player",
            Command::SetJurisdictionRules { .. } => "set_jurisdiction_rules",
            Command::SetAccountStatus { .. } => "set_account_status",
            Command::SetKyc { .. } => "set_kyc",
            Command::RegisterProfiled { .. } => "register_profiled",
            Command::UpdateProfile { .. } => "update_profile",
            Command::SetStatus { .. } => "set_status",
            Command::ErasePlayer { .. } => "erase_player",
            Command::StartKycCheck { .. } => "start_kyc_check",
            Command::SetKycLevel { .. } => "set_kyc_level",
            Command::RecordKycDocument { .. } => "record_kyc_document",
            Command::ApplyKycVerdict { .. } => "apply_kyc_verdict",
            Command::RecordLogin { .. } => "record_login",
            Command::RecordLogout { .. } => "record_logout",
            Command::SetJurisdictionProfile { .. } | Command::SetJurisdictionProfileV1 { .. } => {
                "set_jurisdiction_profile"
            }
            Command::RecordDueDiligence { .. } => "record_due_diligence",
            Command::SetAgeBand { .. } => "set_age_band",
            // The same operator action as `RegisterProfiled` (with the age
            // band): one name, so filters on registrations find both.
            Command::RegisterAged { .. } => "register_profiled",
        }
    }
}

/// Operator-decided account status. Self-exclusion and time-outs are
/// separate, time-bounded blocks (the responsible-gambling domain's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountStatus {
    /// May play.
    Active,
    /// Frozen by the operator: no bets, deposits or withdrawals.
    Suspended,
    /// Closed: no bets or deposits; owed money still lands and can be withdrawn.
    Closed,
}

/// Where a player's identity verification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KycLevel {
    /// Nothing submitted.
    None,
    /// Submitted, not decided.
    Pending,
    /// Verified.
    Verified,
    /// Refused.
    Rejected,
}

/// What a jurisdiction requires before money moves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct JurisdictionRules {
    /// Verified KYC before any deposit.
    pub kyc_before_deposit: bool,
    /// Verified KYC before any bet.
    pub kyc_before_bet: bool,
    /// Verified KYC before any withdrawal.
    pub kyc_before_withdrawal: bool,
}

/// A player's profile as the ledger holds it: ciphertext only. The gateway
/// serializes the profile fields and seals them with an AEAD under the
/// player's data key ([`SealedProfile::key_id`]); the ledger stores and
/// bounds the bytes and never opens them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SealedProfile {
    /// The data key it is sealed under.
    pub key_id: KeyId,
    /// The sealing scheme (algorithm and plaintext layout), the gateway's
    /// to interpret, so that a later scheme can live beside this one.
    pub scheme: u8,
    /// The AEAD nonce.
    pub nonce: [u8; 12],
    ciphertext: Box<[u8]>,
}

impl SealedProfile {
    /// Longest accepted ciphertext, in bytes: a profile's fields with
    /// their limits fit several times over.
    pub const CIPHERTEXT_MAX: usize = 4096;

    /// Bounds the ciphertext: 1..=`CIPHERTEXT_MAX` bytes.
    pub fn new(key_id: KeyId, scheme: u8, nonce: [u8; 12], ciphertext: &[u8]) -> Result<SealedProfile, IdError> {
        match ciphertext.len() {
            0 => Err(IdError::Empty),
            len if len > Self::CIPHERTEXT_MAX => Err(IdError::TooLong {
                max: Self::CIPHERTEXT_MAX,
            }),
            _ => Ok(SealedProfile {
                key_id,
                scheme,
                nonce,
                ciphertext: ciphertext.into(),
            }),
        }
    }

    /// The sealed bytes (with the AEAD tag).
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }
}

impl std::fmt::Debug for SealedProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedProfile({:?}, {} bytes)", self.key_id, self.ciphertext.len())
    }
}

/// The blind indexes of a profile: what two players may not share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProfileIndexes {
    /// Of the normalized email address.
    pub email: BlindIndex,
    /// Of the normalized name, date of birth and postcode together.
    pub identity: BlindIndex,
}

/// Where a login or logout came from, with no personal data in clear: the
/// device id and the IP address as blind indexes (keyed hashes made by the
/// gateway: equal values give equal indexes, so a device or address shared
/// between players shows, while the journal cannot be searched for a guessed
/// value without the key), and the user agent reduced to its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LoginContext {
    /// Blind index of the front end's device id.
    pub device: BlindIndex,
    /// Blind index of the client's IP address.
    pub ip: BlindIndex,
    /// The user agent's browser and operating-system families.
    pub agent: AgentFamily,
}

/// A user agent reduced to what identifies no one: the browser family and
/// the operating-system family, without versions, build ids or languages
/// (the full string is close to a fingerprint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AgentFamily {
    /// The browser (or app) family.
    pub browser: Browser,
    /// The operating-system family.
    pub os: Os,
}

/// Browser families a user agent is reduced to (append only: the tags are
/// the journal's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Browser {
    /// Not recognized, or absent.
    Other,
    /// Chrome or Chromium.
    Chrome,
    /// Firefox.
    Firefox,
    /// Safari.
    Safari,
    /// Microsoft Edge.
    Edge,
    /// Opera.
    Opera,
    /// Samsung Internet.
    Samsung,
    /// A native app or HTTP library rather than a browser.
    App,
}

/// Operating-system families a user agent is reduced to (append only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Os {
    /// Not recognized, or absent.
    Other,
    /// Windows.
    Windows,
    /// macOS.
    MacOs,
    /// Linux (not Android).
    Linux,
    /// Android.
    Android,
    /// iOS or iPadOS.
    Ios,
    /// ChromeOS.
    ChromeOs,
}

impl Browser {
    /// A short stable name (`chrome`, `other` ...), for views and logs.
    pub fn name(self) -> &'static str {
        match self {
            Browser::Other => "other",
            Browser::Chrome => "chrome",
            Browser::Firefox => "firefox",
            Browser::Safari => "safari",
            Browser::Edge => "edge",
            Browser::Opera => "opera",
            Browser::Samsung => "samsung",
            Browser::App => "app",
        }
    }
}

impl Os {
    /// A short stable name (`windows`, `ios` ...), for views and logs.
    pub fn name(self) -> &'static str {
        match self {
            Os::Other => "other",
            Os::Windows => "windows",
            Os::MacOs => "macos",
            Os::Linux => "linux",
            Os::Android => "android",
            Os::Ios => "ios",
            Os::ChromeOs => "chromeos",
        }
    }
}
