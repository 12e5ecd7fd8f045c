//! The fleet views: `orun fleet status` as one table, a line per node that needs attention and a
//! summary; `orun fleet plan` as each node's plan as `orun plan` prints it, then a line per node.
//! They decide nothing (the problems and plans come with the reports).

use std::fmt::Write;

use comfy_table::{presets, ContentArrangement, Table};

use super::{escaped, Style};
use crate::fleet_report::{FleetPlanReport, FleetReport};

/// Commits are shown by their first 12 hex digits, as `git log --oneline` would.
fn short_commit(commit: Option<&str>) -> String {
    commit.map_or_else(
        || "-".to_string(),
        |commit| commit.chars().take(12).collect(),
    )
}

pub fn human(report: &FleetReport) -> String {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec![
            "node",
            "status address",
            "environment",
            "sync state",
            "head",
            "applied",
            "healthy",
            "ready",
            "problems",
        ]);
    for node in &report.nodes {
        let problems = node.problems();
        let cells = [
            node.name.clone(),
            node.status_addr.clone(),
            node.environment.clone().unwrap_or_else(|| "-".to_string()),
            match (&node.sync_state, &node.role) {
                (Some(state), Some(role)) => format!("{state} ({role})"),
                (Some(state), None) => state.clone(),
                (None, _) => "-".to_string(),
            },
            short_commit(node.git_head.as_deref()),
            short_commit(node.applied_commit.as_deref()),
            node.healthy
                .map_or_else(|| "-".to_string(), |healthy| healthy.to_string()),
            match (node.deployments_ready, node.deployments_total) {
                (Some(ready), Some(total)) => match (node.tasks_running, node.tasks_desired) {
                    (Some(running), Some(desired)) => {
                        format!("{ready}/{total}, tasks {running}/{desired}")
                    }
                    _ => format!("{ready}/{total}"),
                },
                _ => "-".to_string(),
            },
            if problems.is_empty() {
                "-".to_string()
            } else {
                problems.join(", ")
            },
        ];
        table.add_row(cells.map(|cell| escaped(&cell).into_owned()).to_vec());
    }
    let mut out = String::new();
    writeln!(out, "{table}").unwrap();
    for node in &report.nodes {
        if let Some(error) = &node.error {
            writeln!(out, "{}: {}", escaped(&node.name), escaped(error)).unwrap();
        }
    }
    let troubled = report
        .nodes
        .iter()
        .filter(|node| !node.problems().is_empty())
        .count();
    let total = report.nodes.len();
    if troubled == 0 {
        writeln!(
            out,
            "{total} node(s): all reachable, healthy and up to date"
        )
        .unwrap();
    } else {
        writeln!(out, "{troubled} of {total} node(s) need attention").unwrap();
    }
    out
}

/// One section per node (its plan as `orun plan` prints it, or why there is none), then one line
/// per node.
pub fn plans(report: &FleetPlanReport, style: Style) -> String {
    let mut out = String::new();
    for node in &report.nodes {
        let title = format!("=== node {} ({}) ===", node.name, node.status_addr);
        writeln!(out, "{}", style.bold(&escaped(&title))).unwrap();
        match (&node.plan, &node.error) {
            (Some(plan), _) => write!(out, "{}", super::plan::human(plan, style)).unwrap(),
            (None, error) => {
                let error = error.as_deref().unwrap_or_default();
                writeln!(
                    out,
                    "{}",
                    style.removed(&escaped(&outcome(node.reachable, error)))
                )
                .unwrap();
            }
        }
        writeln!(out).unwrap();
    }
    writeln!(out, "Fleet plan:").unwrap();
    let width = report
        .nodes
        .iter()
        .map(|node| node.name.chars().count())
        .max()
        .unwrap_or_default();
    for node in &report.nodes {
        let line = match (&node.plan, &node.error) {
            (Some(plan), _) if plan.is_empty() => "No changes.".to_string(),
            (Some(plan), _) => super::plan::summary_line(plan),
            (None, error) => outcome(node.reachable, error.as_deref().unwrap_or_default()),
        };
        writeln!(out, "  {:width$}  {}", escaped(&node.name), escaped(&line)).unwrap();
    }
    out
}

/// Why a node has no plan.
fn outcome(reachable: bool, error: &str) -> String {
    if reachable {
        format!("plan failed: {error}")
    } else {
        format!("unreachable: {error}")
    }
}
