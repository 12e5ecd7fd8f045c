//! Resource limits (`resources.memory`, `resources.cpus`, `resources.pids`) in Docker's units, as
//! a deployment wants them and as Docker reports them for a container; their field-level changes
//! and whether Docker can apply them to a running container. It does not call Docker.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::changes::Change;
use crate::manifest::settings::NANO_CPUS_PER_CPU;
use crate::manifest::ResourcesSpec;

/// Limits in Docker's units; `None` is unlimited. Kept out of the canonical spec: a change to
/// them alone is applied in place (`update`), and the plan compares them with what Docker reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Bytes of memory; swap is not given on top (Docker's MemorySwap equals Memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    /// Billionths of a CPU (Docker's NanoCpus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<u64>,
    /// Processes (Docker's PidsLimit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<u64>,
}

impl Limits {
    pub fn of(spec: &ResourcesSpec) -> Self {
        Limits {
            memory: spec.memory.as_ref().map(|memory| memory.0.bytes()),
            nano_cpus: spec.cpus.as_ref().map(|cpus| cpus.nano_cpus()),
            pids: spec.pids.map(|pids| pids.0),
        }
    }

    pub fn is_unlimited(&self) -> bool {
        *self == Limits::default()
    }

    /// The changes from `old` (what Docker reports) to these limits, with manifest field paths:
    /// `resources.memory` in bytes, `resources.cpus` as decimal text, `resources.pids`;
    /// `null` is unlimited.
    pub fn changes_from(&self, old: &Limits) -> Vec<Change> {
        let number = |value: Option<u64>| value.map_or(Value::Null, Value::from);
        let cpus = |value: Option<u64>| value.map_or(Value::Null, |nano| cpus_text(nano).into());
        [
            (
                "resources.cpus",
                old.nano_cpus,
                self.nano_cpus,
                cpus(old.nano_cpus),
                cpus(self.nano_cpus),
            ),
            (
                "resources.memory",
                old.memory,
                self.memory,
                number(old.memory),
                number(self.memory),
            ),
            (
                "resources.pids",
                old.pids,
                self.pids,
                number(old.pids),
                number(self.pids),
            ),
        ]
        .into_iter()
        .filter(|(_, old, new, _, _)| old != new)
        .map(|(field, _, _, old, new)| Change {
            field: field.to_string(),
            old,
            new,
        })
        .collect()
    }

    /// Whether Docker's container update can take a container from `old` to these limits: it
    /// can set and change limits, but not lift one (Docker reads 0 as "leave as it is").
    pub fn updatable_from(&self, old: &Limits) -> bool {
        let lifted = |old: Option<u64>, new: Option<u64>| old.is_some() && new.is_none();
        !lifted(old.memory, self.memory)
            && !lifted(old.nano_cpus, self.nano_cpus)
            && !lifted(old.pids, self.pids)
    }
}

/// `1500000000` billionths → `"1.5"`.
pub fn cpus_text(nano_cpus: u64) -> String {
    let whole = nano_cpus / NANO_CPUS_PER_CPU;
    let fraction = nano_cpus % NANO_CPUS_PER_CPU;
    if fraction == 0 {
        whole.to_string()
    } else {
        let digits = format!("{fraction:09}");
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_name_manifest_fields() {
        let old = Limits {
            memory: Some(256 << 20),
            nano_cpus: None,
            pids: Some(100),
        };
        let new = Limits {
            memory: Some(512 << 20),
            nano_cpus: Some(1_500_000_000),
            pids: Some(100),
        };
        let changes: Vec<(String, Value, Value)> = new
            .changes_from(&old)
            .into_iter()
            .map(|change| (change.field, change.old, change.new))
            .collect();
        assert_eq!(
            changes,
            vec![
                ("resources.cpus".into(), Value::Null, json!("1.5")),
                (
                    "resources.memory".into(),
                    json!(268435456),
                    json!(536870912)
                ),
            ]
        );
        assert!(new.updatable_from(&old));
        assert!(!Limits::default().updatable_from(&old));
        assert!(new.changes_from(&new).is_empty());
    }

    #[test]
    fn cpus_text_trims_trailing_zeros() {
        assert_eq!(cpus_text(500_000_000), "0.5");
        assert_eq!(cpus_text(2_000_000_000), "2");
        assert_eq!(cpus_text(1), "0.000000001");
    }
}
