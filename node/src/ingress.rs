//! The node's ingress: starts Caddy the first time a revision has Services, loads the routes
//! `routes.rs` decides from the pass's observed snapshot and publishes the Services' status;
//! during a pass, it moves a deployment's routes to the new container of a start-first rollout.
//! It decides no route itself.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use engine::desired::DesiredService;
use engine::{DesiredState, Observed};
use futures_util::future::BoxFuture;
use tracing::{info, warn};

use super::status::SharedStatus;
use super::Settings;
use crate::decisions::health::Tracker;
use crate::decisions::routes;
use adapters::apply::{NoIngress, TrafficError, TrafficSwitch};
use adapters::docker::container;
use adapters::docker::Docker;
use adapters::ingress::caddy::{Caddy, CaddyRoutes};
use adapters::ingress::config::CaddySettings;

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
    /// and is ready, as `observed` shows it.
    pub async fn update(
        &mut self,
        observed: &Observed,
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
                Err(error) => warn!(%error, "cannot start the ingress"),
            }
        }
        let mut routing = routes::decide(desired, observed, health);
        let applied = match &self.caddy {
            Some(caddy) => caddy
                .apply(&routing.routes)
                .await
                .map_err(|error| error.to_string()),
            None => Err("Caddy is not running".to_string()),
        };
        routes::settle(&mut routing.services, &applied);
        if let Err(error) = &applied {
            warn!(%error, "ingress routes not updated");
        }
        status.lock().services = routing.services;
    }

    /// What start-first rollouts of a pass for `desired` move their routes with: Caddy's routes,
    /// or nothing while Caddy is not running (then no route exists yet).
    pub fn traffic(&self, docker: &Docker, desired: &DesiredState) -> Arc<dyn TrafficSwitch> {
        match &self.caddy {
            Some(caddy) => Arc::new(RouteSwitch {
                docker: docker.clone(),
                routes: caddy.routes(),
                services: desired.services.clone(),
            }),
            None => Arc::new(NoIngress),
        }
    }

    pub async fn stop(self) {
        if let Some(caddy) = self.caddy {
            caddy.stop().await;
        }
    }
}

/// Moves a deployment's Caddy routes to the new container of a start-first rollout.
struct RouteSwitch {
    docker: Docker,
    routes: CaddyRoutes,
    services: BTreeMap<String, DesiredService>,
}

impl TrafficSwitch for RouteSwitch {
    fn switch<'a>(
        &'a self,
        deployment: &'a str,
        _replica: &'a str,
        container: &'a str,
    ) -> BoxFuture<'a, Result<(), TrafficError>> {
        Box::pin(async move {
            let found = container::inspect(&self.docker, container)
                .await?
                .ok_or_else(|| TrafficError::Gone(container.to_string()))?;
            let ip = found
                .ip
                .ok_or_else(|| TrafficError::NoAddress(container.to_string()))?;
            self.routes
                .change(|current| routes::repoint(current, &self.services, deployment, &ip))
                .await?;
            info!(deployment, container, "routes moved to the new container");
            Ok(())
        })
    }
}
