//! The page shell every back-office page shares: head (viewport, embedded
//! stylesheet and scripts), the navigation, the signed-in operator with
//! the logout form, and the CSRF token htmx sends with every request.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use engine::Role;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::assets;

/// Who is looking at a page: what the shell shows and the page may offer.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// The operator.
    pub id: engine::OperatorId,
    /// The operator's name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// The session's CSRF token.
    pub csrf: String,
}

impl Viewer {
    /// Whether the role may approve and reject withdrawals (the cashier's
    /// rule: admins and finance). The API checks it again.
    pub fn may_approve(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Finance)
    }

    /// Whether the role reads the whole audit trail (the operator API's
    /// rule: admins and compliance); others see their own actions.
    pub fn reads_audit(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Compliance)
    }

    /// Whether the role reads players' KYC state (PAM's rule: admins,
    /// compliance, support).
    pub fn reads_kyc(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Compliance | Role::Support)
    }

    /// Whether the role decides KYC by hand (PAM's rule: admins, compliance).
    pub fn decides_kyc(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Compliance)
    }

    /// Whether the role reads AML alerts, cases and risk scores (the risk
    /// module's rule: admins, compliance, read-only).
    pub fn reads_risk(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Compliance | Role::ReadOnly)
    }

    /// Whether the role works AML cases (open, assign, annotate, resolve:
    /// admins, compliance).
    pub fn works_cases(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Compliance)
    }

    /// Whether the role enables and disables games (the games module's
    /// rule: admins, compliance).
    pub fn manages_games(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Compliance)
    }

    /// Whether the role reads tickets and notes on players (the support
    /// module's rule: admins, compliance, support).
    pub fn reads_support(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Compliance | Role::Support)
    }

    /// Whether the role works tickets and writes notes on players (the
    /// support module's rule: admins, support).
    pub fn works_support(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Support)
    }

    /// Whether the role grants, claims and forfeits bonuses (CRM's rule:
    /// admins, marketing).
    pub fn manages_bonuses(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Marketing)
    }

    /// Whether the role reads problem-gambling markers and issues
    /// interventions (the analytics module's rule: admins, compliance).
    pub fn works_markers(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Compliance)
    }

    /// Whether the role reads churn scores (the analytics module's rule:
    /// admins, marketing, read-only).
    pub fn reads_churn(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Marketing | Role::ReadOnly)
    }

    /// Whether the role opens the campaigns page and defines campaigns
    /// and segments (CRM's managers: admins, marketing).
    pub fn manages_campaigns(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Marketing)
    }

    /// Whether the role reads reports (the reports module's rule: every
    /// role but support).
    pub fn reads_reports(&self) -> bool {
        matches!(
            self.role,
            Role::Admin | Role::Finance | Role::Compliance | Role::ReadOnly
        )
    }

    /// Whether the role reads games' live performance (the games module's
    /// rule: every role but support).
    pub fn reads_game_figures(&self) -> bool {
        matches!(
            self.role,
            Role::Admin | Role::Finance | Role::Compliance | Role::ReadOnly | Role::Marketing
        )
    }

    /// Whether the role manages operators (admins).
    pub fn manages_operators(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the role may open the page at `path` (the navigation's).
    pub fn may_open(&self, path: &str) -> bool {
        match path {
            "/backoffice/kyc" => self.reads_kyc(),
            "/backoffice/aml" => self.reads_risk(),
            "/backoffice/reports" => self.reads_reports(),
            "/backoffice/campaigns" => self.manages_campaigns(),
            "/backoffice/operators" => self.manages_operators(),
            _ => true,
        }
    }
}

/// The navigation: (path, label); each viewer sees the pages their role
/// may open ([`Viewer::may_open`]).
const NAV: &[(&str, &str)] = &[
    ("/backoffice", "Dashboard"),
    ("/backoffice/players", "Players"),
    ("/backoffice/withdrawals", "Withdrawals"),
    ("/backoffice/kyc", "KYC"),
    ("/backoffice/aml", "AML"),
    ("/backoffice/games", "Games"),
    ("/backoffice/bonuses", "Bonuses"),
    ("/backoffice/campaigns", "Campaigns"),
    ("/backoffice/reports", "Reports"),
    ("/backoffice/operators", "Operators"),
    ("/backoffice/audit", "Audit"),
];

/// A full page for a signed-in viewer.
pub fn page(title: &str, current: &str, viewer: &Viewer, body: Markup) -> Response {
    let csrf_headers = serde_json::json!({ edge::browser::CSRF_HEADER: viewer.csrf }).to_string();
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body hx-headers=(csrf_headers) {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "Croupier" }
                    nav aria-label="Main" {
                        ul {
                            @for (path, label) in NAV.iter().filter(|(path, _)| viewer.may_open(path)) {
                                li {
                                    @if *path == current {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    form.logout method="post" action="/backoffice/logout" {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        span.who { (viewer.name) " · " (viewer.role.name()) }
                        button type="submit" { "Sign out" }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    div #flash role="status" aria-live="polite" {}
                    div #content { (body) }
                }
            }
        }
    };
    html_response(StatusCode::OK, markup)
}

/// The document head.
pub fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Croupier back office" }
            link rel="stylesheet" href=(assets::url("app.css"));
            script src=(assets::url("htmx.min.js")) defer {}
            script src=(assets::url("app.js")) defer {}
        }
    }
}

/// The page a role may not open: 403, saying so, with the navigation.
pub fn forbidden(title: &str, viewer: &Viewer) -> Response {
    let mut response = page(
        title,
        "",
        viewer,
        html! { p.error role="alert" { "Your role (" (viewer.role.name()) ") may not open this page." } },
    );
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
}

/// An HTML response that no other site may frame or cache.
pub fn html_response(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    response
}

/// A money amount in minor units as text in `currency`.
pub fn money(minor: i64, currency: &str) -> String {
    match engine::Currency::from_code(currency) {
        Some(c) => format!("{} {currency}", engine::Amount::from_minor(minor).to_decimal(c)),
        None => format!("{minor} (minor) {currency}"),
    }
}

/// A time in ms since the epoch as RFC 3339 (UTC, seconds).
pub fn when(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Raw markup that is known safe (our own SVG).
pub fn trusted(text: String) -> PreEscaped<String> {
    PreEscaped(text)
}
