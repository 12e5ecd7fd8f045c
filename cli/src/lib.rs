//! The `orun` command line: argument parsing, thin commands over `engine`, `adapters` and
//! `node`, and rendering. It holds no planning logic of its own.

pub mod args;
pub mod commands;
pub mod fleet_report;
pub mod render;
