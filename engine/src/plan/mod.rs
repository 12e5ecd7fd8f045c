//! The planner (docs/plans.md): `plan(desired, observed, options)` compares the desired state with a
//! Docker snapshot and returns ordered actions with reasons; a swarm node's services are planned
//! by `services.rs`. Pure and deterministic; it executes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::changes::{spec_changes, Change};
use crate::copies::{primary_name, Copies, Fallback, Role, Runs};
use crate::depends::{DependencyGraph, LABEL_DEPENDS_ON};
use crate::desired::{replica_number, DesiredDeployment, DesiredReplica, DesiredState};
use crate::image;
use crate::jobs::{JobRuns, LABEL_JOB};
use crate::manifest::job::job_key;
use crate::manifest::{BuildMode, NodeEngine, PullPolicy, Rollout};
use crate::observed::{ImageIndex, Observed, ObservedContainer};
use crate::spec::{LABEL_DEPLOYMENT, LABEL_SPEC, LABEL_SPEC_HASH};

mod jobs;
mod services;

pub use jobs::scheduled_run;

pub const FORMAT_VERSION: u32 = 1;

/// The phases of docs/plans.md in execution order: the environment's network and volumes, pulls
/// and builds, job runs, then remove, update (resource limits in place), recreate, create, start.
/// Plans list their actions in this order and the executor runs one phase at a time; `blocked` is
/// in no phase, it is listed last and never executed.
pub const PHASES: [&[ActionKind]; 8] = [
    &[ActionKind::Network, ActionKind::Volume],
    &[ActionKind::Pull, ActionKind::Build],
    &[ActionKind::Run],
    &[ActionKind::Remove],
    &[ActionKind::Update, ActionKind::Scale],
    &[ActionKind::Recreate],
    &[ActionKind::Create],
    &[ActionKind::Start],
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Plan removals even when nothing is desired (`--allow-empty`, `allowEmpty`).
    pub allow_empty: bool,
    /// This pass follows a new commit: `pullPolicy: Always` pulls and `buildMode: always` builds.
    pub new_commit: bool,
    /// Deployments left alone (quarantined or flapping): no action, and their containers are
    /// neither changed nor removed. They count as unchanged.
    pub held: BTreeSet<String>,
    /// The change runs of jobs the node remembers, beyond the run containers still there.
    pub job_runs: JobRuns,
    /// Deployments with `imageUpdates: apply` whose tag names another image in the registry than
    /// the one they run: the digest (`sha256:…`) the registry answered. Such a deployment's
    /// image is pulled and its containers recreated (`image_updated`) until they run it.
    pub available_images: BTreeMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    Network,
    Volume,
    Pull,
    Build,
    /// A job's change run, to completion (docs/plans.md).
    Run,
    Remove,
    Update,
    /// A swarm service's replica count changes, nothing else (docs/swarm.md).
    Scale,
    Recreate,
    Create,
    Start,
    Blocked,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Network => "network",
            ActionKind::Volume => "volume",
            ActionKind::Pull => "pull",
            ActionKind::Build => "build",
            ActionKind::Run => "run",
            ActionKind::Remove => "remove",
            ActionKind::Update => "update",
            ActionKind::Scale => "scale",
            ActionKind::Recreate => "recreate",
            ActionKind::Create => "create",
            ActionKind::Start => "start",
            ActionKind::Blocked => "blocked",
        }
    }

    /// Whether the action prepares what containers need (network, volume, image): when one
    /// fails, no container is touched.
    pub fn prepares(self) -> bool {
        matches!(
            self,
            ActionKind::Network | ActionKind::Volume | ActionKind::Pull | ActionKind::Build
        )
    }

    /// Whether the action changes a container (what counts toward flapping); networks, volumes,
    /// pulls and builds only prepare what containers use, and `blocked` is never executed.
    pub fn changes_container(self) -> bool {
        matches!(
            self,
            ActionKind::Remove
                | ActionKind::Update
                | ActionKind::Scale
                | ActionKind::Recreate
                | ActionKind::Create
                | ActionKind::Start
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    ImageMissing,
    PullAlways,
    BuildAlways,
    Orphaned,
    Duplicate,
    SpecChanged,
    ImageUpdated,
    ResourcesChanged,
    Missing,
    NotRunning,
    NameConflict,
    ScaledDown,
    ReplicasChanged,
    /// A job's spec (or image) has not run yet, and an earlier one of it has.
    JobChanged,
    /// A job has never run.
    NeverRun,
    /// The run of a job this deployment comes after failed.
    JobFailed,
    /// The run of a job this deployment comes after has not finished.
    JobRunning,
    /// A finished job run beyond the last ones kept.
    Pruned,
    /// A scheduled job's time came; only the node's own runs have it, never a plan.
    Scheduled,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ImageMissing => "image_missing",
            Reason::PullAlways => "pull_always",
            Reason::BuildAlways => "build_always",
            Reason::Orphaned => "orphaned",
            Reason::Duplicate => "duplicate",
            Reason::SpecChanged => "spec_changed",
            Reason::ImageUpdated => "image_updated",
            Reason::ResourcesChanged => "resources_changed",
            Reason::Missing => "missing",
            Reason::NotRunning => "not_running",
            Reason::NameConflict => "name_conflict",
            Reason::ScaledDown => "scaled_down",
            Reason::ReplicasChanged => "replicas_changed",
            Reason::JobChanged => "job_changed",
            Reason::NeverRun => "never_run",
            Reason::JobFailed => "job_failed",
            Reason::JobRunning => "job_running",
            Reason::Pruned => "pruned",
            Reason::Scheduled => "scheduled",
        }
    }
}

