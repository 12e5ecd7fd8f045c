//! A deployment's copies during a rollout (docs/plans.md): `<name>`, the rollback copy
//! `<name>.orun-old` a stop-first recreate keeps, and the new copy `<name>.orun-next` a
//! start-first recreate starts beside the old one; which of them stays, which one serves, and what
//! a failed new container falls back to. The planner, the executor and the ingress all ask here;
//! none of them decides about copies on its own. It knows nothing of Docker: callers say whether
//! each copy exists and runs.

use serde::{Deserialize, Serialize};

use crate::manifest::Rollout;

/// Suffix of the stopped previous container kept during a stop-first recreate (docs/plans.md).
pub const ROLLBACK_SUFFIX: &str = ".orun-old";

/// Suffix of the new container a start-first recreate starts beside the old one (docs/plans.md).
pub const NEXT_SUFFIX: &str = ".orun-next";

/// The container name a rollout copy stands in for: `<name>` for `<name>.orun-old` and
/// `<name>.orun-next`; any other name as it is.
pub fn primary_name(name: &str) -> &str {
    name.strip_suffix(ROLLBACK_SUFFIX)
        .or_else(|| name.strip_suffix(NEXT_SUFFIX))
        .unwrap_or(name)
}

/// The name of `<name>`'s rollback copy.
pub fn rollback_name(primary: &str) -> String {
    format!("{primary}{ROLLBACK_SUFFIX}")
}

/// The name of `<name>`'s new copy.
pub fn next_name(primary: &str) -> String {
    format!("{primary}{NEXT_SUFFIX}")
}

/// Whether Docker keeps a container up: running, or restarting under its restart policy (Docker
/// is already bringing it back). The one meaning of "runs" for copies.
pub trait Runs {
    fn runs(&self) -> bool;
}

impl<T: Runs> Runs for &T {
    fn runs(&self) -> bool {
        (**self).runs()
    }
}

/// One of a deployment's three copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Primary,
    Rollback,
    Next,
}

impl Role {
    /// The role a container of the deployment whose container is `primary` plays, if any.
    pub fn of(name: &str, primary: &str) -> Option<Role> {
        match name.strip_prefix(primary)? {
            "" => Some(Role::Primary),
            ROLLBACK_SUFFIX => Some(Role::Rollback),
            NEXT_SUFFIX => Some(Role::Next),
            _ => None,
        }
    }

    /// The container name of this copy of `primary`.
    pub fn name(self, primary: &str) -> String {
        match self {
            Role::Primary => primary.to_string(),
            Role::Rollback => rollback_name(primary),
            Role::Next => next_name(primary),
        }
    }
}

/// What a failed new container of a deployment is replaced with: a copy that is renamed back to
/// `<name>`, and started when `start` (a stopped rollback copy). A copy put back without a start
/// runs, so it is what serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    pub container: String,
    pub start: bool,
}

/// The copies of one deployment that exist, as the caller knows them (observed containers, or
/// what inspecting them showed).
#[derive(Clone, Debug)]
pub struct Copies<T> {
    pub primary: Option<T>,
    pub rollback: Option<T>,
    pub next: Option<T>,
}

impl<T> Default for Copies<T> {
    fn default() -> Self {
        Copies {
            primary: None,
            rollback: None,
            next: None,
        }
    }
}

