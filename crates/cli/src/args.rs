//! Command-line flags. Every setting has an environment-variable fallback so the
//! same binary runs from a shell, a unit file or a container without a config file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use keva_server::ServerConfig;
use secrecy::SecretString;

#[derive(Parser)]
#[command(
    name = "keva-sync",
    version,
    about = "Two-way sync between Keva customers and HubSpot contacts"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
// Parsed once at start-up, so the enum's size does not matter; boxing `ServeArgs`
// would only make every use of it clumsier.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the service: HTTP API and background workers.
    Serve(ServeArgs),
    /// Run the local HubSpot-compatible sandbox server.
    Sandbox(keva_sandbox::cli::SandboxArgs),
    /// One command for a newcomer: SQLite, a seeded sandbox portal, the service wired
    /// to it, sample customers and a ready API key.
    Quickstart(QuickstartArgs),
    /// Apply database migrations and exit.
    Migrate(DbArgs),
    /// Batch-sync every customer of a connector's workspace with HubSpot (or follow
    /// the batch sync already running), with a progress bar and the final tally.
    BatchSync(crate::batch::BatchSyncArgs),
    /// Suggest field mappings offline from a saved HubSpot properties response.
    Automap(crate::automap::AutomapArgs),
    /// Re-seal every stored secret under a new master key, beside running
    /// instances (see "Rotating the master key" in docs/operations.md).
    RotateKey(crate::rotate_key::RotateKeyArgs),
    /// Manage API keys.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Manage the admin console's users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a console user (and the workspace, if new) and print a one-time
    /// sign-in link (valid 24 hours).
    Create {
        /// Workspace name.
        #[arg(long)]
        workspace: String,
        /// The user's email (their sign-in name).
        #[arg(long)]
        email: String,
        /// `admin` (everything) or `agent` (customers, tickets, Sync Now; no settings).
        #[arg(long, value_parser = ["admin", "agent"])]
        role: String,
        /// Also set a password, read from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The console's externally visible base URL (the link points there).
        #[arg(long, env = "KEVA_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        public_url: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key (and the workspace, if new); the key is printed once.
    Create {
        /// Workspace name.
        #[arg(long)]
        workspace: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Where the data lives and the key that seals tokens at rest.
#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// Database URL: `sqlite://FILE` (created if missing) or `postgres://...`.
    #[arg(
        long,
        env = "KEVA_DATABASE_URL",
        default_value = "sqlite://keva-sync.db"
    )]
    pub database_url: String,
    /// Base64 32-byte key that encrypts HubSpot tokens at rest. Required for
    /// PostgreSQL; with SQLite a key file is created beside the database if unset.
    #[arg(long, env = "KEVA_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<SecretString>,
    /// File holding the master key (created with 0600 permissions if missing and
    /// the database is SQLite).
    #[arg(long, env = "KEVA_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// A former master key, used only to open secrets not yet re-sealed under the
    /// current one (while `keva-sync rotate-key` runs). Base64, like KEVA_MASTER_KEY.
    #[arg(long, env = "KEVA_MASTER_KEY_PREVIOUS", hide_env_values = true)]
    pub master_key_previous: Option<SecretString>,
    /// File holding the former master key (see --master-key-previous).
    #[arg(long, env = "KEVA_MASTER_KEY_PREVIOUS_FILE")]
    pub master_key_previous_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct HubspotArgs {
    /// HubSpot API base URL (point it at a sandbox to test safely).
    #[arg(
        long,
        env = "HUBSPOT_API_BASE",
        default_value = "https://api.hubapi.com"
    )]
    pub hubspot_api_base: String,
    /// OAuth app client id.
    #[arg(long, env = "HUBSPOT_CLIENT_ID")]
    pub hubspot_client_id: Option<String>,
    /// OAuth app client secret (also verifies webhook signatures).
    #[arg(long, env = "HUBSPOT_CLIENT_SECRET", hide_env_values = true)]
    pub hubspot_client_secret: Option<SecretString>,
    /// HubSpot app id (webhook subscriptions).
    #[arg(long, env = "HUBSPOT_APP_ID")]
    pub hubspot_app_id: Option<String>,
    /// HubSpot's OAuth consent page. Defaults to https://app.hubspot.com/oauth/authorize
    /// for the production API and to HUBSPOT_API_BASE/oauth/authorize otherwise.
    #[arg(long, env = "HUBSPOT_AUTHORIZE_URL")]
    pub hubspot_authorize_url: Option<String>,
    /// Scopes an OAuth connect requires (space- or comma-separated). Default:
    /// contacts read/write, contact schema read, companies read, deals read.
    #[arg(long, env = "HUBSPOT_SCOPES")]
    pub hubspot_scopes: Option<String>,
    /// Scopes asked for when the portal has them (`optional_scope`). Default:
    /// crm.schemas.contacts.write.
    #[arg(long, env = "HUBSPOT_OPTIONAL_SCOPES")]
    pub hubspot_optional_scopes: Option<String>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KEVA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Externally visible base URL (webhook signatures are computed over it).
    /// Defaults to http://LISTEN.
    #[arg(long, env = "KEVA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Do not apply migrations at start-up (run `keva-sync migrate` instead).
    #[arg(long)]
    pub no_migrate: bool,
    /// Share of each portal's 10-second HubSpot rate window, and of its daily
    /// limit, that batch syncs leave to live (event-driven) syncs, 0.0–0.9.
    #[arg(long, env = "KEVA_BATCH_RESERVE", default_value_t = keva_server::batch::DEFAULT_BATCH_RESERVE)]
    pub batch_reserve: f64,
    /// Serve `/metrics` on this address only (e.g. one the monitoring network
    /// reaches) instead of beside the API.
    #[arg(long, env = "KEVA_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Seconds one API request may take, body upload included (longer → 408).
    #[arg(long, env = "KEVA_REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,
    /// Requests one API key may have in flight at once (more → 429).
    #[arg(long, env = "KEVA_PER_KEY_CONCURRENCY", default_value_t = keva_server::limits::DEFAULT_PER_KEY_CONCURRENCY)]
    pub per_key_concurrency: usize,
    /// Console sign-in attempts per account (workspace and email) per minute,
    /// right or wrong (more → 429); 0 turns the limit off.
    #[arg(long, env = "KEVA_SIGN_IN_ATTEMPTS_PER_ACCOUNT", default_value_t = keva_server::console::session::SIGN_IN_ATTEMPTS_PER_MINUTE)]
    pub sign_in_attempts_per_account: u32,
    /// Failed console sign-ins per source address per minute before that address
    /// waits (429); 0 turns the limit off. Behind a reverse proxy every user
    /// shares the proxy's address: raise it there.
    #[arg(long, env = "KEVA_SIGN_IN_FAILURES_PER_ADDRESS", default_value_t = keva_server::console::session::SIGN_IN_FAILURES_PER_ADDRESS_PER_MINUTE)]
    pub sign_in_failures_per_address: u32,
    #[command(flatten)]
    pub retention: RetentionArgs,
    /// How long a claimed sync job stays ours without a heartbeat, in ms.
    #[arg(long, env = "KEVA_JOB_LEASE_MS", default_value_t = 30_000, hide = true)]
    pub job_lease_ms: u64,
    /// How long a portal lease lasts unrenewed (PostgreSQL: a dead instance's
    /// portals are taken over after this), in ms.
    #[arg(
        long,
        env = "KEVA_PORTAL_LEASE_MS",
        default_value_t = 30_000,
        hide = true
    )]
    pub portal_lease_ms: u64,
    /// A batch run's lease, in ms.
    #[arg(
        long,
        env = "KEVA_BATCH_LEASE_MS",
        default_value_t = 60_000,
        hide = true
    )]
    pub batch_lease_ms: u64,
    /// On shutdown, how long running jobs may take before they are handed back, in ms.
    #[arg(
        long,
        env = "KEVA_SHUTDOWN_GRACE_MS",
        default_value_t = 10_000,
        hide = true
    )]
    pub shutdown_grace_ms: u64,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub hubspot: HubspotArgs,
}

