//! `AppState`: what every handler shares (the store and the settings).

use std::sync::Arc;

use keva_store::Store;

use crate::config::ServerConfig;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<ServerConfig>,
}

impl AppState {
    pub fn new(store: Store, config: ServerConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
        }
    }
}
