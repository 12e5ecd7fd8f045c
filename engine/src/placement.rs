//! A node's share of a revision and the placement rules that span files. The share is the
//! deployments whose `placement` the node matches (all of them without one), the Services of
//! those deployments, and their `dependsOn` cut to the share. The rules: a `placement.nodes`
//! entry names a Node of the repository (an error); a placed deployment that no Node runs is a
//! warning, a dependency that runs on no node beside its dependent a note. It resolves and plans
//! nothing: `revision` hands a share to `desired`, and `validate` reports the errors.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Finding, Level, ManifestError, Unloaded};
use crate::manifest::{DeploymentSpec, Manifests, NodeLabels, Placement};

/// Whether the node `name` carrying `labels` runs `deployment`; every node runs a deployment
/// without `placement`.
pub fn runs(deployment: &DeploymentSpec, name: &str, labels: &NodeLabels) -> bool {
    deployment
        .placement
        .as_ref()
        .is_none_or(|placement| placement.matches(name, labels))
}

/// Whether some deployment of the revision has a `placement`: only then does a plan of every
/// deployment differ from what a node runs.
pub fn places_deployments(manifests: &Manifests) -> bool {
    manifests
        .deployments
        .values()
        .any(|deployment| deployment.spec.placement.is_some())
}

/// The share of the node `name` carrying `labels` (none for a node whose manifest the revision
/// lacks): the revision with only the deployments and jobs that node runs and the Services
/// routed to them. A `dependsOn` entry outside the share is dropped, since a node orders only the
/// containers it runs itself and must not wait for one it never gets. The nodes stay.
pub fn share(manifests: &Manifests, name: &str, labels: &NodeLabels) -> Manifests {
    let names: BTreeSet<&str> = manifests
        .deployments
        .values()
        .filter(|deployment| runs(&deployment.spec, name, labels))
        .map(|deployment| deployment.name.as_str())
        .collect();
    let deployments = manifests
        .deployments
        .iter()
        .filter(|(key, _)| names.contains(key.as_str()))
        .map(|(key, deployment)| {
            let mut deployment = deployment.clone();
            deployment
                .spec
                .depends_on
                .retain(|dependency| names.contains(dependency.as_str()));
            (key.clone(), deployment)
        })
        .collect();
    let services = manifests
        .services
        .iter()
        .filter(|(_, service)| names.contains(service.spec.deployment.as_str()))
        .map(|(key, service)| (key.clone(), service.clone()))
        .collect();
    // A job's `before` is cut to the share like `dependsOn`: it gates only what this node runs.
    let jobs = manifests
        .jobs
        .iter()
        .filter(|(_, job)| {
            job.spec
                .placement
                .as_ref()
                .is_none_or(|placement| placement.matches(name, labels))
        })
        .map(|(key, job)| {
            let mut job = job.clone();
            job.spec
                .before
                .retain(|deployment| names.contains(deployment.as_str()));
            (key.clone(), job)
        })
        .collect();
    Manifests {
        nodes: manifests.nodes.clone(),
        deployments,
        services,
        jobs,
    }
}

/// Whether one node may run both `a` and `b`. Any node may run a deployment without placement
/// (a node whose manifest is not in the repository too), so such a deployment meets every
/// other; two placed deployments meet only on a Node of the repository that matches both.
pub fn may_meet(manifests: &Manifests, a: &DeploymentSpec, b: &DeploymentSpec) -> bool {
    if a.placement.is_none() || b.placement.is_none() {
        return true;
    }
    !runners(manifests, a).is_disjoint(&runners(manifests, b))
}

/// The Nodes of the repository that run `deployment`.
fn runners<'a>(manifests: &'a Manifests, deployment: &DeploymentSpec) -> BTreeSet<&'a str> {
    manifests
        .nodes
        .values()
        .filter(|node| runs(deployment, &node.name, &node.spec.labels))
        .map(|node| node.name.as_str())
        .collect()
}

