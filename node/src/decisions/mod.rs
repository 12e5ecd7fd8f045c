//! The node's decisions, as pure as the engine: the node loop itself (`node_loop`: when to
//! adopt and converge, what to hold and remember, what to report), which setting is in force
//! (`settings`), what an operator's commands are and the holds they leave (`control`), what the node remembers across restarts (`memory`), what a pass's outcomes do
//! to health, quarantine and flapping (`health`), which liveness probes are due and what a result
//! means (`liveness`), which notifications a pass or a fetch makes (`events`), when scheduled
//! jobs run (`cron`), what the apply history records (`history`), the Caddy routes
//! (`routes`) and the status document's entries (`status_projection`). They read what they are
//! given (the desired state, observations, outcomes, the time) and return what to do; they
//! perform no I/O, read no clock and know no adapter, which the tidy checks hold them to.

pub mod control;
pub mod cron;
pub mod events;
pub mod health;
pub mod history;
pub mod image_updates;
pub mod liveness;
pub mod memory;
pub mod node_loop;
pub mod routes;
pub mod settings;
pub mod status_projection;
