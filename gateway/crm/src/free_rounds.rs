//! Free spins granted through the aggregator's free-rounds call, where the
//! template's games are carried by an aggregator that has one (Pragmatic
//! Play's FRB API, [`crate::frb`], when it is configured).
//!
//! The award is journaled first (`FreeRoundsAwarded`: player, template,
//! bonus code, rounds, stake, games, expiry), so the read model keeps it
//! as a durable outbox row (`readmodel::free_rounds`) before anything
//! leaves. The [`Worker`] then calls `createFRB`, retrying with
//! exponential backoff while the aggregator is unavailable (in memory: a
//! restart retries at once, nothing is lost), and journals the answer
//! (`FreeRoundsSettled`: confirmed, or failed on a refusal or after
//! [`ATTEMPTS_MAX`] attempts). The bonus code derives from the grant's
//! source and request id, so a repeated grant is the ledger's duplicate
//! and a repeated call the aggregator's ("already exists" is a success):
//! one FRB however often either is retried.
//!
//! A cancel (an operator's, or the sweep's once the rounds lapse) is
//! journaled as a request and carried out by the worker the same way
//! (`cancelFRB`). When the aggregator reports the rounds' winnings
//! (`bonusWin` with the bonus code), they are credited as the template's
//! bonus (the grant path's rules: wagering capped by the jurisdiction,
//! contributions, expiry, conversion cap) and the award records them;
//! meanwhile the rounds' own results pay nothing (the wallet's
//! `pragmatic` contract asks [`crate::free_round_wins::Awards`]).
//!
//! Templates whose games no configured aggregator carries keep the older
//! way: the free-round winnings given to a grant are credited as the bonus.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use edge::change::{ok, player, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{LedgerErrors, RoleErrors};
use edge::reads::{read, read_in_background};
use edge::wire;
use edge::worker::{TickError, TickLog};
use edge::{AppState, Caller};
use engine::bonus::{self, BonusTemplate, FreeRoundsAward, FreeRoundsState, TemplateKind};
use engine::{Amount, BonusCode, Command, ExtId, OperatorId, Outcome, PlayerId, Request, SourceId};
use readmodel::bonuses::TemplateView;
use readmodel::free_rounds::{self, FreeRoundsView};
use serde::Serialize;
use utoipa::ToSchema;

use crate::frb::{CreateFrb, EXPIRY_DAYS_MAX, FrbClient, FrbError};

/// How often the worker looks for work.
pub const TICK: Duration = Duration::from_millis(200);
/// Attempts at a call before it is given up.
pub const ATTEMPTS_MAX: u32 = 8;
/// The first retry's delay; each next one doubles it, up to [`RETRY_MAX`].
pub const RETRY_BASE: Duration = Duration::from_millis(500);
/// The longest delay between two attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(30);
/// Most awards handled per tick.
const BATCH_MAX: u32 = 256;
const DAY_MS: u64 = 86_400_000;

/// The free-rounds API configured: which aggregator it creates rounds on,
/// and its client. In `AppState::modules` when configured.
#[derive(Clone)]
pub struct Settings {
    /// The aggregator (its source) whose games the API serves.
    pub aggregator: SourceId,
    /// The FRB client.
    pub client: Arc<FrbClient>,
}

/// The aggregator that grants `template`'s free rounds itself: a
/// free-spins template whose every game the configured aggregator carries.
pub fn carrier(state: &AppState, template: &BonusTemplate) -> Option<SourceId> {
    let TemplateKind::FreeSpins { games, .. } = &template.kind else {
        return None;
    };
    let settings = state.modules.get::<Settings>()?;
    let view = state.view.read();
    let carried = games
        .iter()
        .all(|game| view.games.game(settings.aggregator, game.as_str()).is_some());
    (carried && !games.is_empty()).then_some(settings.aggregator)
}

/// A 64-bit FNV-1a hash.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash: u64, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The bonus code of the grant `id` of `source`: the same request, the
/// same code (so never two FRBs for one grant).
pub fn bonus_code(source: SourceId, id: &ExtId) -> BonusCode {
    let mut bytes = source.0.to_le_bytes().to_vec();
    bytes.extend_from_slice(id.as_str().as_bytes());
    // 19 bytes of lowercase hex: within every code's bounds.
    BonusCode::new(&format!("cr-{:016x}", fnv(&bytes))).unwrap_or_else(|_| unreachable!("a fixed-size code"))
}

