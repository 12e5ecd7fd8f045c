//! The observed snapshot of a Docker engine (docs/plans.md) in its JSON form, and lookups the planner needs.
//! It does not talk to Docker; the daemon's adapter produces it. Unknown keys in a snapshot are
//! ignored, so snapshots from other tools or later versions still load.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize};

use crate::copies::{primary_name, Runs};
use crate::desired::DesiredState;
use crate::image;
use crate::manifest::settings::RESERVED_LABEL_PREFIX;
use crate::resources::Limits;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub containers: Vec<ObservedContainer>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub images: Vec<ObservedImage>,
    /// Networks labelled as orun's or named as an environment network (`orun-<env>`).
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub networks: Vec<ObservedResource>,
    /// Volumes labelled as orun's or named as a named volume of the desired state.
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volumes: Vec<ObservedResource>,
    /// The swarm's services labelled as orun's or named as a wanted service; only a swarm
    /// node's snapshot has them (docs/swarm.md).
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub services: Vec<ObservedService>,
    /// The run containers of jobs (labelled `run.orcra.dev/job`) with how each run went, which
    /// the container list does not show (docs/plans.md).
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub runs: Vec<ObservedRun>,
}

/// One run container of a job: whose it is, what it ran, and when it started and ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedRun {
    pub container: String,
    pub job: String,
    pub environment: String,
    /// The spec hash of the job when it ran (its `run.orcra.dev/spec-hash` label).
    pub spec_hash: String,
    pub image_id: String,
    /// RFC 3339, as Docker reports it.
    pub started_at: String,
    /// `None` while it runs.
    #[serde(default)]
    pub finished_at: Option<String>,
    /// `None` while it runs.
    #[serde(default)]
    pub exit_code: Option<i64>,
}

/// A Swarm service: its name, labels, the replicas it asks for and the tasks running.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedService {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub labels: BTreeMap<String, String>,
    /// The replicas of a replicated service; `None` for a global one.
    #[serde(default)]
    pub replicas: Option<u64>,
    /// Tasks whose container runs (and, with a health check, is healthy).
    #[serde(default)]
    pub running_tasks: u64,
    /// The tasks' resource limits; absent means unlimited.
    #[serde(default, skip_serializing_if = "Limits::is_unlimited")]
    pub resources: Limits,
}

impl ObservedService {
    /// True when orun manages this service for `environment`.
    pub fn is_owned_by(&self, environment: &str) -> bool {
        crate::spec::owned_by(&self.labels, environment)
    }
}

/// A Docker network or volume: its name and labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedResource {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedContainer {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub state: ContainerState,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub labels: BTreeMap<String, String>,
    /// The resource limits Docker reports for the container; absent means unlimited.
    #[serde(default, skip_serializing_if = "Limits::is_unlimited")]
    pub resources: Limits,
    /// The container's network address, which Caddy's routes point at; the node reads it for the
    /// environment's containers and their rollout copies, and plans never do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// When the container last started (RFC 3339, as Docker reports it), read with its address;
    /// the node shows it as the deployment's uptime, and plans never read it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
}

/// Docker's container states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl ContainerState {
    /// Whether Docker keeps the container up: running, or restarting under its restart policy
    /// (Docker is already bringing it back). The one meaning of "runs" in plans.
    pub fn runs(self) -> bool {
        matches!(self, ContainerState::Running | ContainerState::Restarting)
    }

    /// The state's name as Docker and the snapshot write it.
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Restarting => "restarting",
            ContainerState::Removing => "removing",
            ContainerState::Exited => "exited",
            ContainerState::Dead => "dead",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedImage {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tags: Vec<String>,
    /// Repository digests (`repo@sha256:…`), which digest references match against.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub digests: Vec<String>,
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl ObservedContainer {
    /// The name without Docker's leading `/`.
    pub fn bare_name(&self) -> &str {
        self.name.trim_start_matches('/')
    }

    /// True when orun manages this container for `environment` (docs/manifests.md ownership).
    pub fn is_owned_by(&self, environment: &str) -> bool {
        crate::spec::owned_by(&self.labels, environment)
    }
}

/// Whether Docker keeps the container up (see [`ContainerState::runs`]).
impl Runs for ObservedContainer {
    fn runs(&self) -> bool {
        self.state.runs()
    }
}

/// Local images by every normalized tag and digest, for lookups in `O(log n)`.
#[derive(Clone, Debug, Default)]
pub struct ImageIndex<'a> {
    ids: BTreeMap<String, &'a str>,
}

impl ImageIndex<'_> {
    /// The id of the local image `reference` names (tag or digest), if present.
    pub fn id_of(&self, reference: &str) -> Option<&str> {
        self.ids.get(image::normalize(reference).as_ref()).copied()
    }
}

