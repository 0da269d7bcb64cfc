//! The online commands: `croupier-admin` as a client of a running server's
//! operator API, one module per command group ([`players`], [`kyc`],
//! [`limits`], [`rg`], [`lookups`], [`statements`], [`logins`],
//! [`operators`], [`audit`], [`jurisdictions`], [`cashier`], [`risk`],
//! [`games`], [`jackpots`], [`bonuses`], [`loyalty`], [`campaigns`], [`reports`], [`methods`], [`cluster`],
//! [`tickets`]) over one
//! [`client::Client`].
//!
//! A new group is one file here: its clap `Subcommand` and a `run` that
//! takes the client and the output mode, plus one variant of [`Command`]
//! and one arm in [`run`]. Every failure is a [`Failure`], printed as one
//! line on stderr and turned into a documented exit code ([`Failure::code`]);
//! nothing here panics on what the server or the user sent.

mod client;
mod config;
mod output;

mod affiliates;
mod analytics;
mod audit;
mod bonuses;
mod campaigns;
mod cashier;
mod cluster;
mod games;
mod jackpots;
mod jurisdictions;
mod kyc;
mod limits;
mod logins;
mod lookups;
mod loyalty;
mod methods;
mod operators;
mod players;
mod reports;
mod rg;
mod risk;
mod statements;
mod tickets;

use std::path::PathBuf;

use clap::Subcommand;

pub use self::client::{Client, Failure};
pub use self::output::Output;

/// The exit codes, as `--help` and the README list them.
pub const EXIT_CODES: &str = "Exit codes: 0 ok; 1 other failure (a server error, an offline tool failed); \
2 usage (bad arguments, or input the server refused as invalid, 400); 3 authentication (not logged in, \
a wrong, rotated or disabled token, or a role that may not do this: 401/403); 4 not found (an unknown \
player or operator: 404); 5 refused (the server refused the change: a conflict, a limit, the last admin: \
409/410/422); 6 server unreachable (connection refused, TLS or timeout).";

