//! orun's adapters around the engine, everything that touches the host: reading a manifest
//! revision from disk and Git, observing the Docker engine, executing plans against it, probing
//! containers and supervising Caddy. What to change is decided in `engine`, and the node daemon
//! that drives these lives in `node`.

pub mod apply;
pub mod build_context;
pub mod converge;
pub mod docker;
pub mod files;
pub mod git;
pub mod ingress;
pub mod mount_files;
pub mod probe;
pub mod request_problem;
pub mod revision;
pub mod secrets;
pub mod write;
