//! The access domain's commands (operators, aggregators, game sessions)
//! and the types they carry.

use crate::ids::{HashKey, Name, OperatorId, PasswordHash, PlayerId, RsaPublicKeyDer, Secret, SourceId, TokenHash};
use crate::ledger::players::SealedProfile;
use crate::money::Currency;

/// What the access domain can be asked to do. Every one names the operator
/// that asks, whose request carries that operator's own source.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// Creates an operator account bound to a role. Its bearer token is
    /// known to the ledger only as a digest. The first operator of an empty
    /// ledger is created by [`OperatorId::SYSTEM`]; every later one by an admin.
    CreateOperator {
        /// Digest of the operator's bearer token.
        token: TokenHash,
        /// What the operator may do.
        role: Role,
        /// Display name.
        name: Name,
        /// Who created it.
        operator: OperatorId,
    },
    /// Registers a game aggregator and the credential its requests are
    /// signed with. The aggregator gets its own [`SourceId`]. Admins only.
    CreateAggregator {
        /// Display name, unique.
        name: Name,
        /// What its signatures are checked with.
        credential: AggregatorCredential,
        /// Who created it.
        operator: OperatorId,
    },
    /// Issues a game-launch token: a session of one player, in one currency,
    /// with one aggregator, until a time.
    IssueSession {
        /// Digest of the game-launch token.
        token: TokenHash,
        /// The player.
        player: PlayerId,
        /// The wallet the session plays from.
        currency: Currency,
        /// The aggregator that may use it.
        aggregator: SourceId,
        /// End of the session, ms since the epoch. Bets are refused after
        /// it; wins, rollbacks and round ends still land.
        expires_at_ms: u64,
        /// Who issued it.
        operator: OperatorId,
    },
    /// Gives an operator another role; a disabled operator given a role is
    /// enabled again with it. Admins only; the last enabled admin keeps the
    /// admin role. [`Role::Disabled`] is given by [`Command::DisableOperator`].
    SetOperatorRole {
        /// The operator whose role changes.
        target: OperatorId,
        /// Its new role.
        role: Role,
        /// Who changes it.
        operator: OperatorId,
    },
    /// Disables an operator: its token is refused from the next committed
    /// batch on, and it keeps its id, name and history. Admins only; nobody
    /// disables themselves, and the last enabled admin stays.
    DisableOperator {
        /// The operator to disable.
        target: OperatorId,
        /// Who disables it.
        operator: OperatorId,
    },
    /// Replaces an operator's bearer token (its digest): the old token is
    /// refused from then on. Admins only.
    RotateOperatorToken {
        /// The operator whose token changes.
        target: OperatorId,
        /// Digest of the new bearer token.
        token: TokenHash,
        /// Who rotates it.
        operator: OperatorId,
    },
    /// Sets an operator's back-office login credential: a password hash
    /// and a TOTP secret, replacing any earlier one. An admin sets anyone's,
    /// any other enabled operator only their own. The ledger validates and
    /// journals it but keeps nothing (the access image does not change):
    /// the back office's read model projects it from the journal.
    SetOperatorCredential {
        /// The operator whose credential it is.
        target: OperatorId,
        /// The password's argon2id hash (PHC string).
        password_hash: PasswordHash,
        /// The TOTP (RFC 6238) shared secret, in the clear. Journals written
        /// before [`Command::SetOperatorSealedCredential`] hold these; the
        /// gateway no longer submits it.
        totp_secret: Secret,
        /// Who sets it.
        operator: OperatorId,
    },
    /// [`Command::SetOperatorCredential`] with the TOTP secret sealed by
    /// the gateway's key vault (AES-256-GCM under a key derived from the
    /// master key, bound to the target operator), so the journal, its
    /// replicas and the read model never hold a usable second factor. The
    /// ledger checks who may set it, as for the clear one, and never opens it.
    SetOperatorSealedCredential {
        /// The operator whose credential it is.
        target: OperatorId,
        /// The password's argon2id hash (PHC string).
        password_hash: PasswordHash,
        /// The sealed TOTP secret: the vault's secrets key id, its scheme,
        /// a random nonce and the ciphertext with its tag.
        totp_secret: SealedProfile,
        /// Who sets it.
        operator: OperatorId,
    },
}

