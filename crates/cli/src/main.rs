//! `keva-sync`: the one binary. Subcommands are thin: they resolve settings
//! (flag, then environment, then default) and call into the library crates.

mod args;
mod automap;
mod batch;
mod master_key;
mod quickstart;
mod rotate_key;

use anyhow::Context as _;
use clap::Parser as _;
use keva_store::Store;
use tokio_util::sync::CancellationToken;

use args::{ApiKeyCommand, Cli, Command, DbArgs, UserCommand};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Sandbox(args) => keva_sandbox::cli::run(args).await,
        Command::Quickstart(args) => quickstart::run(args).await,
        Command::BatchSync(args) => batch::run(args).await,
        Command::Automap(args) => automap::run(args),
        Command::RotateKey(args) => rotate_key::run(args).await,
        Command::Migrate(db) => {
            let store = open_store(&db).await?;
            store.migrate().await?;
            eprintln!("migrations applied to {}", redact_url(&db.database_url));
            Ok(())
        }
        Command::ApiKey {
            command: ApiKeyCommand::Create { workspace, db },
        } => {
            let store = open_store(&db).await?;
            store.migrate().await?;
            let (_, key) = keva_server::auth::create_api_key(&store, &workspace).await?;
            eprintln!(
                "Created an API key for workspace '{workspace}'. It is shown only this once:"
            );
            println!("{}", key.plaintext);
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Create {
                    workspace,
                    email,
                    role,
                    password_stdin,
                    public_url,
                    db,
                },
        } => create_user(&workspace, &email, &role, password_stdin, &public_url, &db).await,
    }
}

/// `user create`: the link goes to stdout (scripts read it), the rest to stderr.
async fn create_user(
    workspace: &str,
    email: &str,
    role: &str,
    password_stdin: bool,
    public_url: &str,
    db: &DbArgs,
) -> anyhow::Result<()> {
    let role = keva_store::UserRole::parse(role).context("--role must be admin or agent")?;
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        Some(secrecy::SecretString::from(
            line.trim_end_matches(['\r', '\n']).to_string(),
        ))
    } else {
        None
    };
    let store = open_store(db).await?;
    store.migrate().await?;
    let created = keva_server::console::users::create_user(
        &store,
        public_url,
        workspace,
        email,
        role,
        password.as_ref(),
        false,
    )
    .await?;
    eprintln!(
        "Created the {role} {email} in workspace '{workspace}'{}. One-time sign-in link (24 hours):",
        if password.is_some() { " with a password" } else { "" }
    );
    println!("{}", created.sign_in_link);
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    // Logs go to stderr: stdout is reserved for output scripts consume.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Connects (creating a SQLite file if needed) with the configured master key.
pub(crate) async fn open_store(db: &DbArgs) -> anyhow::Result<Store> {
    let key = master_key::resolve(db)?;
    Store::connect(&db.database_url, key)
        .await
        .with_context(|| format!("connecting to {}", redact_url(&db.database_url)))
}

/// Hides a password in a database URL before it is printed.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn serve(args: args::ServeArgs) -> anyhow::Result<()> {
    let store = open_store(&args.db).await?;
    // Ids only (never keys): they name the key in errors and in `rotate-key`'s output.
    let key = store.master_key();
    let previous: Vec<String> = key.previous_ids().iter().map(|id| id.to_string()).collect();
    eprintln!(
        "Sealing secrets with master key {} (also opening with: {})",
        key.id(),
        if previous.is_empty() {
            "no other key".to_string()
        } else {
            previous.join(", ")
        }
    );
    if !args.no_migrate {
        store.migrate().await?;
    }
    let config = args.server_config()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let local = listener.local_addr()?;
    eprintln!("Keva Sync listening on http://{local}");
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        stop_signal().await;
        eprintln!("Stopping: finishing or handing back running work");
        on_signal.cancel();
    });
    let mut settings =
        keva_server::config::Settings::new(config).with_batch_reserve(args.batch_reserve);
    settings.per_key_concurrency = args.per_key_concurrency;
    settings.sign_in = keva_server::console::session::SignInLimits {
        attempts_per_account_per_minute: args.sign_in_attempts_per_account,
        failures_per_address_per_minute: args.sign_in_failures_per_address,
    };
    settings.retention = args.retention.settings();
    let ms = std::time::Duration::from_millis;
    settings.sync.lease = ms(args.job_lease_ms.max(100));
    settings.cluster = keva_server::sync::cluster::ClusterSettings {
        // Several instances may share a PostgreSQL database; SQLite is one process.
        portal_ownership: matches!(store, Store::Postgres(_)),
        portal_lease: ms(args.portal_lease_ms.max(100)),
        batch_lease: ms(args.batch_lease_ms.max(100)),
        shutdown_grace: ms(args.shutdown_grace_ms),
    };
    let state = keva_server::AppState::new(store, settings);
    keva_server::serve(listener, state, shutdown).await
}

/// Ctrl-C, or SIGTERM (what a service manager or orchestrator sends).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_hidden_from_printed_urls() {
        assert_eq!(
            redact_url("postgres://keva:s3cret@db:5432/keva"),
            "postgres://keva:***@db:5432/keva"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact_url("sqlite://keva-sync.db"), "sqlite://keva-sync.db");
    }
}
