//! The environment's network and named volumes: creating them, labelled as orun's, and listing
//! them for the observed snapshot. It never removes either: a volume holds data and a network may
//! still be joined by containers orun does not manage.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::query_parameters::{ListNetworksOptions, ListVolumesOptions};
use bollard::Docker;
use engine::manifest::NodeEngine;
use engine::observed::ObservedResource;
use engine::spec::{LABEL_ENVIRONMENT, LABEL_MANAGED_BY, MANAGED_BY_ORUN};

use super::{timed, Call, DockerError, CALL_TIMEOUT};

/// The labels of a network or volume orun creates for `environment`.
fn labels(environment: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY_ORUN.to_string()),
        (LABEL_ENVIRONMENT.to_string(), environment.to_string()),
    ])
}

/// Creates the network `name` of `environment`: a bridge network on a Docker node, an attachable
/// overlay network spanning the swarm on a swarm node.
pub async fn create_network(
    docker: &Docker,
    name: &str,
    environment: &str,
    engine: NodeEngine,
) -> Result<(), DockerError> {
    let (driver, attachable) = match engine {
        NodeEngine::Docker => ("bridge", None),
        NodeEngine::Swarm => ("overlay", Some(true)),
    };
    let request = NetworkCreateRequest {
        name: name.to_string(),
        driver: Some(driver.to_string()),
        attachable,
        labels: Some(labels(environment)),
        ..Default::default()
    };
    timed(
        CALL_TIMEOUT,
        Call::CreateNetwork(name.to_string()),
        docker.create_network(request),
    )
    .await?;
    Ok(())
}

/// Creates the named volume `name` of `environment` (Docker keeps an existing one as it is).
pub async fn create_volume(
    docker: &Docker,
    name: &str,
    environment: &str,
) -> Result<(), DockerError> {
    let request = VolumeCreateRequest {
        name: Some(name.to_string()),
        labels: Some(labels(environment)),
        ..Default::default()
    };
    timed(
        CALL_TIMEOUT,
        Call::CreateVolume(name.to_string()),
        docker.create_volume(request),
    )
    .await?;
    Ok(())
}

/// The networks or volumes of one environment the snapshot holds: orun's for `environment`, and
/// any named in `wanted`, whoever made them.
pub struct ResourceFilter<'a> {
    pub environment: &'a str,
    pub wanted: &'a [String],
}

impl ResourceFilter<'_> {
    fn keeps(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        let label = |key: &str| labels.get(key).map(String::as_str);
        (label(LABEL_MANAGED_BY) == Some(MANAGED_BY_ORUN)
            && label(LABEL_ENVIRONMENT) == Some(self.environment))
            || self.wanted.iter().any(|wanted| wanted == name)
    }
}

/// The networks `filter` keeps, sorted by name.
pub async fn networks(
    docker: &Docker,
    filter: &ResourceFilter<'_>,
) -> Result<Vec<ObservedResource>, DockerError> {
    let list = timed(
        CALL_TIMEOUT,
        Call::ListNetworks,
        docker.list_networks(None::<ListNetworksOptions>),
    )
    .await?;
    let mut networks: Vec<ObservedResource> = list
        .into_iter()
        .map(|network| ObservedResource {
            name: network.name.unwrap_or_default(),
            labels: network.labels.unwrap_or_default().into_iter().collect(),
        })
        .filter(|network| filter.keeps(&network.name, &network.labels))
        .collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(networks)
}

/// The volumes `filter` keeps, sorted by name.
pub async fn volumes(
    docker: &Docker,
    filter: &ResourceFilter<'_>,
) -> Result<Vec<ObservedResource>, DockerError> {
    let list = timed(
        CALL_TIMEOUT,
        Call::ListVolumes,
        docker.list_volumes(None::<ListVolumesOptions>),
    )
    .await?;
    let mut volumes: Vec<ObservedResource> = list
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|volume| ObservedResource {
            name: volume.name,
            labels: volume.labels.into_iter().collect(),
        })
        .filter(|volume| filter.keeps(&volume.name, &volume.labels))
        .collect();
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(volumes)
}