/// The award `template` makes `player` at `now_ms`: the template's rounds,
/// stake and games, lapsing after its expiry days (at most
/// [`EXPIRY_DAYS_MAX`], the API's limit).
pub fn award_of(
    template: &BonusTemplate,
    player: PlayerId,
    code: BonusCode,
    aggregator: SourceId,
    now_ms: u64,
) -> Option<FreeRoundsAward> {
    let TemplateKind::FreeSpins {
        count,
        bet_value,
        games,
    } = &template.kind
    else {
        return None;
    };
    let days = u64::from(template.expiry_days).min(EXPIRY_DAYS_MAX);
    Some(FreeRoundsAward {
        player,
        template: template.code.clone(),
        code,
        aggregator,
        currency: template.currency,
        rounds: *count,
        bet_value: *bet_value,
        games: games.clone(),
        expires_at_ms: now_ms.saturating_add(days * DAY_MS),
    })
}

/// An award as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = crm::FreeRoundsReply)]
pub struct FreeRoundsReply {
    /// The player.
    pub player: u64,
    /// The bonus code the aggregator knows it by.
    pub bonus_code: String,
    /// The free-spins template it comes from.
    pub template: String,
    /// `awarded` (owed the aggregator's create call), `confirmed`,
    /// `failed`, `cancelling` (owed the cancel call), `cancelled`,
    /// `cancel_failed` or `won`.
    pub state: String,
    /// The aggregator (its source id).
    pub aggregator: u32,
    /// How many rounds.
    pub rounds: u32,
    /// Each round's stake.
    pub bet_value: String,
    /// The currency.
    pub currency: String,
    /// The games.
    pub games: Vec<String>,
    /// When the rounds lapse, ms since the epoch.
    pub expires_at_ms: u64,
    /// Calls made to the aggregator for its last change.
    pub attempts: u32,
    /// The winnings credited as a bonus, once `won`.
    pub winnings: Option<String>,
    /// The award's sequence number.
    pub seq: u64,
    /// When it was awarded, ms since the epoch.
    pub awarded_ms: u64,
    /// When its state last changed.
    pub settled_ms: Option<u64>,
}

/// A player's awards.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = crm::FreeRoundsListReply)]
pub struct FreeRoundsListReply {
    /// The player.
    pub player: u64,
    /// Newest first.
    pub free_rounds: Vec<FreeRoundsReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

fn reply_of(view: &FreeRoundsView) -> FreeRoundsReply {
    let award = &view.award;
    FreeRoundsReply {
        player: award.player.0,
        bonus_code: award.code.to_string(),
        template: award.template.to_string(),
        state: view.state.clone(),
        aggregator: award.aggregator.0,
        rounds: award.rounds,
        bet_value: wire::money(award.bet_value, award.currency),
        currency: award.currency.code().to_owned(),
        games: award.games.iter().map(|g| g.as_str().to_owned()).collect(),
        expires_at_ms: award.expires_at_ms,
        attempts: view.attempts,
        winnings: view
            .winnings
            .map(|minor| wire::money(Amount::from_minor(minor), award.currency)),
        seq: view.seq,
        awarded_ms: view.awarded_ms,
        settled_ms: view.settled_ms,
    }
}

/// Journals the award of `view`'s free rounds to `player` through
/// `aggregator` (a grant's path when the template's games are carried by
/// an aggregator with a free-rounds call): 202, the worker makes the call.
pub(crate) async fn award(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    player: PlayerId,
    view: &TemplateView,
    aggregator: SourceId,
) -> Result<Response, ApiError> {
    let id = request_id(headers)?;
    let code = bonus_code(caller.source, &id);
    let award = award_of(&view.template, player, code, aggregator, state.now_ms())
        .ok_or_else(|| ApiError::internal("not a free-spins template"))?;
    let command = Command::Bonus(bonus::Command::FreeRoundsAwarded {
        award: Box::new(award.clone()),
        operator: caller.id,
    });
    let outcome = caller.submit(state, id, command).await?;
    if !outcome.is_ok() {
        return Err(refusal(&outcome, award.currency));
    }
    // Read back: a repeated grant answers the award as it stands now.
    let wanted = award.code.to_string();
    let (found, _) = read(state, move |c| free_rounds::by_code(c, &wanted)).await?;
    let view = found.ok_or_else(|| ApiError::internal("the award is not in the read model"))?;
    ok(StatusCode::ACCEPTED, &reply_of(&view))
}

/// A player's free-rounds awards, newest first (every role).
#[utoipa::path(get, path = "/operator/v1/players/{player}/free-rounds", tag = "crm",
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = FreeRoundsListReply), RoleErrors,
        (status = 404, body = ErrorBody, description = "unknown_player")))]
