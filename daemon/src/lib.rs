//! orun's node agent as a library: reading a manifest revision from disk and Git, and (in later
//! modules) observing and driving Docker. Planning decisions stay in the `engine` crate.

pub mod git;
pub mod revision;
