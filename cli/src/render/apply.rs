//! Progress and results of `orun apply`: a line per finished action with its duration, pull
//! progress bars on a terminal (log lines otherwise), build output, the last log lines of a new
//! container that never became ready, and the closing summary.

use std::collections::HashMap;
use std::fmt::Write;
use std::io::IsTerminal;
use std::sync::Mutex;

use adapters::apply::Reporter;
use adapters::converge::PlanObserver;
use adapters::docker::image::PullProgress;
use engine::outcome::{ApplyReport, Outcome};
use engine::plan::{Action, ActionKind, Plan, Reason};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::plan::Header;
use super::{escaped, Style};

/// Renders apply progress on stdout.
pub struct Progress {
    style: Style,
    /// What the header of each plan says besides the plan itself.
    header: Header,
    bars: Option<MultiProgress>,
    pulls: Mutex<HashMap<String, PullBar>>,
}

struct PullBar {
    bar: ProgressBar,
    layers: HashMap<String, (u64, u64)>,
}

impl Progress {
    pub fn new(style: Style, header: Header) -> Self {
        let bars = std::io::stdout()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stdout()));
        Progress {
            style,
            header,
            bars,
            pulls: Mutex::new(HashMap::new()),
        }
    }

    /// Prints a line without tearing progress bars.
    fn line(&self, text: &str) {
        match &self.bars {
            Some(bars) => bars.suspend(|| println!("{text}")),
            None => println!("{text}"),
        }
    }

    /// Clears any progress bar still drawn.
    pub fn finish(&self) {
        if let Some(bars) = &self.bars {
            bars.clear().ok();
        }
    }
}

impl Reporter for Progress {
    fn action_started(&self, action: &Action) {
        if action.kind != ActionKind::Pull {
            return;
        }
        let Some(bars) = &self.bars else {
            self.line(&format!("  pulling {}", action.image));
            return;
        };
        let bar = bars.add(ProgressBar::new(0));
        bar.set_style(
            ProgressStyle::with_template("  pull {prefix} {bar:30} {bytes}/{total_bytes} {msg}")
                .expect("valid template"),
        );
        bar.set_prefix(action.image.clone());
        let pull = PullBar {
            bar,
            layers: HashMap::new(),
        };
        self.pulls
            .lock()
            .expect("pull bars")
            .insert(action.image.clone(), pull);
    }

    fn pull_progress(&self, image: &str, progress: &PullProgress) {
        if self.bars.is_none() {
            let done = matches!(progress.status.as_str(), "Pull complete" | "Already exists");
            if progress.layer.is_none() || progress.status.starts_with("Status:") || done {
                let layer = progress
                    .layer
                    .as_deref()
                    .map(|id| format!(" {id}"))
                    .unwrap_or_default();
                let line = format!("  pull {image}{layer}: {}", progress.status);
                self.line(&escaped(&line));
            }
            return;
        }
        let mut pulls = self.pulls.lock().expect("pull bars");
        let Some(pull) = pulls.get_mut(image) else {
            return;
        };
        if let (Some(layer), Some(total)) = (&progress.layer, progress.total) {
            pull.layers
                .insert(layer.clone(), (progress.current.unwrap_or(0), total));
        }
        let (current, total) = pull
            .layers
            .values()
            .fold((0, 0), |(current, total), (c, t)| (current + c, total + t));
        pull.bar.set_length(total);
        pull.bar.set_position(current);
        pull.bar.set_message(escaped(&progress.status).into_owned());
    }

    fn build_output(&self, deployment: &str, line: &str) {
        self.line(&format!("  build {deployment} | {}", escaped(line)));
    }

    fn container_log(&self, container: &str, line: &str) {
        self.line(&format!("  logs {container} | {}", escaped(line)));
    }

    fn action_finished(&self, outcome: &Outcome) {
        if let Some(pull) = self
            .pulls
            .lock()
            .expect("pull bars")
            .remove(&outcome.action.image)
        {
            pull.bar.finish_and_clear();
        }
        self.line(&result_line(outcome, self.style));
    }
}

impl PlanObserver for Progress {
    fn plan_ready(&self, plan: &Plan, follow_up: bool) {
        if follow_up {
            self.line("\nFollow-up now that images and containers changed:");
        }
        self.line(super::plan::human_with(plan, self.style, self.header).trim_end());
        if !plan.is_empty() {
            self.line("");
        }
    }
}

/// `  ok   step 2 recreate web (spec_changed) in 1.3s` or `  FAIL step … after 0.2s: error`.
pub fn result_line(outcome: &Outcome, style: Style) -> String {
    let action = &outcome.action;
    let what = format!(
        "step {} {} {} ({})",
        action.step,
        action.kind.as_str(),
        action.subject(),
        action.reason.as_str()
    );
    let seconds = outcome.duration.as_secs_f64();
    match &outcome.result {
        Ok(()) => format!("  {} {what} in {seconds:.1}s", style.added("ok  ")),
        Err(error) => format!(
            "  {} {what} after {seconds:.1}s: {}",
            style.removed("FAIL"),
            escaped(&error.to_string()).replace('\n', "\n      ")
        ),
    }
}

/// The closing lines: counts, then every failed, skipped and blocked action by name.
pub fn summary(plan: &Plan, report: &ApplyReport, style: Style) -> String {
    let succeeded = report.outcomes.iter().filter(|o| o.result.is_ok()).count();
    let failed: Vec<&Outcome> = report.failed().collect();
    let blocked: Vec<&Action> = plan
        .actions
        .iter()
        .filter(|action| action.kind == ActionKind::Blocked)
        .collect();
    let mut out = String::new();
    writeln!(out).unwrap();
    let headline = format!(
        "Apply {}: {succeeded} succeeded, {} failed, {} skipped, {} blocked.",
        if failed.is_empty() && report.skipped.is_empty() && blocked.is_empty() {
            "complete"
        } else {
            "incomplete"
        },
        failed.len(),
        report.skipped.len(),
        blocked.len()
    );
    writeln!(out, "{}", style.bold(&headline)).unwrap();
    for outcome in &failed {
        let error = outcome
            .result
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        let first_line = escaped(error.lines().next().unwrap_or_default()).into_owned();
        writeln!(
            out,
            "  failed: {} {}: {first_line}",
            outcome.action.kind.as_str(),
            outcome.action.subject()
        )
        .unwrap();
    }
    // A recreate held back after another replica's recreate failed, as opposed to one skipped
    // after a failed build or pull of the same deployment.
    let (held, after_preparation): (Vec<&Action>, Vec<&Action>) =
        report.skipped.iter().partition(|action| {
            action.kind == ActionKind::Recreate
                && failed.iter().any(|outcome| {
                    outcome.action.kind == ActionKind::Recreate
                        && outcome.action.deployment == action.deployment
                })
        });
    for action in held {
        writeln!(
            out,
            "  not replaced: {} keeps its version because another replica of {} failed",
            action.container, action.deployment
        )
        .unwrap();
    }
    if !after_preparation.is_empty() {
        writeln!(
            out,
            "  skipped because a network, volume, pull or build failed; nothing was stopped or removed"
        )
        .unwrap();
    }
    for action in blocked {
        let why = match action.reason {
            Reason::JobFailed | Reason::JobRunning => super::plan::blocked_by_job(action.reason),
            _ => "it is held by a container orun does not manage",
        };
        writeln!(
            out,
            "  blocked: {}: {why}; the node is not converged",
            action.container
        )
        .unwrap();
    }
    out
}
