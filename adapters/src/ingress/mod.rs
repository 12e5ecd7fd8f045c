//! The Caddy ingress (docs/ingress.md): the JSON config for the node's routes, and the supervised Caddy
//! child process driven through its admin API. Which routes exist is decided by the node loop.

pub mod caddy;
pub mod config;
pub mod handover;
