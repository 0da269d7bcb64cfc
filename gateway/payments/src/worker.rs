//! The cashier's worker: pays out approved withdrawals from the outbox and
//! expires deposits nobody finished.
//!
//! The outbox is the journal: an approved withdrawal is owed to the player
//! until its completion or failure is journaled, and the read model lists
//! those (`state = approved`) after any restart. For each one the worker
//! asks the provider for the payout under the idempotency key made from
//! the withdrawal's id, journals the provider's reference, and settles
//! the withdrawal if the answer is already final; a pending payout waits
//! for the webhook, and is asked about every `status_every` in case a
//! webhook was lost. A timeout or a 5xx is retried with a doubling delay
//! (from `retry_base` to `retry_max`); the idempotency key makes every
//! retry, including one after a restart, find the payout the first
//! attempt made instead of sending a second. A provider that refuses the
//! payout (4xx) fails the withdrawal: the funds return to the player.
//!
//! Which provider pays: see [`payout_provider`] (the closed-loop rule).
//!
//! Expiry: a deposit still initiated `deposit_ttl` after it began is
//! canceled at the provider (if it has a reference) and then expired by a
//! journaled command, which the ledger accepts only if the journaled time
//! says it is stale. If the provider says it succeeded after all, it is
//! confirmed instead.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge::AppState;
use edge::error::ApiError;
use engine::command::TxRef;
use engine::{Command, Currency, ExtId, Outcome, payments};
use readmodel::ReadModelError;
use readmodel::cashier::{self, PaymentFilter, PaymentView};
use readmodel::methods::{self, PayoutAddress};

use crate::deposits::record_reference;
use crate::providers::{PayoutStart, ProviderPayment, Settlement};
use crate::shared::{derived_id, key_of, submit_system};
use crate::{Cashier, PaymentProvider};

/// Most payments looked at per tick, per kind.
const BATCH_MAX: u32 = 256;

/// Why a tick of the worker stopped early. It is logged; the next tick
/// starts again from the read model, which still lists what is owed.
#[derive(Debug, thiserror::Error)]
enum WorkerError {
    /// The read model could not be read.
    #[error("read model: {0}")]
    ReadModel(#[from] ReadModelError),
    /// A payment's row holds what the ledger cannot take back.
    #[error("payment {id}: {problem}")]
    Row { id: String, problem: String },
    /// A command was not taken (the ring full, the replication group's
    /// leader elsewhere, a timeout).
    #[error("{code}: {message}")]
    Submit { code: &'static str, message: String },
}

impl From<ApiError> for WorkerError {
    fn from(error: ApiError) -> WorkerError {
        WorkerError::Submit {
            code: error.code,
            message: error.message,
        }
    }
}

/// When a payment may be tried again.
#[derive(Clone, Copy)]
struct Backoff {
    failures: u32,
    next: Instant,
}

/// The worker's memory between ticks (not durable: after a restart every
/// owed payout is tried at once, which the idempotency key makes safe).
#[derive(Default)]
struct Memory {
    backoff: HashMap<(u32, String), Backoff>,
}

/// Runs the worker until the task is aborted.
pub async fn run(state: AppState, cashier: Cashier) {
    let mut memory = Memory::default();
    let mut ticker = tokio::time::interval(cashier.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = pay_out(&state, &cashier, &mut memory).await {
            tracing::warn!(%error, "cashier worker: payouts");
        }
        if let Err(error) = expire(&state, &cashier, &mut memory).await {
            tracing::warn!(%error, "cashier worker: deposit expiry");
        }
    }
}

/// Starts the worker on the runtime; abort the handle to stop it.
pub fn spawn(state: AppState, cashier: Cashier) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(state, cashier))
}

fn due(memory: &Memory, view: &PaymentView, now: Instant) -> bool {
    memory
        .backoff
        .get(&(view.source.0, view.id.clone()))
        .is_none_or(|b| b.next <= now)
}

