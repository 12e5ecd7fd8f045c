//! The Docker-backed tests, one binary sharing one `support` module: every behaviour that needs
//! the real engine, one module per area (see ARCHITECTURE.md for the list). Built only with the
//! `docker-tests` feature; the tests that need no Docker are the package's other test targets.

mod bootstrap;
mod build_mode;
mod commit_statuses;
mod dashboard;
mod day_two;
mod dependencies;
mod docker_apply;
mod faults;
mod files_networks;
mod fleet;
mod health;
mod hostile_commit;
mod hostile_network;
mod image_updates;
mod ingress;
mod jobs;
mod metrics;
mod networks_volumes;
mod node_daemon;
mod node_recovery;
mod node_state;
mod notifications;
mod probes;
mod real_app;
mod registries;
mod replicas;
mod rollout;
mod secrets;
mod settings;
mod support;
mod two_tier;
mod webhook;
