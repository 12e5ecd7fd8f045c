//! The files the importer writes: a Deployment is the manifest's own `DeploymentSpec`, written
//! with its fields in the order an operator reads them; a Node only its `host` and `gitRepo`. It
//! does not check them: the written repository goes through the ordinary loader.

use serde::Serialize;
use serde_yaml::{Mapping, Value};

use crate::manifest::{DeploymentSpec, API_VERSION};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<S> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    pub spec: S,
}

#[derive(Debug, Serialize)]
pub struct Metadata {
    pub name: String,
}

impl<S: Serialize> Envelope<S> {
    pub fn new(kind: &'static str, name: &str, spec: S) -> Self {
        Envelope {
            api_version: API_VERSION,
            kind,
            metadata: Metadata {
                name: name.to_string(),
            },
            spec,
        }
    }

    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).expect("plain structures serialize")
    }
}

/// The Node `--node-host` asks for. Kept apart from `NodeSpec`, which has no `Serialize`: a Node
/// also holds notification receivers whose URLs carry tokens, and nothing should make printing
/// them easy. The importer writes only these two fields.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeOut {
    pub host: String,
    pub git_repo: String,
}

/// The order of a written Deployment's fields: what runs and from where, what it gets and
/// stores, what it waits for, then the finer container settings. The schema declares its fields
/// in another order, which its errors list; a field missing here is written last.
const DEPLOYMENT_FIELDS: [&str; 32] = [
    "image",
    "build",
    "pullPolicy",
    "network",
    "networks",
    "entrypoint",
    "command",
    "workingDir",
    "user",
    "hostname",
    "env",
    "ports",
    "volumes",
    "tmpfs",
    "files",
    "secretFiles",
    "dependsOn",
    "health",
    "extraHosts",
    "capAdd",
    "capDrop",
    "readOnlyRootFilesystem",
    "init",
    "stopSignal",
    "stopTimeout",
    "labels",
    "sysctls",
    "shmSize",
    "logging",
    "resources",
    "rollout",
    "drainTimeout",
];

/// The file of Deployment `name`.
pub fn deployment_yaml(name: &str, spec: &DeploymentSpec) -> String {
    Envelope::new("Deployment", name, in_reading_order(spec)).to_yaml()
}

fn in_reading_order(spec: &DeploymentSpec) -> Mapping {
    let Ok(Value::Mapping(mut fields)) = serde_yaml::to_value(spec) else {
        unreachable!("a Deployment spec serializes as a mapping");
    };
    let mut ordered = Mapping::new();
    for field in DEPLOYMENT_FIELDS {
        if let Some((key, value)) = fields.remove_entry(field) {
            ordered.insert(key, value);
        }
    }
    ordered.extend(fields);
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_a_deployment_has_its_place() {
        let text = "image: nginx\nbuild: {context: app, dockerfile: Dockerfile.prod, args: {A: '1'}, buildMode: always, target: run}\npullPolicy: Always\ncommand: [a]\nports: [{containerPort: 80, port: 8080, protocol: udp, hostIP: 127.0.0.1}]\nvolumes: [{name: data, containerPath: /data, readOnly: true}]\nenv: {A: '1'}\nhealth: {readiness: {tcp: 'localhost:80'}, liveness: {exec: [check]}}\nstopTimeout: 5s\nrollout: stopFirst\ndrainTimeout: 5s\ndependsOn: [db]\nentrypoint: [sh]\nworkingDir: /app\nuser: app\nhostname: web\nextraHosts: ['db:10.0.0.1']\ncapAdd: [NET_ADMIN]\ncapDrop: [ALL]\nreadOnlyRootFilesystem: true\ninit: true\nstopSignal: SIGQUIT\nlabels: {team: web}\nsysctls: {net.core.somaxconn: '1024'}\nshmSize: 64Mi\nlogging: {maxSize: 20m, maxFiles: 2}\nresources: {memory: 256Mi, cpus: '0.5', pids: 100}\nnetwork: host\nnetworks: [backend]\ntmpfs: [/tmp]\nfiles: [{source: configs/a.conf, target: /etc/a.conf}]\nsecretFiles: [{key: A}]\n";
        let spec: DeploymentSpec = serde_yaml::from_str(text).unwrap();
        let written = in_reading_order(&spec);
        let keys: Vec<&str> = written.keys().filter_map(Value::as_str).collect();
        assert_eq!(keys, DEPLOYMENT_FIELDS);
        let read: DeploymentSpec =
            serde_yaml::from_str(&serde_yaml::to_string(&written).unwrap()).unwrap();
        assert_eq!(read, spec, "a written Deployment reads back as it was");
    }
}
