//! The node's dashboard (`GET /`): the cleaned status document (`public.rs`, what `/status`
//! serves) and the newest applies (what `/history` serves) as one page: sync, commits and the
//! operator's holds (a pin, a suspension with its pending actions), health, each deployment,
//! Services with their routes, jobs and their runs, the last plan, the recent history, volumes.
//! It shows only what those documents hold, so nothing the status API hides can appear here.
//! Each part of the page is one [`Section`]: a new part is a new entry of [`SECTIONS`] and its
//! function. It reads nothing itself: the server hands both documents in.

use std::time::SystemTime;

use maud::{html, Markup};

use super::{badge, commit, health, lasting, page, sync_state, table, when, words, Tone};
use crate::decisions::history::{ApplyOutcome, HistoryEntry};
use crate::status::wire::{DeploymentDocument, StatusDocument};
use crate::status::{JobRun, JobStatus, PlannedAction, ServiceStatus};

/// What the page shows: the status document and the newest applies, newest first (`None`: the
/// history could not be read).
pub struct NodePage<'a> {
    pub document: &'a StatusDocument,
    pub history: Option<&'a [HistoryEntry]>,
}

/// One part of the page: its anchor, its heading and how it is drawn.
struct Section {
    id: &'static str,
    title: &'static str,
    render: fn(&NodePage, SystemTime) -> Markup,
}

/// The page's parts, in order; the header's links follow the same list.
const SECTIONS: &[Section] = &[
    Section {
        id: "sync",
        title: "Sync",
        render: sync,
    },
    Section {
        id: "deployments",
        title: "Deployments",
        render: deployments,
    },
    Section {
        id: "services",
        title: "Services",
        render: services,
    },
    Section {
        id: "jobs",
        title: "Jobs",
        render: jobs,
    },
    Section {
        id: "plan",
        title: "Last plan",
        render: last_plan,
    },
    Section {
        id: "history",
        title: "History",
        render: history,
    },
    Section {
        id: "volumes",
        title: "Volumes",
        render: volumes,
    },
];

/// The whole page for `shown` as it stands at `now`.
pub fn render(shown: &NodePage, now: SystemTime) -> Markup {
    let node = &shown.document.node;
    let header = html! {
        p.eyebrow { "orun node" }
        h1 { (node.name) }
        p.meta {
            span { "Environment " strong { (node.environment) } }
            span { "Branch " strong { (node.branch) } }
            @if let Some(role) = &node.role { span { "Swarm role " strong { (role) } } }
        }
        p.states {
            (health(node.healthy)) " " (sync_state(&node.sync_state))
            @if node.pinned.is_some() { " " (badge(Tone::Warn, "Pinned")) }
            @if node.suspended.is_some() { " " (badge(Tone::Warn, "Suspended")) }
        }
        nav aria-label="Sections" {
            ul { @for section in SECTIONS { li { a href={"#" (section.id)} { (section.title) } } } }
        }
    };
    let main = html! {
        @for section in SECTIONS {
            section id=(section.id) aria-labelledby={(section.id) "-title"} {
                h2 id={(section.id) "-title"} { (section.title) }
                ((section.render)(shown, now))
            }
        }
    };
    let footer = html! {
        p {
            "Read-only. The same facts as JSON: "
            a href="/status" { "/status" } " · metrics: " a href="/metrics" { "/metrics" }
        }
    };
    page(&format!("{} · orun", node.name), now, header, main, footer)
}