/// One step of a plan. A `network` or `volume` action concerns the environment rather than one
/// deployment: its `deployment`, `container` and `image` are empty, which the JSON form writes as
/// `null`, and it names its Docker network or volume instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub step: usize,
    pub kind: ActionKind,
    #[serde(with = "empty_as_null")]
    pub deployment: String,
    /// The job a `run`, or a pull, build or removal for a job, is for; its `deployment` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(with = "empty_as_null")]
    pub container: String,
    #[serde(with = "empty_as_null")]
    pub image: String,
    /// The Docker network a `network` action creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The Docker volume a `volume` action creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    pub reason: Reason,
    /// The complete label map of the new container (create and recreate only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Arc<BTreeMap<String, String>>>,
    #[serde(default)]
    pub changes: Vec<Change>,
    /// Deployments with actions in the same phase that must finish first: the ones this
    /// deployment depends on, or for a removal the ones that depend on it (docs/plans.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// How a recreate replaces the container: `startFirst` beside the running old one, or
    /// `stopFirst` (docs/plans.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
    /// The copy put back as the container if the new one fails: for a create, start or
    /// stop-first recreate, the copy an interrupted rollout left (or the old container itself);
    /// for the removal of a leftover copy, that copy, which goes only once the container is ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
}

impl Action {
    /// The name the action is ordered under within its phase and that other actions list in
    /// `after`: the deployment's, or `<job>.job` for a job's run.
    pub fn order_key(&self) -> String {
        match (&self.job, self.kind) {
            (Some(job), ActionKind::Run) => job_key(job),
            _ => self.deployment.clone(),
        }
    }

