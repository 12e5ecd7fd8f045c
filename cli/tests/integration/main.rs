//! The Docker-backed tests, one binary sharing one `support` module: apply and plan against the
//! real engine, node daemons with real Git remotes and the faults they recover from, what a node
//! remembers across SIGKILL and restarts, health-gated and start-first rollouts (under load), the
//! Caddy ingress, build-mode deployments, secrets on a node, a hostile commit and a hostile
//! network, the two-tier example, and `orun bootstrap` over SSH. Built only with the
//! `docker-tests` feature; the tests that need no Docker are the package's other test targets.

mod bootstrap;
mod build_mode;
mod docker_apply;
mod faults;
mod health;
mod hostile_commit;
mod hostile_network;
mod ingress;
mod node_daemon;
mod node_recovery;
mod node_state;
mod rollout;
mod secrets;
mod support;
mod two_tier;
