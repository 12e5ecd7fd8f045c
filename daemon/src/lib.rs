//! orun's node agent as a library: reading a manifest revision from disk and Git, observing the
//! Docker engine, and executing plans. Planning decisions stay in the `engine` crate.

pub mod apply;
pub mod build_context;
pub mod converge;
pub mod docker;
pub mod files;
pub mod git;
pub mod ingress;
pub mod node;
pub mod probe;
pub mod revision;
pub mod secrets;
