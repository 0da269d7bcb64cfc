//! Access: who may talk to the ledger. Operators (bearer tokens bound to
//! roles), aggregators (the HMAC secrets or RSA public keys their requests
//! are signed with) and game
//! sessions (game-launch tokens of one player, currency and aggregator).
//!
//! This is ledger state like any balance (DESIGN.md invariant 1): created
//! only by commands, journaled, replayed, and all of it in one struct,
//! [`Access`], so that a snapshot encodes it whole (codec at the end). The
//! gateway authenticates requests against a read-only copy kept up to date
//! with [`Access::follow`] from the committed stream, so a request with a bad
//! signature or an unknown token is refused without touching the sequencer.
//!
//! Tokens are random values made by the gateway; the ledger sees and keeps
//! only their SHA-256 digests. Aggregator HMAC secrets are kept in the
//! clear, because verifying an HMAC needs the key; RSA public keys are
//! stored as the gateway validated them (DER), never parsed here.
//!
//! Sessions are bounded: a session is forgotten `session_retention_ms` after
//! it expired (long enough for late wins and rollbacks), pruned in issue
//! order when new sessions are issued, and `sessions_max` caps the rest.

mod command;

pub use self::command::{AggregatorCredential, Command, Role};

use std::collections::{BTreeMap, VecDeque};

use super::gaming;
use super::store::Detail;
use super::{Applied, Config, Ctx, Ledger, rejected};
use crate::codec::{codec_enum, codec_struct};
use crate::command::Envelope;
use crate::ids::{Name, OperatorId, PlayerId, SourceId, TokenHash};
use crate::money::Currency;
use crate::outcome::{Capacity, Outcome, Rejection};

/// Everything the ledger knows about access.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// Who each source id belongs to; index = source id − 1.
    principals: Vec<Principal>,
    /// Index = operator id − 1.
    operators: Vec<Operator>,
    operator_tokens: BTreeMap<TokenHash, OperatorId>,
    aggregators: Vec<Aggregator>,
    sessions: BTreeMap<TokenHash, Session>,
    /// Session digests in issue order, for pruning.
    session_order: VecDeque<TokenHash>,
}

/// Who a [`SourceId`] handed out by the ledger belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// An operator; its requests carry this source.
    Operator(OperatorId),
    /// An aggregator (index into the aggregators, from 0).
    Aggregator(u32),
}

/// An operator account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operator {
    /// Display name, unique among operators.
    pub name: Name,
    /// What it may do.
    pub role: Role,
    /// The source its own requests carry (so every action it takes is
    /// journaled under it).
    pub source: SourceId,
    /// Digest of its bearer token.
    pub token: TokenHash,
    /// Who created it.
    pub created_by: OperatorId,
}

/// A game aggregator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aggregator {
    /// Display name, unique among aggregators.
    pub name: Name,
    /// The source its requests carry.
    pub source: SourceId,
    /// What its signatures are checked with.
    pub credential: AggregatorCredential,
    /// Who created it.
    pub created_by: OperatorId,
}

/// A game session opened by a game-launch token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    /// The player.
    pub player: PlayerId,
    /// The wallet it plays from.
    pub currency: Currency,
    /// The aggregator that may use it.
    pub aggregator: SourceId,
    /// End of the session (bets refused from then on), ms since the epoch.
    pub expires_at_ms: u64,
    /// Who issued it.
    pub issued_by: OperatorId,
}

impl Session {
    /// True once the session is past its retention and may be forgotten.
    fn prunable(&self, now_ms: u64, retention_ms: u64) -> bool {
        self.expires_at_ms.saturating_add(retention_ms) <= now_ms
    }
}

impl Access {
    /// Operators created so far.
    pub fn operators_len(&self) -> usize {
        self.operators.len()
    }

    /// Aggregators created so far.
    pub fn aggregators_len(&self) -> usize {
        self.aggregators.len()
    }

    /// Sessions remembered (live, or expired within their retention).
    pub fn sessions_len(&self) -> usize {
        self.sessions.len()
    }