impl<T: Runs> Copies<T> {
    /// Sorts `containers` (name, container) into the copies of `primary`; other names are not
    /// copies and are left out.
    pub fn of<'n>(primary: &str, containers: impl IntoIterator<Item = (&'n str, T)>) -> Self {
        let mut copies = Copies::default();
        for (name, container) in containers {
            match Role::of(name, primary) {
                Some(Role::Primary) => copies.primary = Some(container),
                Some(Role::Rollback) => copies.rollback = Some(container),
                Some(Role::Next) => copies.next = Some(container),
                None => {}
            }
        }
        copies
    }

    pub fn get(&self, role: Role) -> Option<&T> {
        match role {
            Role::Primary => self.primary.as_ref(),
            Role::Rollback => self.rollback.as_ref(),
            Role::Next => self.next.as_ref(),
        }
    }

    fn runs(&self, role: Role) -> bool {
        self.get(role).is_some_and(Runs::runs)
    }

    /// The copy that serves the deployment, where its routes point: `<name>` while it runs;
    /// otherwise a running `<name>.orun-next` beside no running rollback copy — the new copy an
    /// interrupted start-first rollout left serving after it stopped the old container — until
    /// `<name>` runs again.
    pub fn serving(&self) -> Option<Role> {
        if self.runs(Role::Primary) {
            Some(Role::Primary)
        } else if self.runs(Role::Next) && !self.runs(Role::Rollback) {
            Some(Role::Next)
        } else {
            None
        }
    }

    /// Whether the copy in `role` stays: `<name>` itself; the rollback copy while `<name>` does
    /// not run (it is what a failed `<name>` falls back to); the new copy while it serves. A copy
    /// that does not stay is a duplicate.
    pub fn keeps(&self, role: Role) -> bool {
        match role {
            Role::Primary => true,
            Role::Rollback => !self.runs(Role::Primary),
            Role::Next => self.serving() == Some(Role::Next),
        }
    }

    /// What a new or restarted `<name>` falls back to when it fails to run or get ready: the
    /// serving new copy, else a kept rollback copy (started again), else nothing.
    pub fn fallback(&self, primary: &str) -> Option<Fallback> {
        if self.serving() == Some(Role::Next) {
            Some(Fallback {
                container: next_name(primary),
                start: false,
            })
        } else if self.rollback.is_some() && self.keeps(Role::Rollback) {
            Some(Fallback {
                container: rollback_name(primary),
                start: true,
            })
        } else {
            None
        }
    }

    /// How a recreate replaces `<name>`, and what it falls back to: as the deployment's `rollout`
    /// says while `<name>` runs, where start-first needs no fallback (the old container never
    /// stops serving). An old container that does not run serves nothing to keep, so it is
    /// replaced stop-first; stop-first falls back to the serving new copy if there is one, else to
    /// the old container itself, kept as the rollback copy and started again if it ran.
    pub fn recreate(&self, rollout: Rollout, primary: &str) -> (Rollout, Option<Fallback>) {
        if rollout == Rollout::StartFirst && self.runs(Role::Primary) {
            return (Rollout::StartFirst, None);
        }
        let fallback = match self.serving() {
            Some(Role::Next) => Fallback {
                container: next_name(primary),
                start: false,
            },
            _ => Fallback {
                container: rollback_name(primary),
                start: self.runs(Role::Primary),
            },
        };
        (Rollout::StopFirst, Some(fallback))
    }

    /// How the duplicate copy in `role` goes: when `<name>` runs, the rollback copy and a running
    /// new copy wait until `<name>` is ready and are put back in its place if it never is (the
    /// rollback copy started again); any other duplicate goes at once (`None`).
    pub fn retired(&self, role: Role, primary: &str) -> Option<Fallback> {
        let copy = self.get(role)?;
        if !self.runs(Role::Primary) {
            return None;
        }
        match role {
            Role::Primary => None,
            Role::Rollback => Some(Fallback {
                container: rollback_name(primary),
                start: !copy.runs(),
            }),
            Role::Next => copy.runs().then(|| Fallback {
                container: next_name(primary),
                start: false,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug)]
    struct Seen(bool);

    impl Runs for Seen {
        fn runs(&self) -> bool {
            self.0
        }
    }

    const UP: Option<Seen> = Some(Seen(true));
    const DOWN: Option<Seen> = Some(Seen(false));

    fn copies(primary: Option<Seen>, rollback: Option<Seen>, next: Option<Seen>) -> Copies<Seen> {
        Copies {
            primary,
            rollback,
            next,
        }
    }

    #[test]
    fn names_map_to_roles_and_back() {
        assert_eq!(Role::of("web", "web"), Some(Role::Primary));
        assert_eq!(Role::of("web.orun-old", "web"), Some(Role::Rollback));
        assert_eq!(Role::of("web.orun-next", "web"), Some(Role::Next));
        assert_eq!(Role::of("web2", "web"), None);
        assert_eq!(Role::of("api", "web"), None);
        assert_eq!(Role::Next.name("staging.web"), "staging.web.orun-next");
        assert_eq!(primary_name("staging.web.orun-old"), "staging.web");
        let found = Copies::of("web", [("web.orun-next", Seen(true)), ("api", Seen(true))]);
        assert!(found.primary.is_none() && found.next.is_some());
    }

    #[test]
    fn the_primary_serves_while_it_runs_else_a_running_next_copy_beside_no_running_rollback_copy() {
        assert_eq!(copies(UP, None, UP).serving(), Some(Role::Primary));
        assert_eq!(copies(DOWN, None, UP).serving(), Some(Role::Next));
        assert_eq!(copies(None, None, UP).serving(), Some(Role::Next));
        assert_eq!(copies(None, UP, UP).serving(), None);
        assert_eq!(copies(DOWN, DOWN, DOWN).serving(), None);
    }

    #[test]
    fn leftover_copies_stay_only_while_needed() {
        let kept = |c: Copies<Seen>| (c.keeps(Role::Rollback), c.keeps(Role::Next));
        assert_eq!(kept(copies(UP, DOWN, UP)), (false, false));
        assert_eq!(kept(copies(DOWN, DOWN, None)), (true, false));
        assert_eq!(kept(copies(None, DOWN, UP)), (true, true));
        assert_eq!(kept(copies(None, UP, UP)), (true, false));
        assert_eq!(kept(copies(None, None, DOWN)), (true, false));
    }

    #[test]
    fn a_failed_primary_falls_back_to_the_serving_copy_first() {
        let next = Fallback {
            container: "web.orun-next".into(),
            start: false,
        };
        let rollback = Fallback {
            container: "web.orun-old".into(),
            start: true,
        };
        assert_eq!(copies(DOWN, DOWN, UP).fallback("web"), Some(next));
        assert_eq!(copies(None, DOWN, DOWN).fallback("web"), Some(rollback));
        assert_eq!(copies(DOWN, None, DOWN).fallback("web"), None);
        assert_eq!(copies(UP, DOWN, None).fallback("web"), None);
    }

    #[test]
    fn a_recreate_of_a_container_that_does_not_run_is_stop_first() {
        let old = |start| Fallback {
            container: "web.orun-old".into(),
            start,
        };
        assert_eq!(
            copies(UP, None, None).recreate(Rollout::StartFirst, "web"),
            (Rollout::StartFirst, None)
        );
        assert_eq!(
            copies(UP, None, None).recreate(Rollout::StopFirst, "web"),
            (Rollout::StopFirst, Some(old(true)))
        );
        assert_eq!(
            copies(DOWN, DOWN, None).recreate(Rollout::StartFirst, "web"),
            (Rollout::StopFirst, Some(old(false)))
        );
        assert_eq!(
            copies(DOWN, None, UP).recreate(Rollout::StartFirst, "web"),
            (
                Rollout::StopFirst,
                Some(Fallback {
                    container: "web.orun-next".into(),
                    start: false
                })
            )
        );
    }

    #[test]
    fn a_duplicate_copy_waits_for_a_running_primary_only() {
        let up = copies(UP, DOWN, UP);
        assert_eq!(
            up.retired(Role::Rollback, "web"),
            Some(Fallback {
                container: "web.orun-old".into(),
                start: true
            })
        );
        assert_eq!(
            up.retired(Role::Next, "web"),
            Some(Fallback {
                container: "web.orun-next".into(),
                start: false
            })
        );
        assert_eq!(copies(UP, None, DOWN).retired(Role::Next, "web"), None);
        assert_eq!(copies(None, UP, DOWN).retired(Role::Next, "web"), None);
    }
}