impl Command {
    /// The player the command is about, if it names one.
    pub fn player(&self) -> Option<PlayerId> {
        match self {
            Command::IssueSession { player, .. } => Some(*player),
            Command::CreateOperator { .. }
            | Command::CreateAggregator { .. }
            | Command::SetOperatorRole { .. }
            | Command::DisableOperator { .. }
            | Command::RotateOperatorToken { .. }
            | Command::SetOperatorCredential { .. }
            | Command::SetOperatorSealedCredential { .. } => None,
        }
    }

    /// A short stable name, for logs, metrics and journal filters.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::CreateOperator { .. } => "create_operator",
            Command::CreateAggregator { .. } => "create_aggregator",
            Command::IssueSession { .. } => "issue_session",
            Command::SetOperatorRole { .. } => "set_operator_role",
            Command::DisableOperator { .. } => "disable_operator",
            Command::RotateOperatorToken { .. } => "rotate_operator_token",
            Command::SetOperatorCredential { .. } | Command::SetOperatorSealedCredential { .. } => {
                "set_operator_credential"
            }
        }
    }

    /// The operator the command changes, if it changes one.
    pub fn target_operator(&self) -> Option<OperatorId> {
        match self {
            Command::SetOperatorRole { target, .. }
            | Command::DisableOperator { target, .. }
            | Command::RotateOperatorToken { target, .. }
            | Command::SetOperatorCredential { target, .. }
            | Command::SetOperatorSealedCredential { target, .. } => Some(*target),
            Command::CreateOperator { .. } | Command::CreateAggregator { .. } | Command::IssueSession { .. } => None,
        }
    }
}

/// What an aggregator's request signatures are checked with. Which wallet
/// contract an aggregator may speak follows from it: the native API signs
/// with HMAC, RSA contracts (Hub88) with a key pair, Pragmatic Play hashes
/// its parameters with a shared key, Evolution sends a static token.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AggregatorCredential {
    /// A shared HMAC-SHA256 key (kept in the clear: verifying needs it).
    Hmac(Secret),
    /// The aggregator's RSA public key; it signs with the private half.
    RsaPublicKey(RsaPublicKeyDer),
    /// A key the aggregator appends to its parameters before hashing them
    /// (Pragmatic Play's seamless wallet; kept in the clear).
    HashKey(HashKey),
    /// The digest of a static token the aggregator sends with each request
    /// (Evolution's `authToken`); like operator tokens, only the digest is
    /// kept.
    AuthToken(TokenHash),
}

/// What an operator may do. The gateway enforces it per route; the ledger
/// itself checks only that access is managed by admins.
///
/// [`Role::Disabled`] is the role of a disabled operator: it may do
/// nothing. Being a role rather than a flag beside it, disabling changes
/// no operator record's encoding (a new tag of this enum, no new snapshot
/// format), and a disabled operator's former role is in the journal (the
/// [`crate::Outcome::OperatorChanged`] that disabled it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, including operators and aggregators.
    Admin,
    /// Money: funding, payments.
    Finance,
    /// Responsible gambling: limits, exclusions.
    Compliance,
    /// Player support: players, game sessions.
    Support,
    /// Reads only.
    ReadOnly,
    /// CRM: bonus templates and grants, loyalty, segments, campaigns;
    /// aggregate reads (no player's personal data).
    Marketing,
    /// Disabled: its token is refused everywhere.
    Disabled,
}

impl Role {
    /// Every role an enabled operator may have (all but [`Role::Disabled`]).
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::Finance,
        Role::Compliance,
        Role::Support,
        Role::ReadOnly,
        Role::Marketing,
    ];

    /// The role's stable lower-case name ("admin", "read-only" …).
    pub const fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Finance => "finance",
            Role::Compliance => "compliance",
            Role::Support => "support",
            Role::ReadOnly => "read-only",
            Role::Marketing => "marketing",
            Role::Disabled => "disabled",
        }
    }

    /// The role of a name given by [`Role::name`], for an enabled operator
    /// ("disabled" is not one: disabling is its own command).
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }
}