/// The online commands (each talks to the server `login` stored).
#[derive(Subcommand)]
pub enum Command {
    /// Store the server URL and an operator token (a 0600 file; `CROUPIER_ADMIN_CONFIG` overrides where).
    Login {
        /// The server, e.g. https://casino.example:8080 or http://127.0.0.1:8080.
        #[arg(long)]
        server: String,
        /// The operator's bearer token.
        #[arg(long)]
        token: String,
        /// The server's certificate (PEM) to trust for https, e.g. its self-signed
        /// `<data dir>/tls/cert.pem`.
        #[arg(long)]
        ca_cert: Option<PathBuf>,
    },
    /// Players: register, show, status, erase.
    #[command(subcommand)]
    Players(players::Command),
    /// KYC: show, set-level, documents, start a provider check.
    #[command(subcommand)]
    Kyc(kyc::Command),
    /// Set or remove a responsible-gambling limit.
    Limits(limits::LimitArgs),
    /// Record a player's self-exclusion.
    SelfExclude(limits::UntilArgs),
    /// Record a player's time-out.
    TimeOut(limits::UntilArgs),
    /// Reality checks, session time limits, limit reviews, and the RG read.
    #[command(subcommand)]
    Rg(rg::Command),
    /// A player's history: every movement of their money, in pages.
    History(lookups::HistoryArgs),
    /// A player's wallet balances.
    Balance(lookups::BalanceArgs),
    /// A player's statement: every movement with the balances after it; `--csv FILE` exports it all.
    Statement(statements::StatementArgs),
    /// A player's balances at a past moment (`--at`), per wallet.
    Balances(statements::BalancesArgs),
    /// A player's login sessions, newest first.
    Sessions(logins::SessionsArgs),
    /// The devices and IP addresses a player logged in from (keyed hashes).
    Devices(logins::DevicesArgs),
    /// Operators: list, create, role, disable, rotate.
    #[command(subcommand)]
    Operators(operators::Command),
    /// The audit trail: every operator action, filtered; `--csv` exports it.
    Audit(audit::AuditArgs),
    /// Jurisdiction profiles: list, show (with history), set a version.
    #[command(subcommand)]
    Jurisdictions(jurisdictions::Command),
    /// Deposits through the payment providers, filtered.
    Deposits(cashier::ListArgs),
    /// Withdrawals: list (the approval queue), approve, reject.
    #[command(subcommand)]
    Withdrawals(cashier::WithdrawalsCommand),
    /// A player's payment methods: list, add (by token), disable, enable, remove.
    #[command(subcommand)]
    Methods(methods::Command),
    /// The configured payment providers: kind, default, API host, webhook path, payments by state, payouts owed;
    /// `providers performance`: the game providers' live performance.
    Providers {
        /// `performance` (without it: the payment providers).
        #[command(subcommand)]
        command: Option<games::ProvidersCommand>,
    },
    /// The FX rate table: set a rate from a moment on, list the history.
    #[command(subcommand)]
    Fx(cashier::FxCommand),
    /// Import a provider's settlement file (CSV) and queue its differences from the ledger.
    Reconcile(cashier::ReconcileArgs),
    /// The reconciliation queue: list the differences, resolve one with a reason.
    #[command(subcommand)]
    Reconciliation(cashier::ReconciliationCommand),
    /// AML alerts: list (the queue: `--state queued`), show with evidence.
    #[command(subcommand)]
    Alerts(risk::AlertsCommand),
    /// Risk cases: list, show, open, assign, note, act, resolve, export.
    #[command(subcommand)]
    Cases(risk::CasesCommand),
    /// Support tickets: list, show, open, message, assign, status, priority.
    #[command(subcommand)]
    Tickets(tickets::TicketsCommand),
    /// Internal notes on a player: list, add.
    #[command(subcommand)]
    Notes(tickets::NotesCommand),
    /// A player's timeline: every event in time order, filtered by kind.
    Timeline(tickets::TimelineArgs),
    /// Problem-gambling markers and alerts, interventions, churn scores.
    #[command(subcommand)]
    Analytics(analytics::Command),
    /// The game catalogue: list, show, import a provider's list, enable, disable; live performance and RTP alerts.
    #[command(subcommand)]
    Games(games::Command),
    /// Jackpot pools: list, show, create, award.
    #[command(subcommand)]
    Jackpots(jackpots::Command),
    /// Bonuses: templates (list, show, create), a player's bonuses (list,
    /// grant, forfeit).
    #[command(subcommand)]
    Bonuses(bonuses::Command),
    /// Loyalty: the programme (show, set), a player's points and tier
    /// (show, redeem, set the tier), promotion rules (the mixed-product ban).
    #[command(subcommand)]
    Loyalty(loyalty::Command),
    /// Affiliates: list, show, set, their players, commission plans, a
    /// month's commission.
    #[command(subcommand)]
    Affiliates(affiliates::Command),
    /// Brands: list, show, set, and each brand's lobby (show, set).
    #[command(subcommand)]
    Brands(affiliates::BrandsCommand),
    /// Marketing segments: list, show, set from a JSON file, members.
    #[command(subcommand)]
    Segments(campaigns::SegmentsCommand),
    /// Campaigns: list, show, set from a JSON file, targets, uplift.
    #[command(subcommand)]
    Campaigns(campaigns::CampaignsCommand),
    /// A regulatory or business report for a period, as JSON, CSV, TSV or HTML, to a file or stdout.
    Reports(reports::ReportArgs),
    /// The replication group: status, transfer-leader, add, remove.
    #[command(subcommand)]
    Cluster(cluster::Command),
}

