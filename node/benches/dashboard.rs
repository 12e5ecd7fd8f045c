//! What `GET /` costs the node with 100 deployments, each with a Service and a volume: the
//! projection into the cleaned status document (`public::document`) and the page rendered from it,
//! as the handler does them; the HTTP exchange around it is not included.

use std::collections::BTreeMap;
use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, Criterion};
use engine::observed::ContainerState;
use engine::plan::{ActionKind, Reason};
use node::dashboard::node_page;
use node::public::{self, LocalPaths};
use node::status::{
    DeploymentState, DeploymentStatus, LastAction, LastReason, NodeStatus, ServiceStatus, Status,
    VolumeStatus,
};

const DEPLOYMENTS: usize = 100;

fn status() -> Status {
    let mut node = NodeStatus::starting(
        "web-01".to_string(),
        "production".to_string(),
        "main".to_string(),
        SystemTime::UNIX_EPOCH,
    );
    node.git_head = Some("9f2c".repeat(10));
    node.applied_commit = Some("9f2c".repeat(10));
    node.healthy = true;
    let mut status = Status {
        node,
        deployments: BTreeMap::new(),
        services: BTreeMap::new(),
        volumes: BTreeMap::new(),
        jobs: BTreeMap::new(),
    };
    for index in 0..DEPLOYMENTS {
        let name = format!("app-{index:03}");
        status.deployments.insert(
            name.clone(),
            DeploymentStatus {
                name: name.clone(),
                image: format!("registry.example.com/acme/app-{index}:1.{index}"),
                container_id: Some(format!("{index:012}")),
                state: DeploymentState::Observed(ContainerState::Running),
                ready: index % 10 != 0,
                replicas: 2,
                replicas_ready: 2,
                restarts: 0,
                last_action: Some(LastAction::Planned(ActionKind::Recreate)),
                last_reason: Some(LastReason::Planned(Reason::SpecChanged)),
                last_error: None,
                quarantined: false,
                flapping: false,
                spec_hash: format!("v1:{index:064}"),
                tasks: None,
            },
        );
        status.services.insert(
            name.clone(),
            ServiceStatus {
                name: name.clone(),
                deployment: name.clone(),
                domain: Some(format!("{name}.example.com")),
                ssl: true,
                upstream: Some("172.17.0.3:80".to_string()),
                upstreams: vec!["172.17.0.3:80".to_string(), "172.17.0.4:80".to_string()],
                active: true,
                note: None,
            },
        );
        status.volumes.insert(
            name.clone(),
            VolumeStatus {
                name: name.clone(),
                docker_name: name,
                in_use: true,
            },
        );
    }
    status
}

fn dashboard(c: &mut Criterion) {
    let status = status();
    let paths = LocalPaths::default();
    c.bench_function("node dashboard page, 100 deployments", |b| {
        b.iter(|| {
            let document = public::document(&status, &paths);
            node_page::render(&document, SystemTime::now()).into_string()
        })
    });
}

criterion_group!(benches, dashboard);
criterion_main!(benches);
