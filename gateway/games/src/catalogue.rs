//! The catalogue's routes: providers and games listed, shown and set, games
//! enabled and disabled. Reads come from the view (the ledger's catalogue
//! as of the last committed batch); each change is one ledger command.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::{IdempotencyKey, ok, refusal, request_id};
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::view::View;
use edge::{AppState, Caller};
use engine::games::{self, GameType};
use engine::{Command, Currency, GameCode, Jurisdiction, Outcome, SourceId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::forms::{self, GameBody, GameReply, ProviderBody, ProviderReply};

/// Every provider.
#[derive(Serialize, ToSchema)]
#[schema(as = GameProvidersReply)]
pub struct ProvidersReply {
    /// By code.
    pub providers: Vec<ProviderReply>,
}

/// Games matching a query.
#[derive(Serialize, ToSchema)]
#[schema(as = CatalogueGamesReply)]
pub struct GamesReply {
    /// By aggregator and code.
    pub games: Vec<GameReply>,
}

/// Which games.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct GamesQuery {
    /// Only this provider's (its code).
    pub provider: Option<String>,
    /// Only of this type: slot, table, live, crash, other.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Only enabled (true) or disabled (false) games.
    pub enabled: Option<bool>,
    /// Only games allowed in this jurisdiction (two letters).
    pub jurisdiction: Option<String>,
}

/// The catalogue's providers (every role).
#[utoipa::path(get, path = "/operator/v1/games/providers", tag = "games", security(("bearer" = [])),
    responses((status = 200, body = ProvidersReply), RoleErrors))]
pub async fn list_providers(State(state): State<AppState>) -> Result<Response, ApiError> {
    let view = state.view.read();
    let providers = view
        .games
        .providers()
        .iter()
        .map(|p| forms::provider_reply(&view, p))
        .collect();
    drop(view);
    ok(StatusCode::OK, &ProvidersReply { providers })
}

/// One provider (every role).
#[utoipa::path(get, path = "/operator/v1/games/providers/{provider}", tag = "games",
    params(("provider" = String, Path, description = "the provider's code")), security(("bearer" = [])),
    responses((status = 200, body = ProviderReply), RoleErrors,
        (status = 404, body = ErrorBody, description = "unknown_provider")))]
pub async fn show_provider(State(state): State<AppState>, Path(code): Path<String>) -> Result<Response, ApiError> {
    let view = state.view.read();
    let reply = view.games.provider(&code).map(|p| forms::provider_reply(&view, p));
    drop(view);
    match reply {
        Some(reply) => ok(StatusCode::OK, &reply),
        None => Err(unknown_provider()),
    }
}

fn unknown_provider() -> ApiError {
    ApiError::not_found("unknown_provider", "the catalogue holds no provider of this code")
}

/// Creates a provider or replaces its record (admins, compliance). Its
/// aggregators are named by id or name; one still carrying a game of the
/// provider cannot be dropped.
#[utoipa::path(put, path = "/operator/v1/games/providers/{provider}", tag = "games", request_body = ProviderBody,
    params(("provider" = String, Path, description = "the provider's code (1–64 printable ASCII)"), IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = ProviderReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_provider (the field is named)"),
        (status = 404, body = ErrorBody, description = "unknown_aggregator"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)"),
        (status = 422, body = ErrorBody, description = "invalid_catalogue_entry: no aggregator, one twice, or one dropped that still carries a game")))]
pub async fn put_provider(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: ProviderBody = decode(&body)?;
    let code = forms::provider_code(&code).map_err(|e| e.into_api("invalid_provider"))?;
    let provider = request
        .to_provider(code, &state.view.read())
        .map_err(|e| e.into_api("invalid_provider"))?;
    let command = games::Command::UpsertProvider {
        provider: provider.clone(),
        operator: caller.id,
    };
    submit(&state, &caller, &headers, command).await?;
    let view = state.view.read();
    let reply = forms::provider_reply(&view, &provider);
    drop(view);
    ok(StatusCode::OK, &reply)
}

/// Games, filtered (every role).
#[utoipa::path(get, path = "/operator/v1/games", tag = "games", params(GamesQuery), security(("bearer" = [])),
    responses((status = 200, body = GamesReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_request: an unknown query parameter, type or jurisdiction")))]
pub async fn list_games(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let query = axum::extract::Query::<GamesQuery>::try_from_uri(&uri)
        .map(|query| query.0)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_request",
                "query parameters are provider, type, enabled (true or false) and jurisdiction",
            )
        })?;
    let kind = query
        .kind
        .as_deref()
        .map(|text| {
            GameType::from_name(text)
                .ok_or_else(|| ApiError::bad_request("invalid_request", "type is slot, table, live, crash or other"))
        })
        .transpose()?;
    let jurisdiction = query
        .jurisdiction
        .as_deref()
        .map(|text| {
            Jurisdiction::new(text)
                .map_err(|_| ApiError::bad_request("invalid_request", "jurisdiction is a two-letter code"))
        })
        .transpose()?;
    let view = state.view.read();
    let games = view
        .games
        .games()
        .into_iter()
        .filter(|g| query.provider.as_deref().is_none_or(|p| g.provider.as_str() == p))
        .filter(|g| kind.is_none_or(|k| g.kind == k))
        .filter(|g| query.enabled.is_none_or(|e| g.enabled == e))
        .filter(|g| jurisdiction.is_none_or(|j| g.jurisdictions.contains(&j)))
        .map(|g| forms::game_reply(&view, g))
        .collect();
    drop(view);
    ok(StatusCode::OK, &GamesReply { games })
}

