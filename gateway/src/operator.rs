//! The operator API (minimal; it grows with the PAM and payments issues):
//! operators, aggregators (HMAC secret or RSA public key), players and their
//! funding, game-launch tokens, limits and self-exclusion, and the
//! operator's RSA public key for Hub88 (reads are in `reads.rs`).
//!
//! Callers present a bearer token; the read copy of the ledger's access
//! state maps its digest to an operator and a role, and the route table
//! (`routes.rs`) names the roles each route admits and checks them before
//! the handler runs, which receives the [`Caller`]. Every change is a command sent under the operator's own
//! source id, so the journal records who did what; an `Idempotency-Key`
//! header makes a change safe to retry (ids are scoped per operator).
//! Creating a token or a secret is not retryable: the secret is shown once,
//! and a retry under the same key, carrying a new one, is a conflict.

use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::command::{LimitKind, LimitMetric, LimitPeriod};
use engine::{
    AggregatorCredential, Command, Currency, ExtId, Jurisdiction, Name, OperatorId, Outcome, PlayerId, Request, Role,
    SourceId,
};
use engine::{access, payments, players, rg};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::body::{JsonBody, decode};
use crate::error::{ApiError, ErrorBody, json_response, to_json};
use crate::openapi::{BearerErrors, BodyErrors, IdempotencyKey, LedgerErrors, RoleErrors};
use crate::wire::{self, Money, Sign};
use crate::{rsa_signature, tokens};

/// Header carrying the caller's idempotency id for a change.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The authenticated operator (put in the request's extensions by the
/// role check of [`crate::routes`]).
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    id: OperatorId,
    source: SourceId,
}

pub(crate) fn authorize(state: &AppState, headers: &HeaderMap, allowed: &[Role]) -> Result<Caller, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::unauthorized("missing_token", "an operator bearer token is required"))?;
    let digest = tokens::digest(token);
    let view = state.view.read();
    let (id, operator) = view
        .access
        .operator_by_token(&digest)
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "unknown operator token"))?;
    if !allowed.contains(&operator.role) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the {} role may not do this", operator.role.name()),
        ));
    }
    Ok(Caller {
        id,
        source: operator.source,
    })
}

/// The request id: the caller's `Idempotency-Key`, or a fresh one.
fn request_id(headers: &HeaderMap) -> Result<ExtId, ApiError> {
    match headers.get(IDEMPOTENCY_HEADER) {
        Some(value) => {
            let text = value
                .to_str()
                .map_err(|_| ApiError::bad_request("invalid_request", "idempotency-key must be ASCII"))?;
            wire::ext_id(text, "idempotency-key")
        }
        None => {
            let bytes = tokens::random_bytes().map_err(internal)?;
            wire::ext_id(&hex::encode(&bytes[..16]), "id")
        }
    }
}

pub(crate) fn internal(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "internal error");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
}

/// A player id from the path, known to exist.
pub(crate) fn player(state: &AppState, text: &str) -> Result<PlayerId, ApiError> {
    let unknown = || ApiError::not_found("unknown_player", "no such player");
    let id = text.parse::<u64>().map_err(|_| unknown())?;
    if id == 0 || id > state.view.read().players_len {
        return Err(unknown());
    }
    Ok(PlayerId(id))
}

fn name(text: &str) -> Result<Name, ApiError> {
    Name::new(text).map_err(|error| ApiError::bad_request("invalid_request", format!("name: {error}")))
}

async fn submit(state: &AppState, caller: Caller, id: ExtId, command: Command) -> Result<Outcome, ApiError> {
    let request = Request {
        source: caller.source,
        id,
        command,
    };
    Ok(state.engine.run(request).await?.outcome)
}

pub(crate) fn ok<T: Serialize>(status: StatusCode, body: &T) -> Result<Response, ApiError> {
    Ok(json_response(status, to_json(body)))
}

