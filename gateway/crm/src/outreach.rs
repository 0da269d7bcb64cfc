//! The campaign worker: launches scheduled campaigns, evaluates triggered
//! ones, and delivers what the outbox owes.
//!
//! Everything it decides is journaled before anything leaves, so the
//! journal is the outbox (as for the bonus triggers):
//!
//! 1. **Launch.** A scheduled campaign past its start: the segment's
//!    members now, each one either suppressed
//!    ([`readmodel::campaigns::suppressed_for_marketing`]: exclusion,
//!    time-out, account status, the channel's consent, an open risk
//!    alert), in the control group (a hash of campaign and player), or a
//!    target; recorded in batches (`CampaignTargets`), the last marking
//!    the launch done. A restart mid-launch evaluates again; each player
//!    keeps the first record made of it.
//! 2. **Triggers.** A deposit or a registration owes each enabled
//!    triggered campaign an evaluation of that player; recorded the same
//!    way (one player, skipped when not a member).
//! 3. **Delivery.** Each pending target: the offer through the grant
//!    path, under a request id made of campaign and player (so never
//!    twice; free spins on games an aggregator with a free-rounds call
//!    carries are awarded through it, [`crate::free_rounds`]), then the message through the channel's
//!    [`NotificationProvider`](crate::notify::NotificationProvider), then
//!    `CampaignSent`, which settles the row. A provider that is down is
//!    retried with exponential backoff (kept in memory: a restart retries
//!    at once; nothing is lost), up to [`ATTEMPTS_MAX`] attempts; a
//!    refusal is final.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use edge::AppState;
use edge::reads::read_in_background;
use edge::worker::{TickError, TickLog};
use engine::bonus::{self, Campaign, Channel, TARGETS_PER_COMMAND_MAX, TargetKind, in_control_group};
use engine::{Command, ExtId, PlayerId, Request, SourceId};
use readmodel::bonuses;
use readmodel::campaigns::{self, PendingSend};

use crate::grants::{Basis, grant_of};
use crate::notify::{Message, Providers};

/// How often the worker looks for work.
pub const TICK: Duration = Duration::from_millis(200);
/// Most sends and triggered evaluations handled per tick.
const BATCH_MAX: u32 = 256;
/// Attempts at a message before it is given up.
pub const ATTEMPTS_MAX: u32 = 5;
/// The first retry's delay; each next one doubles it.
pub const RETRY_BASE: Duration = Duration::from_millis(500);
/// The source the system's own requests carry.
const SYSTEM_SOURCE: SourceId = SourceId(0);

/// What the worker remembers between ticks: the retries in progress.
#[derive(Default)]
pub struct Worker {
    /// Attempts made and when the next may go (the process's monotonic
    /// clock: the ledger's clock is for records, not for waiting).
    retries: HashMap<(String, u64), (u32, Instant)>,
}

/// Runs the worker until the task is aborted.
pub async fn run(state: AppState) {
    let mut worker = Worker::default();
    let mut log = TickLog::new("campaigns");
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        log.record(&worker.tick(&state).await);
    }
}

/// Starts the worker on the runtime; abort the handle to stop it.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(state))
}

