//! Feeding the read copy of the ledger's access state
//! ([`edge::view::View`]) from the committed stream.
//!
//! [`ProjectingSink`] wraps the journal sink: once a batch is durable it
//! applies the batch's access commands to the shared view with
//! [`engine::ledger::Access::follow`] (the same code the ledger runs), and
//! times the flush for `/metrics`. It runs on the sequencer thread, before
//! the replies go out, so an operator who was told "aggregator created" finds
//! it in the view. The view is rebuilt from the journal at every start and
//! never written anywhere: no private durable state (DESIGN.md invariant 1).

use std::sync::Arc;
use std::time::Instant;

use edge::view::SharedView;
use engine::sequencer::{CommitError, CommitSink, Committed};
use engine::{Command, Config};
use engine::{access, gaming, players};

use crate::metrics::Metrics;

/// Commands that can change the view.
pub(crate) fn changes_view(command: &Command) -> bool {
    matches!(
        command,
        Command::Players(
            players::Command::RegisterPlayer { .. }
                | players::Command::RegisterProfiled { .. }
                | players::Command::RegisterAged { .. }
                | players::Command::SetAgeBand { .. }
                | players::Command::SetJurisdictionProfile { .. }
                | players::Command::SetJurisdictionProfileV1 { .. }
                | players::Command::SetJurisdictionRules { .. }
        ) | Command::Access(access::Command::CreateOperator { .. })
            | Command::Access(access::Command::CreateAggregator { .. })
            | Command::Access(access::Command::IssueSession { .. })
            | Command::Access(access::Command::SetOperatorRole { .. })
            | Command::Access(access::Command::DisableOperator { .. })
            | Command::Access(access::Command::RotateOperatorToken { .. })
            | Command::Games(_)
            | Command::Jackpots(_)
    )
}

/// Commands that can change the jackpot pools once one exists: bets and
/// jackpot wins (in a session or not), on top of [`changes_view`].
fn changes_pools(command: &Command) -> bool {
    matches!(
        command.unwrapped(),
        Command::Gaming(gaming::Command::Bet(_))
            | Command::Gaming(gaming::Command::Win(gaming::Win {
                kind: gaming::WinKind::Jackpot,
                ..
            }))
    )
}

/// A [`CommitSink`] that commits to `inner`, then updates the view and the metrics.
pub struct ProjectingSink<S> {
    inner: S,
    view: SharedView,
    config: Config,
    metrics: Arc<Metrics>,
    /// Whether a jackpot pool exists: until one does, bets leave the view
    /// alone and batches of bets take no lock.
    pools: bool,
}

impl<S: CommitSink> ProjectingSink<S> {
    /// Wraps `inner`; `config` must be the ledger's.
    pub fn new(inner: S, view: SharedView, config: Config, metrics: Arc<Metrics>) -> ProjectingSink<S> {
        let pools = !view.read().jackpots.is_empty();
        ProjectingSink {
            inner,
            view,
            config,
            metrics,
            pools,
        }
    }
}

impl<S: CommitSink> CommitSink for ProjectingSink<S> {
    fn commit(&mut self, batch: &[Committed]) -> Result<(), CommitError> {
        let started = Instant::now();
        self.inner.commit(batch)?;
        self.metrics.flush_seconds.observe(started.elapsed().as_secs_f64());
        self.metrics.batch_len.observe(batch.len() as f64);
        let changes = |command: &Command| changes_view(command) || (self.pools && changes_pools(command));
        if batch.iter().any(|c| changes(&c.envelope.request.command)) {
            let mut view = self.view.write();
            for committed in batch {
                view.follow(&self.config, &committed.envelope, &committed.outcome);
            }
            self.pools = !view.jackpots.is_empty();
        }
        Ok(())
    }
}
