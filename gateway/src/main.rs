//! `croupier`: the server binary.
//!
//! `croupier serve` runs the gateway (native wallet API and operator API
//! over HTTP/1.1 and HTTP/2, cleartext or TLS, and HTTP/3 over QUIC) in
//! front of the sequencer and the journal;
//! `croupier demo` (the default with no subcommand) runs a short simulated
//! session through the engine and prints what happened;
//! `croupier sandbox kyc` runs the KYC provider sandbox on loopback,
//! `croupier sandbox gamstop` the self-exclusion register sandbox, and
//! `croupier sandbox stripe` and `croupier sandbox nowpayments` the payment provider sandboxes,
//! `croupier sandbox zendesk` the ticketing system sandbox.
//! `croupier sandbox sendgrid` the campaigns' email provider sandbox,
//! `croupier sandbox twilio` their SMS provider sandbox, `croupier sandbox
//! fcm` their push provider sandbox, `croupier sandbox pragmatic-frb`
//! Pragmatic Play's Free Rounds Bonus API.

mod demo;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use gateway::config::{LogFormat, ServeArgs};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "croupier", version, about = "Croupier casino wallet server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Mode>,
}

#[derive(Subcommand)]
enum Mode {
    /// Serve the wallet and operator APIs (defaults: ./croupier-data, TCP 127.0.0.1:8080, QUIC 127.0.0.1:8443).
    // Boxed: the flags outweigh the demo's many times over.
    Serve(Box<ServeArgs>),
    /// Run a short simulated session through the real sequencer and ledger (the default).
    Demo(demo::DemoArgs),
    /// Run a sandbox of a third-party service on loopback, for local testing.
    #[command(subcommand)]
    Sandbox(SandboxKind),
}

#[derive(Subcommand)]
enum SandboxKind {
    /// A KYC provider speaking the Sumsub protocol the server's adapter speaks.
    Kyc(KycSandboxArgs),
    /// A self-exclusion register speaking the GAMSTOP API v2 protocol the server's adapter speaks.
    Gamstop(GamstopSandboxArgs),
    /// A payment provider speaking the subset of Stripe's API the server's cashier speaks.
    Stripe(StripeSandboxArgs),
    /// A crypto payment provider speaking the subset of NOWPayments' API the server's cashier speaks.
    Nowpayments(NowPaymentsSandboxArgs),
    /// A ticketing system speaking the subset of Zendesk's Tickets API and webhooks the support module speaks.
    Zendesk(ZendeskSandboxArgs),
    /// An email provider speaking the subset of SendGrid's v3 Mail Send API the server's campaigns speak.
    Sendgrid(SendGridSandboxArgs),
    /// An SMS provider speaking the subset of Twilio's Programmable Messaging API the server's campaigns speak.
    Twilio(TwilioSandboxArgs),
    /// A push provider speaking the subset of Firebase Cloud Messaging's HTTP v1 API the server's campaigns speak.
    Fcm(FcmSandboxArgs),
    /// Pragmatic Play's Free Rounds Bonus API (createFRB, cancelFRB, getPlayersFRB).
    PragmaticFrb(PragmaticFrbSandboxArgs),
}

#[derive(clap::Args)]
struct FcmSandboxArgs {
    /// Loopback address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// The Firebase project id served (the server's --fcm-project-id).
    #[arg(long, env = "CROUPIER_FCM_PROJECT_ID", default_value = "croupier-sandbox")]
    project_id: String,
    /// Access token clients must present (the server's --fcm-access-token).
    #[arg(long, env = "CROUPIER_FCM_ACCESS_TOKEN", default_value = "ya29.sandbox")]
    access_token: String,
}

#[derive(clap::Args)]
struct TwilioSandboxArgs {
    /// Loopback address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Account SID clients must present (the server's --twilio-account-sid).
    #[arg(long, env = "CROUPIER_TWILIO_ACCOUNT_SID", default_value = "ACsandbox")]
    account_sid: String,
    /// Auth Token clients must present (the server's --twilio-auth-token).
    #[arg(long, env = "CROUPIER_TWILIO_AUTH_TOKEN", default_value = "sandbox-token")]
    auth_token: String,
}