    /// An operator by id.
    pub fn operator(&self, id: OperatorId) -> Option<&Operator> {
        let index = usize::try_from(id.0).ok()?.checked_sub(1)?;
        self.operators.get(index)
    }

    /// The operator whose bearer token has this digest.
    pub fn operator_by_token(&self, token: &TokenHash) -> Option<(OperatorId, &Operator)> {
        let id = *self.operator_tokens.get(token)?;
        self.operator(id).map(|operator| (id, operator))
    }

    /// An aggregator by the source its requests carry.
    pub fn aggregator(&self, source: SourceId) -> Option<&Aggregator> {
        match self.principal(source)? {
            Principal::Aggregator(index) => self.aggregators.get(index as usize),
            Principal::Operator(_) => None,
        }
    }

    /// Every aggregator, in creation order.
    pub fn aggregators(&self) -> impl Iterator<Item = &Aggregator> {
        self.aggregators.iter()
    }

    /// Who a source id belongs to, if the ledger handed it out.
    pub fn principal(&self, source: SourceId) -> Option<Principal> {
        let index = usize::try_from(source.0).ok()?.checked_sub(1)?;
        self.principals.get(index).copied()
    }

    /// The session of a game-launch token digest.
    pub fn session(&self, token: &TokenHash) -> Option<&Session> {
        self.sessions.get(token)
    }

    /// Brings a copy of the access state up to date with one committed
    /// command, exactly as the ledger changed its own: for read models fed
    /// from the committed stream. Refused commands, retries (which return a
    /// stored outcome and change nothing) and commands about anything else
    /// leave it as it is. `config` must be the ledger's.
    pub fn follow(&mut self, config: &Config, envelope: &Envelope, outcome: &Outcome) {
        let crate::Command::Access(command) = &envelope.request.command else {
            return;
        };
        match (command, outcome) {
            (
                Command::CreateOperator {
                    token,
                    role,
                    name,
                    operator: by,
                },
                Outcome::OperatorCreated { operator, .. },
            ) if operator.0 as usize == self.operators.len() + 1 => {
                self.add_operator(*token, *role, name.clone(), *by);
            }
            (
                Command::CreateAggregator {
                    name,
                    credential,
                    operator: by,
                },
                Outcome::AggregatorCreated { aggregator },
            ) if aggregator.0 as usize == self.principals.len() + 1 => {
                self.add_aggregator(name.clone(), credential.clone(), *by);
            }
            (
                Command::IssueSession {
                    token,
                    player,
                    currency,
                    aggregator,
                    expires_at_ms,
                    operator,
                },
                Outcome::Accepted,
            ) => {
                let session = Session {
                    player: *player,
                    currency: *currency,
                    aggregator: *aggregator,
                    expires_at_ms: *expires_at_ms,
                    issued_by: *operator,
                };
                // A retry of an issue whose session was since pruned is
                // prunable now: the ledger did not add it again either.
                let retry = self.sessions.contains_key(token)
                    || session.prunable(envelope.time_ms, config.session_retention_ms);
                if !retry {
                    self.add_session(*token, session, envelope.time_ms, config.session_retention_ms);
                }
            }
            (command, Outcome::OperatorChanged { seq, .. }) if *seq == envelope.seq => {
                if let Some(target) = command.target_operator() {
                    self.change_operator(target, command);
                }
            }
            _ => {}
        }
    }

    /// Applies an operator change the ledger accepted (role, disabling,
    /// token) to `target`, which exists.
    fn change_operator(&mut self, target: OperatorId, command: &Command) {
        let Some(index) = usize::try_from(target.0).ok().and_then(|id| id.checked_sub(1)) else {
            return;
        };
        let Some(operator) = self.operators.get_mut(index) else {
            return;
        };
        match command {
            Command::SetOperatorRole { role, .. } => operator.role = *role,
            Command::DisableOperator { .. } => operator.role = Role::Disabled,
            Command::RotateOperatorToken { token, .. } => {
                let old = std::mem::replace(&mut operator.token, *token);
                self.operator_tokens.remove(&old);
                self.operator_tokens.insert(*token, target);
            }
            Command::CreateOperator { .. }
            | Command::CreateAggregator { .. }
            | Command::IssueSession { .. }
            | Command::SetOperatorCredential { .. }
            | Command::SetOperatorSealedCredential { .. } => {}
        }
    }

