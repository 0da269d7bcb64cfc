//! Brands and their lobbies: the brand entity (code, name, currencies,
//! jurisdictions) and, per brand, the lobby the operator's front end
//! shows (categories in order, featured games, theme), managed under
//! `/operator/v1/brands` and served as JSON at `GET /lobby/v1/{brand}`.
//!
//! Every player belongs to one brand, named at registration (the PAM
//! module records it); players without one belong to the default brand,
//! [`readmodel::marketing::DEFAULT_BRAND`], which exists without being
//! set (setting it gives it a name and lists).
//!
//! A lobby may only name games the catalogue holds (checked when it is
//! set); the served lobby leaves out games disabled since, and those not
//! allowed in the jurisdiction asked for (or in any of the brand's).
//! The served lobby is public: it holds nothing a visitor of the brand's
//! site does not see anyway, and the front end shows it before a login.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use edge::body::{JsonBody, decode};
use edge::change::ok;
use edge::error::{ApiError, ErrorBody};
use edge::openapi::{BodyErrors, LedgerErrors, RoleErrors};
use edge::reads::read;
use edge::{AppState, Caller, wire};
use engine::marketing::{
    self, BRAND_LIST_MAX, Brand, LOBBY_CATEGORIES_MAX, LOBBY_GAMES_MAX, Lobby, LobbyCategory, LobbyGame, Theme,
};
use engine::{GameCode, Jurisdiction, Reason, SourceId, Title};
use readmodel::marketing::{self as view, DEFAULT_BRAND, Defined};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::affiliates::{code, define};

/// A brand as the API takes it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandBody {
    /// Display name (1–128 bytes).
    pub name: String,
    /// The currencies its players may hold (empty: any).
    #[serde(default)]
    pub currencies: Vec<String>,
    /// The jurisdictions its players may be licensed in (empty: any).
    #[serde(default)]
    pub jurisdictions: Vec<String>,
}

/// A brand as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrandReply {
    /// Its code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Its currencies (empty: any).
    pub currencies: Vec<String>,
    /// Its jurisdictions (empty: any).
    pub jurisdictions: Vec<String>,
    /// The sequence number that set it last (0: the default brand, never
    /// set).
    pub seq: u64,
}

/// Every brand.
#[derive(Serialize, ToSchema)]
pub struct BrandsReply {
    /// By code; the default brand always among them.
    pub brands: Vec<BrandReply>,
    /// The sequence number this answer is current to.
    pub as_of_seq: u64,
}

/// A game in a lobby: the catalogue's key.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GameRef {
    /// The aggregator's id (its source).
    pub aggregator: u32,
    /// The game's code there.
    pub game: String,
}

/// A lobby category.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryBody {
    /// Its code (`slots`).
    pub code: String,
    /// Display name.
    pub name: String,
    /// Its games, in order.
    pub games: Vec<GameRef>,
}

/// A brand's look.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThemeBody {
    /// The main colour, `#rrggbb`.
    pub primary_colour: String,
    /// The accent colour, `#rrggbb`.
    pub secondary_colour: String,
    /// The logo's URL (`https://…`, at most 256 bytes).
    pub logo_url: String,
}

/// A lobby as the API takes it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LobbyBody {
    /// Categories, in display order.
    pub categories: Vec<CategoryBody>,
    /// Featured games, in order.
    #[serde(default)]
    pub featured: Vec<GameRef>,
    /// Its look.
    pub theme: ThemeBody,
}

/// A game as the lobby serves it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LobbyGameReply {
    /// The aggregator's id.
    pub aggregator: u32,
    /// The game's code there.
    pub game: String,
    /// Display name.
    pub name: String,
    /// `slot`, `table`, `live`, `crash` or `other`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The studio's code.
    pub provider: String,
}

/// A category as the lobby serves it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryReply {
    /// Its code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Its games that may be played, in order.
    pub games: Vec<LobbyGameReply>,
}

/// A brand's lobby as served.
#[derive(Debug, Serialize, ToSchema)]
pub struct LobbyReply {
    /// The brand's code.
    pub brand: String,
    /// The brand's name.
    pub name: String,
    /// The jurisdiction the games were filtered for, if one was asked.
    pub jurisdiction: Option<String>,
    /// Categories in order.
    pub categories: Vec<CategoryReply>,
    /// Featured games that may be played, in order.
    pub featured: Vec<LobbyGameReply>,
    /// Its look.
    pub theme: ThemeBody,
    /// The sequence number that set the lobby.
    pub seq: u64,
}

/// The served lobby's filter.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LobbyQuery {
    /// Only games allowed in this jurisdiction (default: in any of the
    /// brand's, or anywhere if it lists none).
    pub jurisdiction: Option<String>,
}

fn invalid(code: &'static str, field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(code, format!("{field}: {message}"))
}