fn sync(shown: &NodePage, now: SystemTime) -> Markup {
    let document = shown.document;
    let node = &document.node;
    let mut commits = vec![
        ("HEAD of the branch", node.git_head.as_deref()),
        ("Applied", node.applied_commit.as_deref()),
    ];
    if let Some(pinned) = &node.pinned {
        commits.push(("Pinned", Some(pinned.commit.as_str())));
    }
    let behind = node.git_head.is_some() && node.git_head != node.applied_commit;
    html! {
        @if let Some(error) = &node.sync_error {
            div.alert {
                p { strong { "Sync error" } }
                p.error-text { (error) }
            }
        }
        @if let Some(pinned) = &node.pinned {
            div.alert.hold {
                p { strong { "Pinned" } " since " (when(Some(&pinned.since), now)) ": new commits wait for orun unpin" }
                @if let Some(reason) = &pinned.reason { p { "Reason: " (reason) } }
            }
        }
        @if let Some(suspended) = &node.suspended {
            div.alert.hold {
                p { strong { "Suspended" } " since " (when(Some(&suspended.since), now)) ": no action is taken until orun resume" }
                @if let Some(reason) = &suspended.reason { p { "Reason: " (reason) } }
                @match &document.pending_actions {
                    Some(pending) if !pending.is_empty() => {
                        (actions_table("Pending actions: what the node would do now", pending))
                    }
                    _ => p { "Nothing pending: the node would take no action now." }
                }
            }
        }
        dl.facts {
            div { dt { "State" } dd { (sync_state(&node.sync_state)) } }
            div { dt { "Health" } dd { (health(node.healthy)) } }
            @for (label, hash) in commits {
                div { dt { (label) } dd { (commit(hash)) } }
            }
            div {
                dt { "Applied vs HEAD" }
                dd {
                    @if behind { (badge(Tone::Warn, "Behind")) }
                    @else if node.git_head.is_some() { (badge(Tone::Good, "Up to date")) }
                    @else { span.none { "no commit fetched yet" } }
                }
            }
            div { dt { "Last sync" } dd { (when(node.last_sync_time.as_deref(), now)) } }
            div { dt { "Last reconcile" } dd { (when(node.last_reconcile_time.as_deref(), now)) } }
            div { dt { "Next poll" } dd { (when(node.next_poll_at.as_deref(), now)) } }
            div { dt { "Failures in a row" } dd { (node.consecutive_failures) } }
            div { dt { "Running since" } dd { (when(Some(&node.started_at), now)) } }
        }
    }
}

fn deployments(shown: &NodePage, now: SystemTime) -> Markup {
    let document = shown.document;
    let total = document.deployments.len();
    let ready = document.deployments.values().filter(|d| d.ready).count();
    if total == 0 {
        return html! { p.empty { "No deployments in the applied revision." } };
    }
    let rows = html! {
        @for deployment in document.deployments.values() { (deployment_row(deployment, now)) }
    };
    table(
        &format!("{ready} of {total} ready"),
        &[
            "Deployment",
            "Health",
            "Replicas ready",
            "State",
            "Up for",
            "Image",
            "Last action",
            "Restarts",
        ],
        rows,
    )
}

fn deployment_row(deployment: &DeploymentDocument, now: SystemTime) -> Markup {
    html! {
        tr id={"deployment-" (deployment.name)} {
            th scope="row" data-label="Deployment" { (deployment.name) }
            td data-label="Health" { (deployment_health(deployment)) }
            td data-label="Replicas ready" { (replicas(deployment)) }
            td data-label="State" { (container_state(&deployment.state)) }
            td data-label="Up for" { (uptime(deployment.started_at.as_deref(), now)) }
            td data-label="Image" { code.image { (deployment.image) } }
            td data-label="Last action" {
                @match &deployment.last_action {
                    Some(action) => {
                        (words(action))
                        @if let Some(reason) = &deployment.last_reason {
                            span.reason { " (" (words(reason)) ")" }
                        }
                    }
                    None => span.none { "none" },
                }
                @if let Some(error) = &deployment.last_error {
                    p.error-text { (error) }
                }
            }
            td data-label="Restarts" { (deployment.restarts) }
        }
    }
}

/// Quarantine and flapping first: they say why a deployment is not simply ready.
fn deployment_health(deployment: &DeploymentDocument) -> Markup {
    html! {
        @if deployment.quarantined { (badge(Tone::Bad, "Quarantined")) " " }
        @if deployment.flapping { (badge(Tone::Warn, "Flapping")) " " }
        @if deployment.ready { (badge(Tone::Good, "Ready")) }
        @else { (badge(Tone::Bad, "Not ready")) }
    }
}