    /// What the action works on: the container, or the network or volume it creates.
    pub fn subject(&self) -> &str {
        self.network
            .as_deref()
            .or(self.volume.as_deref())
            .unwrap_or(&self.container)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    #[serde(default)]
    pub network: usize,
    #[serde(default)]
    pub volume: usize,
    pub pull: usize,
    pub build: usize,
    /// Job runs; left out at zero, so plans without jobs keep their keys.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub run: usize,
    pub remove: usize,
    #[serde(default)]
    pub update: usize,
    /// Swarm services only; left out at zero, so plans of Docker nodes keep their keys.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub scale: usize,
    pub recreate: usize,
    pub create: usize,
    pub start: usize,
    pub blocked: usize,
    pub unchanged: usize,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

fn is_docker(engine: &NodeEngine) -> bool {
    *engine == NodeEngine::Docker
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub environment: String,
    pub commit: String,
    /// The node whose share was planned; absent when placement was not applied (docs/plans.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// `swarm` for a swarm node's plan of services; left out for a Docker node's.
    #[serde(default, skip_serializing_if = "is_docker")]
    pub engine: NodeEngine,
    pub summary: Summary,
    pub actions: Vec<Action>,
}

impl Plan {
    /// True when applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// A plan saved with `orun plan --out`: the plan document plus fingerprints of the desired state
/// and the observed snapshot it was made from, so `orun apply --plan` can refuse a stale plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    #[serde(flatten)]
    pub plan: Plan,
    pub desired_fingerprint: String,
    pub observed_fingerprint: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "refusing to plan: {} but environment {environment} has {managed} managed container(s), \
         which would all be removed; pass --allow-empty (allowEmpty) if that is intended",
        match node {
            Some(node) => format!("no deployment is placed on node {node}"),
            None => "no deployments are desired".to_string(),
        }
    )]
    EmptyDesired {
        environment: String,
        managed: usize,
        /// The node whose share is empty, when placement was applied.
        node: Option<String>,
    },
}

/// Plans the actions that take `observed` to `desired` (docs/plans.md).
pub fn plan(
    desired: &DesiredState,
    observed: &Observed,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    if desired.engine == NodeEngine::Swarm {
        return services::plan(desired, observed, options);
    }
    let environment = desired.environment.as_str();
    let images = observed.image_index();
    // Hash maps are only looked up; anything produced from iterating them is sorted in `finish`.
    let mut foreign_names: HashSet<&str> = HashSet::new();
    let mut owned: HashMap<&str, Vec<&ObservedContainer>> = HashMap::new();
    let mut managed = 0;
    for container in &observed.containers {
        if !container.is_owned_by(environment) {
            foreign_names.insert(container.bare_name());
        } else if container.labels.contains_key(LABEL_JOB) {
            // A job's runs are planned by `jobs.rs`: an exited one is never drift.
            managed += 1;
        } else {
            managed += 1;
            let deployment = container
                .labels
                .get(LABEL_DEPLOYMENT)
                .map(String::as_str)
                .unwrap_or_default();
            owned.entry(deployment).or_default().push(container);
        }
    }
    let nothing_desired = desired.deployments.is_empty() && desired.jobs.is_empty();
    if nothing_desired && managed > 0 && !options.allow_empty {
        return Err(PlanError::EmptyDesired {
            environment: environment.to_string(),
            managed,
            node: desired.node.clone(),
        });
    }

    let graph = dependency_graph(desired, &owned);
    let mut planner = Planner {
        images: &images,
        options,
        actions: Vec::new(),
        unchanged: 0,
        pulled: BTreeSet::new(),
    };
    planner.environment_resources(desired, observed);
    for deployment in desired.deployments.values() {
        let mine = owned.remove(deployment.name.as_str()).unwrap_or_default();
        if planner.options.held.contains(&deployment.name) {
            planner.unchanged += 1;
            continue;
        }
        planner.deployment(deployment, &mine, &foreign_names);
    }
    for (deployment, containers) in owned {
        for container in containers {
            planner.push(
                ActionKind::Remove,
                deployment,
                container.bare_name(),
                &container.image,
                Reason::Orphaned,
            );
        }
    }
    planner.jobs(desired, observed);
    Ok(planner.finish(desired, &graph))
}

