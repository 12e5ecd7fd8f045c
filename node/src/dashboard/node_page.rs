//! The node's dashboard (`GET /`): the cleaned status document (`public.rs`, what `/status`
//! serves) as one page: sync and commits, health, each deployment, Services with their routes,
//! volumes. It shows only what that document holds, so nothing the status API hides can appear
//! here. Each part of the page is one [`Section`]: a new part of the document is a new entry of
//! [`SECTIONS`] and its function.

use std::time::SystemTime;

use maud::{html, Markup};

use super::{badge, commit, health, page, sync_state, table, when, words, Tone};
use crate::status::wire::{DeploymentDocument, StatusDocument};
use crate::status::ServiceStatus;

/// One part of the page: its anchor, its heading and how it is drawn.
struct Section {
    id: &'static str,
    title: &'static str,
    render: fn(&StatusDocument, SystemTime) -> Markup,
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
        id: "volumes",
        title: "Volumes",
        render: volumes,
    },
];

/// The whole page for `document` as it stands at `now`.
pub fn render(document: &StatusDocument, now: SystemTime) -> Markup {
    let node = &document.node;
    let header = html! {
        p.eyebrow { "orun node" }
        h1 { (node.name) }
        p.meta {
            span { "Environment " strong { (node.environment) } }
            span { "Branch " strong { (node.branch) } }
            @if let Some(role) = &node.role { span { "Swarm role " strong { (role) } } }
        }
        p.states { (health(node.healthy)) " " (sync_state(&node.sync_state)) }
        nav aria-label="Sections" {
            ul { @for section in SECTIONS { li { a href={"#" (section.id)} { (section.title) } } } }
        }
    };
    let main = html! {
        @for section in SECTIONS {
            section id=(section.id) aria-labelledby={(section.id) "-title"} {
                h2 id={(section.id) "-title"} { (section.title) }
                ((section.render)(document, now))
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

fn sync(document: &StatusDocument, now: SystemTime) -> Markup {
    let node = &document.node;
    // Commits first: a pinned commit, once the document has one, is one more row here.
    let commits = [
        ("HEAD of the branch", node.git_head.as_deref()),
        ("Applied", node.applied_commit.as_deref()),
    ];
    let behind = node.git_head.is_some() && node.git_head != node.applied_commit;
    html! {
        @if let Some(error) = &node.sync_error {
            div.alert {
                p { strong { "Sync error" } }
                p.error-text { (error) }
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

fn deployments(document: &StatusDocument, _now: SystemTime) -> Markup {
    let total = document.deployments.len();
    let ready = document.deployments.values().filter(|d| d.ready).count();
    if total == 0 {
        return html! { p.empty { "No deployments in the applied revision." } };
    }
    let rows =
        html! { @for deployment in document.deployments.values() { (deployment_row(deployment)) } };
    table(
        &format!("{ready} of {total} ready"),
        &[
            "Deployment",
            "Health",
            "Replicas ready",
            "State",
            "Image",
            "Last action",
            "Restarts",
        ],
        rows,
    )
}

fn deployment_row(deployment: &DeploymentDocument) -> Markup {
    html! {
        tr id={"deployment-" (deployment.name)} {
            th scope="row" data-label="Deployment" { (deployment.name) }
            td data-label="Health" { (deployment_health(deployment)) }
            td data-label="Replicas ready" { (replicas(deployment)) }
            td data-label="State" { (container_state(&deployment.state)) }
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

fn container_state(state: &str) -> Markup {
    let tone = match state {
        "running" => Tone::Good,
        "created" | "restarting" | "paused" => Tone::Warn,
        "missing" | "exited" | "dead" => Tone::Bad,
        _ => Tone::Quiet,
    };
    badge(tone, &words(state))
}

fn services(document: &StatusDocument, _now: SystemTime) -> Markup {
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

fn volumes(document: &StatusDocument, _now: SystemTime) -> Markup {
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
    use crate::status::wire::NodeDocument;

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
                ..NodeDocument::default()
            },
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
                ..DeploymentDocument::default()
            },
        );
        document
    }

    #[test]
    fn text_from_git_and_docker_is_escaped() {
        let now = humantime::parse_rfc3339("2026-11-26T10:05:00Z").unwrap();
        let html = render(&document(), now).into_string();
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=&quot;window.pwned=1&quot;&gt;"));
        assert!(html.contains("nginx:&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(
            !html.contains(" style="),
            "inline styles break the content policy"
        );
    }

    #[test]
    fn the_page_shows_states_in_words() {
        let now = humantime::parse_rfc3339("2026-11-26T10:05:00Z").unwrap();
        let html = render(&document(), now).into_string();
        for words in [
            "Invalid revision",
            "Unhealthy",
            "Behind",
            "1 of 1 ready",
            "2 / 2",
            "recreate",
            "(spec changed)",
            "5 min ago",
            "No Services in the applied revision.",
        ] {
            assert!(html.contains(words), "{words} in {html}");
        }
    }
}