/// Replicas (or a swarm service's tasks) ready of those asked for; a node older than replicas
/// sends none, and then only readiness is known.
fn replicas(deployment: &DeploymentDocument) -> Markup {
    match (deployment.tasks_running, deployment.tasks_desired) {
        (Some(running), Some(desired)) => html! { (running) " / " (desired) " tasks" },
        _ if deployment.replicas == 0 => html! { span.none { "unknown" } },
        _ => html! { (deployment.replicas_ready) " / " (deployment.replicas) },
    }
}

/// How long the running container has run, the exact start in the element; a start that is no
/// time is shown as it is.
fn uptime(started_at: Option<&str>, now: SystemTime) -> Markup {
    let Some(started_at) = started_at else {
        return html! { span.none { "not running" } };
    };
    let Ok(at) = humantime::parse_rfc3339_weak(started_at) else {
        return html! { (started_at) };
    };
    let lasted = now.duration_since(at).unwrap_or_default();
    html! {
        time datetime=(started_at) title={"Started " (started_at)} { (lasting(lasted)) }
    }
}

fn container_state(state: &str) -> Markup {
    let tone = match state {
        "running" => Tone::Good,
        "created" | "restarting" | "paused" => Tone::Warn,
        "missing" | "exited" | "dead" => Tone::Bad,
        _ => Tone::Quiet,
    };
    badge(tone, &words(state))
}

fn services(shown: &NodePage, _now: SystemTime) -> Markup {
    let document = shown.document;
    if document.services.is_empty() {
        return html! { p.empty { "No Services in the applied revision." } };
    }
    let rows = html! { @for service in document.services.values() { (service_row(service)) } };
    table(
        "Routes of the ingress, one per Service",
        &["Service", "Route", "Deployment", "Upstreams"],
        rows,
    )
}

fn service_row(service: &ServiceStatus) -> Markup {
    // A node older than replicas sends its one address in `upstream` only.
    let upstreams: Vec<&String> = if service.upstreams.is_empty() {
        service.upstream.iter().collect()
    } else {
        service.upstreams.iter().collect()
    };
    let scheme = if service.ssl { "https://" } else { "http://" };
    html! {
        tr {
            th scope="row" data-label="Service" { (service.name) }
            td data-label="Route" {
                @if service.active { (badge(Tone::Good, "Active")) } @else { (badge(Tone::Warn, "No route")) }
                " "
                @match &service.domain {
                    Some(domain) => code.image { (scheme) (domain) },
                    None => span.none { "no domain" },
                }
                @if let Some(note) = &service.note { p.error-text { (note) } }
            }
            td data-label="Deployment" { (service.deployment) }
            td data-label="Upstreams" {
                @if upstreams.is_empty() { span.none { "none" } }
                @for upstream in &upstreams { code.image { (upstream) } " " }
            }
        }
    }
}

fn jobs(shown: &NodePage, now: SystemTime) -> Markup {
    let document = shown.document;
    if document.jobs.is_empty() {
        return html! { p.empty { "No jobs in the applied revision." } };
    }
    let rows = html! { @for job in document.jobs.values() { (job_row(job, now)) } };
    table(
        "Jobs of the applied revision and their last run",
        &["Job", "Runs", "Last run", "Started", "Finished", "Next run"],
        rows,
    )
}

fn job_row(job: &JobStatus, now: SystemTime) -> Markup {
    let run = job.last_run.as_ref();
    html! {
        tr id={"job-" (job.name)} {
            th scope="row" data-label="Job" { (job.name) }
            td data-label="Runs" { (trigger(job)) }
            td data-label="Last run" {
                @match run {
                    Some(run) => (run_result(run)),
                    None => span.none { "not run yet" },
                }
            }
            td data-label="Started" { (when(run.map(|run| run.started_at.as_str()), now)) }
            td data-label="Finished" {
                @match run {
                    Some(JobRun { finished_at: None, .. }) => span.none { "still running" },
                    _ => (when(run.and_then(|run| run.finished_at.as_deref()), now)),
                }
            }
            td data-label="Next run" {
                @match &job.next_run_at {
                    Some(next) => (when(Some(next), now)),
                    None => span.none { "on the next change" },
                }
            }
        }
    }
}