    /// Enabled admins other than `except`.
    fn other_admins(&self, except: OperatorId) -> usize {
        self.operators
            .iter()
            .enumerate()
            .filter(|(index, operator)| operator.role == Role::Admin && *index as u32 + 1 != except.0)
            .count()
    }

    /// Whether `by` may make `command` (an operator change) happen to its
    /// target: an admin manages it, the target exists, nobody disables
    /// themselves, and the last enabled admin stays one. Returns the
    /// target's role before the change.
    fn check_operator_change(&self, by: OperatorId, command: &Command) -> Result<Role, Rejection> {
        if by == OperatorId::SYSTEM {
            return Err(Rejection::NotPermitted);
        }
        self.check_manager(by)?;
        let target = command.target_operator().ok_or(Rejection::UnknownOperator)?;
        let current = self.operator(target).ok_or(Rejection::UnknownOperator)?;
        let role_after = match command {
            Command::SetOperatorRole { role, .. } => *role,
            Command::DisableOperator { .. } => Role::Disabled,
            _ => current.role,
        };
        if role_after == Role::Disabled && target == by {
            return Err(Rejection::SelfDisable);
        }
        if current.role == Role::Admin && role_after != Role::Admin && self.other_admins(target) == 0 {
            return Err(Rejection::LastAdmin);
        }
        if let Command::RotateOperatorToken { token, .. } = command
            && self.operator_tokens.contains_key(token)
        {
            return Err(Rejection::TokenTaken);
        }
        Ok(current.role)
    }

    /// Who may manage access: the server for the very first operator, an
    /// admin after that.
    fn check_manager(&self, by: OperatorId) -> Result<(), Rejection> {
        if by == OperatorId::SYSTEM {
            return if self.operators.is_empty() {
                Ok(())
            } else {
                Err(Rejection::NotPermitted)
            };
        }
        match self.operator(by) {
            None => Err(Rejection::UnknownOperator),
            Some(operator) if operator.role != Role::Admin => Err(Rejection::NotPermitted),
            Some(_) => Ok(()),
        }
    }

    fn next_source(&self) -> SourceId {
        SourceId(self.principals.len() as u32 + 1)
    }

    fn add_operator(&mut self, token: TokenHash, role: Role, name: Name, by: OperatorId) -> (OperatorId, SourceId) {
        let id = OperatorId(self.operators.len() as u32 + 1);
        let source = self.next_source();
        self.principals.push(Principal::Operator(id));
        self.operators.push(Operator {
            name,
            role,
            source,
            token,
            created_by: by,
        });
        self.operator_tokens.insert(token, id);
        (id, source)
    }

    fn add_aggregator(&mut self, name: Name, credential: AggregatorCredential, by: OperatorId) -> SourceId {
        let source = self.next_source();
        self.principals
            .push(Principal::Aggregator(self.aggregators.len() as u32));
        self.aggregators.push(Aggregator {
            name,
            source,
            credential,
            created_by: by,
        });
        source
    }

    /// Forgets sessions past their retention, oldest issued first.
    fn prune_sessions(&mut self, now_ms: u64, retention_ms: u64) {
        while let Some(token) = self.session_order.front() {
            match self.sessions.get(token) {
                Some(session) if !session.prunable(now_ms, retention_ms) => break,
                Some(_) => {
                    self.sessions.remove(token);
                }
                None => {}
            }
            self.session_order.pop_front();
        }
    }

    fn add_session(&mut self, token: TokenHash, session: Session, now_ms: u64, retention_ms: u64) {
        self.prune_sessions(now_ms, retention_ms);
        self.sessions.insert(token, session);
        self.session_order.push_back(token);
    }