pub(crate) fn finish(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

fn unexpected(outcome: &Outcome) -> ApiError {
    internal(format!("unexpected outcome {outcome:?}"))
}

/// A new operator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperatorRequest {
    /// Display name, unique.
    pub name: String,
    /// admin, finance, compliance, support or read-only.
    pub role: String,
}

/// The created operator and its bearer token (shown once).
#[derive(Serialize, ToSchema)]
pub struct OperatorReply {
    /// Operator id.
    pub operator: u32,
    /// Its role.
    pub role: &'static str,
    /// Its bearer token.
    pub token: String,
}

/// Creates an operator (admins).
#[utoipa::path(post, path = "/operator/v1/operators", tag = "operator", request_body = CreateOperatorRequest,
    params(IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = OperatorReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 409, body = ErrorBody, description = "name_taken, token_taken, conflict (Idempotency-Key reused)")))]
pub async fn create_operator(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Response {
    finish(
        async {
            let request: CreateOperatorRequest = decode(&body)?;
            let role = Role::from_name(&request.role)
                .ok_or_else(|| ApiError::bad_request("invalid_request", format!("unknown role {:?}", request.role)))?;
            let token = tokens::new_token(tokens::OPERATOR_PREFIX).map_err(internal)?;
            let command = Command::Access(access::Command::CreateOperator {
                token: tokens::digest(&token),
                role,
                name: name(&request.name)?,
                operator: caller.id,
            });
            match submit(&state, caller, request_id(&headers)?, command).await? {
                Outcome::OperatorCreated { operator, .. } => ok(
                    StatusCode::CREATED,
                    &OperatorReply {
                        operator: operator.0,
                        role: role.name(),
                        token,
                    },
                ),
                other => Err(refusal(&other, Currency::EUR)),
            }
        }
        .await,
    )
}

/// A new aggregator. Without `rsa_public_key` it signs the native wallet
/// API with an HMAC secret the server makes; with one it speaks an RSA
/// contract (Hub88, under `/hub88/{aggregator}/...`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAggregatorRequest {
    /// Display name, unique.
    pub name: String,
    /// The aggregator's RSA public key, PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`, 2048–8192 bits).
    #[serde(default)]
    pub rsa_public_key: Option<String>,
}

/// The created aggregator and, for HMAC, its signing secret (shown once).
#[derive(Serialize, ToSchema)]
pub struct AggregatorReply {
    /// Aggregator id: the `x-croupier-aggregator` header of its native
    /// requests, the `{aggregator}` path segment of its Hub88 requests.
    pub aggregator: u32,
    /// Its name.
    pub name: String,
    /// How its requests are signed: "hmac" or "rsa".
    pub signature: &'static str,
    /// HMAC-SHA256 key, hex (HMAC aggregators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Registers an aggregator (admins).
#[utoipa::path(post, path = "/operator/v1/aggregators", tag = "operator", request_body = CreateAggregatorRequest,
    params(IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = AggregatorReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_public_key, malformed_json, invalid_request …"),
        (status = 409, body = ErrorBody, description = "name_taken, conflict (Idempotency-Key reused)")))]
pub async fn create_aggregator(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Response {
    finish(
        async {
            let request: CreateAggregatorRequest = decode(&body)?;
            let credential = match &request.rsa_public_key {
                Some(pem) => AggregatorCredential::RsaPublicKey(
                    rsa_signature::public_key_der_from_pem(pem)
                        .map_err(|error| ApiError::bad_request("invalid_public_key", error.to_string()))?,
                ),
                None => AggregatorCredential::Hmac(tokens::new_secret().map_err(internal)?),
            };
            let (signature, secret) = match &credential {
                AggregatorCredential::Hmac(secret) => ("hmac", Some(hex::encode(secret.0))),
                AggregatorCredential::RsaPublicKey(_) => ("rsa", None),
            };
            let command = Command::Access(access::Command::CreateAggregator {
                name: name(&request.name)?,
                credential,
                operator: caller.id,
            });
            match submit(&state, caller, request_id(&headers)?, command).await? {
                Outcome::AggregatorCreated { aggregator } => ok(
                    StatusCode::CREATED,
                    &AggregatorReply {
                        aggregator: aggregator.0,
                        name: request.name,
                        signature,
                        secret,
                    },
                ),
                other => Err(refusal(&other, Currency::EUR)),
            }
        }
        .await,
    )
}

/// The operator's RSA public key (PEM), which RSA-signing aggregators
/// (Hub88) verify our responses with (every role).
#[utoipa::path(get, path = "/operator/v1/hub88/public-key", tag = "operator", security(("bearer" = [])),
    responses((status = 200, description = "PEM `PUBLIC KEY`", content_type = "application/x-pem-file"), BearerErrors))]
