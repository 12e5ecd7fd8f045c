//! The node's ingress: starts Caddy the first time a revision has Services, inspects the
//! containers Services point at, loads the routes `routes.rs` decides and publishes the Services'
//! status. It decides no route itself.

use std::collections::BTreeMap;
use std::path::PathBuf;

use engine::DesiredState;
use tracing::warn;

use super::health::Tracker;
use super::routes::{self, ContainerView};
use super::status::SharedStatus;
use super::Settings;
use crate::docker::container;
use crate::docker::Docker;
use crate::ingress::caddy::Caddy;
use crate::ingress::config::CaddySettings;

pub struct Ingress {
    binary: PathBuf,
    dir: PathBuf,
    settings: CaddySettings,
    caddy: Option<Caddy>,
}

impl Ingress {
    /// Caddy is not started until a revision has Services.
    pub fn new(settings: &Settings) -> Self {
        Ingress {
            binary: settings.caddy_bin.clone(),
            dir: settings.caddy_dir(),
            settings: settings.caddy.clone(),
            caddy: None,
        }
    }

    /// Points one Caddy route per Service at its deployment's container, once that container runs
    /// and is ready.
    pub async fn update(
        &mut self,
        docker: &Docker,
        desired: &DesiredState,
        health: &Tracker,
        status: &SharedStatus,
    ) {
        if desired.services.is_empty() && self.caddy.is_none() {
            status.lock().services.clear();
            return;
        }
        if self.caddy.is_none() {
            match Caddy::start(&self.binary, &self.dir, self.settings.clone()).await {
                Ok(caddy) => self.caddy = Some(caddy),
                Err(error) => warn!(error = %format!("{error:#}"), "cannot start the ingress"),
            }
        }
        let mut containers = BTreeMap::new();
        for name in routes::containers_to_inspect(desired) {
            if let Ok(Some(found)) = container::inspect(docker, &name).await {
                let view = ContainerView {
                    running: found.running,
                    ip: found.ip,
                };
                containers.insert(name, view);
            }
        }
        let mut routing = routes::decide(desired, &containers, health);
        let applied = match &self.caddy {
            Some(caddy) => caddy
                .apply(&routing.routes)
                .await
                .map_err(|error| format!("{error:#}")),
            None => Err("Caddy is not running".to_string()),
        };
        routes::settle(&mut routing.services, &applied);
        if let Err(error) = &applied {
            warn!(%error, "ingress routes not updated");
        }
        status.lock().services = routing.services;
    }

    pub async fn stop(self) {
        if let Some(caddy) = self.caddy {
            caddy.stop().await;
        }
    }
}
