//! Every route the server serves, written once: method, path, who may call
//! it, and its handler. The router is built from this table, operator
//! routes get their role check from it (the handlers receive the
//! authenticated [`Caller`]), and a test checks it against `/openapi.json`:
//! every route documented, every documented operation served, every
//! operator route with its roles and its bearer security.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use engine::Role;

use crate::app::{self, AppState};
use crate::operator::{self, Caller, authorize};
use crate::{hub88, openapi, reads, wallet};

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, readiness, metrics, the API description.
    Public,
    /// An aggregator, by the signature over its request (checked by the
    /// wallet contract's handler, which needs the body).
    Aggregator,
    /// An operator whose bearer token has one of these roles (checked here,
    /// before the handler runs).
    Operator(&'static [Role]),
}

/// One route.
#[derive(Clone, Debug)]
pub struct Route {
    /// Its method.
    pub method: Method,
    /// Its path, in axum's syntax (`{param}`), the same as OpenAPI's.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

const ALL: &[Role] = &Role::ALL;
const ADMIN: &[Role] = &[Role::Admin];
const SUPPORT: &[Role] = &[Role::Admin, Role::Support];
const FINANCE: &[Role] = &[Role::Admin, Role::Finance];
const COMPLIANCE: &[Role] = &[Role::Admin, Role::Compliance];
const EXCLUSION: &[Role] = &[Role::Admin, Role::Compliance, Role::Support];

/// The table: each route with its handler.
pub fn table() -> Vec<(Route, MethodRouter<AppState>)> {
    use Access::{Aggregator, Operator, Public};
    let route = |method: Method, path, access, handler| (Route { method, path, access }, handler);
    vec![
        route(
            Method::POST,
            "/wallet/v1/authenticate",
            Aggregator,
            post(wallet::authenticate),
        ),
        route(Method::POST, "/wallet/v1/balance", Aggregator, post(wallet::balance)),
        route(Method::POST, "/wallet/v1/bet", Aggregator, post(wallet::bet)),
        route(Method::POST, "/wallet/v1/win", Aggregator, post(wallet::win)),
        route(Method::POST, "/wallet/v1/rollback", Aggregator, post(wallet::rollback)),
        route(
            Method::POST,
            "/wallet/v1/end-round",
            Aggregator,
            post(wallet::end_round),
        ),
        route(
            Method::POST,
            "/operator/v1/operators",
            Operator(ADMIN),
            post(operator::create_operator),
        ),
        route(
            Method::POST,
            "/operator/v1/aggregators",
            Operator(ADMIN),
            post(operator::create_aggregator),
        ),
        route(
            Method::POST,
            "/operator/v1/players",
            Operator(SUPPORT),
            post(operator::create_player),
        ),
        route(
            Method::POST,
            "/operator/v1/players/{player}/deposits",
            Operator(FINANCE),
            post(operator::fund_player),
        ),
        route(
            Method::GET,
            "/operator/v1/players/{player}/balance",
            Operator(ALL),
            get(reads::balance),
        ),
        route(
            Method::GET,
            "/operator/v1/players/{player}/history",
            Operator(ALL),
            get(reads::history),
        ),
        route(
            Method::PUT,
            "/operator/v1/players/{player}/limits",
            Operator(COMPLIANCE),
            put(operator::set_limit),
        ),
        route(
            Method::POST,
            "/operator/v1/players/{player}/self-exclusion",
            Operator(EXCLUSION),
            post(operator::self_exclude),
        ),
        route(
            Method::POST,
            "/operator/v1/sessions",
            Operator(SUPPORT),
            post(operator::issue_session),
        ),
        route(
            Method::GET,
            "/operator/v1/transactions/{source}/{id}",
            Operator(ALL),
            get(reads::transaction),
        ),
        route(
            Method::GET,
            "/operator/v1/hub88/public-key",
            Operator(ALL),
            get(operator::rsa_public_key),
        ),
        route(
            Method::POST,
            "/hub88/{aggregator}/user/info",
            Aggregator,
            post(hub88::user_info_route),
        ),
        route(
            Method::POST,
            "/hub88/{aggregator}/user/balance",
            Aggregator,
            post(hub88::balance_route),
        ),
        route(
            Method::POST,
            "/hub88/{aggregator}/transaction/bet",
            Aggregator,
            post(hub88::bet_route),
        ),
        route(
            Method::POST,
            "/hub88/{aggregator}/transaction/win",
            Aggregator,
            post(hub88::win_route),
        ),
        route(
            Method::POST,
            "/hub88/{aggregator}/transaction/rollback",
            Aggregator,
            post(hub88::rollback_route),
        ),
        route(Method::GET, "/healthz", Public, get(app::healthz)),
        route(Method::GET, "/readyz", Public, get(app::readyz)),
        route(Method::GET, "/metrics", Public, get(app::metrics_text)),
        route(Method::GET, "/openapi.json", Public, get(openapi::serve)),
    ]
}

/// The routes without their handlers.
pub fn routes() -> Vec<Route> {
    table().into_iter().map(|(route, _)| route).collect()
}

/// The table as a router, operator routes behind their role check.
pub fn router(state: &AppState) -> axum::Router<AppState> {
    let mut router = axum::Router::new();
    for (route, handler) in table() {
        let handler = match route.access {
            Access::Operator(roles) => handler.route_layer(axum::middleware::from_fn_with_state(
                (state.clone(), roles),
                require_role,
            )),
            Access::Public | Access::Aggregator => handler,
        };
        router = router.route(route.path, handler);
    }
    router
}

/// Authenticates the operator and checks the role before the handler runs;
/// the handler finds the [`Caller`] in the request's extensions.
async fn require_role(
    State((state, roles)): State<(AppState, &'static [Role])>,
    mut request: Request,
    next: Next,
) -> Response {
    match authorize(&state, request.headers(), roles) {
        Ok(caller) => {
            request.extensions_mut().insert::<Caller>(caller);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}
