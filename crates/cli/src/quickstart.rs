//! `keva-sync quickstart`: everything a newcomer needs, in one process.
//!
//! A SQLite file in the current folder, an in-process sandbox portal seeded with
//! sample CRM data, the service wired to that sandbox, sample Keva customers and a
//! fresh API key, and the sandbox portal connected with the default mappings (so
//! editing a customer through the API changes its sandbox contact) — then it
//! prints where everything is and serves until Ctrl-C. It grows as the product
//! does (batch sync, webhooks, OAuth: the sandbox has a second portal and the
//! service is configured with the sandbox app's OAuth client, so the printed
//! authorize link connects that portal through the browser flow).

use anyhow::Context as _;
use keva_store::{NewCustomer, StoreError};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::args::QuickstartArgs;

const WORKSPACE: &str = "quickstart";

/// Sample people; realistic enough to exercise names with particles and suffixes.
const SAMPLE_PEOPLE: [(&str, &str, &str, &str); 12] = [
    (
        "Mary Jane Watson",
        "Daily Bugle",
        "Photographer",
        "New York",
    ),
    (
        "Ludwig van Beethoven",
        "Bonn Orchestra",
        "Composer",
        "Vienna",
    ),
    (
        "Ada Lovelace",
        "Analytical Engines",
        "Mathematician",
        "London",
    ),
    ("Martin Luther King Jr.", "SCLC", "President", "Atlanta"),
    ("Grace Hopper", "US Navy", "Rear Admiral", "Arlington"),
    (
        "Alan Turing",
        "Bletchley Park",
        "Cryptanalyst",
        "Manchester",
    ),
    ("Katherine Johnson", "NASA", "Mathematician", "Hampton"),
    ("Linus Torvalds", "Linux Foundation", "Fellow", "Portland"),
    (
        "Margaret Hamilton",
        "Hamilton Technologies",
        "CEO",
        "Boston",
    ),
    ("Tim Berners-Lee", "W3C", "Director", "Cambridge"),
    ("Hedy Lamarr", "MGM", "Inventor", "Los Angeles"),
    (
        "Vincent van der Berg",
        "Rijksmuseum",
        "Curator",
        "Amsterdam",
    ),
];

pub async fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let store = crate::open_store(&args.db).await?;
    store.migrate().await?;

    let (workspace_id, key) = keva_server::auth::create_api_key(&store, WORKSPACE).await?;
    // The sandbox forgets its contacts when it stops, the database does not: each run
    // gets a portal of its own, so links from an earlier run never point into it.
    let earlier = store.list_connectors(workspace_id).await?;
    let defaults = keva_sandbox::server::SandboxConfig::default();
    let portal_id = defaults.portal_id + u64::try_from(earlier.len()).unwrap_or(0);

    // A second portal to choose on the sandbox's consent page (OAuth connect).
    let oauth_portal = portal_id + OAUTH_PORTAL_OFFSET;
    let sandbox = keva_sandbox::server::start(keva_sandbox::server::SandboxConfig {
        listen: args.sandbox_listen,
        seed_contacts: args.sandbox_contacts,
        portal_id,
        extra_portals: vec![oauth_portal],
        ..defaults
    })
    .await
    .with_context(|| format!("starting the sandbox on {}", args.sandbox_listen))?;
    for old in &earlier {
        store
            .set_connector_status(
                old.id,
                keva_store::ConnectorStatus::Error,
                Some("sandbox portal of an earlier quickstart run (no longer running)"),
            )
            .await?;
    }

    let created = seed_customers(&store, workspace_id, args.sample_customers).await?;

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {} (is another keva-sync running?)", args.listen))?;
    let service_url = format!("http://{}", listener.local_addr()?);
    let mut config = keva_server::ServerConfig::new(args.listen, sandbox.url());
    // Webhook signatures cover the URL the sandbox calls: the address actually bound.
    // It is also the OAuth redirect URI's origin (`/integrations/hubspot/callback`);
    // the sandbox's default app accepts any redirect URI.
    config.public_url = service_url.clone();
    config.hubspot_client_id = Some(sandbox.client_id());
    config.hubspot_client_secret = Some(SecretString::from(sandbox.client_secret()));
    config.hubspot_app_id = Some(sandbox.app_id().to_string());

    let state =
        keva_server::AppState::new(store.clone(), keva_server::config::Settings::new(config));
    let connector = connect_sandbox(&state, workspace_id, sandbox.access_token()).await?;
    if args.demo_customers > 0 {
        crate::batch::quickstart_demo(
            &state,
            workspace_id,
            connector,
            &sandbox.url(),
            sandbox.access_token(),
            args.demo_customers,
        )
        .await?;
    }
    let authorize = keva_server::api::crm::oauth::begin_authorize(&state, workspace_id, None, None)
        .await
        .map_err(|e| anyhow::anyhow!("preparing the OAuth authorize link: {e}"))?;
    let admin = keva_server::console::users::create_user(
        &store,
        &service_url,
        WORKSPACE,
        CONSOLE_ADMIN,
        keva_store::UserRole::Admin,
        None,
        true,
    )
    .await
    .context("creating the console admin")?;
    let example = store
        .customer_by_email(workspace_id, EXAMPLE_EMAIL)
        .await?
        .map(|c| c.id.to_string());

    // HubSpot → Keva: the sandbox's app delivers its contact webhooks to this service,
    // signed with the app secret the service verifies them with (set above).
    let webhooks = &sandbox.control().webhooks;
    let webhook_url = format!("{service_url}/api/webhooks/hubspot");
    webhooks.set_settings(
        sandbox.app_id(),
        webhook_url.clone(),
        keva_sandbox::control::webhooks::Throttling::default(),
    );
    webhooks.subscribe_all(
        sandbox.app_id(),
        keva_sandbox::control::webhooks::CONTACT_EVENT_TYPES,
    );

    println!("Keva Sync quickstart is running.");
    println!("  Service:  {service_url}");
    println!(
        "  Sandbox:  {}  (HubSpot portal {})",
        sandbox.url(),
        sandbox.portal_id()
    );
    println!("  API key:  {}", key.plaintext);
    println!(
        "  Database: {}  ({created} sample customers added)",
        args.db.database_url
    );
    println!("  Sandbox token: {}", sandbox.access_token());
    println!("  Connector: {connector}  (sandbox portal connected with the default mappings)");
    println!("  Webhooks: the sandbox delivers contact changes to {webhook_url}");
    if let Some(id) = &example {
        println!("  Example customer: {EXAMPLE_EMAIL}  (id {id})");
    }
    println!();
    println!("Admin console ({CONSOLE_ADMIN}, admin of workspace '{WORKSPACE}'):");
    println!(
        "  Sign in (one-time link, 24 hours): {}",
        admin.sign_in_link
    );
    println!("  Then: Integrations → HubSpot → Connect, choose portal {oauth_portal}, Approve.");
    println!();
    println!("Connect a HubSpot portal with OAuth (valid 10 minutes, single use):");
    println!("  1. Open in a browser: {}", authorize.authorize_url);
    println!("  2. Choose portal {oauth_portal} and click Approve.");
    println!(
        "  3. You are sent back to {service_url}{}?hubspot=connected&connectorId=…&portalId={oauth_portal}",
        keva_server::api::crm::oauth::DEFAULT_RETURN_TO
    );
    println!(
        "  New link: curl -X POST -H 'Authorization: Bearer {}' {service_url}/api/crm/hubspot/oauth/authorize",
        key.plaintext
    );
    println!();
    println!("Try:");
    println!(
        "  curl -H 'Authorization: Bearer {}' {service_url}/api/customers",
        key.plaintext
    );
    println!("Press Ctrl-C to stop.");

    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        on_signal.cancel();
    });
    let result = keva_server::serve(listener, state, shutdown).await;
    sandbox.shutdown().await;
    result
}