/// Days each kind of ever-growing row is kept (0 keeps it forever).
#[derive(Args, Debug)]
pub struct RetentionArgs {
    /// The webhook delivery log.
    #[arg(long, env = "KEVA_RETAIN_WEBHOOK_REQUESTS_DAYS", default_value_t = 14)]
    pub retain_webhook_requests_days: u32,
    /// Ingested webhook events (deduplication of HubSpot's retries).
    #[arg(long, env = "KEVA_RETAIN_WEBHOOK_EVENTS_DAYS", default_value_t = 30)]
    pub retain_webhook_events_days: u32,
    /// Sync history.
    #[arg(long, env = "KEVA_RETAIN_HISTORY_DAYS", default_value_t = 90)]
    pub retain_history_days: u32,
    /// Succeeded, failed and dead jobs, from when they finished.
    #[arg(long, env = "KEVA_RETAIN_FINISHED_JOBS_DAYS", default_value_t = 7)]
    pub retain_finished_jobs_days: u32,
}

impl RetentionArgs {
    pub fn settings(&self) -> keva_server::retention::RetentionSettings {
        let days = |d: u32| (d > 0).then(|| std::time::Duration::from_secs(u64::from(d) * 86_400));
        keva_server::retention::RetentionSettings {
            webhook_requests: days(self.retain_webhook_requests_days),
            webhook_events: days(self.retain_webhook_events_days),
            history: days(self.retain_history_days),
            finished_jobs: days(self.retain_finished_jobs_days),
            ..Default::default()
        }
    }
}

