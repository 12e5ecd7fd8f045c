//! A plan as a table with per-field diffs and a summary line (docs/plans.md), or as its JSON document.

use std::fmt::Write;

use comfy_table::{presets, ContentArrangement, Table};
use engine::changes::Change;
use engine::manifest::NodeEngine;
use engine::plan::{ActionKind, Plan, Reason};
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::{escaped, Style};

/// The JSON document of docs/plans.md, pretty-printed.
pub fn json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).expect("plan serializes")
}

/// What the header says besides the plan document: whether placement was left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// The revision places deployments on nodes, but the plan takes every deployment of the
    /// environment because no node was named.
    pub placement_not_applied: bool,
}

/// The plan as a table, with the header a plan document alone gives.
pub fn human(plan: &Plan, style: Style) -> String {
    human_with(plan, style, Header::default())
}

/// The plan as a table: the header (environment, commit, the node whose share it is or that
/// placement was not applied), the actions, the field diffs and the summary line.
pub fn human_with(plan: &Plan, style: Style, header: Header) -> String {
    let mut out = String::new();
    let commit = short_commit(&plan.commit);
    writeln!(
        out,
        "Plan for environment {} at commit {commit}",
        plan.environment
    )
    .unwrap();
    if let Some(node) = &plan.node {
        writeln!(out, "node: {}", escaped(node)).unwrap();
    } else if header.placement_not_applied {
        writeln!(
            out,
            "placement not applied: every deployment of the environment is planned; \
             pass --node NAME for one node's share"
        )
        .unwrap();
    }
    if plan.is_empty() {
        writeln!(out).unwrap();
        writeln!(out, "No changes. Node is converged.").unwrap();
        return out;
    }
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(["step", "action", subject_header(plan), "image", "reason"]);
    for action in &plan.actions {
        table.add_row([
            action.step.to_string(),
            action.kind.as_str().to_string(),
            escaped(action.subject()).into_owned(),
            escaped(&action.image).into_owned(),
            action.reason.as_str().to_string(),
        ]);
    }
    writeln!(out).unwrap();
    writeln!(out, "{table}").unwrap();
    for action in plan
        .actions
        .iter()
        .filter(|a| a.kind == ActionKind::Blocked)
    {
        writeln!(out).unwrap();
        let title = format!("! {} is blocked (step {})", action.container, action.step);
        writeln!(out, "{}", style.removed(&title)).unwrap();
        let why = match action.reason {
            Reason::JobFailed | Reason::JobRunning => blocked_by_job(action.reason).to_string(),
            _ => format!(
                "a container orun does not manage holds this name; orun leaves it alone. \
                 Rename or remove it to let {} deploy.",
                action.deployment
            ),
        };
        writeln!(out, "    {why}").unwrap();
    }
    for action in plan.actions.iter().filter(|a| {
        matches!(
            a.kind,
            ActionKind::Recreate | ActionKind::Update | ActionKind::Scale
        )
    }) {
        writeln!(out).unwrap();
        let title = format!(
            "~ {} (step {}, {})",
            action.container,
            action.step,
            action.reason.as_str()
        );
        writeln!(out, "{}", style.bold(&title)).unwrap();
        if action.changes.is_empty() {
            writeln!(
                out,
                "    image {} now points to a newer image",
                action.image
            )
            .unwrap();
        }
        for change in &action.changes {
            write_change(&mut out, change, style);
        }
    }
    writeln!(out).unwrap();
    writeln!(out, "{}", summary_line(plan)).unwrap();
    out
}

fn write_change(out: &mut String, change: &Change, style: Style) {
    writeln!(out, "    {}", escaped(&change.field)).unwrap();
    let old = escaped(&value_text(&change.old)).into_owned();
    let new = escaped(&value_text(&change.new)).into_owned();
    let diff = TextDiff::from_lines(old.as_str(), new.as_str());
    for line in diff.iter_all_changes() {
        let text = line.value().trim_end_matches('\n');
        match line.tag() {
            ChangeTag::Delete => {
                writeln!(out, "      {}", style.removed(&format!("- {text}"))).unwrap()
            }
            ChangeTag::Insert => {
                writeln!(out, "      {}", style.added(&format!("+ {text}"))).unwrap()
            }
            ChangeTag::Equal => writeln!(out, "        {text}").unwrap(),
        }
    }
}

/// Strings as they are, other JSON values as JSON, and absent values as nothing.
fn value_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn short_commit(commit: &str) -> &str {
    if commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        &commit[..12]
    } else {
        commit
    }
}

/// What a plan's actions work on: a swarm node's services, or containers.
fn subject_header(plan: &Plan) -> &'static str {
    match plan.engine {
        NodeEngine::Swarm => "service",
        NodeEngine::Docker => "container",
    }
}

/// Why a deployment a job precedes is blocked: the job's run failed, or it has not finished.
pub fn blocked_by_job(reason: Reason) -> &'static str {
    if reason == Reason::JobRunning {
        "it keeps its version until the run of a job it comes after finishes"
    } else {
        "it keeps its version: the run of a job it comes after failed; the job runs again only \
         when its spec or its image changes"
    }
}

/// `Plan: 1 to create, 1 to recreate, 0 to remove, 2 unchanged.` plus networks, volumes, pulls,
/// builds, in-place updates, starts and blocked entries when there are any; a swarm node's
/// services are created, updated, scaled and removed.
pub fn summary_line(plan: &Plan) -> String {
    let s = &plan.summary;
    let (mut line, extras) = match plan.engine {
        NodeEngine::Swarm => (
            format!(
                "Plan: {} service(s) to create, {} to update, {} to scale, {} to remove, {} unchanged.",
                s.create, s.update, s.scale, s.remove, s.unchanged
            ),
            vec![
                (s.network, "network(s) to create"),
                (s.volume, "volume(s) to create"),
                (s.blocked, "blocked"),
            ],
        ),
        NodeEngine::Docker => (
            format!(
                "Plan: {} to create, {} to recreate, {} to remove, {} unchanged.",
                s.create, s.recreate, s.remove, s.unchanged
            ),
            vec![
                (s.network, "network(s) to create"),
                (s.volume, "volume(s) to create"),
                (s.pull, "to pull"),
                (s.build, "to build"),
                (s.run, "job run(s)"),
                (s.update, "to update in place"),
                (s.start, "to start"),
                (s.blocked, "blocked"),
            ],
        ),
    };
    let extras: Vec<String> = extras
        .into_iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, what)| format!("{count} {what}"))
        .collect();
    if !extras.is_empty() {
        write!(line, " Also {}.", extras.join(", ")).unwrap();
    }
    line
}
