//! `orun fleet plan`: what the working tree would change on each node of the repository's
//! `nodes/`. Every node's snapshot is fetched from its status API's `/observed`, all at once with
//! a short timeout, and each node's share is planned against it as `orun plan --node NAME` plans
//! it. A repository that does not resolve fails as `orun plan` does, before or without a report;
//! an unreachable node or a refused plan is reported with the others. It changes nothing, on the
//! nodes or in the repository.

use std::process::ExitCode;

use adapters::revision::WorkTree;
use anyhow::{anyhow, bail, Context, Result};
use engine::{Observed, PlanOptions};

use super::plan::{fetch_observed, OBSERVED_TIMEOUT};
use super::revision::{prepare, Prepared};
use super::status::http_client;
use crate::args::{FleetPlanArgs, NodeOrEnvironmentArgs, OutputFormat};
use crate::fleet_report::{FleetPlanReport, NodePlan};
use crate::render;

pub fn run(args: &FleetPlanArgs) -> Result<ExitCode> {
    let tree = WorkTree::new(&args.repo, args.age_key_path.as_deref());
    // Invalid manifests fail with the same message as `orun plan`, before any node is asked.
    let manifests = engine::revision::manifests(&tree).map_err(|error| anyhow!(error))?;
    if manifests.nodes.is_empty() {
        bail!(
            "{}: no Node manifests in nodes/ to plan for",
            args.repo.display()
        );
    }
    let nodes: Vec<(String, String)> = manifests
        .nodes
        .into_values()
        .map(|node| (node.name, node.spec.status_addr()))
        .collect();
    let runtime = super::runtime()?;
    let client = http_client(OBSERVED_TIMEOUT)?;
    // The nodes observe their Docker while this machine resolves their shares.
    let fetches: Vec<_> = nodes
        .iter()
        .map(|(_, status_addr)| {
            let (client, url) = (client.clone(), observed_url(status_addr));
            runtime.spawn(async move { fetch_observed(&client, &url).await })
        })
        .collect();
    let shares = resolve_shares(args, &nodes)?;
    let options = PlanOptions {
        allow_empty: args.allow_empty,
        new_commit: true,
        ..PlanOptions::default()
    };
    let mut report = FleetPlanReport { nodes: Vec::new() };
    for (((name, status_addr), fetch), share) in nodes.into_iter().zip(fetches).zip(shares) {
        let observed = runtime
            .block_on(fetch)
            .context("a request for a snapshot stopped unexpectedly")?;
        report
            .nodes
            .push(plan_node(name, status_addr, observed, &share, &options));
    }
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Human => {
            print!(
                "{}",
                render::fleet::plans(&report, render::Style::for_stdout())
            );
        }
    }
    Ok(ExitCode::from(report.exit_code(args.detailed_exitcode)))
}

/// The `/observed` URL of the status API at `addr` (`host:port`).
fn observed_url(addr: &str) -> String {
    format!("http://{addr}/observed")
}

/// Each node's share of the working tree, resolved as `orun plan --node NAME` resolves it; every
/// node that does not resolve is named in the one error.
fn resolve_shares(args: &FleetPlanArgs, nodes: &[(String, String)]) -> Result<Vec<Prepared>> {
    let mut shares = Vec::new();
    let mut failures = Vec::new();
    for (name, _) in nodes {
        let selection = NodeOrEnvironmentArgs {
            node: Some(name.clone()),
            environment: None,
            age_key_path: args.age_key_path.clone(),
            policy: None,
        };
        match prepare(&args.repo, &selection) {
            Ok(share) => shares.push(share),
            Err(error) => failures.push(format!("for node {name}: {error:#}")),
        }
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(shares)
}

/// The node's entry: its share planned against the snapshot it served, or why there is no plan.
fn plan_node(
    name: String,
    status_addr: String,
    observed: Result<Observed>,
    share: &Prepared,
    options: &PlanOptions,
) -> NodePlan {
    let observed = match observed {
        Ok(observed) => observed,
        Err(error) => {
            return NodePlan {
                name,
                status_addr,
                reachable: false,
                error: Some(format!("{error:#}")),
                plan: None,
            }
        }
    };
    let (error, plan) = match engine::plan(&share.desired, &observed, options) {
        Ok(plan) => (None, Some(plan)),
        Err(error) => (Some(error.to_string()), None),
    };
    NodePlan {
        name,
        status_addr,
        reachable: true,
        error,
        plan,
    }
}
