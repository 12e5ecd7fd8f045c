//! orun's pure core: manifests in, plans out. Parsing and validation, desired-state resolution,
//! spec hashing and the planner. It performs no I/O: no filesystem, clock, environment variables,
//! network or Docker; callers pass data in and get data back.

pub mod attachments;
pub mod backoff;
pub mod build;
pub mod changes;
pub mod commit_status;
pub mod compose;
pub mod copies;
pub mod depends;
pub mod desired;
pub mod duration;
pub mod environment;
pub mod error;
pub mod image;
pub mod jobs;
pub mod limits;
pub mod load;
pub mod manifest;
pub mod notify;
pub mod observed;
pub mod outcome;
pub mod placement;
pub mod plan;
pub mod policy;
pub mod redact;
pub mod resources;
pub mod revision;
pub mod routes;
pub mod saved_plan;
pub mod schedule;
pub mod secret_env;
pub mod secrets;
pub mod sops;
pub mod spec;
pub mod swarm;
#[cfg(feature = "testing")]
pub mod testing;
mod validate;

pub use desired::{resolve, DesiredState, MissingKeys, ResolveInput, Secrets};
pub use environment::Environment;
pub use error::{Finding, Level, ManifestError, ManifestErrors};
pub use load::{load, SourceFile};
pub use manifest::Manifests;
pub use observed::Observed;
pub use plan::{plan, Plan, PlanError, PlanOptions};