/// The OAuth demo portal's id is the sandbox portal's plus this.
const OAUTH_PORTAL_OFFSET: u64 = 1_000_000;

/// The console admin the quickstart creates (signs in with the printed link).
const CONSOLE_ADMIN: &str = "admin@quickstart.example";

/// The sample customer the README's curl commands edit.
const EXAMPLE_EMAIL: &str = "ada.lovelace@example.com";

/// Connects the sandbox portal as `POST /api/crm/hubspot/connectors` does, so
/// customer edits reach the sandbox's contacts. A database from an earlier run
/// already has the portal: its token is replaced by this sandbox's.
async fn connect_sandbox(
    state: &keva_server::AppState,
    workspace_id: uuid::Uuid,
    token: &str,
) -> anyhow::Result<uuid::Uuid> {
    use keva_server::sync::connect::{connect_private_app, ConnectError};
    match connect_private_app(state, workspace_id, SecretString::from(token.to_string())).await {
        Ok(c) => Ok(c.connector.id),
        Err(ConnectError::AlreadyConnected(_)) => {
            let existing = state
                .store
                .list_connectors(workspace_id)
                .await?
                .into_iter()
                .next()
                .context("the portal is connected but its connector is missing")?;
            state
                .store
                .update_connector_tokens(
                    existing.id,
                    &keva_store::ConnectorTokens {
                        access_token: SecretString::from(token.to_string()),
                        refresh_token: None,
                        expires_at: None,
                    },
                )
                .await?;
            state
                .store
                .set_connector_status(existing.id, keva_store::ConnectorStatus::Connected, None)
                .await?;
            Ok(existing.id)
        }
        Err(e) => Err(anyhow::anyhow!("connecting the sandbox portal: {e}")),
    }
}

/// Adds the sample customers that are not there yet; returns how many were added.
async fn seed_customers(
    store: &keva_store::Store,
    workspace_id: uuid::Uuid,
    count: usize,
) -> anyhow::Result<usize> {
    let mut added = 0;
    for i in 0..count {
        let (name, company, title, city) = SAMPLE_PEOPLE[i % SAMPLE_PEOPLE.len()];
        let round = i / SAMPLE_PEOPLE.len();
        let local = name
            .to_lowercase()
            .replace([' ', '.'], ".")
            .replace("..", ".");
        let email = if round == 0 {
            format!("{}@example.com", local.trim_end_matches('.'))
        } else {
            format!("{}.{round}@example.com", local.trim_end_matches('.'))
        };
        let new = NewCustomer {
            email,
            name: Some(name.to_string()),
            phone: Some(format!("+1 555 010 {:04}", i)),
            company: Some(company.to_string()),
            job_title: Some(title.to_string()),
            location: Some(city.to_string()),
            notes: Some("Sample customer created by the quickstart.".to_string()),
            attributes: Default::default(),
        };
        match store.insert_customer(workspace_id, new).await {
            Ok(_) => added += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(added)
}