/// `dependsOn` of the desired deployments, and for a deployment that is no longer desired, what
/// its containers' label recorded, so that its removal can follow it too.
fn dependency_graph(
    desired: &DesiredState,
    owned: &HashMap<&str, Vec<&ObservedContainer>>,
) -> DependencyGraph {
    let wanted = desired.deployments.values().map(|deployment| {
        let dependencies: Vec<&str> = deployment.depends_on.iter().map(String::as_str).collect();
        (deployment.name.as_str(), dependencies)
    });
    let removed = owned
        .iter()
        .filter(|(name, _)| !desired.deployments.contains_key(**name))
        .flat_map(|(name, containers)| {
            containers.iter().map(|container| {
                let dependencies: Vec<&str> = container
                    .labels
                    .get(LABEL_DEPENDS_ON)
                    .map(|names| names.split(',').filter(|name| !name.is_empty()).collect())
                    .unwrap_or_default();
                (*name, dependencies)
            })
        });
    // A change run comes after its dependencies and before the deployments it precedes.
    let runs = desired.jobs.values().flat_map(|job| {
        let key = job_key(&job.name);
        let dependencies: Vec<&str> = job
            .container
            .depends_on
            .iter()
            .map(String::as_str)
            .collect();
        let before = job
            .before()
            .iter()
            .map(move |deployment| (deployment.as_str(), vec![key.clone()]));
        std::iter::once((
            job_key(&job.name),
            dependencies
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>(),
        ))
        .chain(before.map(|(deployment, keys)| (deployment.to_string(), keys)))
    });
    let wanted = wanted.map(|(name, dependencies)| {
        (
            name.to_string(),
            dependencies
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )
    });
    let removed = removed.map(|(name, dependencies)| {
        (
            name.to_string(),
            dependencies
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>(),
        )
    });
    DependencyGraph::new(wanted.chain(removed).chain(runs))
}

struct Planner<'a> {
    images: &'a ImageIndex<'a>,
    options: &'a PlanOptions,
    actions: Vec<Action>,
    unchanged: usize,
    /// Images already pulled by an earlier deployment in this plan: one pull per image.
    pulled: BTreeSet<String>,
}

