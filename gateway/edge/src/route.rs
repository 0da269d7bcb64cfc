//! Every route the server serves, written once: method, path, who may call
//! it, and its handler. The router is built from this table, operator
//! routes get their role check from it (the handlers receive the
//! authenticated [`Caller`]), and a test checks it against `/openapi.json`:
//! every route documented, every documented operation served, every
//! operator route with its roles and its bearer security.

use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
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
    vec![
        route(
            Method::POST,
            "/wallet/v1/authenticate",
            Aggregator,
            wallet::authenticate,
        ),
        route(Method::POST, "/wallet/v1/balance", Aggregator, wallet::balance),
        route(Method::POST, "/wallet/v1/bet", Aggregator, wallet::bet),
        route(Method::POST, "/wallet/v1/win", Aggregator, wallet::win),
        route(Method::POST, "/wallet/v1/rollback", Aggregator, wallet::rollback),
        route(Method::POST, "/wallet/v1/end-round", Aggregator, wallet::end_round),
        route(
            Method::POST,
            "/operator/v1/operators",
            Operator(ADMIN),
            operator::create_operator,
        ),
        route(
            Method::POST,
            "/operator/v1/aggregators",
            Operator(ADMIN),
            operator::create_aggregator,
        ),
        route(
            Method::POST,
            "/operator/v1/players",
            Operator(SUPPORT),
            operator::create_player,
        ),
        route(
            Method::POST,
            "/operator/v1/players/{player}/deposits",
            Operator(FINANCE),
            operator::fund_player,
        ),
        route(
            Method::GET,
            "/operator/v1/players/{player}/balance",
            Operator(ALL),
            reads::balance,
        ),
        route(
            Method::GET,
            "/operator/v1/players/{player}/history",
            Operator(ALL),
            reads::history,
        ),
        route(
            Method::PUT,
            "/operator/v1/players/{player}/limits",
            Operator(COMPLIANCE),
            operator::set_limit,
        ),
        route(
            Method::POST,
            "/operator/v1/players/{player}/self-exclusion",
            Operator(EXCLUSION),
            operator::self_exclude,
        ),
        route(
            Method::POST,
            "/operator/v1/sessions",
            Operator(SUPPORT),
            operator::issue_session,
        ),
        route(
            Method::GET,
            "/operator/v1/transactions/{source}/{id}",
            Operator(ALL),
            reads::transaction,
        ),
        route(
            Method::GET,
            "/operator/v1/hub88/public-key",
            Operator(ALL),
            operator::rsa_public_key,
        ),
        route(
            Method::POST,
            "/hub88/{aggregator}/user/info",
            Aggregator,
            hub88::user_info_route,
        ),
        route(
            Method::POST,
            "/hub88/{aggregator}/user/balance",
            Aggregator,
            hub88::balance_route,
        ),
        route(
            Method::POST,
            "/hub88/{aggregator}/transaction/bet",
            Aggregator,
            hub88::bet_route,
        ),
        route(
            Method::POST,
            "/hub88/{aggregator}/transaction/win",
            Aggregator,
            hub88::win_route,
        ),
        route(
            Method::POST,
            "/hub88/{aggregator}/transaction/rollback",
            Aggregator,
            hub88::rollback_route,
        ),
        route(Method::GET, "/healthz", Public, app::healthz),
        route(Method::GET, "/readyz", Public, app::readyz),
        route(Method::GET, "/metrics", Public, app::metrics_text),
        route(Method::GET, "/openapi.json", Public, openapi::serve),
    ]
}

/// One row of the table: the method is written once and serves both the
/// description and the router.
fn route<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> (Route, MethodRouter<AppState>)
where
    H: Handler<T, AppState>,
    T: 'static,
{
    // The table holds only standard methods: a typo fails the start and
    // every test, never serves a route under another method.
    let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method in the route table");
    (Route { method, path, access }, on(filter, handler))
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
