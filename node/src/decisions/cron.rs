//! When scheduled jobs run (docs/node.md): which runs are due between the last look and now, and
//! which of those a `concurrency: forbid` job skips because its previous run still runs; and a
//! job's next scheduled time. Pure: the time and the running jobs are given; starting a run is
//! the reconciler's.

use chrono::{DateTime, Utc};
use engine::desired::{DesiredState, Trigger};
use engine::manifest::Concurrency;
use engine::schedule::Schedule;
use std::collections::BTreeSet;

/// A scheduled job as the node loop needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledJob {
    pub name: String,
    pub schedule: Schedule,
    pub concurrency: Concurrency,
}

/// The scheduled jobs of `desired`.
pub fn scheduled(desired: &DesiredState) -> Vec<ScheduledJob> {
    desired
        .jobs
        .values()
        .filter_map(|job| match &job.trigger {
            Trigger::Schedule {
                schedule,
                concurrency,
            } => Some(ScheduledJob {
                name: job.name.clone(),
                schedule: schedule.clone(),
                concurrency: *concurrency,
            }),
            Trigger::Change { .. } => None,
        })
        .collect()
}

/// What to do about a scheduled time that came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Due {
    /// Start a run of `job` for its time `at`.
    Start { job: String, at: DateTime<Utc> },
    /// Skip the run of `job` at `at`: its previous run still runs and it forbids overlap.
    Skip { job: String, at: DateTime<Utc> },
}

/// The runs due after `since` up to and including `now`: one per job whose schedule fires in
/// between (several times missed while the node was busy make one run, for the latest), skipped
/// when the job forbids overlap and is among `running`.
pub fn due(
    jobs: &[ScheduledJob],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    running: &BTreeSet<String>,
) -> Vec<Due> {
    let mut due = Vec::new();
    for job in jobs {
        let mut at = None;
        let mut after = since;
        while let Some(next) = job.schedule.next_after(after).filter(|next| *next <= now) {
            at = Some(next);
            after = next;
        }
        let Some(at) = at else { continue };
        let job_name = job.name.clone();
        if job.concurrency == Concurrency::Forbid && running.contains(&job.name) {
            due.push(Due::Skip { job: job_name, at });
        } else {
            due.push(Due::Start { job: job_name, at });
        }
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn job(name: &str, schedule: &str, concurrency: Concurrency) -> ScheduledJob {
        ScheduledJob {
            name: name.into(),
            schedule: Schedule::parse(schedule).unwrap(),
            concurrency,
        }
    }

    #[test]
    fn a_run_is_due_once_its_time_has_come_and_not_before() {
        let jobs = [job("backup", "*/5 * * * *", Concurrency::Forbid)];
        let idle = BTreeSet::new();
        let since = at("2026-12-06T10:04:58Z");
        assert!(due(&jobs, since, at("2026-12-06T10:04:59Z"), &idle).is_empty());
        assert_eq!(
            due(&jobs, since, at("2026-12-06T10:05:00Z"), &idle),
            [Due::Start {
                job: "backup".into(),
                at: at("2026-12-06T10:05:00Z")
            }]
        );
        assert!(
            due(
                &jobs,
                at("2026-12-06T10:05:00Z"),
                at("2026-12-06T10:05:01Z"),
                &idle
            )
            .is_empty(),
            "a time is due once"
        );
    }

    #[test]
    fn forbid_skips_while_the_previous_run_runs_and_allow_starts_another() {
        let jobs = [
            job("backup", "* * * * *", Concurrency::Forbid),
            job("report", "* * * * *", Concurrency::Allow),
        ];
        let running: BTreeSet<String> = ["backup".to_string(), "report".to_string()].into();
        let minute = at("2026-12-06T10:06:00Z");
        assert_eq!(
            due(&jobs, at("2026-12-06T10:05:59Z"), minute, &running),
            [
                Due::Skip {
                    job: "backup".into(),
                    at: minute
                },
                Due::Start {
                    job: "report".into(),
                    at: minute
                },
            ]
        );
        assert_eq!(
            due(
                &jobs[..1],
                at("2026-12-06T10:05:59Z"),
                minute,
                &BTreeSet::new()
            ),
            [Due::Start {
                job: "backup".into(),
                at: minute
            }]
        );
    }

    #[test]
    fn times_missed_while_busy_make_one_run_for_the_latest() {
        let jobs = [job("backup", "* * * * *", Concurrency::Forbid)];
        assert_eq!(
            due(
                &jobs,
                at("2026-12-06T10:00:30Z"),
                at("2026-12-06T10:03:10Z"),
                &BTreeSet::new()
            ),
            [Due::Start {
                job: "backup".into(),
                at: at("2026-12-06T10:03:00Z")
            }]
        );
    }

    #[test]
    fn the_next_time_is_the_schedule_s_next_after_now() {
        let hourly = Schedule::parse("@hourly").unwrap();
        assert_eq!(
            hourly.next_after(at("2026-12-06T10:07:00Z")),
            Some(at("2026-12-06T11:00:00Z"))
        );
    }
}