pub async fn rsa_public_key(State(state): State<AppState>) -> Response {
    let pem = state.rsa_signer.public_key_pem().to_owned();
    ([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response()
}

/// A new player.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlayerRequest {
    /// Base currency code; its wallet is created at once.
    pub currency: String,
    /// Licensing jurisdiction, two upper-case letters.
    pub jurisdiction: String,
}

/// A player.
#[derive(Serialize, ToSchema)]
pub struct PlayerReply {
    /// Player id.
    pub player: u64,
    /// Base currency.
    pub currency: &'static str,
}

/// Registers a player (admins, support).
#[utoipa::path(post, path = "/operator/v1/players", tag = "operator", request_body = CreatePlayerRequest,
    params(IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = PlayerReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn create_player(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Response {
    finish(
        async {
            let request: CreatePlayerRequest = decode(&body)?;
            let currency = wire::currency(&request.currency)?;
            let jurisdiction = Jurisdiction::new(&request.jurisdiction)
                .map_err(|_| ApiError::bad_request("invalid_request", "jurisdiction must be two upper-case letters"))?;
            let command = Command::Players(players::Command::RegisterPlayer { currency, jurisdiction });
            match submit(&state, caller, request_id(&headers)?, command).await? {
                Outcome::Registered { player } => ok(
                    StatusCode::CREATED,
                    &PlayerReply {
                        player: player.0,
                        currency: currency.code(),
                    },
                ),
                other => Err(refusal(&other, currency)),
            }
        }
        .await,
    )
}

/// Money into a player's wallet.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundRequest {
    /// The deposit's id (idempotency key), 1–56 printable ASCII.
    pub deposit_id: String,
    /// Currency code.
    pub currency: String,
    /// Decimal amount, positive.
    pub amount: String,
}

/// A wallet's balances.
#[derive(Serialize, ToSchema)]
pub struct BalanceReply {
    /// Player id.
    pub player: u64,
    /// Currency code.
    pub currency: &'static str,
    /// Cash.
    pub cash: String,
    /// Bonus money.
    pub bonus: String,
    /// Cash held for pending withdrawals.
    pub reserved: String,
    /// The transaction that moved money, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction: Option<u64>,
    /// For a read: the sequence number it is current to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of_seq: Option<u64>,
}

pub(crate) fn balance_reply(player: PlayerId, balances: &engine::Balances, transaction: Option<u64>) -> BalanceReply {
    let money = Money::of(balances);
    BalanceReply {
        player: player.0,
        currency: money.currency,
        cash: money.cash,
        bonus: money.bonus,
        reserved: wire::money(balances.reserved, balances.currency),
        transaction,
        as_of_seq: None,
    }
}

/// Funds a player: a deposit initiated and confirmed at once (admins, finance).
#[utoipa::path(post, path = "/operator/v1/players/{player}/deposits", tag = "operator", request_body = FundRequest,
    params(("player" = u64, Path)), security(("bearer" = [])),
    responses((status = 200, body = BalanceReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 403, body = ErrorBody, description = "forbidden (role), limit_exceeded (deposit limit), player_blocked, kyc_required"),
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (deposit_id reused for another deposit)"),
        (status = 422, body = ErrorBody, description = "currency_mismatch, overflow")))]