/// When a job runs, in words: on a change of its spec (before the deployments it precedes), or
/// on its cron schedule.
fn trigger(job: &JobStatus) -> Markup {
    html! {
        @if let Some(schedule) = &job.schedule {
            "on schedule " code.image { (schedule) }
        } @else if let Some(run_on) = &job.run_on {
            "on " (words(run_on))
            @if !job.before.is_empty() { ", before " (job.before.join(", ")) }
        } @else {
            span.none { "unknown" }
        }
    }
}

/// How a run went: running while it has no end, else its exit code as success or failure.
fn run_result(run: &JobRun) -> Markup {
    match (run.finished_at.as_ref(), run.exit_code) {
        (None, _) => badge(Tone::Warn, "Running"),
        (Some(_), Some(0)) => badge(Tone::Good, "Succeeded"),
        (Some(_), Some(code)) => badge(Tone::Bad, &format!("Failed (exit code {code})")),
        (Some(_), None) => badge(Tone::Quiet, "Ended"),
    }
}

fn last_plan(shown: &NodePage, now: SystemTime) -> Markup {
    let document = shown.document;
    let Some(plan) = &document.last_plan else {
        return html! { p.empty { "No plan with actions since the node started." } };
    };
    let summary: Vec<String> = plan
        .summary
        .iter()
        .map(|(kind, count)| format!("{count} {}", words(kind)))
        .collect();
    let actions = actions_table("Its actions, in order, each with its reason", &plan.actions);
    html! {
        dl.facts {
            div { dt { "Commit" } dd { (commit(Some(&plan.commit))) } }
            div { dt { "Planned" } dd { (when(Some(&plan.planned_at), now)) } }
            div { dt { "Summary" } dd { (summary.join(", ")) } }
        }
        (actions)
    }
}

/// Planned actions in order, each with what it is for and its reason.
fn actions_table(caption: &str, actions: &[PlannedAction]) -> Markup {
    let rows = html! {
        @for action in actions {
            tr {
                th scope="row" data-label="Action" { (words(&action.action)) }
                td data-label="For" {
                    @match (&action.deployment, &action.job) {
                        (Some(deployment), _) => { "deployment " (deployment) },
                        (None, Some(job)) => { "job " (job) },
                        (None, None) => span.none { "the environment" },
                    }
                }
                td data-label="On" { (action.subject) }
                td data-label="Reason" { (words(&action.reason)) }
            }
        }
    };
    table(caption, &["Action", "For", "On", "Reason"], rows)
}

/// How many deployments' images a history row lists; `/history` has them all.
const HISTORY_IMAGES: usize = 5;

/// The newest applies: their commit, outcome, when, and the image each deployment ran.
fn history(shown: &NodePage, now: SystemTime) -> Markup {
    let Some(entries) = shown.history else {
        return html! { p.empty { "The history could not be read: the node's log says why." } };
    };
    if entries.is_empty() {
        return html! { p.empty { "No apply recorded yet." } };
    }
    let rows = html! {
        @for entry in entries {
            tr {
                th scope="row" data-label="Commit" { (commit(Some(&entry.commit))) }
                td data-label="Outcome" { (outcome(entry.outcome)) }
                td data-label="Finished" { (when(Some(&entry.finished_at), now)) }
                td data-label="Images" {
                    ul.images {
                        @for image in entry.deployments.iter().take(HISTORY_IMAGES) {
                            li {
                                (image.deployment) " "
                                code.image title=[image.image_id.as_deref()] { (image.image) }
                            }
                        }
                        @if entry.deployments.len() > HISTORY_IMAGES {
                            li.none { "and " (entry.deployments.len() - HISTORY_IMAGES) " more (see /history)" }
                        }
                    }
                }
            }
        }
    };
    table(
        "The newest applies, newest first (the same as /history)",
        &["Commit", "Outcome", "Finished", "Images"],
        rows,
    )
}

