//! The executor's rollout sequences against the in-memory engine of `fake.rs`: what each plan
//! makes it do, in which order, and what runs afterwards (on a swarm node, which service calls).
//! Unit tests only; the Docker-backed tests check the same against the real engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use engine::desired::DesiredDeployment;
use engine::manifest::{NodeEngine, Rollout};
use engine::observed::{ObservedResource, ObservedService};
use engine::plan::{Action, ActionKind, Plan};
use engine::spec::LABEL_DEPLOYMENT;
use engine::{DesiredState, Observed, PlanOptions};

use super::fake::FakeDocker;
use super::{apply, ApplyOptions, Reporter};
use crate::docker::credentials::RegistryCredentials;
use crate::mount_files::FileDirs;
use engine::outcome::{ActionError, ApplyReport, Previous};
use engine::testing::{deployment, desired};

struct Quiet;
impl Reporter for Quiet {}

const READY: &str = "  health:\n    readiness:\n      tcp: localhost:8080\n      deadline: 5s\n";

/// Deployment `web` at `version`, with a readiness probe and `extra` spec lines.
fn web(version: &str, extra: &str) -> DesiredState {
    let spec = format!("  env:\n    VERSION: \"{version}\"\n{READY}{extra}");
    desired("production", &[deployment("web", &spec)])
}

fn the_web(desired: &DesiredState) -> &DesiredDeployment {
    &desired.deployments["web"]
}

/// Plans `desired` against the fake engine and applies the plan, as one pass of the node does.
async fn pass(docker: &FakeDocker, desired: &DesiredState) -> (Plan, ApplyReport) {
    pass_reporting(docker, desired, &Quiet).await
}

/// [`pass`], with its progress told to `reporter`.
async fn pass_reporting(
    docker: &FakeDocker,
    desired: &DesiredState,
    reporter: &dyn Reporter,
) -> (Plan, ApplyReport) {
    let observed = docker.observed(&["busybox"]);
    let plan = engine::plan(desired, &observed, &PlanOptions::default()).expect("a plan");
    let report = apply_reporting(docker, &plan, desired, reporter).await;
    (plan, report)
}

/// Applies `plan` for `desired` against the fake engine, whatever made the plan.
async fn apply_plan(docker: &FakeDocker, plan: &Plan, desired: &DesiredState) -> ApplyReport {
    apply_reporting(docker, plan, desired, &Quiet).await
}

/// [`apply_plan`], with its progress told to `reporter`.
async fn apply_reporting(
    docker: &FakeDocker,
    plan: &Plan,
    desired: &DesiredState,
    reporter: &dyn Reporter,
) -> ApplyReport {
    let options = ApplyOptions {
        code_dir: PathBuf::from("."),
        wait: true,
        cancel: None,
        traffic: docker.traffic(),
        registry_credentials: RegistryCredentials::locate(None),
        file_dirs: FileDirs::new(Path::new("data"), Path::new("secrets")),
    };
    apply(docker, plan, desired, &options, reporter).await
}

fn action_of(plan: &Plan, kind: ActionKind) -> &Action {
    plan.actions
        .iter()
        .find(|action| action.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} in {plan:#?}"))
}

fn result_of(report: &ApplyReport, kind: ActionKind) -> Result<(), ActionError> {
    report
        .outcomes
        .iter()
        .find(|outcome| outcome.action.kind == kind)
        .map(|outcome| outcome.result.clone())
        .expect("an outcome of that kind")
}

/// What became of the previous container when the action of `kind` was rolled back; `None` when
/// it was not.
fn rolled_back(report: &ApplyReport, kind: ActionKind) -> Option<Previous> {
    match result_of(report, kind) {
        Err(ActionError::RolledBack { previous, .. }) => Some(previous),
        _ => None,
    }
}

/// The position of `line` in the journal.
fn at(journal: &[String], line: &str) -> usize {
    journal
        .iter()
        .position(|entry| entry == line)
        .unwrap_or_else(|| panic!("{line:?} is not in {journal:#?}"))
}

fn runs_only(docker: &FakeDocker, desired: &DesiredState) {
    let containers = docker.containers();
    let names: Vec<&String> = containers.keys().collect();
    assert_eq!(names, ["web"], "{containers:?}");
    assert_eq!(
        containers["web"],
        (the_web(desired).spec_hash.clone(), true),
        "web runs the desired version"
    );
}

#[tokio::test(start_paused = true)]
async fn a_start_first_recreate_moves_the_routes_before_the_old_container_stops() {
    let docker = FakeDocker::default();
    docker.put("web", the_web(&web("1", "")), true);
    let new = web("2", "");
    let (plan, report) = pass(&docker, &new).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        action_of(&plan, ActionKind::Recreate).rollout,
        Some(Rollout::StartFirst)
    );
    let journal = docker.journal();
    assert!(at(&journal, "probe web.orun-next") < at(&journal, "route web web.orun-next"));
    assert!(at(&journal, "route web web.orun-next") < at(&journal, "stop web"));
    assert!(at(&journal, "stop web") < at(&journal, "rename web.orun-next web"));
    runs_only(&docker, &new);
}