fn unknown_brand() -> ApiError {
    ApiError::not_found("unknown_brand", "no brand has this code")
}

/// A brand from its code and body, every field checked.
pub fn to_brand(code_text: &str, body: &BrandBody) -> Result<Brand, ApiError> {
    const E: &str = "invalid_brand";
    if body.currencies.len() > BRAND_LIST_MAX || body.jurisdictions.len() > BRAND_LIST_MAX {
        return Err(invalid(
            E,
            "currencies",
            format!("at most {BRAND_LIST_MAX} currencies and jurisdictions"),
        ));
    }
    let currencies = body
        .currencies
        .iter()
        .map(|c| wire::currency(c))
        .collect::<Result<Vec<_>, _>>()?;
    let jurisdictions = body
        .jurisdictions
        .iter()
        .enumerate()
        .map(|(n, j)| {
            Jurisdiction::new(j).map_err(|_| invalid(E, &format!("jurisdictions[{n}]"), "two upper-case letters"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Brand {
        code: code(code_text, E, "code")?,
        name: Title::new(&body.name).map_err(|e| invalid(E, "name", e))?,
        currencies,
        jurisdictions,
    })
}

fn colour(text: &str, field: &str) -> Result<Title, ApiError> {
    let hex = text.strip_prefix('#').unwrap_or_default();
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("invalid_lobby", field, "#rrggbb"));
    }
    Title::new(text).map_err(|e| invalid("invalid_lobby", field, e))
}

fn game_ref(game: &GameRef, field: &str) -> Result<LobbyGame, ApiError> {
    Ok(LobbyGame {
        aggregator: SourceId(game.aggregator),
        code: GameCode::new(&game.game).map_err(|e| invalid("invalid_lobby", field, e))?,
    })
}

/// A lobby from its brand's code and body, every field checked (the
/// games' existence is checked against the catalogue by [`put_lobby`]).
pub fn to_lobby(brand: &str, body: &LobbyBody) -> Result<Lobby, ApiError> {
    const E: &str = "invalid_lobby";
    if body.categories.len() > LOBBY_CATEGORIES_MAX {
        return Err(invalid(E, "categories", format!("at most {LOBBY_CATEGORIES_MAX}")));
    }
    if body.featured.len() > LOBBY_GAMES_MAX {
        return Err(invalid(E, "featured", format!("at most {LOBBY_GAMES_MAX}")));
    }
    let mut categories = Vec::with_capacity(body.categories.len());
    for (n, category) in body.categories.iter().enumerate() {
        let field = format!("categories[{n}]");
        if category.games.len() > LOBBY_GAMES_MAX {
            return Err(invalid(
                E,
                &format!("{field}.games"),
                format!("at most {LOBBY_GAMES_MAX}"),
            ));
        }
        let games = category
            .games
            .iter()
            .enumerate()
            .map(|(g, game)| game_ref(game, &format!("{field}.games[{g}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let code = code(&category.code, E, &format!("{field}.code"))?;
        if categories.iter().any(|c: &LobbyCategory| c.code == code) {
            return Err(invalid(E, &format!("{field}.code"), "listed twice"));
        }
        categories.push(LobbyCategory {
            code,
            name: Title::new(&category.name).map_err(|e| invalid(E, &format!("{field}.name"), e))?,
            games,
        });
    }
    let featured = body
        .featured
        .iter()
        .enumerate()
        .map(|(g, game)| game_ref(game, &format!("featured[{g}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let logo_url = &body.theme.logo_url;
    if !logo_url.starts_with("https://") {
        return Err(invalid(E, "theme.logo_url", "an https:// URL"));
    }
    Ok(Lobby {
        brand: code(brand, E, "brand")?,
        categories,
        featured,
        theme: Theme {
            primary_colour: colour(&body.theme.primary_colour, "theme.primary_colour")?,
            secondary_colour: colour(&body.theme.secondary_colour, "theme.secondary_colour")?,
            logo_url: Reason::new(logo_url).map_err(|e| invalid(E, "theme.logo_url", e))?,
        },
    })
}

fn brand_reply(brand: &Brand, seq: u64) -> BrandReply {
    BrandReply {
        code: brand.code.to_string(),
        name: brand.name.to_string(),
        currencies: brand.currencies.iter().map(|c| c.code().to_owned()).collect(),
        jurisdictions: brand.jurisdictions.iter().map(ToString::to_string).collect(),
        seq,
    }
}

/// The default brand as it stands when never set: any currency, any
/// jurisdiction.
fn default_brand() -> Brand {
    Brand {
        code: engine::BonusCode::new(DEFAULT_BRAND).expect("a valid code"),
        name: Title::new("Default").expect("a valid title"),
        currencies: Vec::new(),
        jurisdictions: Vec::new(),
    }
}

/// The brand of `code`, the default one even when never set.
pub fn find_brand(c: &rusqlite::Connection, code: &str) -> Result<Option<Defined<Brand>>, readmodel::ReadModelError> {
    let found = view::brand(c, code)?;
    Ok(found.or_else(|| {
        (code == DEFAULT_BRAND).then(|| Defined {
            value: default_brand(),
            set_by_source: 0,
            seq: 0,
            set_ms: 0,
        })
    }))
}

/// Every brand, by code (every role).
#[utoipa::path(get, path = "/operator/v1/brands", tag = "crm", security(("bearer" = [])),
    responses((status = 200, body = BrandsReply), RoleErrors))]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let (found, as_of_seq) = read(&state, view::brands).await?;
    let mut brands: Vec<BrandReply> = found.iter().map(|b| brand_reply(&b.value, b.seq)).collect();
    if !brands.iter().any(|b| b.code == DEFAULT_BRAND) {
        brands.push(brand_reply(&default_brand(), 0));
        brands.sort_by(|a, b| a.code.cmp(&b.code));
    }
    ok(StatusCode::OK, &BrandsReply { brands, as_of_seq })
}

/// One brand (every role).
#[utoipa::path(get, path = "/operator/v1/brands/{brand}", tag = "crm",
    params(("brand" = String, Path, description = "the brand's code")), security(("bearer" = [])),
    responses((status = 200, body = BrandReply), RoleErrors,
        (status = 404, body = ErrorBody, description = "unknown_brand")))]
pub async fn show(State(state): State<AppState>, Path(brand): Path<String>) -> Result<Response, ApiError> {
    let (found, _) = read(&state, move |c| find_brand(c, &brand)).await?;
    found.map_or_else(
        || Err(unknown_brand()),
        |b| ok(StatusCode::OK, &brand_reply(&b.value, b.seq)),
    )
}

/// Creates a brand, or replaces the one of this code (admins, marketing).
/// Journaled; the read model keeps it. Its lists limit the players
/// registered into it from now on.
#[utoipa::path(put, path = "/operator/v1/brands/{brand}", tag = "crm", request_body = BrandBody,
    params(("brand" = String, Path, description = "the brand's code (1–64 printable ASCII)"), edge::change::IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = BrandReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_brand (the field is named), unknown_currency"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: BrandBody = decode(&body)?;
    let brand = to_brand(&code, &request)?;
    let command = marketing::Command::SetBrand {
        brand: Box::new(brand),
        operator: caller.id,
    };
    define(&state, &caller, &headers, command).await?;
    let (found, _) = read(&state, move |c| find_brand(c, &code)).await?;
    found.map_or_else(
        || Err(unknown_brand()),
        |b| ok(StatusCode::OK, &brand_reply(&b.value, b.seq)),
    )
}

/// The games of a lobby that may be played: in the catalogue, enabled,
/// and allowed in `jurisdictions` (any of them; empty: anywhere).
fn playable(state: &AppState, games: &[LobbyGame], jurisdictions: &[Jurisdiction]) -> Vec<LobbyGameReply> {
    let view = state.view.read();
    games
        .iter()
        .filter_map(|game| view.games.game(game.aggregator, game.code.as_str()))
        .filter(|game| game.enabled)
        .filter(|game| jurisdictions.is_empty() || jurisdictions.iter().any(|j| game.jurisdictions.contains(j)))
        .map(|game| LobbyGameReply {
            aggregator: game.aggregator.0,
            game: game.code.to_string(),
            name: game.name.to_string(),
            kind: game.kind.name().to_owned(),
            provider: game.provider.to_string(),
        })
        .collect()
}

fn lobby_reply(
    state: &AppState,
    brand: &Brand,
    lobby: &Defined<Lobby>,
    jurisdiction: Option<Jurisdiction>,
) -> LobbyReply {
    let jurisdictions = jurisdiction.map_or_else(|| brand.jurisdictions.clone(), |j| vec![j]);
    let l = &lobby.value;
    LobbyReply {
        brand: brand.code.to_string(),
        name: brand.name.to_string(),
        jurisdiction: jurisdiction.map(|j| j.to_string()),
        categories: l
            .categories
            .iter()
            .map(|c| CategoryReply {
                code: c.code.to_string(),
                name: c.name.to_string(),
                games: playable(state, &c.games, &jurisdictions),
            })
            .collect(),
        featured: playable(state, &l.featured, &jurisdictions),
        theme: ThemeBody {
            primary_colour: l.theme.primary_colour.to_string(),
            secondary_colour: l.theme.secondary_colour.to_string(),
            logo_url: l.theme.logo_url.as_str().to_owned(),
        },
        seq: lobby.seq,
    }
}

async fn brand_and_lobby(state: &AppState, brand: String) -> Result<(Brand, Defined<Lobby>), ApiError> {
    let (found, _) = read(state, move |c| {
        let Some(brand_found) = find_brand(c, &brand)? else {
            return Ok(Err(unknown_brand()));
        };
        match view::lobby(c, &brand)? {
            Some(lobby) => Ok(Ok((brand_found.value, lobby))),
            None => Ok(Err(ApiError::not_found(
                "no_lobby",
                "this brand has no lobby yet (PUT /operator/v1/brands/{brand}/lobby)",
            ))),
        }
    })
    .await?;
    found
}

fn jurisdiction_of(uri: &Uri) -> Result<Option<Jurisdiction>, ApiError> {
    let axum::extract::Query(query) = axum::extract::Query::<LobbyQuery>::try_from_uri(uri)
        .map_err(|_| ApiError::bad_request("invalid_request", "the only query parameter is jurisdiction"))?;
    query
        .jurisdiction
        .as_deref()
        .map(|j| {
            Jurisdiction::new(j)
                .map_err(|_| ApiError::bad_request("invalid_request", "jurisdiction must be two upper-case letters"))
        })
        .transpose()
}

/// A brand's lobby as operators set it, filtered like the served one
/// (every role).
#[utoipa::path(get, path = "/operator/v1/brands/{brand}/lobby", tag = "crm",
    params(("brand" = String, Path, description = "the brand's code"), LobbyQuery), security(("bearer" = [])),
    responses((status = 200, body = LobbyReply), RoleErrors,
        (status = 400, body = ErrorBody, description = "invalid_request (a bad jurisdiction)"),
        (status = 404, body = ErrorBody, description = "unknown_brand, no_lobby")))]
