//! Observes the engine into the snapshot of docs/plans.md: the container, image, network and
//! volume lists, and an inspect of each managed container holding a name orun wants, for the
//! resource limits the list does not show, and of each job container, for how its run went. It keeps orun's containers and any container holding a
//! name orun wants, and orun's networks and volumes of the planned environment and those of the
//! names orun wants, and on a swarm node orun's services; every other container, network, volume
//! and service on the host is left out.

use std::collections::BTreeMap;

use bollard::models::ContainerSummaryStateEnum;
use bollard::query_parameters::{ListContainersOptionsBuilder, ListImagesOptionsBuilder};
use bollard::Docker;
use engine::copies::primary_name;
use engine::jobs::LABEL_JOB;
use engine::manifest::NodeEngine;
use engine::observed::{
    ContainerState, ObservedContainer, ObservedImage, ObservedRun, ObservedService,
};
use engine::spec::{LABEL_MANAGED_BY, MANAGED_BY_ORUN};
use engine::{DesiredState, Observed};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::{container, resource, service, timed, Call, DockerError, CALL_TIMEOUT};

/// How many containers are inspected at once while observing.
const INSPECTS_IN_FLIGHT: usize = 4;

/// Snapshot of the engine for `desired`: managed containers of every environment, containers
/// holding the names it wants (or those names with the rollout suffixes), all tagged local
/// images, and orun's networks and volumes of its environment along with any of the names it
/// wants.
pub async fn observe(docker: &Docker, desired: &DesiredState) -> Result<Observed, DockerError> {
    let wanted_networks: Vec<String> = desired.networks().into_iter().collect();
    let wanted_volumes: Vec<String> = desired.volumes().into_values().collect();
    let environment = desired.environment.as_str();
    let filter = |wanted| resource::ResourceFilter {
        environment,
        wanted,
    };
    let (networks_wanted, volumes_wanted) = (filter(&wanted_networks), filter(&wanted_volumes));
    // The lists are independent, so they go to Docker at once: a no-op pass costs about one
    // round trip plus the inspects, not five.
    let (containers, images, networks, volumes, services) = tokio::try_join!(
        containers(docker, desired),
        images(docker),
        resource::networks(docker, &networks_wanted),
        resource::volumes(docker, &volumes_wanted),
        services(docker, desired),
    )?;
    let runs = runs(docker, &containers, environment).await?;
    Ok(Observed {
        containers,
        images,
        networks,
        volumes,
        services,
        runs,
    })
}