#[tokio::test(start_paused = true)]
async fn a_start_first_recreate_that_never_gets_ready_never_stops_the_old_container() {
    let docker = FakeDocker::default();
    let old = web("1", "");
    docker.put("web", the_web(&old), true);
    let new = web("2", "");
    docker.never_ready(the_web(&new));
    let (_, report) = pass(&docker, &new).await;
    assert_eq!(
        rolled_back(&report, ActionKind::Recreate),
        Some(Previous::NeverStopped)
    );
    let journal = docker.journal();
    assert!(!journal.contains(&"stop web".to_string()), "{journal:#?}");
    assert!(!journal.iter().any(|line| line.starts_with("route")));
    runs_only(&docker, &old);
}

#[tokio::test(start_paused = true)]
async fn a_stop_first_recreate_whose_new_container_crashes_restores_the_old_one() {
    let docker = FakeDocker::default();
    let old = web("1", "  rollout: stopFirst\n");
    docker.put("web", the_web(&old), true);
    let new = web("2", "  rollout: stopFirst\n");
    docker.crash(the_web(&new));
    let (_, report) = pass(&docker, &new).await;
    assert_eq!(
        rolled_back(&report, ActionKind::Recreate),
        Some(Previous::Restored)
    );
    let journal = docker.journal();
    assert!(at(&journal, "rename web web.orun-old") < at(&journal, "create web"));
    assert!(at(&journal, "remove web") < at(&journal, "rename web.orun-old web"));
    runs_only(&docker, &old);
}

#[tokio::test(start_paused = true)]
async fn a_serving_next_copy_stays_in_service_until_the_container_is_ready_and_routed() {
    // A start-first rollout interrupted after it stopped the old container: the new copy alone
    // serves, and the old `web` is stopped.
    let docker = FakeDocker::default();
    let new = web("2", "");
    docker.put("web", the_web(&web("1", "")), false);
    docker.put("web.orun-next", the_web(&new), true);

    let (first, report) = pass(&docker, &new).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        action_of(&first, ActionKind::Recreate).rollout,
        Some(Rollout::StopFirst),
        "an old container that does not run is replaced stop-first"
    );
    assert!(
        docker.containers()["web.orun-next"].1,
        "the serving copy is left alone while web is replaced"
    );

    let (second, report) = pass(&docker, &new).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(second.actions.len(), 1, "{second:#?}");
    let journal = docker.journal();
    assert!(at(&journal, "probe web") < at(&journal, "route web web"));
    assert!(at(&journal, "route web web") < at(&journal, "stop web.orun-next"));
    runs_only(&docker, &new);
}

#[tokio::test(start_paused = true)]
async fn a_failed_container_beside_a_serving_next_copy_falls_back_to_that_copy() {
    let docker = FakeDocker::default();
    let new = web("2", "");
    docker.put("web.orun-next", the_web(&new), true);
    let broken = web("3", "");
    docker.crash(the_web(&broken));

    let (_, report) = pass(&docker, &broken).await;
    assert!(matches!(
        result_of(&report, ActionKind::Create),
        Err(ActionError::RolledBack { .. })
    ));
    let journal = docker.journal();
    assert!(
        !journal.contains(&"stop web.orun-next".to_string()),
        "the serving copy never stopped: {journal:#?}"
    );
    runs_only(&docker, &new);
}

