//! `keva-sync sandbox`: flags, start-up, and the one JSON line scripts read.
//!
//! stdout carries exactly one line, `{"url","portalId","accessToken","clientId",
//! "clientSecret","appId","portals"}`, so `keva-sync sandbox | head -1 | jq` works; everything
//! meant for people goes to stderr.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

use crate::control::ratelimit::RateLimitSettings;
use crate::control::webhooks::{DeliveryOptions, Throttling, CONTACT_EVENT_TYPES};
use crate::control::ControlConfig;
use crate::server::{start, SandboxConfig};

#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on (loopback only).
    #[arg(long, env = "KEVA_SANDBOX_LISTEN", default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// Requests per rolling window per app and portal, as `N/10s` (HubSpot: 100/10s
    /// Free/Starter, 190/10s Pro/Enterprise), or `off` to switch every limit off.
    #[arg(long, default_value = "100/10s", value_parser = parse_rate_limit)]
    pub rate_limit: RateWindow,
    /// Requests per day per portal for private-app tokens.
    #[arg(long, default_value_t = 250_000)]
    pub daily_limit: u64,
    /// Search requests per second per portal.
    #[arg(long, default_value_t = 5)]
    pub search_rate: u32,
    /// OAuth access-token lifetime in seconds (HubSpot: 1800).
    #[arg(long, default_value_t = 1800)]
    pub token_lifetime_secs: u64,
    /// Contacts to create at start.
    #[arg(long, default_value_t = 0)]
    pub seed_contacts: usize,
    /// Companies to create at start.
    #[arg(long, default_value_t = 0)]
    pub seed_companies: usize,
    /// Deals to create at start.
    #[arg(long, default_value_t = 0)]
    pub seed_deals: usize,
    /// Deliver webhooks for every contact event to this URL.
    #[arg(long)]
    pub webhook_url: Option<String>,
    /// Probability (0..1) that a delivered webhook batch is sent again.
    #[arg(long, default_value_t = 0.0)]
    pub webhook_duplicate_rate: f64,
    /// Shuffle webhook events within and across batches.
    #[arg(long)]
    pub webhook_reorder: bool,
    /// The default portal's id (HubSpot's `hub_id`/`portalId`).
    #[arg(long)]
    pub portal_id: Option<u64>,
    /// Another portal to create at start (repeatable), so the OAuth authorize page
    /// offers a choice of portals.
    #[arg(long = "extra-portal")]
    pub extra_portals: Vec<u64>,
}

/// A parsed `--rate-limit`: `None` means off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow(pub Option<(u32, u64)>);

/// `100/10s`, `190/10000ms`, `50/1m` or `off`.
pub fn parse_rate_limit(s: &str) -> Result<RateWindow, String> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("off") || s.eq_ignore_ascii_case("none") {
        return Ok(RateWindow(None));
    }
    let (count, window) = s
        .split_once('/')
        .ok_or_else(|| format!("expected N/10s or off, got {s:?}"))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("not a request count: {count:?}"))?;
    let window = window.trim();
    let (digits, unit) = window.split_at(
        window
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(window.len()),
    );
    let n: u64 = if digits.is_empty() {
        Ok(1)
    } else {
        digits.parse()
    }
    .map_err(|_| format!("not a window: {window:?}"))?;
    let ms = match unit {
        "ms" => n,
        "s" | "" => n * 1000,
        "m" => n * 60_000,
        _ => return Err(format!("unknown unit in {window:?} (use ms, s or m)")),
    };
    if ms == 0 {
        return Err("the window must be longer than 0".into());
    }
    Ok(RateWindow(Some((count, ms))))
}