impl ServeArgs {
    pub fn server_config(&self) -> anyhow::Result<ServerConfig> {
        let mut c = ServerConfig::new(self.listen, self.hubspot.hubspot_api_base.clone());
        if let Some(url) = &self.public_url {
            anyhow::ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "KEVA_PUBLIC_URL must start with http:// or https://"
            );
            c.public_url = url.trim_end_matches('/').to_string();
        }
        c.metrics_listen = self.metrics_listen;
        c.request_timeout = std::time::Duration::from_secs(self.request_timeout_secs);
        c.hubspot_client_id = self.hubspot.hubspot_client_id.clone();
        c.hubspot_client_secret = self.hubspot.hubspot_client_secret.clone();
        c.hubspot_app_id = self.hubspot.hubspot_app_id.clone();
        if let Some(url) = &self.hubspot.hubspot_authorize_url {
            c.hubspot_authorize_url = url.clone();
        }
        if let Some(scopes) = &self.hubspot.hubspot_scopes {
            c.oauth_scopes = keva_server::config::parse_scopes(scopes);
            anyhow::ensure!(!c.oauth_scopes.is_empty(), "HUBSPOT_SCOPES is empty");
        }
        if let Some(scopes) = &self.hubspot.hubspot_optional_scopes {
            c.oauth_optional_scopes = keva_server::config::parse_scopes(scopes);
        }
        // Said once at start (never the secret).
        eprintln!("{}", oauth_status(&c));
        Ok(c)
    }
}

/// Whether the OAuth connect flow is configured, for the start-up log.
pub fn oauth_status(c: &ServerConfig) -> String {
    if c.oauth_configured() {
        format!(
            "HubSpot OAuth: configured (client id {}, app id {}, redirect URI {}, scopes {})",
            c.hubspot_client_id.as_deref().unwrap_or_default(),
            c.hubspot_app_id.as_deref().unwrap_or("not set"),
            c.oauth_redirect_uri(),
            c.oauth_scopes.join(" ")
        )
    } else {
        "HubSpot OAuth: not configured (set HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET, \
         HUBSPOT_APP_ID and KEVA_PUBLIC_URL to connect portals with OAuth; private-app \
         tokens work without)"
            .to_string()
    }
}

#[derive(Args, Debug)]
pub struct QuickstartArgs {
    /// Address of the service.
    #[arg(long, env = "KEVA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Address of the in-process sandbox portal.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub sandbox_listen: SocketAddr,
    /// Sample HubSpot contacts to seed in the sandbox.
    #[arg(long, default_value_t = 25)]
    pub sandbox_contacts: usize,
    /// Sample Keva customers to create (skipped if they exist).
    #[arg(long, default_value_t = 10)]
    pub sample_customers: usize,
    /// Demo customers for the batch sync run at start (every 5th already in the
    /// sandbox); 0 skips the demo.
    #[arg(long, default_value_t = 2000)]
    pub demo_customers: usize,
    #[command(flatten)]
    pub db: DbArgs,
}