    /// Room for one more session at `now_ms`, counting what pruning frees.
    fn session_room(&self, config: &Config, now_ms: u64) -> bool {
        if self.sessions.len() < config.sessions_max {
            return true;
        }
        self.session_order
            .front()
            .and_then(|token| self.sessions.get(token))
            .is_some_and(|oldest| oldest.prunable(now_ms, config.session_retention_ms))
    }
}

impl Ledger {
    /// The access state: operators, aggregators, game sessions.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Applies one of the domain's commands.
    pub(super) fn apply_access(&mut self, ctx: Ctx, command: &Command) -> Applied {
        match command {
            Command::CreateOperator {
                token,
                role,
                name,
                operator,
            } => self.create_operator(*token, *role, name, *operator),
            Command::CreateAggregator {
                name,
                credential,
                operator,
            } => self.create_aggregator(name, credential, *operator),
            Command::IssueSession {
                token,
                player,
                currency,
                aggregator,
                expires_at_ms,
                operator,
            } => {
                let session = Session {
                    player: *player,
                    currency: *currency,
                    aggregator: *aggregator,
                    expires_at_ms: *expires_at_ms,
                    issued_by: *operator,
                };
                self.issue_session(ctx, *token, session)
            }
            Command::SetOperatorRole { operator, .. }
            | Command::DisableOperator { operator, .. }
            | Command::RotateOperatorToken { operator, .. } => self.change_operator(ctx, command, *operator),
            Command::SetOperatorCredential { target, operator, .. }
            | Command::SetOperatorSealedCredential { target, operator, .. } => {
                self.set_operator_credential(*target, *operator)
            }
        }
    }

    /// Accepts an operator's back-office credential: the target exists and
    /// the one who sets it is an enabled admin, or the target themself (and
    /// enabled). Nothing is kept: the journal holds the credential.
    fn set_operator_credential(&mut self, target: OperatorId, by: OperatorId) -> Applied {
        let Some(setter) = self.access.operator(by) else {
            return rejected(Rejection::UnknownOperator);
        };
        let permitted = match setter.role {
            Role::Disabled => false,
            Role::Admin => true,
            _ => by == target,
        };
        if !permitted {
            return rejected(Rejection::NotPermitted);
        }
        if self.access.operator(target).is_none() {
            return rejected(Rejection::UnknownOperator);
        }
        (Outcome::Accepted, Detail::Plain)
    }

    /// Changes an operator's role, disables it, or rotates its token.
    fn change_operator(&mut self, ctx: Ctx, command: &Command, by: OperatorId) -> Applied {
        let role_before = check!(self.access.check_operator_change(by, command));
        if let Some(target) = command.target_operator() {
            self.access.change_operator(target, command);
        }
        (
            Outcome::OperatorChanged {
                role_before,
                seq: ctx.seq,
            },
            Detail::Plain,
        )
    }

    fn create_operator(&mut self, token: TokenHash, role: Role, name: &Name, by: OperatorId) -> Applied {
        check!(self.access.check_manager(by));
        if self.access.operators.len() >= self.config.operators_max {
            return rejected(Rejection::CapacityReached(Capacity::Operators));
        }
        if self.access.operator_tokens.contains_key(&token) {
            return rejected(Rejection::TokenTaken);
        }
        if self.access.operators.iter().any(|o| o.name == *name) {
            return rejected(Rejection::NameTaken);
        }
        let (operator, source) = self.access.add_operator(token, role, name.clone(), by);
        (Outcome::OperatorCreated { operator, source }, Detail::Plain)
    }

    fn create_aggregator(&mut self, name: &Name, credential: &AggregatorCredential, by: OperatorId) -> Applied {
        check!(self.access.check_manager(by));
        if self.access.aggregators.len() >= self.config.aggregators_max {
            return rejected(Rejection::CapacityReached(Capacity::Aggregators));
        }
        if self.access.aggregators.iter().any(|a| a.name == *name) {
            return rejected(Rejection::NameTaken);
        }
        let aggregator = self.access.add_aggregator(name.clone(), credential.clone(), by);
        (Outcome::AggregatorCreated { aggregator }, Detail::Plain)
    }