fn failed(memory: &mut Memory, cashier: &Cashier, view: &PaymentView) {
    let entry = memory
        .backoff
        .entry((view.source.0, view.id.clone()))
        .or_insert(Backoff {
            failures: 0,
            next: Instant::now(),
        });
    entry.failures = entry.failures.saturating_add(1);
    let factor = 1u32 << entry.failures.saturating_sub(1).min(16);
    let delay = cashier.retry_base.saturating_mul(factor).min(cashier.retry_max);
    entry.next = Instant::now() + delay;
}

/// Waits `every` before the next status read of a sent payout.
fn wait(memory: &mut Memory, view: &PaymentView, every: Duration) {
    memory.backoff.insert(
        (view.source.0, view.id.clone()),
        Backoff {
            failures: 0,
            next: Instant::now() + every,
        },
    );
}

fn tx(view: &PaymentView) -> Result<TxRef, WorkerError> {
    let id = ExtId::new(&view.id).map_err(|e| WorkerError::Row {
        id: view.id.clone(),
        problem: e.to_string(),
    })?;
    Ok(TxRef {
        source: view.source,
        id,
    })
}

async fn owed(state: &AppState, kind: &str, state_name: &str) -> Result<Vec<PaymentView>, WorkerError> {
    let filter = PaymentFilter {
        kind: kind.into(),
        state: Some(state_name.into()),
        limit: BATCH_MAX,
        ..PaymentFilter::default()
    };
    let (rows, _) = state.readmodel.query(move |c| cashier::list(c, &filter)).await?;
    Ok(rows)
}

async fn pay_out(state: &AppState, cashier: &Cashier, memory: &mut Memory) -> Result<(), WorkerError> {
    let now = Instant::now();
    for view in owed(state, "withdrawal", "approved").await? {
        if !due(memory, &view, now) {
            continue;
        }
        let withdrawal = tx(&view)?;
        let currency = Currency::from_code(&view.currency).ok_or_else(|| WorkerError::Row {
            id: view.id.clone(),
            problem: format!("a withdrawal in an unknown currency {:?}", view.currency),
        })?;
        let address = payout_address(state, &view, &withdrawal).await?;
        let Some(provider) = payout_provider(state, cashier, &view, address.as_ref()).await? else {
            tracing::error!(withdrawal = %withdrawal.id, provider = ?view.provider, "the payout's provider is not configured");
            failed(memory, cashier, &view);
            continue;
        };
        let answer = match &view.reference {
            Some(reference) => provider.payout_status(reference).await,
            None => {
                let payout = PayoutStart {
                    key: key_of(&withdrawal),
                    amount_minor: view.amount_minor,
                    currency: view.currency.clone(),
                    destination: address
                        .filter(|_| provider.payout_needs_destination())
                        .map(|a| a.address),
                };
                provider.payout(&payout).await
            }
        };
        match answer {
            Ok(payout) => {
                settle_payout(state, provider.name(), &withdrawal, &payout, currency).await?;
                wait(memory, &view, cashier.status_every);
            }
            Err(error) if error.is_transient() => {
                tracing::warn!(%error, withdrawal = %withdrawal.id, "payout call failed; retrying later");
                failed(memory, cashier, &view);
            }
            Err(error) => {
                tracing::error!(%error, withdrawal = %withdrawal.id, "the provider refused the payout: the withdrawal fails");
                let reject = Command::Payments(payments::Command::WithdrawalReject {
                    withdrawal: withdrawal.clone(),
                });
                submit_system(state, derived_id("payout-refused", &withdrawal), reject).await?;
            }
        }
    }
    Ok(())
}

/// Where a crypto payout of the withdrawal goes (the player's crypto
/// payment method), if it has one.
async fn payout_address(
    state: &AppState,
    view: &PaymentView,
    withdrawal: &TxRef,
) -> Result<Option<PayoutAddress>, WorkerError> {
    let (player, payment, before_ms) = (view.player, withdrawal.clone(), view.created_ms);
    let (row, _) = state
        .readmodel
        .query(move |c| methods::payout_address(c, player, &payment, before_ms))
        .await?;
    Ok(row)
}

