//! `keva-sync quickstart`: everything a newcomer needs, in one process.
//!
//! A SQLite file in the current folder, an in-process sandbox portal seeded with
//! sample CRM data, the service wired to that sandbox, sample Keva customers and a
//! fresh API key — then it prints where everything is and serves until Ctrl-C.
//! It grows as the product does (connector, batch sync, webhooks).

use anyhow::Context as _;
use keva_store::{NewCustomer, StoreError};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::args::QuickstartArgs;

const WORKSPACE: &str = "quickstart";

/// Sample people; realistic enough to exercise names with particles and suffixes.
const SAMPLE_PEOPLE: [(&str, &str, &str, &str); 12] = [
    ("Mary Jane Watson", "Daily Bugle", "Photographer", "New York"),
    ("Ludwig van Beethoven", "Bonn Orchestra", "Composer", "Vienna"),
    ("Ada Lovelace", "Analytical Engines", "Mathematician", "London"),
    ("Martin Luther King Jr.", "SCLC", "President", "Atlanta"),
    ("Grace Hopper", "US Navy", "Rear Admiral", "Arlington"),
    ("Alan Turing", "Bletchley Park", "Cryptanalyst", "Manchester"),
    ("Katherine Johnson", "NASA", "Mathematician", "Hampton"),
    ("Linus Torvalds", "Linux Foundation", "Fellow", "Portland"),
    ("Margaret Hamilton", "Hamilton Technologies", "CEO", "Boston"),
    ("Tim Berners-Lee", "W3C", "Director", "Cambridge"),
    ("Hedy Lamarr", "MGM", "Inventor", "Los Angeles"),
    ("Vincent van der Berg", "Rijksmuseum", "Curator", "Amsterdam"),
];

pub async fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let store = crate::open_store(&args.db).await?;
    store.migrate().await?;

    let sandbox = keva_sandbox::server::start(keva_sandbox::server::SandboxConfig {
        listen: args.sandbox_listen,
        seed_contacts: args.sandbox_contacts,
        ..Default::default()
    })
    .await
    .with_context(|| format!("starting the sandbox on {}", args.sandbox_listen))?;

    let (workspace_id, key) = keva_server::auth::create_api_key(&store, WORKSPACE).await?;
    let created = seed_customers(&store, workspace_id, args.sample_customers).await?;

    let mut config = keva_server::ServerConfig::new(args.listen, sandbox.url());
    config.hubspot_client_id = Some(sandbox.client_id());
    config.hubspot_client_secret = Some(SecretString::from(sandbox.client_secret()));
    config.hubspot_app_id = Some(sandbox.app_id().to_string());

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {} (is another keva-sync running?)", args.listen))?;
    let service_url = format!("http://{}", listener.local_addr()?);

    println!("Keva Sync quickstart is running.");
    println!("  Service:  {service_url}");
    println!("  Sandbox:  {}  (HubSpot portal {})", sandbox.url(), sandbox.portal_id());
    println!("  API key:  {}", key.plaintext);
    println!("  Database: {}  ({created} sample customers added)", args.db.database_url);
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
    let result =
        keva_server::serve(listener, keva_server::AppState::new(store, config), shutdown).await;
    sandbox.shutdown().await;
    result
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
        let local = name.to_lowercase().replace([' ', '.'], ".").replace("..", ".");
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
        };
        match store.insert_customer(workspace_id, new).await {
            Ok(_) => added += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(added)
}
