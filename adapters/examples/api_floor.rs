//! The Docker API floor for bench/cold-vs-api.sh: creates and starts N containers of one image
//! straight through the Docker API (bollard, connected like orun), with at most P calls in flight,
//! and exits once every container has been started. With SETTLE_MS above 0 it then also does what
//! `orun apply` does after a start: waits that long and inspects the container, failing if it no
//! longer runs. It plans nothing and removes nothing: the bench times it against
//! `orun apply --once` and cleans up.
//!
//! Usage: api_floor IMAGE COUNT PARALLELISM PREFIX BASE_PORT LABEL SETTLE_MS [NETWORK]
//! Container `PREFIX-NN` publishes 80/tcp on 127.0.0.1:BASE_PORT+NN, has two env values and the
//! label `LABEL=1`; with NETWORK it joins that network with its short name as alias, as orun's
//! containers join their environment's network.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkingConfig, PortBinding,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, StartContainerOptions,
};
use bollard::Docker;
use futures_util::future::try_join_all;
use tokio::sync::Semaphore;

struct Batch {
    image: String,
    count: u16,
    parallelism: usize,
    prefix: String,
    base_port: u16,
    label: String,
    settle: Duration,
    network: Option<String>,
}

impl Batch {
    fn from_args() -> Result<Self> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if !(7..=8).contains(&args.len()) {
            bail!(
                "usage: api_floor IMAGE COUNT PARALLELISM PREFIX BASE_PORT LABEL SETTLE_MS [NETWORK]"
            );
        }
        Ok(Batch {
            image: args[0].clone(),
            count: args[1].parse().context("COUNT must be a number")?,
            parallelism: args[2].parse().context("PARALLELISM must be a number")?,
            prefix: args[3].clone(),
            base_port: args[4].parse().context("BASE_PORT must be a port number")?,
            label: args[5].clone(),
            settle: Duration::from_millis(args[6].parse().context("SETTLE_MS must be a number")?),
            network: args.get(7).cloned(),
        })
    }

    fn body(&self, short_name: &str, port: u16) -> ContainerCreateBody {
        let bindings = HashMap::from([(
            "80/tcp".to_string(),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".to_string()),
                host_port: Some(port.to_string()),
            }]),
        )]);
        let networking_config = self.network.as_ref().map(|network| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network.clone(),
                EndpointSettings {
                    aliases: Some(vec![short_name.to_string()]),
                    ..Default::default()
                },
            )])),
        });
        ContainerCreateBody {
            image: Some(self.image.clone()),
            env: Some(vec![
                format!("SERVICE={short_name}"),
                "LOG_LEVEL=info".to_string(),
            ]),
            labels: Some(HashMap::from([(self.label.clone(), "1".to_string())])),
            exposed_ports: Some(vec!["80/tcp".to_string()]),
            host_config: Some(HostConfig {
                port_bindings: Some(bindings),
                network_mode: self.network.clone(),
                ..Default::default()
            }),
            networking_config,
            ..Default::default()
        }
    }

    async fn create_and_start(
        &self,
        docker: &Docker,
        permits: &Semaphore,
        index: u16,
    ) -> Result<()> {
        let short_name = format!("svc-{index:02}");
        let name = format!("{}-{index:02}", self.prefix);
        let body = self.body(&short_name, self.base_port + index);
        {
            let _permit = permits.acquire().await?;
            let options = CreateContainerOptionsBuilder::default().name(&name).build();
            docker
                .create_container(Some(options), body)
                .await
                .with_context(|| format!("create {name}"))?;
            docker
                .start_container(&name, None::<StartContainerOptions>)
                .await
                .with_context(|| format!("start {name}"))?;
        }
        if self.settle.is_zero() {
            return Ok(());
        }
        tokio::time::sleep(self.settle).await;
        let _permit = permits.acquire().await?;
        let info = docker
            .inspect_container(&name, None::<InspectContainerOptions>)
            .await
            .with_context(|| format!("inspect {name}"))?;
        if !info.state.and_then(|state| state.running).unwrap_or(false) {
            bail!("{name} did not stay running");
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let batch = Batch::from_args()?;
    let docker = Docker::connect_with_local_defaults()?
        .negotiate_version()
        .await
        .context("Docker engine unreachable")?;
    let permits = Semaphore::new(batch.parallelism.max(1));
    try_join_all((1..=batch.count).map(|index| batch.create_and_start(&docker, &permits, index)))
        .await?;
    Ok(())
}
