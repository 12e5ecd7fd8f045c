//! Planning cost for 100, 1,000 and 10,000 deployments, against an observed state that matches
//! (no actions) and one where every container's env differs (every deployment recreated, with
//! field changes). Loading and resolving the manifests is measured separately.

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::observed::{ContainerState, ObservedContainer, ObservedImage, ObservedResource};
use engine::{DesiredState, Environment, Observed, PlanOptions, ResolveInput, Secrets, SourceFile};

const SIZES: [usize; 3] = [100, 1_000, 10_000];

fn sources(count: usize, log_level: &str) -> Vec<SourceFile> {
    (0..count)
        .map(|index| SourceFile {
            path: format!("deployments/app-{index:05}.yaml"),
            text: format!(
                "apiVersion: run.orcra.dev/v0alpha
kind: Deployment
metadata:
  name: app-{index:05}
spec:
  image: registry.local/app-{image}:1.{index}
  ports:
    - containerPort: 8080
      port: {port}
  env:
    LOG_LEVEL: {log_level}
    INDEX: {index}
    REGION: eu-west
",
                image = index % 50,
                port = 20_000 + index,
            ),
        })
        .collect()
}

fn desired(count: usize, log_level: &str) -> DesiredState {
    let manifests = engine::load(&sources(count, log_level)).expect("valid bench manifests");
    let secrets = Secrets::default();
    let build_tags = BTreeMap::new();
    let input = ResolveInput {
        environment: Environment::production(),
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        secrets: &secrets,
        build_tags: &build_tags,
        files: &BTreeMap::new(),
        missing_keys: engine::MissingKeys::Refused,
    };
    engine::resolve(&manifests, &input).expect("resolvable bench manifests")
}

/// The snapshot of a node on which `state` was applied: one running container per deployment.
fn observed(state: &DesiredState) -> Observed {
    let mut images = BTreeMap::new();
    let containers = state
        .deployments
        .values()
        .enumerate()
        .map(|(index, deployment)| {
            let image_id = format!("sha256:{index:064x}");
            images.insert(deployment.spec.image.clone(), image_id.clone());
            ObservedContainer {
                id: format!("{index:012x}"),
                name: deployment.container.clone(),
                image: deployment.spec.image.clone(),
                image_id,
                state: ContainerState::Running,
                labels: (*deployment.labels).clone(),
                resources: deployment.resources,
                address: None,
                started_at: None,
            }
        })
        .collect();
    Observed {
        containers,
        images: images
            .into_iter()
            .map(|(tag, id)| ObservedImage {
                id,
                tags: vec![tag],
                digests: vec![],
            })
            .collect(),
        networks: vec![ObservedResource {
            name: state.environment.network_name(),
            labels: BTreeMap::new(),
        }],
        volumes: vec![],
        services: vec![],
        runs: vec![],
    }
}

fn bench_plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    group.sample_size(20);
    for count in SIZES {
        let wanted = desired(count, "info");
        let matching = observed(&wanted);
        let mismatching = observed(&desired(count, "debug"));
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(BenchmarkId::new("matching", count), &count, |b, _| {
            b.iter(|| {
                let plan = engine::plan(&wanted, &matching, &PlanOptions::default()).unwrap();
                assert!(plan.is_empty());
                plan
            })
        });
        group.bench_with_input(BenchmarkId::new("mismatching", count), &count, |b, _| {
            b.iter(|| {
                let plan = engine::plan(&wanted, &mismatching, &PlanOptions::default()).unwrap();
                assert_eq!(plan.summary.recreate, count);
                plan
            })
        });
    }
    group.finish();
}

fn bench_load_and_resolve(c: &mut Criterion) {
    let mut group = c.benchmark_group("load_and_resolve");
    group.sample_size(10);
    for count in SIZES {
        let files = sources(count, "info");
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |b, _| {
            b.iter(|| {
                let manifests = engine::load(&files).unwrap();
                let secrets = Secrets::default();
                let build_tags = BTreeMap::new();
                let input = ResolveInput {
                    environment: Environment::production(),
                    commit: "c".into(),
                    secrets: &secrets,
                    build_tags: &build_tags,
                    files: &BTreeMap::new(),
                    missing_keys: engine::MissingKeys::Refused,
                };
                engine::resolve(&manifests, &input).unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_plan, bench_load_and_resolve);
criterion_main!(benches);