/// Runs an online command.
pub fn run(command: Command, output: Output) -> Result<(), Failure> {
    match command {
        Command::Login { server, token, ca_cert } => login(&server, &token, ca_cert, output),
        Command::Players(command) => players::run(&Client::from_config()?, command, output),
        Command::Kyc(command) => kyc::run(&Client::from_config()?, command, output),
        Command::Limits(args) => limits::set_limit(&Client::from_config()?, args, output),
        Command::SelfExclude(args) => limits::until(&Client::from_config()?, "self-exclusion", args, output),
        Command::TimeOut(args) => limits::until(&Client::from_config()?, "time-out", args, output),
        Command::Rg(command) => rg::run(&Client::from_config()?, command, output),
        Command::History(args) => lookups::history(&Client::from_config()?, args, output),
        Command::Balance(args) => lookups::balance(&Client::from_config()?, args, output),
        Command::Statement(args) => statements::statement(&Client::from_config()?, args, output),
        Command::Balances(args) => statements::balances(&Client::from_config()?, args, output),
        Command::Sessions(args) => logins::sessions(&Client::from_config()?, args, output),
        Command::Devices(args) => logins::devices(&Client::from_config()?, args, output),
        Command::Operators(command) => operators::run(&Client::from_config()?, command, output),
        Command::Audit(args) => audit::run(&Client::from_config()?, args, output),
        Command::Jurisdictions(command) => jurisdictions::run(&Client::from_config()?, command, output),
        Command::Deposits(args) => cashier::deposits(&Client::from_config()?, args, output),
        Command::Withdrawals(command) => cashier::withdrawals(&Client::from_config()?, command, output),
        Command::Methods(command) => methods::run(&Client::from_config()?, command, output),
        Command::Providers { command: None } => cashier::providers(&Client::from_config()?, output),
        Command::Providers { command: Some(command) } => games::providers(&Client::from_config()?, command, output),
        Command::Fx(command) => cashier::fx(&Client::from_config()?, command, output),
        Command::Reconcile(args) => cashier::reconcile(&Client::from_config()?, args, output),
        Command::Reconciliation(command) => cashier::reconciliation(&Client::from_config()?, command, output),
        Command::Alerts(command) => risk::alerts(&Client::from_config()?, command, output),
        Command::Cases(command) => risk::cases(&Client::from_config()?, command, output),
        Command::Tickets(command) => tickets::tickets(&Client::from_config()?, command, output),
        Command::Notes(command) => tickets::notes(&Client::from_config()?, command, output),
        Command::Timeline(args) => tickets::timeline(&Client::from_config()?, args, output),
        Command::Analytics(command) => analytics::run(&Client::from_config()?, command, output),
        Command::Games(command) => games::run(&Client::from_config()?, command, output),
        Command::Jackpots(command) => jackpots::run(&Client::from_config()?, command, output),
        Command::Reports(args) => reports::run(&Client::from_config()?, args, output),
        Command::Bonuses(command) => bonuses::run(&Client::from_config()?, command, output),
        Command::Loyalty(command) => loyalty::run(&Client::from_config()?, command, output),
        Command::Affiliates(command) => affiliates::run(&Client::from_config()?, command, output),
        Command::Brands(command) => affiliates::brands(&Client::from_config()?, command, output),
        Command::Segments(command) => campaigns::run_segments(&Client::from_config()?, command, output),
        Command::Campaigns(command) => campaigns::run_campaigns(&Client::from_config()?, command, output),
        Command::Cluster(command) => cluster::run(&Client::from_config()?, command, output),
    }
}

/// Checks the token against the server (a route every role may read), then
/// stores it: a wrong token or a server that is down stores nothing.
fn login(server: &str, token: &str, ca_cert: Option<PathBuf>, output: Output) -> Result<(), Failure> {
    let stored = config::Config {
        server: server.trim_end_matches('/').to_owned(),
        token: token.to_owned(),
        ca_cert,
    };
    let client = Client::new(&stored)?;
    client.get_text("/operator/v1/hub88/public-key")?;
    let path = config::save(&stored)?;
    let message = format!("logged in to {}; stored in {}", stored.server, path.display());
    output.done(&serde_json::json!({"server": stored.server, "config": path}), &message);
    Ok(())
}