pub async fn list(
    State(state): State<AppState>,
    _caller: Caller,
    Path(player_id): Path<String>,
) -> Result<Response, ApiError> {
    let player = player(&state, &player_id)?;
    let (views, as_of_seq) = read(&state, move |c| free_rounds::by_player(c, player.0)).await?;
    let reply = FreeRoundsListReply {
        player: player.0,
        free_rounds: views.iter().map(reply_of).collect(),
        as_of_seq,
    };
    ok(StatusCode::OK, &reply)
}

/// Cancels an award's unplayed rounds (admins and marketing): journaled,
/// then the worker calls the aggregator's cancel. 202 with the award
/// `cancelling`. No body: the path names the award.
#[utoipa::path(post, path = "/operator/v1/players/{player}/free-rounds/{bonus_code}/cancel", tag = "crm",
    params(("player" = u64, Path), ("bonus_code" = String, Path), edge::change::IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 202, body = FreeRoundsReply), RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player, unknown_free_rounds (no award of this code to this player)"),
        (status = 409, body = ErrorBody, description = "free_rounds_not_cancellable: failed, cancelled or won already")))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path((player_id, code)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let player = player(&state, &player_id)?;
    let unknown = || {
        ApiError::not_found(
            "unknown_free_rounds",
            "the player has no free rounds of this bonus code",
        )
    };
    let wanted = code.clone();
    let (found, _) = read(&state, move |c| free_rounds::by_code(c, &wanted)).await?;
    let mut view = found.filter(|v| v.award.player == player).ok_or_else(unknown)?;
    match view.state.as_str() {
        "awarded" | "confirmed" => {}
        // A repeat of a cancel already asked for: the same answer.
        "cancelling" => return ok(StatusCode::ACCEPTED, &reply_of(&view)),
        _ => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "free_rounds_not_cancellable",
                format!("the free rounds are {} already", view.state),
            ));
        }
    }
    let command = Command::Bonus(bonus::Command::FreeRoundsSettled {
        player,
        code: view.award.code.clone(),
        state: FreeRoundsState::CancelRequested,
        attempts: 0,
        operator: caller.id,
    });
    let outcome = caller.submit(&state, request_id(&headers)?, command).await?;
    if !outcome.is_ok() {
        return Err(refusal(&outcome, view.award.currency));
    }
    view.state = "cancelling".into();
    view.attempts = 0;
    view.settled_ms = Some(state.now_ms());
    ok(StatusCode::ACCEPTED, &reply_of(&view))
}

/// The source the system's own requests carry.
const SYSTEM_SOURCE: SourceId = SourceId(0);

pub(crate) enum Submitted {
    /// The outcome.
    Done(Outcome),
    /// This node does not lead: the error a caller answers (503
    /// `not_leader`, naming the leader where this node knows it).
    NotLeader(ApiError),
}

/// Submits `command` under `source` and request id `id`.
pub(crate) async fn submit(
    state: &AppState,
    source: SourceId,
    id: &str,
    command: Command,
) -> Result<Submitted, ApiError> {
    let id = ExtId::new(id).map_err(ApiError::internal)?;
    match state.engine.run(Request { source, id, command }).await {
        Ok(done) => Ok(Submitted::Done(done.outcome)),
        Err(error) if error.code == "not_leader" => Ok(Submitted::NotLeader(error)),
        Err(error) => Err(error),
    }
}

/// What the worker remembers between ticks: the retries in progress.
#[derive(Default)]
pub struct Worker {
    /// Per bonus code and call: attempts made and when the next may go.
    retries: HashMap<(String, &'static str), (u32, Instant)>,
}

/// Runs the worker until the task is aborted (idle without [`Settings`]).
pub async fn run(state: AppState) {
    let mut worker = Worker::default();
    let mut log = TickLog::new("free rounds");
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(settings) = state.modules.get::<Settings>().cloned() else {
            continue;
        };
        log.record(&worker.tick(&state, &settings).await.map_err(TickError::from));
    }
}

/// Starts the worker on the runtime; abort the handle to stop it.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(state))
}

