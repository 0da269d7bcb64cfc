//! The configured payment providers, for operators: each one's name,
//! kind, whether it is the default, its API's host, the webhook path it
//! must be set up to call, and what went through it (deposits and
//! withdrawals by state, from the cashier view, and the payouts it owes:
//! approved withdrawals it has not settled).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use edge::AppState;
use edge::error::ApiError;
use edge::openapi::{LedgerErrors, RoleErrors};
use edge::reads::read;
use readmodel::cashier;
use serde::Serialize;
use utoipa::ToSchema;

use crate::Cashier;

/// One configured provider.
#[derive(Serialize, ToSchema)]
pub struct ProviderReply {
    /// Its name, as the ledger records it: `stripe`, `nowpayments`.
    pub name: &'static str,
    /// `card` (a card acquirer) or `crypto`.
    pub kind: &'static str,
    /// Whether deposits that name no provider go to it.
    pub default: bool,
    /// The host (and port) of its API: never the whole URL, which may
    /// carry credentials.
    pub api_host: String,
    /// This server's path the provider's webhooks (IPNs) must be sent to.
    pub webhook_path: String,
    /// Its deposits by state (initiated, confirmed, failed, …).
    pub deposits: BTreeMap<String, u64>,
    /// Its withdrawals by state (approved, completed, failed, …).
    pub withdrawals: BTreeMap<String, u64>,
    /// Payouts owed through it: approved withdrawals it has not settled
    /// (the outbox's depth).
    pub payouts_owed: u64,
}

/// The configured providers.
#[derive(Serialize, ToSchema)]
pub struct ProvidersReply {
    /// The default first; empty when no provider is configured.
    pub providers: Vec<ProviderReply>,
    /// Withdrawals no provider was chosen for yet, by state (the approval
    /// queue: `requested`).
    pub unassigned_withdrawals: BTreeMap<String, u64>,
    /// The sequence number the counts are current to.
    pub as_of_seq: u64,
}

/// The host of `url` (`https://user:secret@api.example.com:8443/v1` →
/// `api.example.com:8443`).
pub fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    host.to_owned()
}

/// Lists the configured payment providers with their traffic (admins,
/// finance).
#[utoipa::path(get, path = "/operator/v1/payments/providers", tag = "cashier", security(("bearer" = [])),
    responses((status = 200, body = ProvidersReply), RoleErrors, LedgerErrors))]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let configured = state.modules.get::<Cashier>().cloned();
    let (counts, as_of_seq) = read(&state, cashier::counts).await?;
    let mut providers: Vec<ProviderReply> = configured
        .iter()
        .flat_map(|c| c.providers.iter())
        .enumerate()
        .map(|(n, provider)| ProviderReply {
            name: provider.name(),
            kind: provider.kind(),
            default: n == 0,
            api_host: host_of(provider.api_url()),
            webhook_path: format!("/webhooks/v1/payments/{}", provider.name()),
            deposits: BTreeMap::new(),
            withdrawals: BTreeMap::new(),
            payouts_owed: 0,
        })
        .collect();
    let mut unassigned = BTreeMap::new();
    for (kind, provider, state_name, count) in counts {
        let Some(entry) = providers.iter_mut().find(|p| p.name == provider) else {
            if kind == "withdrawal" {
                *unassigned.entry(state_name).or_insert(0) += count;
            }
            continue;
        };
        if kind == "withdrawal" {
            if state_name == "approved" {
                entry.payouts_owed += count;
            }
            entry.withdrawals.insert(state_name, count);
        } else {
            entry.deposits.insert(state_name, count);
        }
    }
    let reply = ProvidersReply {
        providers,
        unassigned_withdrawals: unassigned,
        as_of_seq,
    };
    edge::change::ok(StatusCode::OK, &reply)
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn the_host_leaves_the_scheme_path_and_credentials_out() {
        assert_eq!(host_of("https://api.stripe.com"), "api.stripe.com");
        assert_eq!(host_of("http://127.0.0.1:4242/v1/x?y"), "127.0.0.1:4242");
        assert_eq!(
            host_of("https://user:secret@api.example.com:8443/v1"),
            "api.example.com:8443"
        );
        assert_eq!(host_of("api.nowpayments.io/v1"), "api.nowpayments.io");
    }
}