/// The game `code` at the aggregator `aggregator` names (id or name).
pub(crate) fn game_key(view: &View, aggregator: &str, code: &str) -> Result<(SourceId, GameCode), ApiError> {
    let source = forms::aggregator(view, aggregator)
        .ok_or_else(|| ApiError::not_found("unknown_aggregator", "no such aggregator"))?;
    let code = forms::game_code(code).map_err(|e| e.into_api("invalid_game"))?;
    Ok((source, code))
}

pub(crate) fn unknown_game() -> ApiError {
    ApiError::not_found(
        "unknown_game",
        "the catalogue holds no game of this code from this aggregator",
    )
}

/// One game (every role).
#[utoipa::path(get, path = "/operator/v1/games/{aggregator}/{code}", tag = "games",
    params(("aggregator" = String, Path, description = "the aggregator's id or name"),
        ("code" = String, Path, description = "the game's code at that aggregator")),
    security(("bearer" = [])),
    responses((status = 200, body = GameReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_game: not a game code"),
        (status = 404, body = ErrorBody, description = "unknown_aggregator, unknown_game")))]
pub async fn show_game(
    State(state): State<AppState>,
    Path((aggregator, code)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let view = state.view.read();
    let (source, code) = game_key(&view, &aggregator, &code)?;
    let reply = view
        .games
        .game(source, code.as_str())
        .map(|g| forms::game_reply(&view, g));
    drop(view);
    reply.map_or_else(|| Err(unknown_game()), |reply| ok(StatusCode::OK, &reply))
}

/// Creates a game or replaces its whole record (admins, compliance). The
/// first game turns the catalogue's checks on for every bet.
#[utoipa::path(put, path = "/operator/v1/games/{aggregator}/{code}", tag = "games", request_body = GameBody,
    params(("aggregator" = String, Path, description = "the aggregator's id or name"),
        ("code" = String, Path, description = "the game's code at that aggregator"), IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = GameReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_game (the field is named), unknown_currency, invalid_amount, too_many_decimals"),
        (status = 404, body = ErrorBody, description = "unknown_aggregator"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)"),
        (status = 422, body = ErrorBody, description = "invalid_catalogue_entry: unknown provider, one not carried by the aggregator, an RTP not among the variants, limits out of order, an empty or repeating list")))]
pub async fn put_game(
    State(state): State<AppState>,
    caller: Caller,
    Path((aggregator, code)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: GameBody = decode(&body)?;
    let (source, code) = game_key(&state.view.read(), &aggregator, &code)?;
    let game = request.to_game(source, code).map_err(|e| e.into_api("invalid_game"))?;
    let command = games::Command::UpsertGame {
        game: Box::new(game.clone()),
        operator: caller.id,
    };
    submit(&state, &caller, &headers, command).await?;
    let view = state.view.read();
    let reply = forms::game_reply(&view, &game);
    drop(view);
    ok(StatusCode::OK, &reply)
}

/// Enables a game: it takes bets again (admins, compliance).
#[utoipa::path(post, path = "/operator/v1/games/{aggregator}/{code}/enable", tag = "games",
    params(("aggregator" = String, Path, description = "the aggregator's id or name"),
        ("code" = String, Path, description = "the game's code at that aggregator"), IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = GameReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_game: not a game code"),
        (status = 404, body = ErrorBody, description = "unknown_aggregator, unknown_game")))]
pub async fn enable_game(
    State(state): State<AppState>,
    caller: Caller,
    Path((aggregator, code)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    set_enabled(&state, &caller, &aggregator, &code, &headers, true).await
}

/// Disables a game: its bets are refused, its wins and rollbacks still
/// land (admins, compliance).
#[utoipa::path(post, path = "/operator/v1/games/{aggregator}/{code}/disable", tag = "games",
    params(("aggregator" = String, Path, description = "the aggregator's id or name"),
        ("code" = String, Path, description = "the game's code at that aggregator"), IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = GameReply), RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_game: not a game code"),
        (status = 404, body = ErrorBody, description = "unknown_aggregator, unknown_game")))]
pub async fn disable_game(
    State(state): State<AppState>,
    caller: Caller,
    Path((aggregator, code)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    set_enabled(&state, &caller, &aggregator, &code, &headers, false).await
}

async fn set_enabled(
    state: &AppState,
    caller: &Caller,
    aggregator: &str,
    code: &str,
    headers: &HeaderMap,
    enabled: bool,
) -> Result<Response, ApiError> {
    let (source, code) = {
        let view = state.view.read();
        let (source, code) = game_key(&view, aggregator, code)?;
        if view.games.game(source, code.as_str()).is_none() {
            return Err(unknown_game());
        }
        (source, code)
    };
    let command = games::Command::SetGameEnabled {
        aggregator: source,
        code: code.clone(),
        enabled,
        operator: caller.id,
    };
    submit(state, caller, headers, command).await?;
    let view = state.view.read();
    let reply = view
        .games
        .game(source, code.as_str())
        .map(|g| forms::game_reply(&view, g));
    drop(view);
    reply.map_or_else(|| Err(unknown_game()), |reply| ok(StatusCode::OK, &reply))
}

/// Submits a catalogue command under the caller's `Idempotency-Key` (or a
/// fresh id); anything but `Accepted` is the error.
pub(crate) async fn submit(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    command: games::Command,
) -> Result<(), ApiError> {
    match caller
        .submit(state, request_id(headers)?, Command::Games(command))
        .await?
    {
        Outcome::Accepted => Ok(()),
        other => Err(refusal(&other, Currency::EUR)),
    }
}
