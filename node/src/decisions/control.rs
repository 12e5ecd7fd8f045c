//! What an operator can ask of a running node through its control socket (docs/node.md#local-control):
//! suspend and resume its actions, pin it to a commit and lift the pin; and the holds these
//! leave (`Suspended` and `Pinned`, status facts), which the node remembers across restarts and shows in `/status`. Pure data: the node
//! loop decides what a command does, `control.rs` carries commands over the socket.

use serde::{Deserialize, Serialize};

pub use crate::status::{Pinned, Suspended};

/// A command of `orun suspend`, `resume`, `pin` or `unpin`, as the socket carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    Suspend {
        #[serde(default)]
        reason: Option<String>,
    },
    Resume,
    Pin {
        commit: String,
        #[serde(default)]
        reason: Option<String>,
    },
    Unpin,
}

/// The node's answer to a command: what it did, or why it refused.
pub type Answer = Result<String, String>;
