//! Starting a sandbox: one HTTP server on 127.0.0.1 serving the data plane's HubSpot
//! API (behind the control plane's guard), the control plane's routes, and the
//! `/_sandbox/` admin endpoints. `start` is used by tests in-process and by
//! `keva-sync sandbox`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::admin::{self, AdminState};
use crate::control::auth::AppCredentials;
use crate::control::{self, Control, ControlConfig};
use crate::portal::{ObjectType, Sandbox};

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The id of the portal the default token belongs to.
    pub portal_id: u64,
    pub seed_contacts: usize,
    pub seed_companies: usize,
    pub seed_deals: usize,
    /// More portals to create at start (besides `portal_id`), each with the default
    /// app installed, so the authorize page offers a choice.
    pub extra_portals: Vec<u64>,
    pub control: ControlConfig,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            portal_id: 62515,
            seed_contacts: 0,
            seed_companies: 0,
            seed_deals: 0,
            extra_portals: Vec::new(),
            control: ControlConfig::default(),
        }
    }
}

/// A sandbox serving on a local port until `shutdown` (or drop of the runtime).
pub struct RunningSandbox {
    addr: SocketAddr,
    portal_id: u64,
    access_token: String,
    sandbox: Arc<Sandbox>,
    control: Arc<Control>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningSandbox {
    /// `http://127.0.0.1:PORT`, with no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn portal_id(&self) -> u64 {
        self.portal_id
    }

    /// A private-app token for the default portal.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    pub fn client_id(&self) -> String {
        self.control.tokens.default_app().client_id
    }

    pub fn client_secret(&self) -> String {
        self.control.tokens.default_app().client_secret
    }

    pub fn app_id(&self) -> u64 {
        self.control.tokens.default_app_id()
    }

    /// Registers another OAuth app that accepts exactly `redirect_uris` (empty: any);
    /// the same as `POST /_sandbox/apps`.
    pub fn register_app(&self, name: &str, redirect_uris: Vec<String>) -> AppCredentials {
        self.control
            .tokens
            .register_app(name.to_string(), redirect_uris)
    }

    /// Every portal of the sandbox, the default one included.
    pub fn portal_ids(&self) -> Vec<u64> {
        self.sandbox.portal_ids()
    }

    /// The portals, to inspect or change directly from tests.
    pub fn state(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// Live contacts of the default portal.
    pub fn contact_count(&self) -> usize {
        self.sandbox.count(self.portal_id, ObjectType::Contacts)
    }

    /// Stops serving and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The whole HTTP surface over existing state.
pub fn router(sandbox: Arc<Sandbox>, control: Arc<Control>) -> Router {
    let api = crate::api::router()
        .route_layer(axum::middleware::from_fn_with_state(
            control.clone(),
            control::hubspot_api_guard,
        ))
        .with_state(sandbox.clone());
    api.merge(control::control_router(control.clone()))
        .merge(admin::router(AdminState { sandbox, control }))
}

/// Builds the state, seeds it, binds and serves in the background.
pub async fn start(config: SandboxConfig) -> anyhow::Result<RunningSandbox> {
    if !config.listen.ip().is_loopback() {
        anyhow::bail!(
            "the sandbox listens on loopback addresses only, not {}",
            config.listen
        );
    }
    let control = Control::new(config.control.clone());
    let sandbox = Sandbox::new(config.portal_id);
    {
        let control = control.clone();
        sandbox.set_event_sink(Arc::new(move |event| control.webhooks.emit(event)));
    }
    control.tokens.install_default_app(config.portal_id);
    let access_token = control.tokens.issue_private_app_token(config.portal_id);
    for id in &config.extra_portals {
        sandbox.create_portal(Some(*id));
        control.tokens.install_default_app(*id);
    }
    if config.seed_contacts + config.seed_companies + config.seed_deals > 0 {
        let portal = sandbox.default_portal();
        let (c, co, d) = (
            config.seed_contacts,
            config.seed_companies,
            config.seed_deals,
        );
        tokio::task::spawn_blocking(move || {
            portal.write().seed(c, co, d, crate::portal::now_ms());
        })
        .await?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let app = router(sandbox.clone(), control.clone());
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop_rx.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "sandbox server stopped");
        }
    });
    Ok(RunningSandbox {
        addr,
        portal_id: config.portal_id,
        access_token,
        sandbox,
        control,
        stop: Some(stop_tx),
        task: Some(task),
    })
}