#[derive(clap::Args)]
struct PragmaticFrbSandboxArgs {
    /// Loopback address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// The secureLogin clients must send (the server's --pragmatic-frb-secure-login).
    #[arg(long, env = "CROUPIER_PRAGMATIC_FRB_SECURE_LOGIN", default_value = "sandbox")]
    secure_login: String,
    /// The secret key their hash is made with (the server's --pragmatic-frb-secret-key).
    #[arg(long, env = "CROUPIER_PRAGMATIC_FRB_SECRET_KEY", default_value = "sandbox-frb-key")]
    secret_key: String,
}

#[derive(clap::Args)]
struct SendGridSandboxArgs {
    /// Loopback address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// API key clients must present (the server's --sendgrid-api-key).
    #[arg(long, env = "CROUPIER_SENDGRID_API_KEY", default_value = "SG.sandbox")]
    api_key: String,
}

#[derive(clap::Args)]
struct NowPaymentsSandboxArgs {
    /// Loopback address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// API key clients must present (the server's --nowpayments-api-key).
    #[arg(long, env = "CROUPIER_NOWPAYMENTS_API_KEY", default_value = "np_sandbox")]
    api_key: String,
    /// Secret IPNs are signed with (the server's --nowpayments-ipn-secret).
    #[arg(long, env = "CROUPIER_NOWPAYMENTS_IPN_SECRET", default_value = "ipn_sandbox")]
    ipn_secret: String,
    /// Account e-mail for payouts (the server's --nowpayments-email).
    #[arg(long, env = "CROUPIER_NOWPAYMENTS_EMAIL", default_value = "sandbox@example.com")]
    email: String,
    /// Account password for payouts (the server's --nowpayments-password).
    #[arg(long, env = "CROUPIER_NOWPAYMENTS_PASSWORD", default_value = "sandbox")]
    password: String,
    /// Where IPNs go, on loopback (e.g. http://127.0.0.1:8080/webhooks/v1/payments/nowpayments).
    #[arg(long)]
    webhook_url: Option<String>,
}

#[derive(clap::Args)]
struct ZendeskSandboxArgs {
    /// Loopback address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// The agent's email API clients authenticate as.
    #[arg(long, env = "CROUPIER_ZENDESK_EMAIL", default_value = "agent@example.com")]
    email: String,
    /// The API token clients must present.
    #[arg(long, env = "CROUPIER_ZENDESK_API_TOKEN", default_value = "zendesk-sandbox-token")]
    api_token: String,
    /// Secret webhooks are signed with (the server's --zendesk-webhook-secret).
    #[arg(
        long,
        env = "CROUPIER_ZENDESK_WEBHOOK_SECRET",
        default_value = "zendesk-sandbox-secret"
    )]
    webhook_secret: String,
    /// Where webhooks go, on loopback (e.g. http://127.0.0.1:8080/webhooks/v1/support/zendesk).
    #[arg(long)]
    webhook_url: Option<String>,
}

#[derive(clap::Args)]
struct StripeSandboxArgs {
    /// Loopback address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Secret API key clients must present (the server's --stripe-secret-key).
    #[arg(long, env = "CROUPIER_STRIPE_SECRET_KEY", default_value = "sk_test_sandbox")]
    secret_key: String,
    /// Secret webhooks are signed with (the server's --stripe-webhook-secret).
    #[arg(long, env = "CROUPIER_STRIPE_WEBHOOK_SECRET", default_value = "whsec_sandbox")]
    webhook_secret: String,
    /// Where webhooks go, on loopback (e.g. http://127.0.0.1:8080/webhooks/v1/payments/stripe).
    #[arg(long)]
    webhook_url: Option<String>,
    /// How long a request made to time out (POST /sandbox/faults) is held, in ms.
    #[arg(long, default_value_t = 30_000)]
    stall_ms: u64,
}

#[derive(clap::Args)]
struct GamstopSandboxArgs {
    /// Loopback address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// API key clients must present (the server's --self-exclusion-registry-api-key).
    #[arg(
        long,
        env = "CROUPIER_SELF_EXCLUSION_REGISTRY_API_KEY",
        default_value = "sandbox-api-key"
    )]
    api_key: String,
    /// Most requests a second before answering 429 [default: no limit].
    #[arg(long)]
    requests_per_second_max: Option<u32>,
}

