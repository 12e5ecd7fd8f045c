//! A `Job` manifest (docs/manifests.md): a container that runs to completion — once per change of
//! its spec before the deployments it precedes (`runOn: change`), or at the times of a cron
//! `schedule` — with the container fields every kind shares plus its own. Rules spanning fields
//! or files (exactly one of `runOn` and `schedule`, `before` naming deployments) are checked by
//! `validate`; when a run happens is decided by the planner and the node.

use std::sync::OnceLock;

use serde::de::MapAccess;
use serde::{Deserialize, Deserializer, Serialize};

use super::container::ContainerFields;
use super::fields::Name;
use super::is_default;
use super::placement::Placement;
use super::secret_env::SecretEnv;
use super::split::{self, KindSpec};
use crate::duration::Duration;
use crate::schedule::Schedule;

/// A Job's spec: its container, and when and how long it runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    /// What runs: image or build, command, env, volumes and the container settings.
    #[serde(flatten)]
    pub container: ContainerFields,
    /// `change`: run once for every new spec of the job (image included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_on: Option<RunOn>,
    /// Deployments that are created or recreated only after a change run succeeded.
    #[serde(skip_serializing_if = "is_default")]
    pub before: Vec<Name>,
    /// Deployments running and ready before a change run starts, as a Deployment's `dependsOn`.
    #[serde(skip_serializing_if = "is_default")]
    pub depends_on: Vec<Name>,
    /// A cron expression, in UTC, for scheduled runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Whether a scheduled run starts while the previous one still runs; `None` means the
    /// default, `forbid` (kept apart so that `validate` can refuse it beside `runOn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    /// How long one run may take before it is stopped and counts as failed.
    #[serde(skip_serializing_if = "is_ten_minutes")]
    pub timeout: Duration,
    /// The nodes that run it, as for a Deployment.
    #[serde(skip_serializing_if = "is_default")]
    pub placement: Option<Placement>,
    /// Which keys of `secrets.yaml` become its environment variables.
    #[serde(skip_serializing_if = "is_default")]
    pub secret_env: SecretEnv,
}

/// When a job runs without a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RunOn {
    /// Once for each distinct spec (image included), when a revision brings it.
    Change,
}

/// Whether a scheduled run may start beside the previous one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Concurrency {
    /// A run due while the previous one runs is skipped.
    #[default]
    Forbid,
    /// Runs may overlap.
    Allow,
}

impl Concurrency {
    pub fn as_str(self) -> &'static str {
        match self {
            Concurrency::Forbid => "forbid",
            Concurrency::Allow => "allow",
        }
    }
}

/// The key a job's build tag and inline secrets are filed under beside the deployments' (which
/// are filed under their names): `<name>.job`, which no deployment name, a DNS label, can be.
pub fn job_key(name: &str) -> String {
    format!("{name}.job")
}

/// A job's `timeout` when absent.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

fn is_ten_minutes(duration: &Duration) -> bool {
    *duration == DEFAULT_TIMEOUT
}

impl Default for JobSpec {
    fn default() -> Self {
        JobSpec {
            container: ContainerFields::default(),
            run_on: None,
            before: Vec::new(),
            depends_on: Vec::new(),
            schedule: None,
            concurrency: None,
            timeout: DEFAULT_TIMEOUT,
            placement: None,
            secret_env: SecretEnv::All,
        }
    }
}

impl JobSpec {
    /// `concurrency`, `forbid` when absent.
    pub fn concurrency(&self) -> Concurrency {
        self.concurrency.unwrap_or_default()
    }
}

impl KindSpec for JobSpec {
    const NAME: &'static str = "JobSpec";
    /// Only its own: the container's come from `ContainerFields` itself (see `fields`).
    const OWN_FIELDS: &'static [&'static str] = &[
        "runOn",
        "before",
        "dependsOn",
        "schedule",
        "concurrency",
        "timeout",
        "placement",
        "secretEnv",
    ];

    fn read_own<'de, A: MapAccess<'de>>(
        &mut self,
        field: &'static str,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match field {
            "runOn" => self.run_on = Some(map.next_value()?),
            "before" => self.before = map.next_value()?,
            "dependsOn" => self.depends_on = map.next_value()?,
            "schedule" => self.schedule = Some(map.next_value()?),
            "concurrency" => self.concurrency = Some(map.next_value()?),
            "timeout" => self.timeout = map.next_value()?,
            "placement" => self.placement = Some(map.next_value()?),
            _ => self.secret_env = map.next_value()?,
        }
        Ok(())
    }

    fn container_mut(&mut self) -> &mut ContainerFields {
        &mut self.container
    }

    fn fields() -> &'static [&'static str] {
        static FIELDS: OnceLock<Vec<&'static str>> = OnceLock::new();
        split::kind_fields(&FIELDS, Self::OWN_FIELDS)
    }
}

impl<'de> Deserialize<'de> for JobSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        split::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_reads_every_container_field_and_its_own() {
        let fields = JobSpec::fields();
        for field in split::container_fields() {
            assert!(fields.contains(field), "{field}");
        }
        assert!(fields.contains(&"image") && fields.contains(&"secretEnv"));
        let spec: JobSpec = serde_yaml::from_str(
            "image: migrate\ncommand: [up]\nrunOn: change\nbefore: [web]\ndependsOn: [db]\ntimeout: 1m\n",
        )
        .unwrap();
        assert_eq!(spec.run_on, Some(RunOn::Change));
        assert_eq!(spec.before[0].as_str(), "web");
        assert_eq!(spec.depends_on[0].as_str(), "db");
        assert_eq!(spec.timeout, Duration::from_secs(60));
        assert_eq!(spec.container.command, Some(vec!["up".to_string()]));
        let spec: JobSpec = serde_yaml::from_str("image: backup\nschedule: \"@daily\"\n").unwrap();
        assert_eq!(spec.concurrency(), Concurrency::Forbid);
        assert_eq!(spec.timeout, DEFAULT_TIMEOUT);
        let error = serde_yaml::from_str::<JobSpec>("image: backup\nreplicas: 2\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("unknown field `replicas`, expected one of `image`, `build`")
                && error.contains("`runOn`"),
            "{error}"
        );
        let error = serde_yaml::from_str::<JobSpec>("image: backup\nschedule: \"* * *\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("it has 3 field(s), expected 5"), "{error}");
    }
}
