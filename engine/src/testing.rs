//! Fixtures for the unit tests of the crates around the engine: a desired state resolved from
//! manifest text, and plan actions. Compiled only with the `testing` feature, which only
//! dev-dependencies turn on; it asserts nothing.

use std::collections::BTreeMap;

use crate::plan::{Action, ActionKind, Reason};
use crate::{DesiredState, Environment, ResolveInput, Secrets, SourceFile};

/// The desired state of `manifests` (path, YAML text) in `environment`, at commit `c1`.
pub fn desired(environment: &str, manifests: &[(String, String)]) -> DesiredState {
    let sources: Vec<SourceFile> = manifests
        .iter()
        .map(|(path, text)| SourceFile {
            path: path.clone(),
            text: text.clone(),
        })
        .collect();
    let manifests = crate::load(&sources).expect("valid manifests");
    let input = ResolveInput {
        environment: Environment::named(environment).expect("valid environment"),
        commit: "c1".to_string(),
        secrets: &Secrets::default(),
        build_tags: &BTreeMap::new(),
        files: &BTreeMap::new(),
        missing_keys: crate::desired::MissingKeys::Refused,
    };
    crate::resolve(&manifests, &input).expect("resolvable manifests")
}

/// `deployments/<name>.yaml` running busybox, with `spec` lines appended (two-space indented).
pub fn deployment(name: &str, spec: &str) -> (String, String) {
    let path = format!("deployments/{name}.yaml");
    let text = format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  image: busybox\n{spec}"
    );
    (path, text)
}

/// `services/<name>.yaml` routing `domain` (and `environment_domain`, if any) to port 8080 of
/// `deployment`.
pub fn service(
    name: &str,
    deployment: &str,
    domain: &str,
    environment_domain: Option<&str>,
) -> (String, String) {
    let path = format!("services/{name}.yaml");
    let environment = environment_domain
        .map(|domain| format!("      environment: {domain}\n"))
        .unwrap_or_default();
    let text = format!(
        "apiVersion: run.orcra.dev/v0alpha\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  deployment: {deployment}\n  port: 8080\n  ingress:\n    domain:\n      default: {domain}\n{environment}"
    );
    (path, text)
}

pub fn action(deployment: &str, kind: ActionKind, reason: Reason) -> Action {
    Action {
        step: 1,
        kind,
        deployment: deployment.to_string(),
        job: None,
        container: deployment.to_string(),
        image: "busybox".to_string(),
        network: None,
        volume: None,
        reason,
        labels: None,
        changes: Vec::new(),
        after: Vec::new(),
        rollout: None,
        fallback: None,
    }
}