pub async fn show_lobby(
    State(state): State<AppState>,
    Path(brand): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    serve(state, brand, uri).await
}

/// A brand's lobby for its front end: categories and featured games in
/// order, only games enabled and allowed in the jurisdiction (`?jurisdiction=`,
/// else any of the brand's), and the theme. Public: no token.
#[utoipa::path(get, path = "/lobby/v1/{brand}", tag = "crm",
    params(("brand" = String, Path, description = "the brand's code"), LobbyQuery),
    responses((status = 200, body = LobbyReply),
        (status = 400, body = ErrorBody, description = "invalid_request (a bad jurisdiction)"),
        (status = 404, body = ErrorBody, description = "unknown_brand, no_lobby")))]
pub async fn public_lobby(
    State(state): State<AppState>,
    Path(brand): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    serve(state, brand, uri).await
}

async fn serve(state: AppState, brand: String, uri: Uri) -> Result<Response, ApiError> {
    let jurisdiction = jurisdiction_of(&uri)?;
    let (brand, lobby) = brand_and_lobby(&state, brand).await?;
    ok(StatusCode::OK, &lobby_reply(&state, &brand, &lobby, jurisdiction))
}

/// Sets a brand's lobby (admins, marketing): every game named must be in
/// the catalogue (404 `unknown_game` names the first that is not).
/// Journaled; the read model keeps it.
#[utoipa::path(put, path = "/operator/v1/brands/{brand}/lobby", tag = "crm", request_body = LobbyBody,
    params(("brand" = String, Path, description = "the brand's code"), edge::change::IdempotencyKey),
    security(("bearer" = [])),
    responses((status = 200, body = LobbyReply), BodyErrors, RoleErrors, LedgerErrors,
        (status = 400, body = ErrorBody, description = "invalid_lobby (the field is named)"),
        (status = 404, body = ErrorBody, description = "unknown_brand, unknown_game"),
        (status = 409, body = ErrorBody, description = "conflict (Idempotency-Key reused)")))]
pub async fn put_lobby(
    State(state): State<AppState>,
    caller: Caller,
    Path(brand): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let request: LobbyBody = decode(&body)?;
    let lobby = to_lobby(&brand, &request)?;
    let checking = brand.clone();
    let (known, _) = read(&state, move |c| find_brand(c, &checking)).await?;
    known.ok_or_else(unknown_brand)?;
    {
        let view = state.view.read();
        let named = lobby
            .categories
            .iter()
            .flat_map(|c| c.games.iter())
            .chain(&lobby.featured);
        for game in named {
            if view.games.game(game.aggregator, game.code.as_str()).is_none() {
                return Err(ApiError::not_found(
                    "unknown_game",
                    format!(
                        "the catalogue holds no game {} from aggregator {}",
                        game.code, game.aggregator.0
                    ),
                ));
            }
        }
    }
    let command = marketing::Command::SetLobby {
        lobby: Box::new(lobby),
        operator: caller.id,
    };
    define(&state, &caller, &headers, command).await?;
    let (brand, lobby) = brand_and_lobby(&state, brand).await?;
    ok(StatusCode::OK, &lobby_reply(&state, &brand, &lobby, None))
}