/// Every `placement.nodes` entry names a Node of the repository: a name that matches nothing is
/// most likely a typo, which would quietly run the deployment nowhere.
pub fn check(manifests: &Manifests, unloaded: &Unloaded) -> Vec<ManifestError> {
    let mut errors = Vec::new();
    // On a swarm, `placement.nodes` names the swarm's hosts, not Node manifests.
    if manifests.swarm_node().is_some() {
        return errors;
    }
    for deployment in manifests.deployments.values() {
        for (field, problem) in
            unknown_nodes(deployment.spec.placement.as_ref(), manifests, unloaded)
        {
            errors.push(ManifestError::new(&deployment.file, Some(&field), problem));
        }
    }
    errors
}

/// The `placement.nodes` entries of a Deployment's or a Job's `placement` that name no Node of
/// the repository, as (field, problem).
pub(crate) fn unknown_nodes<'a>(
    placement: Option<&'a Placement>,
    manifests: &'a Manifests,
    unloaded: &'a Unloaded,
) -> impl Iterator<Item = (String, String)> + 'a {
    let nodes = placement.into_iter().flat_map(|placement| &placement.nodes);
    nodes
        .enumerate()
        .filter(|(_, node)| !manifests.nodes.contains_key(node.as_str()))
        .map(|(index, node)| {
            let problem = unloaded.node(node.as_str()).unwrap_or_else(|| {
                format!(
                    "no Node named {:?} in nodes/ (found: {})",
                    node.as_str(),
                    listed(manifests.nodes.keys())
                )
            });
            (format!("spec.placement.nodes[{index}]"), problem)
        })
}

/// What a valid revision's placement leaves worth knowing, warnings first, then by file and
/// field: a placed deployment that no Node of the repository runs, and a `dependsOn` entry
/// whose dependency runs on none of the nodes that run its dependent, so that no node orders by
/// it. A dependent that runs nowhere gets its warning only.
pub fn findings(manifests: &Manifests) -> Vec<Finding> {
    // A swarm places every deployment itself; no Node runs a share.
    if manifests.swarm_node().is_some() {
        return Vec::new();
    }
    let runners: BTreeMap<&str, BTreeSet<&str>> = manifests
        .deployments
        .values()
        .map(|deployment| {
            (
                deployment.name.as_str(),
                runners(manifests, &deployment.spec),
            )
        })
        .collect();
    let nowhere = BTreeSet::new();
    let mut findings = Vec::new();
    for deployment in manifests.deployments.values() {
        let name = deployment.name.as_str();
        let mine = &runners[name];
        if deployment.spec.placement.is_some() && mine.is_empty() {
            findings.push(Finding {
                level: Level::Warning,
                file: deployment.file.clone(),
                field: "spec.placement".to_string(),
                message: format!(
                    "no Node of the repository matches it (nodes/: {}), so no node runs deployment {name:?}",
                    listed(manifests.nodes.keys())
                ),
            });
        }
        if mine.is_empty() {
            continue;
        }
        for (index, dependency) in deployment.spec.depends_on.iter().enumerate() {
            let dependency = dependency.as_str();
            let theirs = runners.get(dependency).unwrap_or(&nowhere);
            if mine.is_disjoint(theirs) {
                findings.push(Finding {
                    level: Level::Note,
                    file: deployment.file.clone(),
                    field: format!("spec.dependsOn[{index}]"),
                    message: format!(
                        "deployment {name:?} depends on {dependency:?}, but no node that runs {name:?} ({}) runs {dependency:?} ({}): the dependency is ignored for ordering",
                        listed(mine),
                        listed(theirs)
                    ),
                });
            }
        }
    }
    findings.sort();
    findings
}