    fn issue_session(&mut self, ctx: Ctx, token: TokenHash, session: Session) -> Applied {
        if self.access.operator(session.issued_by).is_none() {
            return rejected(Rejection::UnknownOperator);
        }
        if self.access.aggregator(session.aggregator).is_none() {
            return rejected(Rejection::UnknownAggregator);
        }
        check!(self.balances(session.player, session.currency));
        if session.expires_at_ms <= ctx.time_ms {
            return rejected(Rejection::TimeNotInFuture);
        }
        if self.access.sessions.contains_key(&token) {
            return rejected(Rejection::TokenTaken);
        }
        if !self.access.session_room(&self.config, ctx.time_ms) {
            return rejected(Rejection::CapacityReached(Capacity::Sessions));
        }
        let retention_ms = self.config.session_retention_ms;
        self.access.add_session(token, session, ctx.time_ms, retention_ms);
        (Outcome::Accepted, Detail::Plain)
    }

    /// A wallet command within a game session: checks the session, runs the
    /// command, and attaches the session wallet's balances to a refusal
    /// (and to the end of a round, which moves no money).
    pub(super) fn in_session(&mut self, ctx: Ctx, token: &TokenHash, command: &crate::Command) -> Applied {
        let Some(session) = self.access.session(token).copied() else {
            return rejected(Rejection::UnknownSession);
        };
        let crate::Command::Gaming(wallet_command) = command else {
            return rejected(Rejection::SessionMismatch);
        };
        let (player, currency, is_bet) = match wallet_command {
            gaming::Command::Bet(bet) => (bet.player, Some(bet.currency), true),
            gaming::Command::Win(win) => (win.player, Some(win.currency), false),
            gaming::Command::Rollback { player, .. } | gaming::Command::EndRound { player, .. } => {
                (*player, None, false)
            }
        };
        if session.aggregator != ctx.source || session.player != player {
            return rejected(Rejection::SessionMismatch);
        }
        let balances = check!(self.balances(session.player, session.currency));
        let refuse = |rejection| (Outcome::RejectedInSession { rejection, balances }, Detail::Plain);
        if let Some(currency) = currency.filter(|&c| c != session.currency) {
            return refuse(Rejection::CurrencyMismatch { currency });
        }
        if is_bet && ctx.time_ms >= session.expires_at_ms {
            return refuse(Rejection::SessionExpired {
                expired_at_ms: session.expires_at_ms,
            });
        }
        // Through the dispatch, not `apply_gaming`: one call site keeps
        // the bet and win handlers inlined there.
        let (outcome, detail) = self.execute(ctx, command);
        let outcome = match outcome {
            // A rollback's tombstone changes no balance: these are still current.
            Outcome::Rejected(rejection) => Outcome::RejectedInSession { rejection, balances },
            // Ending a round moves no money: the balances are still current.
            Outcome::Accepted => Outcome::Balance(balances),
            // The reply tells where the play session stands, if the player
            // has reality checks.
            Outcome::Moved(receipt) => self.session_receipt(player, receipt, ctx.time_ms),
            other => other,
        };
        (outcome, detail)
    }
}

// The snapshot image of access state (see `crate::codec`: append fields,
// never reorder; tags are never reused).
codec_struct!(Access {
    principals,
    operators,
    operator_tokens,
    aggregators,
    sessions,
    session_order
});
codec_enum!(Principal: u8 { 1 => Operator(operator), 2 => Aggregator(index) });
codec_struct!(Operator {
    name,
    role,
    source,
    token,
    created_by
});
codec_struct!(Aggregator {
    name,
    source,
    credential,
    created_by
});
codec_struct!(Session {
    player,
    currency,
    aggregator,
    expires_at_ms,
    issued_by
});