#[derive(clap::Args)]
struct KycSandboxArgs {
    /// Loopback address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// App token clients must present (the server's --kyc-app-token).
    #[arg(long, env = "CROUPIER_KYC_APP_TOKEN", default_value = "sandbox-app-token")]
    app_token: String,
    /// Secret key requests are signed with (the server's --kyc-secret-key).
    #[arg(long, env = "CROUPIER_KYC_SECRET_KEY", default_value = "sandbox-secret-key")]
    secret_key: String,
    /// Secret webhooks are signed with (the server's --kyc-webhook-secret).
    #[arg(long, env = "CROUPIER_KYC_WEBHOOK_SECRET", default_value = "sandbox-webhook-secret")]
    webhook_secret: String,
    /// Where webhooks go, on loopback (e.g. http://127.0.0.1:8080/webhooks/v1/kyc).
    #[arg(long)]
    webhook_url: Option<String>,
}

fn main() -> Result<()> {
    match Cli::parse().command.unwrap_or(Mode::Demo(demo::DemoArgs::default())) {
        Mode::Demo(args) => demo::run(&args),
        Mode::Serve(args) => serve(&args),
        Mode::Sandbox(SandboxKind::Kyc(args)) => kyc_sandbox(args),
        Mode::Sandbox(SandboxKind::Gamstop(args)) => gamstop_sandbox(args),
        Mode::Sandbox(SandboxKind::Stripe(args)) => stripe_sandbox(args),
        Mode::Sandbox(SandboxKind::Nowpayments(args)) => nowpayments_sandbox(args),
        Mode::Sandbox(SandboxKind::Zendesk(args)) => zendesk_sandbox(args),
        Mode::Sandbox(SandboxKind::Sendgrid(args)) => sendgrid_sandbox(args),
        Mode::Sandbox(SandboxKind::Twilio(args)) => twilio_sandbox(args),
        Mode::Sandbox(SandboxKind::Fcm(args)) => fcm_sandbox(args),
        Mode::Sandbox(SandboxKind::PragmaticFrb(args)) => pragmatic_frb_sandbox(args),
    }
}

fn system_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Runs a sandbox subcommand's body: logs at info level on a fresh
/// multi-threaded runtime, until the body (serving until a signal) returns.
fn run_sandbox(body: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    tracing_subscriber::fmt().with_env_filter(EnvFilter::new("info")).init();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?
        .block_on(body)
}

fn gamstop_sandbox(args: GamstopSandboxArgs) -> Result<()> {
    run_sandbox(async {
        let config = pam::exclusion::sandbox::SandboxConfig {
            api_key: args.api_key,
            requests_per_second_max: args.requests_per_second_max,
            clock: std::sync::Arc::new(system_ms),
        };
        let sandbox = pam::exclusion::sandbox::Sandbox::start(config, args.listen)
            .await
            .context("starting the self-exclusion register sandbox")?;
        println!("GAMSTOP sandbox listening on {}", sandbox.url());
        println!("  checks: {}  batches: {}", sandbox.check_url(), sandbox.batch_url());
        tokio::select! {
            () = sandbox.wait() => {}
            () = shutdown_signal() => {}
        }
        Ok(())
    })
}

fn kyc_sandbox(args: KycSandboxArgs) -> Result<()> {
    run_sandbox(async {
        let config = pam::kyc::sandbox::SandboxConfig {
            app_token: args.app_token,
            secret_key: args.secret_key,
            webhook_secret: args.webhook_secret,
            webhook_url: args.webhook_url,
            clock: std::sync::Arc::new(system_ms),
        };
        let sandbox = pam::kyc::sandbox::Sandbox::start(config, args.listen)
            .await
            .context("starting the KYC sandbox")?;
        println!("KYC sandbox listening on {}", sandbox.url());
        tokio::select! {
            () = sandbox.wait() => {}
            () = shutdown_signal() => {}
        }
        Ok(())
    })
}

fn stripe_sandbox(args: StripeSandboxArgs) -> Result<()> {
    run_sandbox(async {
        let config = payments::sandbox::SandboxConfig {
            secret_key: args.secret_key,
            webhook_secret: args.webhook_secret,
            webhook_url: args.webhook_url,
            stall: std::time::Duration::from_millis(args.stall_ms),
            clock: std::sync::Arc::new(system_ms),
        };
        let sandbox = payments::sandbox::Sandbox::start(config, args.listen)
            .await
            .context("starting the Stripe sandbox")?;
        println!("Stripe sandbox listening on {}", sandbox.url());
        tokio::select! {
            () = sandbox.wait() => {}
            () = shutdown_signal() => {}
        }
        Ok(())
    })
}