#[tokio::test(start_paused = true)]
async fn a_failed_container_beside_a_rollback_copy_puts_the_copy_back_and_starts_it() {
    let docker = FakeDocker::default();
    let old = web("1", "");
    docker.put("web.orun-old", the_web(&old), false);
    let broken = web("2", "");
    docker.crash(the_web(&broken));

    let (plan, report) = pass(&docker, &broken).await;
    assert!(action_of(&plan, ActionKind::Create).fallback.is_some());
    assert_eq!(
        rolled_back(&report, ActionKind::Create),
        Some(Previous::Restored)
    );
    runs_only(&docker, &old);
}

/// Keeps the container log lines it is handed.
#[derive(Default)]
struct Logs(std::sync::Mutex<Vec<String>>);
impl Reporter for Logs {
    fn container_log(&self, container: &str, line: &str) {
        self.0.lock().unwrap().push(format!("{container} | {line}"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_container_that_never_gets_ready_without_a_copy_is_kept_stopped_its_logs_reported_only(
) {
    let docker = FakeDocker::default();
    let new = web("1", "");
    docker.never_ready(the_web(&new));
    let logs = Logs::default();
    let (_, report) = pass_reporting(&docker, &new, &logs).await;
    let Err(ActionError::NeverReady(message)) = result_of(&report, ActionKind::Create) else {
        panic!("{report:?}");
    };
    // What a program prints may hold secrets: the error, which reaches the status, notifications
    // and the node's state, only says where to read it.
    assert!(!message.contains("listening"), "{message}");
    assert!(
        message.ends_with("web was stopped and kept: see docker logs web"),
        "{message}"
    );
    assert_eq!(*logs.0.lock().unwrap(), ["web | listening"]);
    assert!(!docker.containers()["web"].1, "kept, stopped");
}

/// Deployment `web` with 3 replicas at `version`, each running as an earlier apply left it.
fn three_replicas(docker: &FakeDocker, version: &str) -> DesiredState {
    running(docker, web(version, "  replicas: 3\n"))
}

/// `state`, each replica of its `web` running as an earlier apply left it.
fn running(docker: &FakeDocker, state: DesiredState) -> DesiredState {
    for replica in &the_web(&state).replicas {
        docker.put(&replica.container, the_web(&state), true);
    }
    state
}

#[tokio::test(start_paused = true)]
async fn replicas_are_replaced_one_at_a_time() {
    let docker = FakeDocker::default();
    three_replicas(&docker, "1");
    let new = web("2", "  replicas: 3\n");
    let (plan, report) = pass(&docker, &new).await;
    assert!(report.is_success(), "{report:?}");
    let recreated: Vec<&str> = plan
        .actions
        .iter()
        .filter(|action| action.kind == ActionKind::Recreate)
        .map(|action| action.container.as_str())
        .collect();
    assert_eq!(recreated, ["web", "web.2", "web.3"]);
    let journal = docker.journal();
    assert!(at(&journal, "rename web.orun-next web") < at(&journal, "create web.2.orun-next"));
    assert!(at(&journal, "rename web.2.orun-next web.2") < at(&journal, "create web.3.orun-next"));
    let containers = docker.containers();
    assert_eq!(containers.len(), 3, "{containers:?}");
    assert!(containers
        .values()
        .all(|(hash, running)| *hash == the_web(&new).spec_hash && *running));
}

#[tokio::test(start_paused = true)]
async fn a_replica_that_fails_is_rolled_back_and_the_others_keep_the_old_version() {
    let docker = FakeDocker::default();
    let old = three_replicas(&docker, "1");
    let new = web("2", "  replicas: 3\n");
    docker.never_ready(the_web(&new));
    let (_, report) = pass(&docker, &new).await;
    assert_eq!(
        rolled_back(&report, ActionKind::Recreate),
        Some(Previous::NeverStopped)
    );
    let held: Vec<&str> = report
        .skipped
        .iter()
        .map(|action| action.container.as_str())
        .collect();
    assert_eq!(held, ["web.2", "web.3"], "not started after web failed");
    let journal = docker.journal();
    assert!(!journal.iter().any(|line| line.contains("web.2.orun-next")));
    let containers = docker.containers();
    assert!(containers
        .values()
        .all(|(hash, running)| *hash == the_web(&old).spec_hash && *running));
}

const STOP_FIRST_REPLICAS: &str = "  rollout: stopFirst\n  replicas: 3\n";

#[tokio::test(start_paused = true)]
async fn a_stop_first_replica_leaves_the_routes_before_it_stops_and_comes_back_once_ready() {
    let docker = FakeDocker::default();
    running(&docker, web("1", STOP_FIRST_REPLICAS));
    let new = web("2", STOP_FIRST_REPLICAS);
    let (_, report) = pass(&docker, &new).await;
    assert!(report.is_success(), "{report:?}");
    let journal = docker.journal();
    for replica in ["web", "web.2", "web.3"] {
        let withdraw = at(&journal, &format!("withdraw {replica}"));
        let stop = at(&journal, &format!("stop {replica}"));
        let probe = at(&journal, &format!("probe {replica}"));
        let back = at(&journal, &format!("route {replica} {replica}"));
        assert!(
            withdraw < stop && stop < probe && probe < back,
            "{replica} leaves, stops, gets ready and comes back: {journal:#?}"
        );
    }
    assert!(
        at(&journal, "route web web") < at(&journal, "withdraw web.2"),
        "one replica is out of the routes at a time"
    );
    assert!(at(&journal, "route web.2 web.2") < at(&journal, "withdraw web.3"));
    assert_eq!(docker.containers().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_stop_first_replica_that_fails_stays_out_of_the_routes_until_the_pass_ends() {
    let docker = FakeDocker::default();
    let old = running(&docker, web("1", STOP_FIRST_REPLICAS));
    let new = web("2", STOP_FIRST_REPLICAS);
    docker.crash(the_web(&new));
    let (_, report) = pass(&docker, &new).await;
    assert_eq!(
        rolled_back(&report, ActionKind::Recreate),
        Some(Previous::Restored)
    );
    let journal = docker.journal();
    assert!(at(&journal, "withdraw web") < at(&journal, "stop web"));
    assert!(
        !journal
            .iter()
            .any(|line| line.starts_with("route") || line.starts_with("withdraw web.")),
        "the restored web comes back with the pass's routes, the others never left: {journal:#?}"
    );
    assert!(docker
        .containers()
        .values()
        .all(|(hash, running)| *hash == the_web(&old).spec_hash && *running));
}

#[tokio::test(start_paused = true)]
async fn a_stop_first_deployment_with_one_replica_keeps_its_routes() {
    let docker = FakeDocker::default();
    docker.put("web", the_web(&web("1", "  rollout: stopFirst\n")), true);
    let new = web("2", "  rollout: stopFirst\n");
    let (_, report) = pass(&docker, &new).await;
    assert!(report.is_success(), "{report:?}");
    let journal = docker.journal();
    assert!(
        !journal
            .iter()
            .any(|line| line.starts_with("route") || line.starts_with("withdraw")),
        "nothing could take its requests over: {journal:#?}"
    );
    runs_only(&docker, &new);
}

#[tokio::test(start_paused = true)]
async fn a_replica_scaled_away_leaves_the_routes_before_it_is_removed() {
    let docker = FakeDocker::default();
    three_replicas(&docker, "1");
    let one = web("1", "");
    let (_, report) = pass(&docker, &one).await;
    assert!(report.is_success(), "{report:?}");
    let journal = docker.journal();
    for replica in ["web.2", "web.3"] {
        assert!(
            at(&journal, &format!("withdraw {replica}"))
                < at(&journal, &format!("remove {replica}"))
        );
    }
    assert!(!journal.contains(&"withdraw web".to_string()));
    runs_only(&docker, &one);
}

#[tokio::test(start_paused = true)]
async fn a_plan_never_stops_or_removes_a_container_that_is_not_orun_s_in_its_environment() {
    let docker = FakeDocker::default();
    let desired = web("1", "  rollout: stopFirst\n");
    docker.put_foreign("cache", &[]);
    docker.put_foreign(
        "staging.web",
        &[
            ("run.orcra.dev/managed-by", "orun"),
            ("run.orcra.dev/environment", "staging"),
        ],
    );
    docker.put_foreign("web", &[("run.orcra.dev/managed-by", "someone-else")]);
    // What a tampered plan file could ask for: remove the others, recreate the foreign `web`.
    let mut recreate = engine::testing::action(
        "web",
        ActionKind::Recreate,
        engine::plan::Reason::SpecChanged,
    );
    recreate.rollout = Some(Rollout::StopFirst);
    let removals = ["cache", "staging.web"].map(|name| {
        let mut removal =
            engine::testing::action(name, ActionKind::Remove, engine::plan::Reason::Orphaned);
        removal.container = name.to_string();
        removal
    });
    let plan = Plan {
        actions: [removals.to_vec(), vec![recreate]].concat(),
        ..engine::plan(&desired, &Observed::default(), &PlanOptions::default()).unwrap()
    };

    let report = apply_plan(&docker, &plan, &desired).await;

    let containers = docker.containers();
    for name in ["cache", "staging.web", "web"] {
        assert!(containers[name].1, "{name} still runs: {containers:?}");
    }
    assert!(
        !containers["web"].0.starts_with("v1:"),
        "web is still the foreign one"
    );
    let journal = docker.journal();
    for name in ["cache", "staging.web", "web"] {
        let touched = |line: &String| {
            ["stop", "remove", "rename"].iter().any(|call| {
                line.starts_with(&format!("{call} {name}"))
                    && !line.starts_with(&format!("{call} {name}."))
            })
        };
        assert!(!journal.iter().any(touched), "{journal:#?}");
    }
    let errors: Vec<String> = report
        .outcomes
        .iter()
        .map(|outcome| outcome.result.clone().unwrap_err().to_string())
        .collect();
    assert_eq!(errors.len(), 3, "{report:?}");
    for error in &errors {
        assert!(
            error.contains("not touched: the container is not orun's in environment production"),
            "{error}"
        );
    }
}

/// `web` (3 replicas, needing `db`) and `db` as a swarm node resolves them.
fn on_a_swarm() -> DesiredState {
    let mut state = desired(
        "production",
        &[
            deployment("db", ""),
            deployment("web", "  replicas: 3\n  dependsOn: [db]\n"),
        ],
    );
    state.engine = NodeEngine::Swarm;
    state
}

#[tokio::test(start_paused = true)]
async fn a_swarm_node_creates_the_overlay_network_then_services_in_dependency_order() {
    let docker = FakeDocker::default();
    let state = on_a_swarm();
    let (_, report) = pass(&docker, &state).await;
    assert!(report.is_success(), "{report:?}");
    let journal = docker.journal();
    assert!(at(&journal, "network orun-production") < at(&journal, "service create db"));
    assert!(at(&journal, "service create db") < at(&journal, "service create web"));
    assert!(
        docker.containers().is_empty(),
        "a swarm node creates no container: {journal:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_swarm_node_scales_a_service_and_removes_an_orphaned_one() {
    let docker = FakeDocker::default();
    let state = on_a_swarm();
    let service = |name: &str, labels: &BTreeMap<String, String>, replicas| ObservedService {
        name: name.to_string(),
        labels: labels.clone(),
        replicas: Some(replicas),
        running_tasks: replicas,
        resources: Default::default(),
    };
    let mut orphan = (*state.deployments["db"].labels).clone();
    orphan.insert(LABEL_DEPLOYMENT.to_string(), "old".to_string());
    let mut observed = docker.observed(&["busybox"]);
    observed.networks = vec![ObservedResource {
        name: "orun-production".to_string(),
        labels: BTreeMap::new(),
    }];
    observed.services = vec![
        service("db", &state.deployments["db"].labels, 1),
        service("web", &state.deployments["web"].labels, 1),
        service("old", &orphan, 1),
    ];
    let plan = engine::plan(&state, &observed, &PlanOptions::default()).expect("a plan");
    let report = apply_plan(&docker, &plan, &state).await;
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        docker.journal(),
        ["service remove old", "service scale web 3"]
    );
}
