//! What `GET /` costs the node with 100 deployments, each with a Service, a volume and a job,
//! a last plan that recreated every deployment and ten applies of all of them in its history: the
//! projection into the cleaned status document (`public::document`) and the page rendered from it,
//! as the handler does them; the HTTP exchange around it is not included.

use std::collections::BTreeMap;
use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, Criterion};
use engine::observed::ContainerState;
use engine::plan::{ActionKind, Reason};
use node::dashboard::node_page::{self, NodePage};
use node::decisions::history::{ApplyOutcome, DeployedImage, HistoryEntry};
use node::public::{self, LocalPaths};
use node::status::{
    DeploymentState, DeploymentStatus, JobRun, JobStatus, LastAction, LastPlan, LastReason,
    NodeStatus, PlannedAction, ServiceStatus, Status, VolumeStatus,
};

const DEPLOYMENTS: usize = 100;

/// The newest applies the page shows, each of every deployment.
fn history() -> Vec<HistoryEntry> {
    (0..10)
        .map(|n| HistoryEntry {
            commit: format!("{n:040}"),
            started_at: "2026-12-06T10:00:00Z".to_string(),
            finished_at: "2026-12-06T10:00:04Z".to_string(),
            outcome: ApplyOutcome::Applied,
            deployments: (0..DEPLOYMENTS)
                .map(|d| DeployedImage {
                    deployment: format!("app-{d}"),
                    image: format!("registry.example.com/app-{d}:1.{n}"),
                    image_id: Some(format!("sha256:{d:064}")),
                    digest: None,
                })
                .collect(),
        })
        .collect()
}

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
        last_plan: Some(LastPlan {
            commit: "9f2c".repeat(10),
            planned_at: "2026-12-06T10:00:00Z".to_string(),
            summary: BTreeMap::from([("recreate".to_string(), DEPLOYMENTS)]),
            actions: Vec::new(),
        }),
        pending_actions: None,
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
                started_at: Some("2026-12-06T08:00:00Z".to_string()),
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
                image_update: None,
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
        status.jobs.insert(
            name.clone(),
            JobStatus {
                name: name.clone(),
                run_on: Some("change".to_string()),
                schedule: None,
                before: vec![name.clone()],
                last_run: Some(JobRun {
                    container: format!("{name}.job-{index:012}"),
                    started_at: "2026-12-06T09:59:00Z".to_string(),
                    finished_at: Some("2026-12-06T09:59:30Z".to_string()),
                    exit_code: Some(0),
                }),
                next_run_at: None,
            },
        );
        if let Some(plan) = &mut status.last_plan {
            plan.actions.push(PlannedAction {
                action: "recreate".to_string(),
                deployment: Some(name.clone()),
                job: None,
                subject: name.clone(),
                reason: "spec_changed".to_string(),
            });
        }
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
    let history = history();
    let paths = LocalPaths::default();
    c.bench_function("node dashboard page, 100 deployments", |b| {
        b.iter(|| {
            let document = public::document(&status, &paths);
            let shown = NodePage {
                document: &document,
                history: Some(&history),
            };
            node_page::render(&shown, SystemTime::now()).into_string()
        })
    });
}

criterion_group!(benches, dashboard);
criterion_main!(benches);