pub async fn fund_player(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(player_id): Path<String>,
    JsonBody(body): JsonBody,
) -> Response {
    finish(
        async {
            let request: FundRequest = decode(&body)?;
            let currency = wire::currency(&request.currency)?;
            let amount = wire::amount(&request.amount, currency, Sign::Positive, "amount")?;
            let deposit = wire::ext_id(&request.deposit_id, "deposit_id")?;
            let player = player(&state, &player_id)?;
            // One command: it lands whole or changes nothing.
            let command = Command::Payments(payments::Command::Deposit {
                player,
                currency,
                amount,
            });
            match submit(&state, caller, deposit, command).await? {
                Outcome::Moved(receipt) => ok(
                    StatusCode::OK,
                    &balance_reply(player, &receipt.balances, Some(receipt.seq)),
                ),
                other => Err(refusal(&other, currency)),
            }
        }
        .await,
    )
}

/// A responsible-gambling limit.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitRequest {
    /// The wallet's currency code.
    pub currency: String,
    /// deposit, loss or wager.
    pub metric: String,
    /// day, week or month.
    pub period: String,
    /// The new maximum (decimal, zero or more), or null to remove the limit.
    pub amount: Option<String>,
}

/// When a change takes effect.
#[derive(Serialize, ToSchema)]
pub struct ChangeReply {
    /// "accepted" (in force now) or "scheduled" (after the cooling-off).
    pub status: &'static str,
    /// For a scheduled change: when, ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_at_ms: Option<u64>,
}

fn change_reply(outcome: &Outcome, currency: Currency) -> Result<Response, ApiError> {
    match outcome {
        Outcome::Accepted => ok(
            StatusCode::OK,
            &ChangeReply {
                status: "accepted",
                effective_at_ms: None,
            },
        ),
        Outcome::Scheduled { effective_at_ms } => ok(
            StatusCode::OK,
            &ChangeReply {
                status: "scheduled",
                effective_at_ms: Some(*effective_at_ms),
            },
        ),
        other => Err(refusal(other, currency)),
    }
}

/// Sets or removes a limit: a decrease applies at once, an increase after
/// the cooling-off (admins, compliance).
#[utoipa::path(put, path = "/operator/v1/players/{player}/limits", tag = "operator", request_body = LimitRequest,
    params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ChangeReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)"),
        (status = 422, body = ErrorBody, description = "currency_mismatch: the player has no wallet in that currency")))]
pub async fn set_limit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Response {
    finish(
        async {
            let request: LimitRequest = decode(&body)?;
            let currency = wire::currency(&request.currency)?;
            let metric = match request.metric.as_str() {
                "deposit" => LimitMetric::Deposit,
                "loss" => LimitMetric::Loss,
                "wager" => LimitMetric::Wager,
                _ => {
                    return Err(ApiError::bad_request(
                        "invalid_request",
                        "metric: deposit, loss or wager",
                    ));
                }
            };
            let period = match request.period.as_str() {
                "day" => LimitPeriod::Day,
                "week" => LimitPeriod::Week,
                "month" => LimitPeriod::Month,
                _ => return Err(ApiError::bad_request("invalid_request", "period: day, week or month")),
            };
            let amount = request
                .amount
                .as_deref()
                .map(|text| wire::amount(text, currency, Sign::NonNegative, "amount"))
                .transpose()?;
            let player = player(&state, &player_id)?;
            let command = Command::Rg(rg::Command::SetLimit {
                player,
                currency,
                limit: LimitKind { metric, period },
                amount,
            });
            let outcome = submit(&state, caller, request_id(&headers)?, command).await?;
            change_reply(&outcome, currency)
        }
        .await,
    )
}

