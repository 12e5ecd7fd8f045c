//! A node's status document as tables: the node, its deployments, its services, its volumes, its
//! jobs.

use std::fmt::Write;

use comfy_table::{presets, ContentArrangement, Table};
use node::status::wire::{DeploymentDocument, StatusDocument};
use node::status::ServiceStatus;

use super::escaped;

/// A row of the node's own text, escaped for the terminal.
pub(super) fn row(cells: Vec<String>) -> Vec<String> {
    cells
        .into_iter()
        .map(|cell| escaped(&cell).into_owned())
        .collect()
}

pub(super) fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    table
}

fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_string()
}

/// `ready/desired` replicas, or a swarm service's `running/desired tasks`; `-` from a node older
/// than replicas, which does not say.
fn replicas(deployment: &DeploymentDocument) -> String {
    if let (Some(running), Some(desired)) = (deployment.tasks_running, deployment.tasks_desired) {
        return format!("{running}/{desired} tasks");
    }
    match deployment.replicas {
        0 => "-".to_string(),
        desired => format!("{}/{desired}", deployment.replicas_ready),
    }
}

/// Every address a Service's route sends requests to; an older node names one.
fn upstreams(service: &ServiceStatus) -> String {
    if service.upstreams.is_empty() {
        or_dash(service.upstream.as_deref())
    } else {
        service.upstreams.join(", ")
    }
}