impl SandboxArgs {
    /// The server configuration these flags describe.
    pub fn config(&self) -> SandboxConfig {
        let defaults = SandboxConfig::default();
        let base = ControlConfig::default();
        let control = ControlConfig {
            rate_limits: RateLimitSettings {
                enabled: self.rate_limit.0.is_some(),
                ten_second: self.rate_limit.0.map_or(100, |(n, _)| n),
                interval_ms: self.rate_limit.0.map_or(10_000, |(_, ms)| ms),
                daily: self.daily_limit,
                search_per_second: self.search_rate,
            },
            token_lifetime: Duration::from_secs(self.token_lifetime_secs),
            webhooks: DeliveryOptions {
                duplicate_rate: self.webhook_duplicate_rate.clamp(0.0, 1.0),
                reorder: self.webhook_reorder,
                ..base.webhooks
            },
            ..base
        };
        SandboxConfig {
            listen: self.listen,
            portal_id: self.portal_id.unwrap_or(defaults.portal_id),
            seed_contacts: self.seed_contacts,
            seed_companies: self.seed_companies,
            seed_deals: self.seed_deals,
            extra_portals: self.extra_portals.clone(),
            control,
        }
    }
}

/// Starts the sandbox, prints its coordinates and serves until Ctrl-C.
pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    if let Some(url) = &args.webhook_url {
        reqwest::Url::parse(url).with_context(|| format!("--webhook-url {url:?} is not a URL"))?;
    }
    let config = args.config();
    let limits = config.control.rate_limits;
    let sandbox = start(config).await.context("starting the sandbox")?;
    let control = sandbox.control().clone();
    if let Some(url) = &args.webhook_url {
        let app_id = sandbox.app_id();
        control
            .webhooks
            .set_settings(app_id, url.clone(), Throttling::default());
        control.webhooks.subscribe_all(app_id, CONTACT_EVENT_TYPES);
    }
    let line = serde_json::json!({
        "url": sandbox.url(),
        "portalId": sandbox.portal_id(),
        "accessToken": sandbox.access_token(),
        "clientId": sandbox.client_id(),
        "clientSecret": sandbox.client_secret(),
        "appId": sandbox.app_id(),
        "portals": sandbox.portal_ids(),
    });
    println!("{line}");
    eprintln!("HubSpot sandbox listening on {}", sandbox.url());
    eprintln!(
        "  portal {}; rate limits: {}",
        sandbox.portal_id(),
        if limits.enabled {
            format!(
                "{}/{}ms per app, {} per day, {} searches/s",
                limits.ten_second, limits.interval_ms, limits.daily, limits.search_per_second
            )
        } else {
            "off".to_string()
        }
    );
    if let Some(url) = &args.webhook_url {
        eprintln!("  webhooks for contact events go to {url}");
    }
    eprintln!(
        "  OAuth: {}/oauth/authorize?client_id=<clientId>&redirect_uri=<uri>",
        sandbox.url()
    );
    eprintln!("  admin: {}/_sandbox/stats (Ctrl-C to stop)", sandbox.url());
    shutdown_signal().await?;
    eprintln!("stopping the sandbox");
    sandbox.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM from a script or service manager.
async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SandboxArgs,
    }

    #[test]
    fn rate_limit_flag_forms() {
        assert_eq!(
            parse_rate_limit("100/10s"),
            Ok(RateWindow(Some((100, 10_000))))
        );
        assert_eq!(
            parse_rate_limit("190/10000ms"),
            Ok(RateWindow(Some((190, 10_000))))
        );
        assert_eq!(parse_rate_limit("5/s"), Ok(RateWindow(Some((5, 1_000)))));
        assert_eq!(parse_rate_limit("off"), Ok(RateWindow(None)));
        assert!(parse_rate_limit("100").is_err());
        assert!(parse_rate_limit("x/10s").is_err());
        assert!(parse_rate_limit("10/10h").is_err());
    }

    #[test]
    fn flags_become_the_server_config() {
        let cli = Cli::parse_from([
            "sandbox",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "190/10s",
            "--token-lifetime-secs",
            "2",
            "--seed-contacts",
            "10",
            "--portal-id",
            "777",
            "--extra-portal",
            "778",
        ]);
        let c = cli.args.config();
        assert_eq!(c.portal_id, 777);
        assert_eq!(c.extra_portals, vec![778]);
        assert_eq!(c.seed_contacts, 10);
        assert_eq!(c.control.rate_limits.ten_second, 190);
        assert!(c.control.rate_limits.enabled);
        assert_eq!(c.control.token_lifetime, Duration::from_secs(2));
        let off = Cli::parse_from(["sandbox", "--rate-limit", "off"]);
        assert!(!off.args.config().control.rate_limits.enabled);
    }
}