fn zendesk_sandbox(args: ZendeskSandboxArgs) -> Result<()> {
    run_sandbox(async {
        let config = helpdesk::sandbox::SandboxConfig {
            email: args.email,
            api_token: args.api_token,
            webhook_secret: args.webhook_secret,
            webhook_url: args.webhook_url,
            clock: std::sync::Arc::new(system_ms),
        };
        let sandbox = helpdesk::sandbox::Sandbox::start(config, args.listen)
            .await
            .context("starting the Zendesk sandbox")?;
        println!("Zendesk sandbox listening on {}", sandbox.url());
        tokio::select! {
            () = sandbox.wait() => {}
            () = shutdown_signal() => {}
        }
        Ok(())
    })
}

fn nowpayments_sandbox(args: NowPaymentsSandboxArgs) -> Result<()> {
    use payments::sandbox_nowpayments::{NowPaymentsSandbox, NowPaymentsSandboxConfig};
    run_sandbox(async {
        let config = NowPaymentsSandboxConfig {
            api_key: args.api_key,
            ipn_secret: args.ipn_secret,
            email: args.email,
            password: args.password,
            webhook_url: args.webhook_url,
        };
        let sandbox = NowPaymentsSandbox::start(config, args.listen)
            .await
            .context("starting the NOWPayments sandbox")?;
        println!("NOWPayments sandbox listening on {}", sandbox.url());
        tokio::select! {
            () = sandbox.wait() => {}
            () = shutdown_signal() => {}
        }
        Ok(())
    })
}

fn sendgrid_sandbox(args: SendGridSandboxArgs) -> Result<()> {
    run_sandbox(async {
        let sandbox = crm::notify::sandbox::Sandbox::start(&args.api_key, args.listen)
            .await
            .context("starting the SendGrid sandbox")?;
        println!("SendGrid sandbox listening on {}", sandbox.url());
        println!("  messages received: {}/sandbox/messages", sandbox.url());
        tokio::select! {
            () = sandbox.wait() => {}
            () = shutdown_signal() => {}
        }
        Ok(())
    })
}

fn twilio_sandbox(args: TwilioSandboxArgs) -> Result<()> {
    run_sandbox(async {
        let sandbox = crm::notify::twilio::sandbox::Sandbox::start(&args.account_sid, &args.auth_token, args.listen)
            .await
            .context("starting the Twilio sandbox")?;
        println!("Twilio sandbox listening on {}", sandbox.url());
        println!("  messages received: {}/sandbox/messages", sandbox.url());
        tokio::select! {
            () = sandbox.wait() => {}
            () = shutdown_signal() => {}
        }
        Ok(())
    })
}

fn fcm_sandbox(args: FcmSandboxArgs) -> Result<()> {
    run_sandbox(async {
        let sandbox = crm::notify::fcm::sandbox::Sandbox::start(&args.project_id, &args.access_token, args.listen)
            .await
            .context("starting the FCM sandbox")?;
        println!("FCM sandbox listening on {}", sandbox.url());
        println!("  messages received: {}/sandbox/messages", sandbox.url());
        tokio::select! {
            () = sandbox.wait() => {}
            () = shutdown_signal() => {}
        }
        Ok(())
    })
}

fn pragmatic_frb_sandbox(args: PragmaticFrbSandboxArgs) -> Result<()> {
    run_sandbox(async {
        let key = engine::HashKey::new(&args.secret_key).map_err(|e| anyhow::anyhow!("--secret-key: {e}"))?;
        let sandbox = crm::frb::sandbox::Sandbox::start(&args.secure_login, &key, args.listen)
            .await
            .context("starting the Pragmatic Play FRB sandbox")?;
        println!("Pragmatic Play FRB sandbox listening on {}", sandbox.url());
        println!("  bonuses held: {}/sandbox/bonuses", sandbox.url());
        tokio::select! {
            () = sandbox.wait() => {}
            () = shutdown_signal() => {}
        }
        Ok(())
    })
}

fn serve(args: &ServeArgs) -> Result<()> {
    let config = args.resolve().context("configuration")?;
    let filter = EnvFilter::try_new(&config.log).with_context(|| format!("log filter {:?}", config.log))?;
    match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt().with_env_filter(filter).init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_env_filter(filter)
            .init(),
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = config.http_worker_threads(cpus);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        tracing::info!(workers, cpus, "HTTP worker threads");
        let running = gateway::server::start(config).await.context("starting the server")?;
        running.run_until(shutdown_signal()).await.context("serving")?;
        tracing::info!("stopped cleanly");
        Ok(())
    })
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