impl Observed {
    /// `sha256:` + hex SHA-256 of the part of the snapshot a plan for `desired` reads, so a saved
    /// plan can tell whether the engine changed under it. Containers of other environments that
    /// hold none of the wanted names, and images no deployment or relevant container uses, are
    /// left out: on a shared host they come and go without touching this environment's plan.
    pub fn fingerprint(&self, desired: &DesiredState) -> String {
        let environment = desired.environment.as_str();
        let wanted = desired.container_names();
        let mut canonical = self.clone();
        canonical.containers.retain(|container| {
            container.is_owned_by(environment)
                || wanted.contains(primary_name(container.bare_name()))
        });
        canonical.containers.sort_by(|a, b| a.name.cmp(&b.name));
        for container in &mut canonical.containers {
            container.address = None;
            container.started_at = None;
        }
        let references: BTreeSet<String> = desired
            .deployments
            .values()
            .map(|deployment| image::normalize(&deployment.spec.image).into_owned())
            .collect();
        let used: BTreeSet<&str> = canonical
            .containers
            .iter()
            .map(|container| container.image_id.as_str())
            .collect();
        canonical.images.retain(|image| {
            used.contains(image.id.as_str())
                || image
                    .tags
                    .iter()
                    .chain(&image.digests)
                    .any(|reference| references.contains(image::normalize(reference).as_ref()))
        });
        for image in &mut canonical.images {
            image.tags.sort();
            image.digests.sort();
        }
        canonical.images.sort_by(|a, b| a.id.cmp(&b.id));
        canonical.networks.sort_by(|a, b| a.name.cmp(&b.name));
        canonical.volumes.sort_by(|a, b| a.name.cmp(&b.name));
        let services: BTreeSet<&str> = desired
            .deployments
            .values()
            .map(|deployment| deployment.service.as_str())
            .collect();
        canonical.services.retain(|service| {
            service.is_owned_by(environment) || services.contains(service.name.as_str())
        });
        canonical.services.sort_by(|a, b| a.name.cmp(&b.name));
        canonical.runs.retain(|run| run.environment == environment);
        canonical.runs.sort_by(|a, b| a.container.cmp(&b.container));
        let json = serde_json::to_string(&canonical).expect("snapshot serializes");
        format!("sha256:{}", crate::spec::sha256_hex(json.as_bytes()))
    }

    /// The snapshot as plans read it, for readers outside the node (`GET /observed`): only
    /// labels under orun's prefix, which plans read and where the canonical spec shows secrets
    /// as fingerprints, while other tools' labels may hold anything; and no container addresses or
    /// start times, which plans never read. A plan against it is the plan against the whole snapshot.
    pub fn for_plans(mut self) -> Observed {
        let keep_orun_labels = |labels: &mut BTreeMap<String, String>| {
            labels.retain(|key, _| key.starts_with(RESERVED_LABEL_PREFIX));
        };
        for container in &mut self.containers {
            keep_orun_labels(&mut container.labels);
            container.address = None;
            container.started_at = None;
        }
        for resource in self.networks.iter_mut().chain(&mut self.volumes) {
            keep_orun_labels(&mut resource.labels);
        }
        for service in &mut self.services {
            keep_orun_labels(&mut service.labels);
        }
        self
    }

    pub fn image_index(&self) -> ImageIndex<'_> {
        let mut ids = BTreeMap::new();
        for image in &self.images {
            for reference in image.tags.iter().chain(&image.digests) {
                ids.entry(image::normalize(reference).into_owned())
                    .or_insert(image.id.as_str());
            }
        }
        ImageIndex { ids }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_load_with_missing_arrays_nulls_and_unknown_keys() {
        let observed: Observed = serde_json::from_str(
            r#"{"containers":[{"id":"1","name":"/web","image":"nginx","image_id":"sha256:1",
                "state":"running","labels":null,"status":"Up 2 hours"}],"images":null,"version":2}"#,
        )
        .unwrap();
        assert_eq!(observed.containers[0].bare_name(), "web");
        assert!(observed.containers[0].labels.is_empty());
        assert!(observed.images.is_empty());
        assert_eq!(
            serde_json::from_str::<Observed>("{}").unwrap(),
            Observed::default()
        );
    }

    #[test]
    fn for_plans_keeps_orun_labels_and_drops_addresses() {
        let observed: Observed = serde_json::from_str(
            r#"{"containers":[{"id":"1","name":"web","image":"nginx","image_id":"sha256:1",
                "state":"running","address":"172.17.0.2",
                "started_at":"2026-11-26T10:00:00.5Z",
                "resources":{"memory":1048576},
                "labels":{"run.orcra.dev/managed-by":"orun","run.orcra.dev/spec":"{}",
                          "com.example.token":"hunter2"}}],
                "images":[{"id":"sha256:1","tags":["nginx:latest"]}],
                "volumes":[{"name":"data","labels":{"com.docker.compose.project":"x",
                            "run.orcra.dev/environment":"production"}}]}"#,
        )
        .unwrap();
        let shown = observed.clone().for_plans();
        let container = &shown.containers[0];
        assert_eq!(
            container.labels.keys().collect::<Vec<_>>(),
            ["run.orcra.dev/managed-by", "run.orcra.dev/spec"]
        );
        assert_eq!(container.address, None);
        assert_eq!(container.started_at, None);
        assert_eq!(container.resources, observed.containers[0].resources);
        assert_eq!(shown.images, observed.images);
        assert_eq!(
            shown.volumes[0].labels.keys().collect::<Vec<_>>(),
            ["run.orcra.dev/environment"]
        );
    }

    #[test]
    fn state_names_are_the_snapshot_names() {
        for state in [
            ContainerState::Created,
            ContainerState::Running,
            ContainerState::Paused,
            ContainerState::Restarting,
            ContainerState::Removing,
            ContainerState::Exited,
            ContainerState::Dead,
        ] {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::Value::from(state.as_str())
            );
        }
    }
}