/// A 64-bit FNV-1a hash of a campaign code, so request ids stay within
/// their 64 bytes whatever the code's length.
fn code_hash(code: &str) -> u64 {
    code.bytes().fold(0xcbf2_9ce4_8422_2325, |hash: u64, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The request id of the grant a campaign makes `player`.
pub fn grant_id(campaign: &str, player: u64) -> Option<ExtId> {
    ExtId::new(&format!("cmpg:{:016x}:{player}", code_hash(campaign))).ok()
}

enum Submitted {
    Done(engine::Outcome),
    NotLeader,
}

async fn submit(state: &AppState, id: Option<ExtId>, command: Command) -> Result<Submitted, TickError> {
    let id = id.ok_or("request id")?;
    let request = Request {
        source: SYSTEM_SOURCE,
        id,
        command,
    };
    match state.engine.run(request).await {
        Ok(done) => Ok(Submitted::Done(done.outcome)),
        Err(error) if error.code == "not_leader" => Ok(Submitted::NotLeader),
        Err(error) => Err(error.into()),
    }
}

impl Worker {
    /// Launches, evaluates and delivers what is due now.
    pub async fn tick(&mut self, state: &AppState) -> Result<(), TickError> {
        let now_ms = state.now_ms();
        let (due, _) = read_in_background(state, move |c| campaigns::due_scheduled(c, now_ms)).await?;
        for view in due {
            if !launch(state, &view.campaign, view.seq).await? {
                return Ok(());
            }
        }
        let (owed, _) = read_in_background(state, |c| campaigns::due_triggered(c, BATCH_MAX)).await?;
        for (code, player, seq) in owed {
            if !self.evaluate(state, &code, player, seq).await? {
                return Ok(());
            }
        }
        let (pending, _) = read_in_background(state, |c| campaigns::pending_sends(c, BATCH_MAX)).await?;
        for send in pending {
            if !self.deliver(state, &send).await? {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn evaluate(&mut self, state: &AppState, code: &str, player: u64, seq: u64) -> Result<bool, TickError> {
        let wanted = code.to_owned();
        let (found, _) = read_in_background(state, move |c| campaigns::campaign(c, &wanted)).await?;
        let member = match &found {
            Some(view) if view.campaign.enabled => {
                let segment = segment_of(state, &view.campaign).await?;
                match segment {
                    Some(segment) => crate::segments::members(state, &segment, Some(player))
                        .await?
                        .contains(&player),
                    None => false,
                }
            }
            _ => false,
        };
        let Some(view) = found else { return Ok(true) };
        let kind = if member {
            kind_of(state, &view.campaign, player).await?
        } else {
            TargetKind::Skipped
        };
        let id = ExtId::new(&format!("cmpt:{:016x}:{player}:{seq}", code_hash(code))).ok();
        let command = Command::Bonus(bonus::Command::CampaignTargets {
            campaign: view.campaign.code.clone(),
            targets: vec![(PlayerId(player), kind)],
            complete: false,
        });
        Ok(matches!(submit(state, id, command).await?, Submitted::Done(_)))
    }

    async fn deliver(&mut self, state: &AppState, send: &PendingSend) -> Result<bool, TickError> {
        let key = (send.campaign.clone(), send.player);
        let now = Instant::now();
        if let Some(&(_, next)) = self.retries.get(&key)
            && next > now
        {
            return Ok(true);
        }
        let wanted = send.campaign.clone();
        let (found, _) = read_in_background(state, move |c| campaigns::campaign(c, &wanted)).await?;
        // A campaign disabled after its launch holds its sends.
        let Some(view) = found.filter(|v| v.campaign.enabled) else {
            return Ok(true);
        };
        let campaign = &view.campaign;
        let attempts = self.retries.get(&key).map_or(0, |r| r.0) + 1;
        // Exclusion, consent and risk are asked again at the send: they
        // may have changed since the launch.
        let delivered = match recipient(state, campaign, send.player).await {
            // A lag is no attempt: the send waits for the next round.
            Err(TickError::ViewBehind) => return Err(TickError::ViewBehind),
            Err(TickError::Failed(error)) if attempts < ATTEMPTS_MAX => {
                self.retry(key.clone(), attempts, now, campaign, send.player, &error);
                None
            }
            Err(TickError::Failed(_)) | Ok(None) => Some(false),
            Ok(Some(to)) => match grant(state, campaign, send.player).await? {
                None => return Ok(false),
                // The offer was refused (a blocked player, a full queue):
                // no message about an offer the player does not have.
                Some(false) => Some(false),
                Some(true) => match message(state, campaign, send.player, to).await {
                    Ok(()) => Some(true),
                    Err(MessageError::Transient(error)) if attempts < ATTEMPTS_MAX => {
                        self.retry(key.clone(), attempts, now, campaign, send.player, &error);
                        None
                    }
                    Err(error) => {
                        tracing::warn!(campaign = %campaign.code, player = send.player, attempts, error = %error.text(), "campaign message: given up");
                        Some(false)
                    }
                },
            },
        };
        let Some(delivered) = delivered else { return Ok(true) };
        self.retries.remove(&key);
        let id = ExtId::new(&format!("cmps:{:016x}:{}", code_hash(&send.campaign), send.player)).ok();
        let command = Command::Bonus(bonus::Command::CampaignSent {
            campaign: campaign.code.clone(),
            player: PlayerId(send.player),
            delivered,
            attempts,
        });
        Ok(matches!(submit(state, id, command).await?, Submitted::Done(_)))
    }
}

impl Worker {
    fn retry(
        &mut self,
        key: (String, u64),
        attempts: u32,
        now: Instant,
        campaign: &Campaign,
        player: u64,
        error: &str,
    ) {
        let delay = RETRY_BASE * (1 << (attempts - 1));
        tracing::info!(campaign = %campaign.code, player, attempts, %error, "campaign send: retrying");
        self.retries.insert(key, (attempts, now + delay));
    }
}

async fn segment_of(state: &AppState, campaign: &Campaign) -> Result<Option<bonus::Segment>, TickError> {
    let code = campaign.segment.to_string();
    let (found, _) = read_in_background(state, move |c| campaigns::segment(c, &code)).await?;
    Ok(found.map(|v| v.segment))
}

/// Whether `player`, a member, is a target, in the control group, or
/// suppressed. The control group is drawn among the players who could be
/// targeted, so the two arms of the uplift are alike.
async fn kind_of(state: &AppState, campaign: &Campaign, player: u64) -> Result<TargetKind, TickError> {
    let consented = match campaign.channel {
        Channel::None => None,
        channel => {
            let facts = match state.directory() {
                Some(d) => d.marketing(state, PlayerId(player)).await?,
                None => None,
            };
            // No profile: no address to send to, and no consent; no
            // address on the channel: skipped like no consent.
            Some(facts.is_some_and(|f| match channel {
                Channel::Email => f.email_consent && !f.email.is_empty(),
                Channel::Sms => f.sms_consent && !f.phone.is_empty(),
                // A device registered for push, and the consent.
                Channel::Push => f.push_consent && f.push_token.is_some(),
                Channel::None => true,
            }))
        }
    };
    let now_ms = state.now_ms();
    let (suppressed, _) = read_in_background(state, move |c| {
        campaigns::suppressed_for_marketing(c, player, consented, now_ms)
    })
    .await?;
    Ok(match suppressed {
        Some(_) => TargetKind::Skipped,
        None if in_control_group(campaign.code.as_str(), player, campaign.control_pct) => TargetKind::Control,
        None => TargetKind::Target,
    })
}

/// Targets a scheduled campaign's segment; false if this node is not the
/// leader (the leader's worker launches).
async fn launch(state: &AppState, campaign: &Campaign, seq: u64) -> Result<bool, TickError> {
    let Some(segment) = segment_of(state, campaign).await? else {
        tracing::warn!(campaign = %campaign.code, "campaign: its segment is gone; not launched");
        return Ok(true);
    };
    let members = crate::segments::members(state, &segment, None).await?;
    let mut targets = Vec::with_capacity(members.len());
    for player in members {
        targets.push((PlayerId(player), kind_of(state, campaign, player).await?));
    }
    let hash = code_hash(campaign.code.as_str());
    let chunks: Vec<_> = targets.chunks(TARGETS_PER_COMMAND_MAX).collect();
    let last = chunks.len().saturating_sub(1);
    if chunks.is_empty() {
        let id = ExtId::new(&format!("cmpl:{hash:016x}:{seq}:0")).ok();
        let command = Command::Bonus(bonus::Command::CampaignTargets {
            campaign: campaign.code.clone(),
            targets: Vec::new(),
            complete: true,
        });
        return Ok(matches!(submit(state, id, command).await?, Submitted::Done(_)));
    }
    for (n, chunk) in chunks.into_iter().enumerate() {
        let first = chunk.first().map_or(0, |t| t.0.0);
        let id = ExtId::new(&format!("cmpl:{hash:016x}:{seq}:{first}:{}", chunk.len())).ok();
        let command = Command::Bonus(bonus::Command::CampaignTargets {
            campaign: campaign.code.clone(),
            targets: chunk.to_vec(),
            complete: n == last,
        });
        if let Submitted::NotLeader = submit(state, id, command).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Grants the campaign's offer: `Some(true)` granted (now or before),
/// `Some(false)` refused, `None` not the leader.
async fn grant(state: &AppState, campaign: &Campaign, player: u64) -> Result<Option<bool>, TickError> {
    let Some(offer) = campaign.offer.clone() else {
        return Ok(Some(true));
    };
    let (template, _) = read_in_background(state, move |c| bonuses::by_code(c, offer.as_str())).await?;
    let Some(template) = template.filter(|t| t.template.enabled) else {
        return Ok(Some(false));
    };
    let player_id = PlayerId(player);
    if crate::loyalty::check_mixed_product(state, player_id, &template.template)
        .await
        .is_err()
    {
        return Ok(Some(false));
    }
    if let Some(aggregator) = crate::free_rounds::carrier(state, &template.template) {
        let Some(id) = grant_id(campaign.code.as_str(), player) else {
            return Ok(Some(false));
        };
        return crate::free_rounds::award_for_campaign(state, &template.template, player_id, aggregator, id).await;
    }
    let now_ms = state.now_ms();
    let Some(cap_x) = crate::templates::wagering_cap_x(state, player_id, now_ms) else {
        return Ok(Some(false));
    };
    let Ok(grant) = grant_of(&template.template, player_id, &Basis::default(), cap_x, now_ms) else {
        return Ok(Some(false));
    };
    let command = Command::Bonus(bonus::Command::GrantQueued {
        grant,
        max_bet: template.template.max_bet,
    });
    Ok(
        match submit(state, grant_id(campaign.code.as_str(), player), command).await? {
            Submitted::Done(outcome) => Some(outcome.is_ok()),
            Submitted::NotLeader => None,
        },
    )
}

enum MessageError {
    Transient(String),
    Final(String),
}

impl MessageError {
    fn text(&self) -> &str {
        match self {
            MessageError::Transient(text) | MessageError::Final(text) => text,
        }
    }
}

impl std::fmt::Display for MessageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text())
    }
}

/// Where `player` is reached on the campaign's channel, if nothing
/// suppresses it now (`Some("")` for channel none: no message); `None`:
/// suppressed, or no profile to send to.
async fn recipient(state: &AppState, campaign: &Campaign, player: u64) -> Result<Option<String>, TickError> {
    let facts = match (campaign.channel, state.directory()) {
        (Channel::None, _) | (_, None) => None,
        (_, Some(d)) => d.marketing(state, PlayerId(player)).await?,
    };
    let (consented, to) = match (campaign.channel, facts) {
        (Channel::None, _) => (None, String::new()),
        (_, None) => return Ok(None),
        (Channel::Email, Some(f)) => (Some(f.email_consent), f.email),
        (Channel::Sms, Some(f)) => (Some(f.sms_consent), f.phone),
        // The device's token now: a token cleared since the launch leaves
        // nowhere to send (recorded as not delivered).
        (Channel::Push, Some(f)) => match f.push_token {
            Some(token) => (Some(f.push_consent), token),
            None => return Ok(None),
        },
    };
    let now_ms = state.now_ms();
    let (suppressed, _) = read_in_background(state, move |c| {
        campaigns::suppressed_for_marketing(c, player, consented, now_ms)
    })
    .await?;
    if let Some(why) = suppressed {
        tracing::info!(campaign = %campaign.code, player, why = why.name(), "campaign send: suppressed");
        return Ok(None);
    }
    Ok(Some(to))
}

/// Sends the campaign's message to `player` at `to` over its channel.
async fn message(state: &AppState, campaign: &Campaign, player: u64, to: String) -> Result<(), MessageError> {
    if campaign.channel == Channel::None {
        return Ok(());
    }
    let provider = state
        .modules
        .get::<Providers>()
        .and_then(|p| p.of(campaign.channel))
        .ok_or_else(|| MessageError::Transient(format!("no {} provider configured", campaign.channel.name())))?;
    let message = Message {
        to,
        title: campaign.name.to_string(),
        text: campaign.message.to_string(),
        key: format!("{}:{player}", campaign.code),
    };
    match provider.send(&message).await {
        Ok(_) => Ok(()),
        Err(error) if error.is_transient() => Err(MessageError::Transient(error.to_string())),
        Err(error) => Err(MessageError::Final(error.to_string())),
    }
}
