//! A Deployment's `imageUpdates` (docs/manifests.md): whether the node watches the registry for a
//! new image under the deployment's tag, and what it does with one. The checks against the image
//! reference belong to `validate`; when a check is due, to the node.

use serde::{Deserialize, Serialize};

use crate::duration::Duration;

/// The shortest `interval`: registries limit how often they are asked.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);

/// How a deployment follows the image its tag names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageUpdates {
    pub mode: UpdateMode,
    /// How often the registry is asked for the tag's digest.
    #[serde(default = "five_minutes")]
    pub interval: Duration,
}

/// What a new image under the tag does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateMode {
    /// Send the `image_available` notification once per new digest; recreate nothing.
    Notify,
    /// Pull it and recreate the deployment's containers through the usual health gates.
    Apply,
}

fn five_minutes() -> Duration {
    Duration::from_secs(5 * 60)
}