impl Worker {
    /// Asks for the cancel of lapsed rounds, then makes the calls owed.
    pub async fn tick(&mut self, state: &AppState, settings: &Settings) -> Result<(), ApiError> {
        let now_ms = state.now_ms();
        let (lapsed, _) = read_in_background(state, move |c| free_rounds::lapsed(c, now_ms, BATCH_MAX)).await?;
        for view in lapsed {
            let award = &view.award;
            let id = format!("frbx:{}", award.code);
            let command = Command::Bonus(bonus::Command::FreeRoundsSettled {
                player: award.player,
                code: award.code.clone(),
                state: FreeRoundsState::CancelRequested,
                attempts: 0,
                operator: OperatorId::SYSTEM,
            });
            if let Submitted::NotLeader(_) = submit(state, SYSTEM_SOURCE, &id, command).await? {
                return Ok(());
            }
        }
        let (owed, _) = read_in_background(state, |c| free_rounds::owed(c, BATCH_MAX)).await?;
        for view in owed {
            if !self.call(state, settings, &view).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Makes the call `view` is owed, if its retry is due; false if this
    /// node is not the leader.
    async fn call(&mut self, state: &AppState, settings: &Settings, view: &FreeRoundsView) -> Result<bool, ApiError> {
        let award = &view.award;
        let cancelling = view.state == "cancelling";
        let method = if cancelling { "cancelFRB" } else { "createFRB" };
        let key = (award.code.to_string(), method);
        let now = Instant::now();
        if let Some(&(_, next)) = self.retries.get(&key)
            && next > now
        {
            return Ok(true);
        }
        let attempts = self.retries.get(&key).map_or(0, |r| r.0) + 1;
        let result = if cancelling {
            settings.client.cancel(award.code.as_str()).await
        } else {
            settings.client.create(&create_call(award)).await
        };
        let settled = match result {
            Ok(()) if cancelling => FreeRoundsState::Cancelled,
            Ok(()) => FreeRoundsState::Confirmed,
            Err(error) if error.is_transient() && attempts < ATTEMPTS_MAX => {
                let delay = RETRY_BASE.saturating_mul(1 << (attempts - 1).min(16)).min(RETRY_MAX);
                tracing::info!(code = %award.code, method, attempts, %error, "free rounds: retrying");
                self.retries.insert(key, (attempts, now + delay));
                return Ok(true);
            }
            Err(error) => {
                log_given_up(award, method, attempts, &error);
                FreeRoundsState::Failed
            }
        };
        self.retries.remove(&key);
        let id = format!("frb{}:{}", if cancelling { "c" } else { "s" }, award.code);
        let command = Command::Bonus(bonus::Command::FreeRoundsSettled {
            player: award.player,
            code: award.code.clone(),
            state: settled,
            attempts,
            operator: OperatorId::SYSTEM,
        });
        Ok(matches!(
            submit(state, SYSTEM_SOURCE, &id, command).await?,
            Submitted::Done(_)
        ))
    }
}

fn log_given_up(award: &FreeRoundsAward, method: &str, attempts: u32, error: &FrbError) {
    tracing::warn!(code = %award.code, player = award.player.0, method, attempts, %error, "free rounds: given up");
}

/// The `createFRB` call of an award.
pub fn create_call(award: &FreeRoundsAward) -> CreateFrb {
    CreateFrb {
        player_id: protocol::hub88::user_name(award.player),
        currency: award.currency.code().to_owned(),
        games: award.games.iter().map(|g| g.as_str().to_owned()).collect(),
        rounds: award.rounds,
        bonus_code: award.code.to_string(),
        coin_value: wire::money(award.bet_value, award.currency),
        expiration_s: award.expires_at_ms / 1000,
    }
}

/// Journals the award of a campaign's free-spins offer under the
/// campaign's grant request id: `Some(true)` awarded (now or before),
/// `Some(false)` refused, `None` not the leader.
pub(crate) async fn award_for_campaign(
    state: &AppState,
    template: &BonusTemplate,
    player: PlayerId,
    aggregator: SourceId,
    id: ExtId,
) -> Result<Option<bool>, TickError> {
    let code = bonus_code(SYSTEM_SOURCE, &id);
    let Some(award) = award_of(template, player, code, aggregator, state.now_ms()) else {
        return Ok(Some(false));
    };
    let command = Command::Bonus(bonus::Command::FreeRoundsAwarded {
        award: Box::new(award),
        operator: OperatorId::SYSTEM,
    });
    match submit(state, SYSTEM_SOURCE, id.as_str(), command).await {
        Ok(Submitted::Done(outcome)) => Ok(Some(outcome.is_ok())),
        Ok(Submitted::NotLeader(_)) => Ok(None),
        Err(error) => Err(error.into()),
    }
}
