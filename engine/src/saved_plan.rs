//! Whether a saved plan (`orun plan --out`) is the plan orun makes now (docs/plans.md): the same
//! header and summary, and the same actions in the same order, equal in every field. The
//! fingerprints of a saved plan cover its inputs only; this covers what it would do. It neither
//! reads the file nor plans (the caller passes both plans).

use crate::plan::{Action, Plan};

/// The first difference between a saved plan and the plan made now.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// The file's `field` (`environment`, `commit`, `node`, `summary`, `format_version`)
    /// differs.
    #[error("its {0} differs from the plan made now")]
    Header(&'static str),
    /// The file has an action the plan made now lacks.
    #[error("it has {}, which orun does not plan now", described(.0))]
    Extra(Box<Action>),
    /// The plan made now has an action the file lacks.
    #[error("it lacks {}, which orun plans now", described(.0))]
    Missing(Box<Action>),
    /// The file's action at the same place differs in `fields`.
    #[error("its {} differs from the plan made now in {}", described(.saved), .fields.join(", "))]
    Differs {
        saved: Box<Action>,
        fields: Vec<&'static str>,
    },
}

/// `Ok` when `saved` is exactly `now`; otherwise the first difference, header first, then the
/// actions in order.
pub fn compare(saved: &Plan, now: &Plan) -> Result<(), Mismatch> {
    let headers = [
        ("format_version", saved.format_version == now.format_version),
        ("environment", saved.environment == now.environment),
        ("commit", saved.commit == now.commit),
        ("node", saved.node == now.node),
    ];
    if let Some((field, _)) = headers.iter().find(|(_, same)| !same) {
        return Err(Mismatch::Header(field));
    }
    for index in 0..saved.actions.len().max(now.actions.len()) {
        match (saved.actions.get(index), now.actions.get(index)) {
            (Some(saved), Some(now)) => {
                let fields = differing(saved, now);
                if !fields.is_empty() {
                    return Err(Mismatch::Differs {
                        saved: Box::new(saved.clone()),
                        fields,
                    });
                }
            }
            (Some(saved), None) => return Err(Mismatch::Extra(Box::new(saved.clone()))),
            (None, Some(now)) => return Err(Mismatch::Missing(Box::new(now.clone()))),
            (None, None) => unreachable!("the index is below one of the lengths"),
        }
    }
    if saved.summary != now.summary {
        return Err(Mismatch::Header("summary"));
    }
    Ok(())
}

/// The fields in which two actions differ, in the plan document's order.
fn differing(saved: &Action, now: &Action) -> Vec<&'static str> {
    [
        ("step", saved.step == now.step),
        ("kind", saved.kind == now.kind),
        ("deployment", saved.deployment == now.deployment),
        ("job", saved.job == now.job),
        ("container", saved.container == now.container),
        ("image", saved.image == now.image),
        ("network", saved.network == now.network),
        ("volume", saved.volume == now.volume),
        ("reason", saved.reason == now.reason),
        ("labels", saved.labels == now.labels),
        ("changes", saved.changes == now.changes),
        ("after", saved.after == now.after),
        ("rollout", saved.rollout == now.rollout),
        ("fallback", saved.fallback == now.fallback),
    ]
    .into_iter()
    .filter(|(_, same)| !same)
    .map(|(field, _)| field)
    .collect()
}

/// `step 2 remove cache (orphaned)`.
fn described(action: &Action) -> String {
    format!(
        "step {} {} {} ({})",
        action.step,
        action.kind.as_str(),
        action.subject(),
        action.reason.as_str()
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::{ActionKind, Reason};
    use crate::{Environment, Observed, PlanOptions, ResolveInput, Secrets, SourceFile};

    /// The plan of two new deployments on an empty engine (network, pull, two creates), as
    /// `orun plan` saves it and reads it back.
    fn saved() -> Plan {
        let deployment = |name: &str| {
            SourceFile {
            path: format!("deployments/{name}.yaml"),
            text: format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  image: busybox\n"
            ),
        }
        };
        let manifests = crate::load(&[deployment("api"), deployment("web")]).unwrap();
        let input = ResolveInput {
            environment: Environment::production(),
            commit: "c1".into(),
            secrets: &Secrets::default(),
            build_tags: &BTreeMap::new(),
            files: &BTreeMap::new(),
            missing_keys: crate::desired::MissingKeys::Refused,
        };
        let desired = crate::resolve(&manifests, &input).unwrap();
        let plan = crate::plan(&desired, &Observed::default(), &PlanOptions::default()).unwrap();
        serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap()
    }

    fn error(saved: &Plan, now: &Plan) -> String {
        compare(saved, now).unwrap_err().to_string()
    }

    #[test]
    fn a_saved_plan_read_back_is_the_plan_made_now() {
        let plan = saved();
        assert_eq!(compare(&plan, &plan), Ok(()));
    }

    #[test]
    fn an_added_removal_is_refused_even_with_the_summary_left_alone() {
        let now = saved();
        let mut tampered = now.clone();
        let mut removal = tampered.actions[2].clone();
        removal.step = 5;
        removal.kind = ActionKind::Remove;
        removal.reason = Reason::Orphaned;
        removal.container = "cache".into();
        removal.labels = None;
        tampered.actions.push(removal);
        assert_eq!(
            error(&tampered, &now),
            "it has step 5 remove cache (orphaned), which orun does not plan now"
        );
        tampered.actions.remove(0);
        assert!(
            error(&tampered, &now).contains("differs from the plan made now in"),
            "{}",
            error(&tampered, &now)
        );
    }

    #[test]
    fn every_field_of_an_action_and_the_header_count() {
        let now = saved();
        let changed = |change: &dyn Fn(&mut Plan)| {
            let mut tampered = now.clone();
            change(&mut tampered);
            error(&tampered, &now)
        };
        assert_eq!(
            changed(&|plan| plan.actions[2].container = "cache".into()),
            "its step 3 create cache (missing) differs from the plan made now in container"
        );
        assert_eq!(
            changed(&|plan| {
                plan.actions[1].kind = ActionKind::Remove;
                plan.actions[1].reason = Reason::Orphaned;
            }),
            "its step 2 remove api (orphaned) differs from the plan made now in kind, reason"
        );
        assert!(changed(&|plan| plan.actions[2].labels = None).ends_with("in labels"));
        assert!(changed(&|plan| plan.actions[2].job = Some("api".into())).ends_with("in job"));
        assert_eq!(
            changed(&|plan| plan.summary.remove = 1),
            "its summary differs from the plan made now"
        );
        assert_eq!(
            changed(&|plan| plan.environment = "staging".into()),
            "its environment differs from the plan made now"
        );
        assert_eq!(
            error(&now, &{
                let mut fewer = now.clone();
                fewer.actions.pop();
                fewer
            }),
            "it has step 4 create web (missing), which orun does not plan now"
        );
        let mut fewer = now.clone();
        fewer.actions.pop();
        assert_eq!(
            error(&fewer, &now),
            "it lacks step 4 create web (missing), which orun plans now"
        );
    }
}