impl Planner<'_> {
    fn push(
        &mut self,
        kind: ActionKind,
        deployment: &str,
        container: &str,
        image: &str,
        reason: Reason,
    ) -> &mut Action {
        self.actions.push(Action {
            step: 0,
            kind,
            deployment: deployment.to_string(),
            job: None,
            container: container.to_string(),
            image: image.to_string(),
            reason,
            labels: None,
            changes: Vec::new(),
            after: Vec::new(),
            network: None,
            volume: None,
            rollout: None,
            fallback: None,
        });
        self.actions.last_mut().expect("just pushed")
    }

    /// Creates the environment's network and named volumes that Docker does not have yet. A
    /// network or volume of that name is used as it is, whoever made it; none is ever removed.
    fn environment_resources(&mut self, desired: &DesiredState, observed: &Observed) {
        let networks: HashSet<&str> = observed.networks.iter().map(|n| n.name.as_str()).collect();
        let volumes: HashSet<&str> = observed.volumes.iter().map(|v| v.name.as_str()).collect();
        for network in desired.networks() {
            if !networks.contains(network.as_str()) {
                self.push(ActionKind::Network, "", "", "", Reason::Missing)
                    .network = Some(network);
            }
        }
        for volume in desired.volumes().into_values() {
            if !volumes.contains(volume.as_str()) {
                self.push(ActionKind::Volume, "", "", "", Reason::Missing)
                    .volume = Some(volume);
            }
        }
    }

    /// Plans a deployment replica by replica: each replica's copies as one container's, then
    /// the containers of the deployment that belong to no desired replica — a replica above
    /// `replicas` is scaled down, anything else is a duplicate.
    fn deployment(
        &mut self,
        desired: &DesiredDeployment,
        mine: &[&ObservedContainer],
        foreign_names: &HashSet<&str>,
    ) {
        let before = self.actions.len();
        let image_id = self.images.id_of(&desired.spec.image);
        let mut needs_container = false;
        let mut any_unblocked = false;
        for replica in &desired.replicas {
            if foreign_names.contains(replica.container.as_str()) {
                self.push(
                    ActionKind::Blocked,
                    &desired.name,
                    &replica.container,
                    &desired.spec.image,
                    Reason::NameConflict,
                );
                continue;
            }
            let copies: Vec<&ObservedContainer> = mine
                .iter()
                .copied()
                .filter(|container| primary_name(container.bare_name()) == replica.container)
                .collect();
            any_unblocked = true;
            needs_container |= self.replica(desired, replica, &copies, image_id);
        }
        for container in mine {
            let name = container.bare_name();
            if desired.replica_of(name).is_some() {
                continue;
            }
            let reason = if replica_number(&desired.container, name).is_some() {
                Reason::ScaledDown
            } else {
                Reason::Duplicate
            };
            self.push(
                ActionKind::Remove,
                &desired.name,
                name,
                &container.image,
                reason,
            );
        }
        if any_unblocked {
            self.image_actions(desired, image_id.is_some(), needs_container);
        }
        if self.actions.len() == before {
            self.unchanged += 1;
        }
    }

    /// Plans one replica from its copies (`<name>`, `<name>.orun-old`, `<name>.orun-next`);
    /// returns whether it needs a new container.
    fn replica(
        &mut self,
        desired: &DesiredDeployment,
        replica: &DesiredReplica,
        mine: &[&ObservedContainer],
        image_id: Option<&str>,
    ) -> bool {
        let name = desired.name.as_str();
        let container_name = replica.container.as_str();
        let image = desired.spec.image.as_str();
        let copies = Copies::of(
            container_name,
            mine.iter()
                .map(|container| (container.bare_name(), *container)),
        );
        let primary = copies.primary;
        let resource_changes = primary
            .map(|container| desired.resources.changes_from(&container.resources))
            .unwrap_or_default();

        let replace = match primary {
            None => Some((ActionKind::Create, Reason::Missing)),
            Some(container)
                if container.labels.get(LABEL_SPEC_HASH) != Some(&desired.spec_hash) =>
            {
                Some((ActionKind::Recreate, Reason::SpecChanged))
            }
            Some(container) if image_id.is_some_and(|id| id != container.image_id) => {
                Some((ActionKind::Recreate, Reason::ImageUpdated))
            }
            Some(container) if self.update_available(desired, &container.image_id) => {
                Some((ActionKind::Recreate, Reason::ImageUpdated))
            }
            // Docker cannot lift a limit in place; a new container gets the desired ones.
            Some(container) if !desired.resources.updatable_from(&container.resources) => {
                Some((ActionKind::Recreate, Reason::SpecChanged))
            }
            Some(_) => None,
        };

        for duplicate in mine {
            let role = Role::of(duplicate.bare_name(), container_name);
            if role.is_some_and(|role| copies.keeps(role)) {
                continue;
            }
            let fallback = role.and_then(|role| copies.retired(role, container_name));
            self.push(
                ActionKind::Remove,
                name,
                duplicate.bare_name(),
                &duplicate.image,
                Reason::Duplicate,
            )
            .fallback = fallback;
        }

        let primary_runs = primary.is_some_and(|container| container.runs());
        match (replace, primary) {
            (Some((kind, reason)), _) => {
                let action = self.push(kind, name, container_name, image, reason);
                action.labels = Some(replica.labels.clone());
                if kind == ActionKind::Recreate && reason == Reason::SpecChanged {
                    let old = primary
                        .and_then(|c| c.labels.get(LABEL_SPEC))
                        .map(String::as_str);
                    action.changes = spec_changes(old, &desired.spec_fields);
                }
                if kind == ActionKind::Recreate {
                    action.changes.extend(resource_changes);
                    let (rollout, fallback) = copies.recreate(desired.rollout, container_name);
                    action.rollout = Some(rollout);
                    action.fallback = fallback;
                } else {
                    action.fallback = copies.fallback(container_name);
                }
            }
            (None, Some(_)) if !resource_changes.is_empty() => {
                let action = self.push(
                    ActionKind::Update,
                    name,
                    container_name,
                    image,
                    Reason::ResourcesChanged,
                );
                action.changes = resource_changes;
            }
            (None, _) => {}
        }
        if replace.is_none() && primary.is_some() && !primary_runs {
            self.push(
                ActionKind::Start,
                name,
                container_name,
                image,
                Reason::NotRunning,
            )
            .fallback = copies.fallback(container_name);
        }
        replace.is_some()
    }

    /// The reference (`repo@sha256:…`) of the image the registry has under `desired`'s tag when
    /// `available_images` names one.
    fn available_reference(&self, desired: &DesiredDeployment) -> Option<String> {
        let digest = self.options.available_images.get(&desired.name)?;
        Some(format!(
            "{}@{digest}",
            image::repository(desired.spec.image.as_str())
        ))
    }

    /// The registry has another image under the tag than `running` (an image id).
    fn update_available(&self, desired: &DesiredDeployment, running: &str) -> bool {
        self.available_reference(desired)
            .is_some_and(|reference| self.images.id_of(&reference) != Some(running))
    }

    /// The registry has another image under the tag, and it is not here yet.
    fn update_not_pulled(&self, desired: &DesiredDeployment) -> bool {
        self.available_reference(desired)
            .is_some_and(|reference| self.images.id_of(&reference).is_none())
    }

    /// The pull or build a deployment (or job) needs before its container can be (re)created.
    fn image_actions(
        &mut self,
        desired: &DesiredDeployment,
        present: bool,
        needs_container: bool,
    ) -> Option<&mut Action> {
        let image = desired.spec.image.as_str();
        let reason = if let Some(build) = &desired.spec.build {
            let always = build.build_mode == BuildMode::Always && self.options.new_commit;
            match (present, always) {
                (false, _) if needs_container || always => {
                    Some((ActionKind::Build, Reason::ImageMissing))
                }
                (_, true) => Some((ActionKind::Build, Reason::BuildAlways)),
                _ => None,
            }
        } else {
            match desired.pull_policy {
                _ if self.update_not_pulled(desired) => {
                    Some((ActionKind::Pull, Reason::ImageUpdated))
                }
                PullPolicy::Always if self.options.new_commit => {
                    Some((ActionKind::Pull, Reason::PullAlways))
                }
                PullPolicy::Always | PullPolicy::IfNotPresent if needs_container && !present => {
                    Some((ActionKind::Pull, Reason::ImageMissing))
                }
                _ => None,
            }
        };
        let (kind, reason) = reason?;
        if kind == ActionKind::Pull && !self.pulled.insert(image.to_string()) {
            return None;
        }
        Some(self.push(kind, &desired.name, &desired.container, image, reason))
    }

    fn finish(mut self, desired: &DesiredState, graph: &DependencyGraph) -> Plan {
        // Actions were generated in deployment order, except orphan removals, which come after
        // the duplicates; a stable sort by phase, then each phase in dependency order.
        let mut phased: Vec<(usize, Action)> = phases(&self.actions)
            .into_iter()
            .zip(self.actions)
            .collect();
        phased.sort_by_key(|(phase, _)| *phase);
        let (phase_of, mut actions): (Vec<usize>, Vec<Action>) = phased.into_iter().unzip();
        for kinds in PHASES.iter().filter(|kinds| kinds[0].changes_container()) {
            let index = phase(kinds[0]);
            let start = phase_of.partition_point(|phase| *phase < index);
            let end = phase_of.partition_point(|phase| *phase <= index);
            order_phase(&mut actions[start..end], graph, kinds[0]);
        }
        self.actions = actions;
        let mut summary = Summary {
            unchanged: self.unchanged,
            ..Summary::default()
        };
        for (index, action) in self.actions.iter_mut().enumerate() {
            action.step = index + 1;
            let count = match action.kind {
                ActionKind::Network => &mut summary.network,
                ActionKind::Volume => &mut summary.volume,
                ActionKind::Pull => &mut summary.pull,
                ActionKind::Build => &mut summary.build,
                ActionKind::Run => &mut summary.run,
                ActionKind::Remove => &mut summary.remove,
                ActionKind::Update => &mut summary.update,
                ActionKind::Scale => &mut summary.scale,
                ActionKind::Recreate => &mut summary.recreate,
                ActionKind::Create => &mut summary.create,
                ActionKind::Start => &mut summary.start,
                ActionKind::Blocked => &mut summary.blocked,
            };
            *count += 1;
        }
        Plan {
            format_version: FORMAT_VERSION,
            environment: desired.environment.as_str().to_string(),
            commit: desired.commit.clone(),
            node: desired.node.clone(),
            engine: desired.engine,
            summary,
            actions: self.actions,
        }
    }
}

