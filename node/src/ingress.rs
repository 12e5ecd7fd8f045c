//! The node's ingress: starts Caddy the first time a revision has Services, loads the routes
//! `routes.rs` decides from the pass's observed snapshot and publishes the Services' status;
//! during a pass, it moves a replica's upstream to the new container of a start-first rollout,
//! and takes a replica out of the routes while a stop-first rollout or a scale-down stops it. It
//! decides no route itself.

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

    /// Points one Caddy route per Service at its deployment's replicas that run and are ready, as
    /// `observed` and `health` show them.
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

    /// What rollouts of a pass for `desired` move their routes with: Caddy's routes, or nothing
    /// while Caddy is not running (then no route exists yet).
    pub fn traffic(&self, docker: &Docker, desired: &DesiredState) -> Arc<dyn TrafficSwitch> {
        match &self.caddy {
            Some(caddy) => Arc::new(RouteSwitch {
                docker: docker.clone(),
                routes: caddy.routes(),
                services: desired.services.clone(),
                replicas: desired
                    .deployments
                    .values()
                    .map(|deployment| {
                        let containers = deployment
                            .replicas
                            .iter()
                            .map(|replica| replica.container.clone())
                            .collect();
                        (deployment.name.clone(), containers)
                    })
                    .collect(),
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

/// Moves one replica's upstream in a deployment's Caddy routes during a rollout: to the new
/// container of a start-first rollout, out of the routes before a stop-first one, and back.
struct RouteSwitch {
    docker: Docker,
    routes: CaddyRoutes,
    services: BTreeMap<String, DesiredService>,
    /// Each deployment's replica containers, in replica order.
    replicas: BTreeMap<String, Vec<String>>,
}

impl RouteSwitch {
    /// Loads the routes with `replica`'s upstream at `ip`, or without it; true when they changed.
    async fn change(
        &self,
        deployment: &str,
        replica: &str,
        ip: Option<&str>,
    ) -> Result<bool, TrafficError> {
        let replicas = self
            .replicas
            .get(deployment)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut changed = false;
        self.routes
            .change(|current| {
                let routes =
                    routes::repoint(current, &self.services, deployment, replicas, replica, ip);
                changed = routes != current;
                routes
            })
            .await?;
        Ok(changed)
    }
}

impl TrafficSwitch for RouteSwitch {
    fn switch<'a>(
        &'a self,
        deployment: &'a str,
        replica: &'a str,
        container: &'a str,
    ) -> BoxFuture<'a, Result<(), TrafficError>> {
        Box::pin(async move {
            let found = container::inspect(&self.docker, container)
                .await?
                .ok_or_else(|| TrafficError::Gone(container.to_string()))?;
            let ip = found
                .ip
                .ok_or_else(|| TrafficError::NoAddress(container.to_string()))?;
            self.change(deployment, replica, Some(&ip)).await?;
            info!(
                deployment,
                replica, container, "routes moved to the new container"
            );
            Ok(())
        })
    }

    fn withdraw<'a>(
        &'a self,
        deployment: &'a str,
        replica: &'a str,
    ) -> BoxFuture<'a, Result<bool, TrafficError>> {
        Box::pin(async move {
            let withdrawn = self.change(deployment, replica, None).await?;
            if withdrawn {
                info!(deployment, replica, "replica taken out of the routes");
            }
            Ok(withdrawn)
        })
    }
}