pub fn human(status: &StatusDocument) -> String {
    let node = &status.node;
    let mut out = String::new();
    let mut facts = table(&[
        "node",
        &escaped(&or_dash(Some(node.name.as_str()).filter(|n| !n.is_empty()))),
    ]);
    for (key, value) in [
        ("environment", node.environment.clone()),
        ("branch", node.branch.clone()),
        ("healthy", node.healthy.to_string()),
        ("sync_state", node.sync_state.clone()),
        ("git_head", or_dash(node.git_head.as_deref())),
        ("applied_commit", or_dash(node.applied_commit.as_deref())),
        ("last_sync_time", or_dash(node.last_sync_time.as_deref())),
        (
            "last_reconcile_time",
            or_dash(node.last_reconcile_time.as_deref()),
        ),
        ("next_poll_at", or_dash(node.next_poll_at.as_deref())),
        (
            "consecutive_failures",
            node.consecutive_failures.to_string(),
        ),
        ("sync_error", or_dash(node.sync_error.as_deref())),
        ("started_at", node.started_at.clone()),
    ] {
        facts.add_row(row(vec![key.to_string(), value]));
    }
    if let Some(role) = &node.role {
        facts.add_row(row(vec!["role".to_string(), role.clone()]));
    }
    let because = |reason: &Option<String>| {
        reason
            .as_deref()
            .map(|reason| format!(": {reason}"))
            .unwrap_or_default()
    };
    if let Some(suspended) = &node.suspended {
        let value = format!("since {}{}", suspended.since, because(&suspended.reason));
        facts.add_row(row(vec!["suspended".to_string(), value]));
    }
    if let Some(pinned) = &node.pinned {
        let value = format!(
            "{} since {}{}",
            pinned.commit,
            pinned.since,
            because(&pinned.reason)
        );
        facts.add_row(row(vec!["pinned".to_string(), value]));
    }
    writeln!(out, "{facts}").unwrap();
    if let Some(pending) = &status.pending_actions {
        writeln!(out).unwrap();
        let mut actions = table(&["pending action", "subject", "reason"]);
        for action in pending {
            actions.add_row(row(vec![
                action.action.clone(),
                action.subject.clone(),
                action.reason.clone(),
            ]));
        }
        if pending.is_empty() {
            writeln!(out, "Suspended: nothing pending.").unwrap();
        } else {
            writeln!(out, "{actions}").unwrap();
        }
    }

    writeln!(out).unwrap();
    if status.deployments.is_empty() {
        writeln!(out, "No deployments.").unwrap();
    } else {
        let mut deployments = table(&[
            "deployment",
            "state",
            "ready",
            "replicas",
            "restarts",
            "container",
            "image",
            "last action",
            "last error",
            "flags",
        ]);
        for deployment in status.deployments.values() {
            let last_action = match (&deployment.last_action, &deployment.last_reason) {
                (Some(action), Some(reason)) => format!("{action} ({reason})"),
                _ => "-".to_string(),
            };
            let flags: Vec<&str> = [
                (deployment.quarantined, "quarantined"),
                (deployment.flapping, "flapping"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
            deployments.add_row(row(vec![
                deployment.name.clone(),
                deployment.state.clone(),
                deployment.ready.to_string(),
                replicas(deployment),
                deployment.restarts.to_string(),
                or_dash(deployment.container_id.as_deref()),
                deployment.image.clone(),
                last_action,
                or_dash(deployment.last_error.as_deref()),
                if flags.is_empty() {
                    "-".to_string()
                } else {
                    flags.join(", ")
                },
            ]));
        }
        writeln!(out, "{deployments}").unwrap();
    }

    if !status.services.is_empty() {
        writeln!(out).unwrap();
        let mut services = table(&[
            "service",
            "deployment",
            "domain",
            "ssl",
            "upstreams",
            "active",
        ]);
        for service in status.services.values() {
            services.add_row(row(vec![
                service.name.clone(),
                service.deployment.clone(),
                or_dash(service.domain.as_deref()),
                service.ssl.to_string(),
                upstreams(service),
                service.active.to_string(),
            ]));
        }
        writeln!(out, "{services}").unwrap();
    }

    if !status.volumes.is_empty() {
        writeln!(out).unwrap();
        let mut volumes = table(&["volume", "docker volume", "in use"]);
        for volume in status.volumes.values() {
            volumes.add_row(row(vec![
                volume.name.clone(),
                volume.docker_name.clone(),
                volume.in_use.to_string(),
            ]));
        }
        writeln!(out, "{volumes}").unwrap();
    }

    if !status.jobs.is_empty() {
        writeln!(out).unwrap();
        let mut jobs = table(&[
            "job",
            "runs",
            "last run",
            "started",
            "finished",
            "exit code",
            "next run",
        ]);
        for job in status.jobs.values() {
            let runs = match (&job.schedule, &job.run_on) {
                (Some(schedule), _) => format!("schedule {schedule}"),
                (None, Some(run_on)) if job.before.is_empty() => format!("on {run_on}"),
                (None, Some(run_on)) => format!("on {run_on}, before {}", job.before.join(", ")),
                (None, None) => "-".to_string(),
            };
            let run = job.last_run.as_ref();
            jobs.add_row(row(vec![
                job.name.clone(),
                runs,
                or_dash(run.map(|run| run.container.as_str())),
                or_dash(run.map(|run| run.started_at.as_str())),
                or_dash(run.and_then(|run| run.finished_at.as_deref())),
                or_dash(
                    run.and_then(|run| run.exit_code)
                        .map(|code| code.to_string())
                        .as_deref(),
                ),
                or_dash(job.next_run_at.as_deref()),
            ]));
        }
        writeln!(out, "{jobs}").unwrap();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replicas_and_every_upstream_are_shown_and_an_older_node_shows_what_it_sent() {
        let document: StatusDocument = serde_json::from_value(json!({
            "node": { "name": "a" },
            "deployments": {
                "web": { "name": "web", "replicas": 3, "replicas_ready": 2 },
                "old": { "name": "old" }
            },
            "services": {
                "web": { "name": "web", "upstream": "10.0.0.2:80",
                         "upstreams": ["10.0.0.2:80", "10.0.0.3:80"] },
                "old": { "name": "old", "upstream": "10.0.0.9:80" }
            }
        }))
        .unwrap();
        let shown = human(&document);
        let line = |name: &str| {
            shown
                .lines()
                .filter(|line| line.contains(&format!(" {name} ")))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(line("web").contains("2/3"), "{shown}");
        assert!(line("web").contains("10.0.0.2:80, 10.0.0.3:80"), "{shown}");
        assert!(line("old").contains("10.0.0.9:80"), "{shown}");
    }

    #[test]
    fn an_operators_holds_and_the_pending_actions_are_shown() {
        let document: StatusDocument = serde_json::from_value(json!({
            "node": { "name": "a",
                      "suspended": { "reason": "db upgrade", "since": "2026-12-06T10:00:00Z" },
                      "pinned": { "commit": "c1", "reason": null, "since": "2026-12-06T09:00:00Z" } },
            "pending_actions": [
                { "action": "create", "deployment": "web", "job": null, "subject": "web",
                  "reason": "missing" }
            ]
        }))
        .unwrap();
        let shown = human(&document);
        for expected in [
            "since 2026-12-06T10:00:00Z: db upgrade",
            "c1 since 2026-12-06T09:00:00Z",
            "create",
            "missing",
        ] {
            assert!(shown.contains(expected), "{expected} in\n{shown}");
        }
    }

    #[test]
    fn jobs_show_how_they_run_their_last_run_and_next_time() {
        let document: StatusDocument = serde_json::from_value(json!({
            "node": { "name": "a" },
            "jobs": {
                "backup": { "name": "backup", "schedule": "0 3 * * *",
                            "last_run": { "container": "backup.job-202612060300",
                                          "started_at": "2026-12-06T03:00:01Z",
                                          "finished_at": "2026-12-06T03:00:09Z", "exit_code": 0 },
                            "next_run_at": "2026-12-07T03:00:00Z" },
                "migrate": { "name": "migrate", "run_on": "change", "before": ["web"],
                             "last_run": { "container": "migrate.job-af6fa375495c",
                                           "started_at": "2026-12-06T10:00:00Z" } }
            }
        }))
        .unwrap();
        let shown = human(&document);
        let line = |name: &str| {
            shown
                .lines()
                .find(|line| line.contains(&format!(" {name} ")))
                .unwrap_or_default()
                .to_string()
        };
        let backup = line("backup");
        assert!(backup.contains("schedule 0 3 * * *"), "{shown}");
        assert!(backup.contains("2026-12-07T03:00:00Z"), "{shown}");
        let migrate = line("migrate");
        assert!(migrate.contains("on change, before web"), "{shown}");
        assert!(migrate.contains("migrate.job-af6fa375495c"), "{shown}");
    }
}