fn outcome(outcome: ApplyOutcome) -> Markup {
    match outcome {
        ApplyOutcome::Applied => badge(Tone::Good, "Applied"),
        ApplyOutcome::Pinned => badge(Tone::Warn, "Applied, pinned"),
        ApplyOutcome::RolledBack => badge(Tone::Bad, "Rolled back"),
        ApplyOutcome::Failed => badge(Tone::Bad, "Failed"),
    }
}

fn volumes(shown: &NodePage, _now: SystemTime) -> Markup {
    let document = shown.document;
    if document.volumes.is_empty() {
        return html! { p.empty { "No named volumes." } };
    }
    let rows = html! {
        @for volume in document.volumes.values() {
            tr {
                th scope="row" data-label="Volume" { (volume.name) }
                td data-label="Docker volume" { code.image { (volume.docker_name) } }
                td data-label="Use" {
                    @if volume.in_use { (badge(Tone::Good, "In use")) }
                    @else { (badge(Tone::Quiet, "Unused")) }
                }
            }
        }
    };
    table(
        "Named volumes of the environment; only an operator removes one",
        &["Volume", "Docker volume", "Use"],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::history::DeployedImage;
    use crate::status::wire::NodeDocument;
    use crate::status::{LastPlan, Pinned, Suspended};

    fn job(
        name: &str,
        run_on: Option<&str>,
        schedule: Option<&str>,
        run: Option<JobRun>,
    ) -> JobStatus {
        JobStatus {
            name: name.to_string(),
            run_on: run_on.map(str::to_string),
            schedule: schedule.map(str::to_string),
            before: if run_on.is_some() {
                vec!["web".to_string()]
            } else {
                Vec::new()
            },
            last_run: run,
            next_run_at: schedule.map(|_| "2026-11-27T00:00:00Z".to_string()),
        }
    }

    fn run(finished_at: Option<&str>, exit_code: Option<i64>) -> Option<JobRun> {
        Some(JobRun {
            container: "production.migrate.run-1".to_string(),
            started_at: "2026-11-26T10:00:00Z".to_string(),
            finished_at: finished_at.map(str::to_string),
            exit_code,
        })
    }

    fn document() -> StatusDocument {
        let mut document = StatusDocument {
            node: NodeDocument {
                name: "web-01".to_string(),
                environment: "production".to_string(),
                branch: "main".to_string(),
                started_at: "2026-11-26T10:00:00Z".to_string(),
                sync_state: "invalid_revision".to_string(),
                git_head: Some("9f2c".repeat(10)),
                applied_commit: Some("1a2b".repeat(10)),
                sync_error: Some(
                    r#"deployments/web.yaml: <img src=x onerror="window.pwned=1">"#.to_string(),
                ),
                pinned: Some(Pinned {
                    commit: "1a2b".repeat(10),
                    reason: Some("v2 breaks logins".to_string()),
                    since: "2026-11-26T09:00:00Z".to_string(),
                }),
                suspended: Some(Suspended {
                    reason: None,
                    since: "2026-11-26T10:00:00Z".to_string(),
                }),
                ..NodeDocument::default()
            },
            pending_actions: Some(vec![PlannedAction {
                action: "create".to_string(),
                deployment: Some("worker".to_string()),
                job: None,
                subject: "production.worker".to_string(),
                reason: "missing".to_string(),
            }]),
            ..StatusDocument::default()
        };
        document.deployments.insert(
            "web".to_string(),
            DeploymentDocument {
                name: "web".to_string(),
                image: "nginx:<script>alert(1)</script>".to_string(),
                state: "running".to_string(),
                ready: true,
                replicas: 2,
                replicas_ready: 2,
                last_action: Some("recreate".to_string()),
                last_reason: Some("spec_changed".to_string()),
                started_at: Some("2026-11-26T06:52:30Z".to_string()),
                ..DeploymentDocument::default()
            },
        );
        let done = Some("2026-11-26T10:00:08Z");
        for job in [
            job("migrate", Some("change"), None, run(done, Some(0))),
            job("backup", None, Some("0 3 * * *"), run(done, Some(3))),
            job("report", None, Some("@hourly"), run(None, None)),
            job("seed", Some("change"), None, None),
        ] {
            document.jobs.insert(job.name.clone(), job);
        }
        document.last_plan = Some(LastPlan {
            commit: "9f2c".repeat(10),
            planned_at: "2026-11-26T10:04:00Z".to_string(),
            summary: [("pull".to_string(), 1), ("recreate".to_string(), 1)].into(),
            actions: vec![
                PlannedAction {
                    action: "pull".to_string(),
                    deployment: Some("web".to_string()),
                    job: None,
                    subject: "nginx:<b>1</b>".to_string(),
                    reason: "image_changed".to_string(),
                },
                PlannedAction {
                    action: "recreate".to_string(),
                    deployment: Some("web".to_string()),
                    job: None,
                    subject: "production.web".to_string(),
                    reason: "spec_changed".to_string(),
                },
            ],
        });
        document
    }

    /// Two applies, newest first: a rollback of six deployments, one of them with a hostile
    /// image reference, and a pinned apply.
    fn history() -> Vec<HistoryEntry> {
        let image = |deployment: &str, image: &str| DeployedImage {
            deployment: deployment.to_string(),
            image: image.to_string(),
            image_id: Some("sha256:b1".to_string()),
            digest: None,
        };
        let mut images = vec![image("web", "app:<i>2</i>")];
        images.extend((1..6).map(|n| image(&format!("worker-{n}"), "worker:1")));
        vec![
            HistoryEntry {
                commit: "9f2c".repeat(10),
                started_at: "2026-11-26T10:03:00Z".to_string(),
                finished_at: "2026-11-26T10:04:00Z".to_string(),
                outcome: ApplyOutcome::RolledBack,
                deployments: images,
            },
            HistoryEntry {
                commit: "1a2b".repeat(10),
                started_at: "2026-11-26T09:00:00Z".to_string(),
                finished_at: "2026-11-26T09:00:05Z".to_string(),
                outcome: ApplyOutcome::Pinned,
                deployments: vec![image("web", "app:1")],
            },
        ]
    }

    fn rendered(history: Option<&[HistoryEntry]>) -> String {
        let now = humantime::parse_rfc3339("2026-11-26T10:05:00Z").unwrap();
        let document = document();
        render(
            &NodePage {
                document: &document,
                history,
            },
            now,
        )
        .into_string()
    }

    #[test]
    fn text_from_git_and_docker_is_escaped() {
        let html = rendered(Some(&history()));
        assert!(html.contains("app:&lt;i&gt;2&lt;/i&gt;"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=&quot;window.pwned=1&quot;&gt;"));
        assert!(html.contains("nginx:&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("nginx:&lt;b&gt;1&lt;/b&gt;"), "{html}");
        assert!(
            !html.contains(" style="),
            "inline styles break the content policy"
        );
    }

    #[test]
    fn a_history_that_cannot_be_read_or_is_empty_says_so() {
        assert!(rendered(None).contains("The history could not be read"));
        assert!(rendered(Some(&[])).contains("No apply recorded yet."));
    }

    #[test]
    fn the_page_shows_states_in_words() {
        let html = rendered(Some(&history()));
        for words in [
            "Pinned",
            "new commits wait for orun unpin",
            "Reason: v2 breaks logins",
            "Suspended",
            "no action is taken until orun resume",
            "Pending actions",
            "deployment worker",
            "Rolled back",
            "Applied, pinned",
            "and 1 more (see /history)",
            "Invalid revision",
            "Unhealthy",
            "Behind",
            "1 of 1 ready",
            "2 / 2",
            "recreate",
            "(spec changed)",
            "5 min ago",
            "No Services in the applied revision.",
            "3 h 12 min",
            r#"title="Started 2026-11-26T06:52:30Z""#,
            "on change, before web",
            "on schedule <code class=\"image\">0 3 * * *</code>",
            "Succeeded",
            "Failed (exit code 3)",
            "Running",
            "still running",
            "not run yet",
            "on the next change",
            "1 pull, 1 recreate",
            "deployment web",
            "image changed",
        ] {
            assert!(html.contains(words), "{words} in {html}");
        }
    }
}
