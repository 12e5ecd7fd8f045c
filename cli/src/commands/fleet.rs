//! `orun fleet status`: asks the status API of every node in the repository's `nodes/`, all at
//! once with a short timeout, and sums the fleet up; exits 1 when a node is unreachable, unhealthy
//! or behind its branch. `orun fleet dashboard` collects its page with the same [`collect`]. It reads the nodes' documents tolerantly (`node::status::wire`), so nodes
//! that run another orun version still answer. It changes nothing, on the nodes or in the
//! repository.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use adapters::revision::WorkTree;
use anyhow::{anyhow, Context, Result};
use engine::manifest::NodeSpec;
use engine::Environment;
use node::status::wire::{DeploymentDocument, StatusDocument};

use super::status::{get_text, http_client, status_url};
use crate::args::{FleetStatusArgs, OutputFormat};
use crate::fleet_report::{FleetReport, NodeReport};
use crate::render;

/// How long one node may take to answer.
const TIMEOUT: Duration = Duration::from_secs(3);

pub fn run(args: &FleetStatusArgs) -> Result<ExitCode> {
    let report = super::runtime()?.block_on(collect(&args.repo))?;
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Human => print!("{}", render::fleet::human(&report)),
    }
    let all_well = report.nodes.iter().all(|node| node.problems().is_empty());
    Ok(if all_well {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The fleet as `repo`'s `nodes/` lists it now, each node asked for its status.
pub(crate) async fn collect(repo: &Path) -> Result<FleetReport> {
    let owned = repo.to_path_buf();
    let nodes = tokio::task::spawn_blocking(move || nodes(&owned))
        .await
        .context("reading the Node manifests stopped unexpectedly")??;
    ask_every_node(nodes).await
}

/// The nodes `repo`'s `nodes/` lists, by name; an error when it lists none.
pub(crate) fn nodes(repo: &Path) -> Result<Vec<(String, NodeSpec)>> {
    let manifests = engine::revision::manifests(&WorkTree::new(repo, None))
        .map_err(|error| anyhow!("{}: {error}", repo.display()))?;
    if manifests.nodes.is_empty() {
        anyhow::bail!(
            "{}: no Node manifests in nodes/ to ask for their status",
            repo.display()
        );
    }
    Ok(manifests
        .nodes
        .into_values()
        .map(|node| (node.name, node.spec))
        .collect())
}

async fn ask_every_node(nodes: Vec<(String, NodeSpec)>) -> Result<FleetReport> {
    let client = http_client(TIMEOUT)?;
    let asked: Vec<_> = nodes
        .into_iter()
        .map(|(name, spec)| tokio::spawn(ask_node(client.clone(), name, spec)))
        .collect();
    let mut reports = Vec::with_capacity(asked.len());
    for node in asked {
        reports.push(
            node.await
                .context("a status request stopped unexpectedly")?,
        );
    }
    Ok(FleetReport { nodes: reports })
}

async fn ask_node(client: reqwest::Client, name: String, spec: NodeSpec) -> NodeReport {
    let status_addr = spec.status_addr();
    let url = status_url(&status_addr);
    let answer = match get_text(&client, &url).await {
        Ok(body) => serde_json::from_str::<StatusDocument>(&body)
            .with_context(|| format!("{url} did not return a node status")),
        Err(error) => Err(error),
    };
    match answer {
        Ok(answer) => NodeReport {
            tasks_running: tasks(&answer, |d| d.tasks_running),
            tasks_desired: tasks(&answer, |d| d.tasks_desired),
            role: answer.node.role.clone(),
            name,
            status_addr,
            reachable: true,
            environment: Some(answer.node.environment),
            sync_state: Some(answer.node.sync_state),
            git_head: answer.node.git_head,
            applied_commit: answer.node.applied_commit,
            healthy: Some(answer.node.healthy),
            deployments_ready: Some(answer.deployments.values().filter(|d| d.ready).count()),
            deployments_total: Some(answer.deployments.len()),
            error: None,
        },
        Err(error) => NodeReport {
            name,
            status_addr,
            reachable: false,
            // What the manifest says the node runs, as the node itself cannot say.
            environment: Environment::for_node(&spec)
                .ok()
                .map(|environment| environment.to_string()),
            sync_state: None,
            git_head: None,
            applied_commit: None,
            healthy: None,
            deployments_ready: None,
            deployments_total: None,
            role: None,
            tasks_running: None,
            tasks_desired: None,
            error: Some(format!("{error:#}")),
        },
    }
}

/// The sum of a swarm node's task counts over its services; `None` from a Docker node, whose
/// deployments have none.
fn tasks(
    answer: &StatusDocument,
    count: impl Fn(&DeploymentDocument) -> Option<u64>,
) -> Option<u64> {
    answer
        .deployments
        .values()
        .map(count)
        .reduce(|sum, tasks| Some(sum? + tasks?))
        .flatten()
}