/// The position in [`PHASES`] of each of `actions`, which the plan lists in this order and the
/// executor runs by: a run whose `after` names deployments this plan creates, recreates or
/// starts goes into the latest phase of theirs, where it comes after them and before the
/// deployments it precedes; any other action by its kind (`blocked` after them all).
pub fn phases(actions: &[Action]) -> Vec<usize> {
    actions
        .iter()
        .map(|action| {
            let own = phase(action.kind);
            if action.kind != ActionKind::Run || action.after.is_empty() {
                return own;
            }
            actions
                .iter()
                .filter(|other| brings_up(other.kind) && action.after.contains(&other.deployment))
                .map(|other| phase(other.kind))
                .max()
                .unwrap_or(own)
        })
        .collect()
}

/// Whether the action leaves its deployment's container running: what a dependent waits for.
fn brings_up(kind: ActionKind) -> bool {
    matches!(
        kind,
        ActionKind::Create | ActionKind::Recreate | ActionKind::Start
    )
}

/// Orders the actions of one phase so that dependencies come first — last for removals — ties by
/// deployment, then container name, and records in each action what it waits for.
fn order_phase(actions: &mut [Action], graph: &DependencyGraph, kind: ActionKind) {
    let keys: Vec<String> = actions.iter().map(Action::order_key).collect();
    let names: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
    let removal = kind == ActionKind::Remove;
    let order = if removal {
        graph.reverse_order(&names)
    } else {
        graph.order(&names)
    };
    let rank: HashMap<String, usize> = order
        .iter()
        .enumerate()
        .map(|(index, name)| (name.to_string(), index))
        .collect();
    let after: HashMap<String, Vec<String>> = names
        .iter()
        .map(|&name| {
            let first = if removal {
                graph.dependents_among(name, &names)
            } else {
                graph.first_among(name, &names)
            };
            let first = first.into_iter().map(str::to_string).collect();
            (name.to_string(), first)
        })
        .collect();
    actions.sort_by_cached_key(|action| {
        let key = action.order_key();
        (rank[&key], replica_order(action), action.container.clone())
    });
    for action in actions {
        action.after = after[&action.order_key()].clone();
    }
}

/// The replica an action's container is, or a copy of: 1 for the deployment's own container, so
/// that replicas go in order (`web.2` before `web.10`).
fn replica_order(action: &Action) -> u32 {
    let container = primary_name(&action.container);
    container
        .rsplit_once('.')
        .and_then(|(_, number)| number.parse().ok())
        .unwrap_or(1)
}

/// Position of `kind` in [`PHASES`]; `blocked`, which is never executed, comes after them all.
fn phase(kind: ActionKind) -> usize {
    PHASES
        .iter()
        .position(|kinds| kinds.contains(&kind))
        .unwrap_or(PHASES.len())
}

/// Empty strings as JSON `null` and back, for the fields a `network` or `volume` action leaves
/// empty.
mod empty_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &str, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_empty() {
            serializer.serialize_none()
        } else {
            serializer.serialize_str(value)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
    }
}