/// A self-exclusion.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfExcludeRequest {
    /// End of the exclusion, ms since the epoch (extends, never shortens).
    pub until_ms: u64,
}

/// Records a player's self-exclusion (admins, compliance, support).
#[utoipa::path(post, path = "/operator/v1/players/{player}/self-exclusion", tag = "operator",
    request_body = SelfExcludeRequest, params(("player" = u64, Path), IdempotencyKey), security(("bearer" = [])),
    responses((status = 200, body = ChangeReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "time_not_in_future, malformed_json, invalid_request"),
        (status = 404, body = ErrorBody, description = "unknown_player"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn self_exclude(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(player_id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Response {
    finish(
        async {
            let request: SelfExcludeRequest = decode(&body)?;
            let player = player(&state, &player_id)?;
            let command = Command::Rg(rg::Command::SelfExclude {
                player,
                until_ms: request.until_ms,
            });
            let outcome = submit(&state, caller, request_id(&headers)?, command).await?;
            change_reply(&outcome, Currency::EUR)
        }
        .await,
    )
}

/// A game-launch token to issue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueSessionRequest {
    /// The player.
    pub player: u64,
    /// The wallet's currency code.
    pub currency: String,
    /// The aggregator id that will use it.
    pub aggregator: u32,
    /// Lifetime in ms (default: the server's `session_ttl_ms`).
    #[serde(default)]
    pub ttl_ms: Option<u64>,
}

/// An issued game-launch token (shown once).
#[derive(Serialize, ToSchema)]
pub struct SessionReply {
    /// The token to hand to the game.
    pub token: String,
    /// The player.
    pub player: u64,
    /// Currency code.
    pub currency: &'static str,
    /// The aggregator.
    pub aggregator: u32,
    /// End of the session, ms since the epoch.
    pub expires_at_ms: u64,
}

/// Issues a game-launch token (admins, support).
#[utoipa::path(post, path = "/operator/v1/sessions", tag = "operator", request_body = IssueSessionRequest,
    params(IdempotencyKey), security(("bearer" = [])),
    responses((status = 201, body = SessionReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 404, body = ErrorBody, description = "unknown_player, unknown_aggregator"),
        (status = 409, body = ErrorBody, description = "token_taken, conflict (Idempotency-Key reused)"),
        (status = 422, body = ErrorBody, description = "currency_mismatch: the player has no wallet in that currency")))]
pub async fn issue_session(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Response {
    finish(
        async {
            let request: IssueSessionRequest = decode(&body)?;
            let currency = wire::currency(&request.currency)?;
            let player = player(&state, &request.player.to_string())?;
            let aggregator = SourceId(request.aggregator);
            if state.view.read().access.aggregator(aggregator).is_none() {
                return Err(ApiError::not_found("unknown_aggregator", "no such aggregator"));
            }
            let ttl_ms = request.ttl_ms.unwrap_or(state.config.session_ttl_ms).max(1);
            let expires_at_ms = state.now_ms().saturating_add(ttl_ms);
            let token = tokens::new_token(tokens::LAUNCH_PREFIX).map_err(internal)?;
            let command = Command::Access(access::Command::IssueSession {
                token: tokens::digest(&token),
                player,
                currency,
                aggregator,
                expires_at_ms,
                operator: caller.id,
            });
            match submit(&state, caller, request_id(&headers)?, command).await? {
                Outcome::Accepted => ok(
                    StatusCode::CREATED,
                    &SessionReply {
                        token,
                        player: player.0,
                        currency: currency.code(),
                        aggregator: aggregator.0,
                        expires_at_ms,
                    },
                ),
                other => Err(refusal(&other, currency)),
            }
        }
        .await,
    )
}

/// The error for an outcome that is not the expected success.
pub(crate) fn refusal(outcome: &Outcome, currency: Currency) -> ApiError {
    match outcome.rejection() {
        Some(rejection) => wire::rejection(rejection, currency),
        None => unexpected(outcome),
    }
}