/// `names` separated by commas, or `none`.
pub(crate) fn listed<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    let names: Vec<S> = names.into_iter().collect();
    if names.is_empty() {
        return "none".to_string();
    }
    names
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<&str>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{load, SourceFile};

    fn node(name: &str, labels: &str) -> SourceFile {
        SourceFile {
            path: format!("nodes/{name}.yaml"),
            text: format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: {name}\nspec:\n  host: {name}.internal\n  gitRepo: /srv/infra.git\n  labels: {labels}\n"
            ),
        }
    }

    fn deployment(name: &str, fields: &str) -> SourceFile {
        SourceFile {
            path: format!("deployments/{name}.yaml"),
            text: format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  image: nginx\n{fields}"
            ),
        }
    }

    fn service(name: &str, deployment: &str) -> SourceFile {
        SourceFile {
            path: format!("services/{name}.yaml"),
            text: format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  deployment: {deployment}\n  port: 80\n  ingress:\n    domain:\n      default: {name}.example.com\n"
            ),
        }
    }

    fn labels(text: &str) -> NodeLabels {
        serde_yaml::from_str(text).unwrap()
    }

    /// A web node and a database node; `web` on the first by label, depending on `db` (on the
    /// second by name) and `cache` (everywhere); a Service of each placed deployment.
    fn fleet_files() -> Vec<SourceFile> {
        vec![
            node("web-01", "{role: web}"),
            node("db-01", "{role: db}"),
            deployment(
                "web",
                "  placement:\n    labels: {role: web}\n  dependsOn: [db, cache]\n",
            ),
            deployment("db", "  placement:\n    nodes: [db-01]\n"),
            deployment("cache", ""),
            service("www", "web"),
            service("admin", "db"),
        ]
    }

    fn fleet() -> Manifests {
        load(&fleet_files()).unwrap()
    }

    #[test]
    fn a_share_holds_the_matching_deployments_their_services_and_dependencies_inside_it() {
        let manifests = fleet();
        let web = share(&manifests, "web-01", &labels("{role: web}"));
        let names: Vec<&String> = web.deployments.keys().collect();
        assert_eq!(names, ["cache", "web"]);
        let depends_on: Vec<&str> = web.deployments["web"]
            .spec
            .depends_on
            .iter()
            .map(|name| name.as_str())
            .collect();
        assert_eq!(depends_on, ["cache"]);
        let services: Vec<&String> = web.services.keys().collect();
        assert_eq!(services, ["www"]);
        assert_eq!(web.nodes.len(), 2);

        let unlisted = share(&manifests, "db-01", &NodeLabels::default());
        let names: Vec<&String> = unlisted.deployments.keys().collect();
        assert_eq!(names, ["cache", "db"], "placement by name needs no labels");
        let stranger = share(&manifests, "other", &NodeLabels::default());
        let names: Vec<&String> = stranger.deployments.keys().collect();
        assert_eq!(names, ["cache"]);
    }

    #[test]
    fn placed_deployments_meet_only_on_a_node_matching_both() {
        let manifests = fleet();
        let spec = |name: &str| &manifests.deployments[name].spec;
        assert!(!may_meet(&manifests, spec("web"), spec("db")));
        assert!(may_meet(&manifests, spec("web"), spec("cache")));
        assert!(may_meet(&manifests, spec("web"), spec("web")));
        assert!(places_deployments(&manifests));
    }

    #[test]
    fn placement_nodes_must_name_nodes_of_the_repository() {
        let errors = load(&[
            node("web-01", "{}"),
            deployment("web", "  placement:\n    nodes: [web-01, db-09]\n"),
        ])
        .unwrap_err();
        let listed: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            listed,
            [
                "deployments/web.yaml: spec.placement.nodes[1]: no Node named \"db-09\" in nodes/ (found: web-01)"
            ]
        );
    }

    #[test]
    fn findings_warn_of_deployments_no_node_runs_and_note_dependencies_on_other_nodes() {
        let mut files = fleet_files();
        files.push(deployment(
            "gpu",
            "  placement:\n    labels: {gpu: \"yes\"}\n  dependsOn: [db]\n",
        ));
        let manifests = load(&files).unwrap();
        let listed: Vec<String> = findings(&manifests)
            .iter()
            .map(|finding| format!("{}: {finding}", finding.level.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                "warning: deployments/gpu.yaml: spec.placement: no Node of the repository matches it (nodes/: db-01, web-01), so no node runs deployment \"gpu\"",
                "note: deployments/web.yaml: spec.dependsOn[0]: deployment \"web\" depends on \"db\", but no node that runs \"web\" (web-01) runs \"db\" (db-01): the dependency is ignored for ordering",
            ]
        );

        let without_nodes = load(&[deployment(
            "gpu",
            "  placement:\n    labels: {gpu: \"yes\"}\n",
        )])
        .unwrap();
        let listed: Vec<String> = findings(&without_nodes)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            listed,
            [
                "deployments/gpu.yaml: spec.placement: no Node of the repository matches it (nodes/: none), so no node runs deployment \"gpu\""
            ],
        );
    }
}
