//! The page of `orun fleet dashboard`: a row per node with what `orun fleet status` found
//! (reachable, environment, sync state, commits, health, deployments ready, a swarm node's role
//! and tasks, the problems), each linking to the node's own dashboard, in the node dashboard's
//! frame (`node::dashboard`). It decides nothing: the problems come with the report.

use std::time::SystemTime;

use maud::{html, Markup};
use node::dashboard::{self, badge, commit, health, sync_state, Tone};

use crate::fleet_report::{FleetReport, NodeReport};

pub fn page(report: &FleetReport, now: SystemTime) -> Markup {
    let attention = report
        .nodes
        .iter()
        .filter(|node| !node.problems().is_empty())
        .count();
    let header = html! {
        p.eyebrow { "orun fleet" }
        h1 { "Fleet" }
        p.meta {
            span {
                strong { (report.nodes.len()) }
                (if report.nodes.len() == 1 { " node" } else { " nodes" }) " in nodes/"
            }
        }
        p.states {
            @if attention == 0 { (badge(Tone::Good, "All nodes well")) }
            @else { (badge(Tone::Bad, &format!("{attention} need attention"))) }
        }
    };
    let main = html! {
        section id="nodes" aria-labelledby="nodes-title" {
            h2 id="nodes-title" { "Nodes" }
            (dashboard::table(
                "Each node as its status API answered; a name links to its own dashboard",
                &["Node", "Reachable", "Environment", "Sync", "HEAD", "Applied", "Health", "Deployments ready", "Attention"],
                html! { @for node in &report.nodes { (row(node)) } },
            ))
        }
    };
    dashboard::page("Fleet · orun", now, header, main, footer())
}

/// The page when the fleet could not be listed (the repository cannot be read).
pub fn failed(error: &str, now: SystemTime) -> Markup {
    let header = html! {
        p.eyebrow { "orun fleet" }
        h1 { "Fleet" }
        p.states { (badge(Tone::Bad, "Nodes not listed")) }
    };
    let main = html! {
        div.alert { p { strong { "The fleet could not be listed" } } p.error-text { (error) } }
    };
    dashboard::page("Fleet · orun", now, header, main, footer())
}

fn footer() -> Markup {
    html! { p { "Read-only. The same facts as JSON: " a href="/fleet.json" { "/fleet.json" } } }
}

fn row(node: &NodeReport) -> Markup {
    let problems = node.problems();
    html! {
        tr id={"node-" (node.name)} {
            th scope="row" data-label="Node" {
                a href={"http://" (node.status_addr) "/"} { (node.name) }
                code.address { (node.status_addr) }
            }
            td data-label="Reachable" {
                @if node.reachable { (badge(Tone::Good, "Reachable")) }
                @else { (badge(Tone::Bad, "Unreachable")) }
            }
            td data-label="Environment" {
                @match &node.environment { Some(environment) => (environment), None => span.none { "unknown" } }
            }
            td data-label="Sync" {
                @match &node.sync_state { Some(state) => (sync_state(state)), None => span.none { "unknown" } }
                @if let Some(role) = &node.role { br; "Swarm " (role) }
            }
            td data-label="HEAD" { (optional(node.reachable, || commit(node.git_head.as_deref()))) }
            td data-label="Applied" { (optional(node.reachable, || commit(node.applied_commit.as_deref()))) }
            td data-label="Health" {
                @match node.healthy { Some(healthy) => (health(healthy)), None => span.none { "unknown" } }
            }
            td data-label="Deployments ready" {
                @match (node.deployments_ready, node.deployments_total) {
                    (Some(ready), Some(total)) => { (ready) " / " (total) }
                    _ => span.none { "unknown" },
                }
                @if let (Some(running), Some(desired)) = (node.tasks_running, node.tasks_desired) {
                    br; (running) " / " (desired) " tasks"
                }
            }
            td data-label="Attention" {
                @if problems.is_empty() { (badge(Tone::Good, "None")) }
                @for problem in &problems { (badge(Tone::Bad, problem)) " " }
            }
        }
        @if let Some(error) = &node.error {
            tr.detail id={"node-" (node.name) "-error"} {
                td colspan="9" { p.error-text { (error) } }
            }
        }
    }
}

/// A fact of a node that answered; of one that did not, `unknown`.
fn optional(reachable: bool, shown: impl FnOnce() -> Markup) -> Markup {
    if reachable {
        shown()
    } else {
        html! { span.none { "unknown" } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, reachable: bool) -> NodeReport {
        NodeReport {
            name: name.to_string(),
            status_addr: format!("127.0.0.1:91{}", name.len()),
            reachable,
            environment: Some("production".to_string()),
            sync_state: reachable.then(|| "synced".to_string()),
            git_head: reachable.then(|| "c".repeat(40)),
            applied_commit: reachable.then(|| "c".repeat(40)),
            healthy: reachable.then_some(true),
            deployments_ready: reachable.then_some(1),
            deployments_total: reachable.then_some(2),
            role: None,
            tasks_running: None,
            tasks_desired: None,
            error: (!reachable).then(|| "cannot reach <b>it</b>".to_string()),
        }
    }

    #[test]
    fn each_node_links_to_its_own_dashboard_and_says_what_is_wrong() {
        let report = FleetReport {
            nodes: vec![node("web", true), node("gone", false)],
        };
        let html = page(&report, SystemTime::UNIX_EPOCH).into_string();
        assert!(
            html.contains(r#"<a href="http://127.0.0.1:913/">web</a>"#),
            "{html}"
        );
        assert!(html.contains("1 / 2"), "{html}");
        assert!(html.contains("1 need attention"), "{html}");
        assert!(
            html.contains(">Unreachable<") && html.contains(">unreachable<"),
            "{html}"
        );
        assert!(
            html.contains("cannot reach &lt;b&gt;it&lt;/b&gt;"),
            "{html}"
        );
    }
}
