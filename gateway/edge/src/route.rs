//! A route table row, written once per route: its handler, who may call it
//! ([`Access`]), and its OpenAPI operation, from which the method and path
//! are taken. Module crates export their rows; the server merges them into
//! one router ([`router`]) and one API description ([`document`]), and a
//! test checks the two against each other.
//!
//! The method and path are read from the handler's `#[utoipa::path]`
//! annotation rather than written again in the row, so a route cannot be
//! served under one path and documented under another. Operator routes get
//! their role check here, in front of the handler, which then takes the
//! authenticated [`Caller`].

use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use engine::Role;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::HttpMethod;

use crate::caller::{Caller, authenticate};
use crate::state::AppState;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, readiness, metrics, the API description.
    Public,
    /// An aggregator, by the signature over its request (checked by the
    /// wallet contract's handler, which needs the body).
    Aggregator,
    /// An operator whose bearer token has one of these roles (checked by
    /// the router, before the handler runs).
    Operator(&'static [Role]),
}

/// The operation of a handler as its `#[utoipa::path]` annotation describes
/// it: utoipa generates a `__path_<handler>` type implementing these.
///
/// `Tags` and `SchemaReferences` are utoipa's hidden traits for an
/// operation's tags (`tag = "…"`, which `Path::operation` leaves out) and
/// for the schemas it names (request and response bodies); utoipa's own
/// `OpenApi` derive and `utoipa-axum` read them the same way.
pub trait Operation: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static> {}

impl<P: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>> Operation for P {}

/// One route.
pub struct Route {
    /// Its method (from the annotation).
    pub method: Method,
    /// Its path in OpenAPI's syntax (`{param}`), which is axum's too.
    pub path: String,
    /// Who may call it.
    pub access: Access,
    handler: MethodRouter<AppState>,
    document: fn(&mut OpenApi),
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

/// A row: `handler`, documented by `P` (its `__path_<handler>` type), with
/// `access`: `route::<__path_bet, _>(Access::Aggregator, bet)`.
pub fn route<P: Operation, T: 'static>(access: Access, handler: impl Handler<T, AppState>) -> Route {
    let method = single_method::<P>();
    // The table holds only standard methods: a wrong one fails the start
    // and every test, never serves a route under another method.
    let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method in the route table");
    Route {
        method,
        path: P::path(),
        access,
        handler: on(filter, handler),
        document: document_operation::<P>,
    }
}

/// The one method of an annotation. Each handler serves one method; an
/// annotation naming several is a mistake in the code, caught at start-up
/// and by every test that builds the table.
fn single_method<P: Operation>() -> Method {
    let methods = P::methods();
    let [method] = methods.as_slice() else {
        panic!("{} must name exactly one method, not {}", P::path(), methods.len());
    };
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// Adds `P`'s operation, with its tags, and the schemas it names to `doc`.
fn document_operation<P: Operation>(doc: &mut OpenApi) {
    let mut operation = P::operation();
    let tags = <P as utoipa::__dev::Tags<'static>>::tags();
    operation
        .tags
        .get_or_insert_with(Vec::new)
        .extend(tags.into_iter().map(str::to_owned));
    doc.paths.add_path_operation(P::path(), P::methods(), operation);
    let mut schemas = Vec::new();
    P::schemas(&mut schemas);
    doc.components
        .get_or_insert_with(Default::default)
        .schemas
        .extend(schemas);
}

/// Adds every route's operation to `doc`.
pub fn document(doc: &mut OpenApi, routes: &[Route]) {
    for route in routes {
        (route.document)(doc);
    }
}

/// The rows as a router, operator routes behind their role check.
pub fn router(routes: Vec<Route>, state: &AppState) -> axum::Router<AppState> {
    let mut router = axum::Router::new();
    for route in routes {
        let handler = match route.access {
            Access::Operator(roles) => route.handler.route_layer(axum::middleware::from_fn_with_state(
                (state.clone(), roles),
                require_role,
            )),
            Access::Public | Access::Aggregator => route.handler,
        };
        router = router.route(&route.path, handler);
    }
    router
}

/// Authenticates the operator and checks the role before the handler runs;
/// the handler takes the [`Caller`] from the request's extensions.
async fn require_role(
    State((state, roles)): State<(AppState, &'static [Role])>,
    mut request: Request,
    next: Next,
) -> Response {
    match authenticate(&state, request.headers(), request.method(), roles) {
        Ok(caller) => {
            request.extensions_mut().insert::<Caller>(caller);
            next.run(request).await
        }
        Err(error) => error.into_response(),
    }
}
