//! The plan of a swarm node (docs/swarm.md): one Swarm service per deployment, created when
//! missing, updated when its spec or resource limits changed, scaled when only its replica count
//! did, removed when no deployment wants it; the environment's network and volumes as on a
//! Docker node. Containers are Swarm's to run, so no container action appears.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::{ActionKind, Plan, PlanError, PlanOptions, Planner, Reason};
use crate::changes::{spec_changes, Change};
use crate::depends::DependencyGraph;
use crate::desired::{DesiredDeployment, DesiredState};
use crate::observed::{Observed, ObservedService};
use crate::spec::{LABEL_DEPLOYMENT, LABEL_SPEC, LABEL_SPEC_HASH};

pub(super) fn plan(
    desired: &DesiredState,
    observed: &Observed,
    options: &PlanOptions,
) -> Result<Plan, PlanError> {
    let environment = desired.environment.as_str();
    let mut owned: HashMap<&str, &ObservedService> = HashMap::new();
    let mut foreign: BTreeSet<&str> = BTreeSet::new();
    for service in &observed.services {
        if service.is_owned_by(environment) {
            let deployment = service
                .labels
                .get(LABEL_DEPLOYMENT)
                .map(String::as_str)
                .unwrap_or_default();
            owned.insert(deployment, service);
        } else {
            foreign.insert(&service.name);
        }
    }
    if desired.deployments.is_empty() && !owned.is_empty() && !options.allow_empty {
        return Err(PlanError::EmptyDesired {
            environment: environment.to_string(),
            managed: owned.len(),
            node: None,
        });
    }
    let images = observed.image_index();
    let mut planner = Planner {
        images: &images,
        options,
        actions: Vec::new(),
        unchanged: 0,
        pulled: BTreeSet::new(),
    };
    planner.environment_resources(desired, observed);
    for deployment in desired.deployments.values() {
        let service = owned.remove(deployment.name.as_str());
        if options.held.contains(&deployment.name) {
            planner.unchanged += 1;
        } else if foreign.contains(deployment.service.as_str()) {
            planner.push(
                ActionKind::Blocked,
                &deployment.name,
                &deployment.service,
                &deployment.spec.image,
                Reason::NameConflict,
            );
        } else if !planner.service(deployment, service) {
            planner.unchanged += 1;
        }
    }
    let mut removed: Vec<(&str, &ObservedService)> = owned.into_iter().collect();
    removed.sort_by_key(|(deployment, _)| *deployment);
    for (deployment, service) in removed {
        let image = service_image(service);
        planner.push(
            ActionKind::Remove,
            deployment,
            &service.name,
            &image,
            Reason::Orphaned,
        );
    }
    let graph = DependencyGraph::new(desired.deployments.values().map(|deployment| {
        let dependencies: Vec<&str> = deployment.depends_on.iter().map(String::as_str).collect();
        (deployment.name.as_str(), dependencies)
    }));
    Ok(planner.finish(desired, &graph))
}

/// The image a service runs, as its spec label records it.
fn service_image(service: &ObservedService) -> String {
    service
        .labels
        .get(LABEL_SPEC)
        .and_then(|spec| serde_json::from_str::<BTreeMap<String, Value>>(spec).ok())
        .and_then(|spec| {
            spec.get("image")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default()
}

impl Planner<'_> {
    /// Plans the service of `desired`; returns whether it needs an action.
    fn service(&mut self, desired: &DesiredDeployment, service: Option<&ObservedService>) -> bool {
        let name = desired.name.as_str();
        let image = desired.spec.image.as_str();
        let replicas = desired.replicas.len() as u64;
        let Some(service) = service else {
            self.push(
                ActionKind::Create,
                name,
                &desired.service,
                image,
                Reason::Missing,
            )
            .labels = Some(desired.labels.clone());
            return true;
        };
        let scale = (service.replicas != Some(replicas)).then(|| Change {
            field: "replicas".to_string(),
            old: service.replicas.map_or(Value::Null, Value::from),
            new: Value::from(replicas),
        });
        let resources = desired.resources.changes_from(&service.resources);
        if service.labels.get(LABEL_SPEC_HASH) != Some(&desired.spec_hash) {
            let old = service.labels.get(LABEL_SPEC).map(String::as_str);
            let action = self.push(
                ActionKind::Update,
                name,
                &desired.service,
                image,
                Reason::SpecChanged,
            );
            action.labels = Some(desired.labels.clone());
            action.changes = spec_changes(old, &desired.spec_fields);
            action.changes.extend(resources);
            action.changes.extend(scale);
        } else if !resources.is_empty() {
            let action = self.push(
                ActionKind::Update,
                name,
                &desired.service,
                image,
                Reason::ResourcesChanged,
            );
            action.labels = Some(desired.labels.clone());
            action.changes = resources;
            action.changes.extend(scale);
        } else if let Some(change) = scale {
            self.push(
                ActionKind::Scale,
                name,
                &desired.service,
                image,
                Reason::ReplicasChanged,
            )
            .changes = vec![change];
        } else {
            return false;
        }
        true
    }
}