/// The runs of the environment's job containers, each inspected for its start, end and exit
/// code, which the container list does not show.
async fn runs(
    docker: &Docker,
    containers: &[ObservedContainer],
    environment: &str,
) -> Result<Vec<ObservedRun>, DockerError> {
    // Owned, like the limit inspects, so the observation stays a future of its own.
    let jobs: Vec<ObservedContainer> = containers
        .iter()
        .filter(|container| {
            managed_by_orun(&container.labels)
                && container.labels.contains_key(LABEL_JOB)
                && container.is_owned_by(environment)
        })
        .cloned()
        .collect();
    let runs: Vec<Option<ObservedRun>> = stream::iter(jobs)
        .map(|container| async move { container::run_of(docker, &container).await })
        .buffer_unordered(INSPECTS_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut runs: Vec<ObservedRun> = runs.into_iter().flatten().collect();
    runs.sort_by(|a, b| a.container.cmp(&b.container));
    Ok(runs)
}

/// On a swarm node, orun's services of the environment and those holding a wanted name; none on
/// a Docker node, which runs no services.
async fn services(
    docker: &Docker,
    desired: &DesiredState,
) -> Result<Vec<ObservedService>, DockerError> {
    if desired.engine != NodeEngine::Swarm {
        return Ok(Vec::new());
    }
    let wanted = desired
        .deployments
        .values()
        .map(|deployment| deployment.service.clone())
        .collect();
    service::list(docker, desired.environment.as_str(), &wanted).await
}

/// orun's containers and those holding a wanted name, sorted by name, with the resource limits of
/// the wanted managed ones.
async fn containers(
    docker: &Docker,
    desired: &DesiredState,
) -> Result<Vec<ObservedContainer>, DockerError> {
    let wanted_names = desired.container_names();
    let list = ListContainersOptionsBuilder::default().all(true).build();
    let summaries = timed(
        CALL_TIMEOUT,
        Call::ListContainers,
        docker.list_containers(Some(list)),
    )
    .await?;
    let mut containers = Vec::new();
    for summary in summaries {
        let name = summary
            .names
            .as_ref()
            .and_then(|names| names.first())
            .map(|name| name.trim_start_matches('/').to_string())
            .unwrap_or_default();
        let labels: BTreeMap<String, String> =
            summary.labels.unwrap_or_default().into_iter().collect();
        let managed = managed_by_orun(&labels);
        if !managed && !wanted_names.contains(primary_name(&name)) {
            continue;
        }
        containers.push(ObservedContainer {
            id: summary.id.unwrap_or_default(),
            name,
            image: summary.image.unwrap_or_default(),
            image_id: summary.image_id.unwrap_or_default(),
            state: state(summary.state),
            labels,
            resources: Default::default(),
            address: None,
            started_at: None,
        });
    }
    containers.sort_by(|a, b| a.name.cmp(&b.name));
    // Limits changed in place are only visible in the container's host config, and addresses
    // only in its network settings: the environment's containers and their rollout copies are
    // inspected once for both. The inspects own the names they ask about, so the observation is
    // a future the status API can serve from another task.
    let inspected: Vec<String> = containers
        .iter()
        .filter(|c| managed_by_orun(&c.labels) && wanted_names.contains(primary_name(&c.name)))
        .map(|c| c.name.clone())
        .collect();
    let mut found: BTreeMap<String, container::Inspected> = stream::iter(inspected)
        .map(|name| async move {
            let found = container::inspected(docker, &name).await?;
            Ok::<_, DockerError>(found.map(|found| (name, found)))
        })
        .buffer_unordered(INSPECTS_IN_FLIGHT)
        .try_filter_map(|found| async move { Ok(found) })
        .try_collect()
        .await?;
    for container in &mut containers {
        if let Some(found) = found.remove(&container.name) {
            container.resources = found.limits;
            container.address = found.address;
            container.started_at = found.started_at;
        }
    }
    Ok(containers)
}

/// Every tagged local image, sorted by id.
async fn images(docker: &Docker) -> Result<Vec<ObservedImage>, DockerError> {
    let list = ListImagesOptionsBuilder::default().all(false).build();
    let summaries = timed(
        CALL_TIMEOUT,
        Call::ListImages,
        docker.list_images(Some(list)),
    )
    .await?;
    let mut images: Vec<ObservedImage> = summaries
        .into_iter()
        .map(|image| ObservedImage {
            id: image.id,
            tags: image
                .repo_tags
                .into_iter()
                .filter(|tag| tag != "<none>:<none>")
                .collect(),
            digests: image
                .repo_digests
                .into_iter()
                .filter(|digest| !digest.starts_with("<none>"))
                .collect(),
        })
        .collect();
    images.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(images)
}

fn state(state: Option<ContainerSummaryStateEnum>) -> ContainerState {
    match state {
        Some(ContainerSummaryStateEnum::RUNNING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerSummaryStateEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerSummaryStateEnum::EXITED) => ContainerState::Exited,
        Some(ContainerSummaryStateEnum::DEAD) => ContainerState::Dead,
        // A stopping container is still running until it has stopped.
        Some(ContainerSummaryStateEnum::STOPPING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::CREATED | ContainerSummaryStateEnum::EMPTY) | None => {
            ContainerState::Created
        }
    }
}

fn managed_by_orun(labels: &BTreeMap<String, String>) -> bool {
    labels.get(LABEL_MANAGED_BY).map(String::as_str) == Some(MANAGED_BY_ORUN)
}