/// The provider that pays a withdrawal out: the one its payout was sent
/// through, once recorded; before that, a provider that pays to an
/// address if the withdrawal named the player's crypto method; else the
/// closed-loop rule (see the crate's documentation): the provider of the
/// player's latest settled deposit in the currency that started before
/// the withdrawal, if configured and able to pay back (to an address, the
/// player's crypto method, if it needs one), else the default. `None`: the
/// recorded provider is no longer configured.
async fn payout_provider(
    state: &AppState,
    cashier: &Cashier,
    view: &PaymentView,
    address: Option<&PayoutAddress>,
) -> Result<Option<Arc<dyn PaymentProvider>>, WorkerError> {
    if let Some(name) = &view.provider {
        return Ok(cashier.provider(name).cloned());
    }
    if address.is_some_and(|a| a.named)
        && let Some(provider) = cashier.providers.iter().find(|p| p.payout_needs_destination())
    {
        return Ok(Some(Arc::clone(provider)));
    }
    let (player, currency, before_ms) = (view.player, view.currency.clone(), view.created_ms);
    let source = state
        .readmodel
        .query(move |c| cashier::closed_loop_source(c, player, &currency, before_ms))
        .await?
        .0;
    let closed_loop = source
        .and_then(|deposit| deposit.provider)
        .and_then(|name| cashier.provider(&name).cloned())
        .filter(|provider| !provider.payout_needs_destination() || address.is_some());
    Ok(closed_loop.or_else(|| cashier.default_provider().cloned()))
}

async fn settle_payout(
    state: &AppState,
    provider: &str,
    withdrawal: &TxRef,
    payout: &ProviderPayment,
    currency: Currency,
) -> Result<(), WorkerError> {
    record_reference(state, withdrawal, provider, &payout.reference, currency).await?;
    let (command, step) = match payout.settlement {
        Settlement::Pending => return Ok(()),
        Settlement::Succeeded => (
            payments::Command::WithdrawalComplete {
                withdrawal: withdrawal.clone(),
            },
            "payout-paid",
        ),
        Settlement::Failed => (
            payments::Command::WithdrawalReject {
                withdrawal: withdrawal.clone(),
            },
            "payout-failed",
        ),
    };
    // A webhook may have settled it first: then this is refused, harmlessly.
    submit_system(state, derived_id(step, withdrawal), Command::Payments(command)).await?;
    Ok(())
}

async fn expire(state: &AppState, cashier: &Cashier, memory: &mut Memory) -> Result<(), WorkerError> {
    let ttl_ms = cashier.deposit_ttl.as_millis() as u64;
    let before_ms = state.now_ms().saturating_sub(ttl_ms);
    let stale = state
        .readmodel
        .query(move |c| cashier::stale_deposits(c, before_ms, BATCH_MAX))
        .await?
        .0;
    let now = Instant::now();
    for view in stale {
        if !due(memory, &view, now) {
            continue;
        }
        let deposit = tx(&view)?;
        let provider = view.provider.as_deref().and_then(|name| cashier.provider(name));
        let settlement = match (&view.reference, provider) {
            (None, _) => Settlement::Failed,
            (Some(_), None) => {
                tracing::error!(deposit = %deposit.id, provider = ?view.provider, "a stale deposit's provider is not configured");
                failed(memory, cashier, &view);
                continue;
            }
            (Some(reference), Some(provider)) => match provider.cancel_deposit(reference).await {
                Ok(payment) => payment.settlement,
                Err(error) => {
                    tracing::warn!(%error, deposit = %deposit.id, "could not cancel a stale deposit; retrying later");
                    failed(memory, cashier, &view);
                    continue;
                }
            },
        };
        let (command, step) = match settlement {
            Settlement::Succeeded => (
                payments::Command::DepositConfirmChecked {
                    deposit: deposit.clone(),
                },
                "confirm-late",
            ),
            Settlement::Failed => (
                payments::Command::DepositExpire {
                    deposit: deposit.clone(),
                    after_ms: ttl_ms,
                },
                "expire",
            ),
            Settlement::Pending => continue,
        };
        match submit_system(state, derived_id(step, &deposit), Command::Payments(command)).await {
            Ok(Outcome::Rejected(rejection)) => {
                tracing::info!(?rejection, deposit = %deposit.id, "stale deposit not settled");
                failed(memory, cashier, &view);
            }
            Ok(_) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}
