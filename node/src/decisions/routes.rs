//! Ingress routing decisions (docs/ingress.md): from the desired Services, the observed snapshot
//! (which copy of a deployment serves, and its address) and the health tracker, the Caddy routes
//! and each Service's status entry; and the routes a start-first rollout moves to its new
//! container. Pure: the node observes Docker beforehand and loads the routes into Caddy
//! afterwards.

use std::collections::BTreeMap;

use engine::copies::Copies;
use engine::desired::DesiredService;
use engine::observed::ObservedContainer;
use engine::{DesiredState, Observed};

use super::health::Tracker;
use crate::status::ServiceStatus;
use engine::routes::Route;

/// The routes to load into Caddy, sorted, and the entry of every Service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routing {
    pub routes: Vec<Route>,
    pub services: BTreeMap<String, ServiceStatus>,
}

/// The container a deployment's routes point at: the copy that serves (`engine::copies`) among
/// the environment's observed containers.
fn serving<'a>(
    observed: &'a Observed,
    environment: &str,
    name: &str,
) -> Option<&'a ObservedContainer> {
    let copies = Copies::of(
        name,
        observed
            .containers
            .iter()
            .filter(|container| container.is_owned_by(environment))
            .map(|container| (container.bare_name(), container)),
    );
    copies.serving().and_then(|role| copies.get(role).copied())
}

/// One route per Service whose deployment's container (see [`serving`]) runs, is ready and has an
/// address.
pub fn decide(desired: &DesiredState, observed: &Observed, health: &Tracker) -> Routing {
    let environment = desired.environment.as_str();
    let mut routing = Routing::default();
    for service in desired.services.values() {
        let mut entry = ServiceStatus {
            name: service.name.clone(),
            deployment: service.deployment.clone(),
            domain: service.domain.clone(),
            ssl: service.ssl,
            upstream: None,
            active: false,
            note: None,
        };
        let ready = health
            .get(&service.deployment)
            .is_none_or(|health| health.probe_ok != Some(false));
        match (
            &service.domain,
            desired.deployments.get(&service.deployment),
        ) {
            (None, _) => {
                entry.note = Some(format!(
                    "no route in environment {environment}: the service has no ingress.domain.environment"
                ));
            }
            (Some(_), None) => {
                entry.note = Some(format!("deployment {} does not exist", service.deployment))
            }
            (Some(domain), Some(deployment)) => {
                match serving(observed, environment, &deployment.container) {
                    Some(container) if ready => match &container.address {
                        Some(ip) => {
                            let upstream = format!("{ip}:{}", service.port);
                            entry.upstream = Some(upstream.clone());
                            routing.routes.push(Route {
                                domain: domain.clone(),
                                upstream,
                                ssl: service.ssl,
                            });
                        }
                        None => {
                            entry.note =
                                Some(format!("{} has no network address", deployment.container))
                        }
                    },
                    _ => {
                        entry.note =
                            Some(format!("{} is not running and ready", deployment.container))
                    }
                }
            }
        }
        routing.services.insert(service.name.clone(), entry);
    }
    routing.routes.sort();
    routing
}

/// `current` with every route of `deployment`'s Services pointing at `ip`, the address of its new
/// container, which passed readiness; a Service that had no route yet gets one. Other routes stay.
pub fn repoint(
    current: &[Route],
    services: &BTreeMap<String, DesiredService>,
    deployment: &str,
    ip: &str,
) -> Vec<Route> {
    let moved: Vec<Route> = services
        .values()
        .filter(|service| service.deployment == deployment)
        .filter_map(|service| {
            let domain = service.domain.clone()?;
            Some(Route {
                domain,
                upstream: format!("{ip}:{}", service.port),
                ssl: service.ssl,
            })
        })
        .collect();
    let mut routes: Vec<Route> = current
        .iter()
        .filter(|route| !moved.iter().any(|new| new.domain == route.domain))
        .cloned()
        .collect();
    routes.extend(moved);
    routes.sort();
    routes
}

/// Marks the routed Services active once Caddy took the routes; otherwise notes why they are not.
pub fn settle(services: &mut BTreeMap<String, ServiceStatus>, applied: &Result<(), String>) {
    for entry in services.values_mut() {
        match applied {
            Ok(()) => entry.active = entry.upstream.is_some(),
            Err(error) if entry.upstream.is_some() => {
                entry.note = Some(format!("ingress: {error}"))
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::observed::ContainerState;
    use engine::spec::{LABEL_ENVIRONMENT, LABEL_MANAGED_BY, MANAGED_BY_ORUN};
    use engine::testing::{deployment, desired, service};

    /// A container as observed: its name, whether it runs, its address.
    type Seen<'a> = (&'a str, bool, Option<&'a str>);

    /// The snapshot of `containers`, all orun's in `environment`.
    fn observed(environment: &str, containers: &[Seen]) -> Observed {
        let containers = containers
            .iter()
            .map(|(name, running, ip)| ObservedContainer {
                id: format!("id-{name}"),
                name: format!("/{name}"),
                image: "busybox".to_string(),
                image_id: "sha256:1".to_string(),
                state: if *running {
                    ContainerState::Running
                } else {
                    ContainerState::Exited
                },
                labels: BTreeMap::from([
                    (LABEL_MANAGED_BY.to_string(), MANAGED_BY_ORUN.to_string()),
                    (LABEL_ENVIRONMENT.to_string(), environment.to_string()),
                ]),
                resources: Default::default(),
                address: ip.map(str::to_string),
            })
            .collect();
        Observed {
            containers,
            ..Observed::default()
        }
    }

    fn web_in(environment: &str, environment_domain: Option<&str>) -> DesiredState {
        desired(
            environment,
            &[
                deployment("web", ""),
                service("web", "web", "web.example.com", environment_domain),
            ],
        )
    }

    fn note(routing: &Routing, service: &str) -> Option<String> {
        routing.services[service].note.clone()
    }

    #[test]
    fn a_running_ready_container_with_an_address_gets_a_route() {
        let desired = web_in("production", None);
        let containers = observed("production", &[("web", true, Some("172.17.0.3"))]);
        let mut routing = decide(&desired, &containers, &Tracker::default());
        let route = Route {
            domain: "web.example.com".to_string(),
            upstream: "172.17.0.3:8080".to_string(),
            ssl: false,
        };
        assert_eq!(routing.routes, [route]);
        assert_eq!(note(&routing, "web"), None);
        settle(&mut routing.services, &Ok(()));
        assert!(routing.services["web"].active);
        assert_eq!(
            routing.services["web"].upstream.as_deref(),
            Some("172.17.0.3:8080")
        );
    }

    #[test]
    fn a_service_without_a_domain_in_its_environment_gets_a_note() {
        let desired = web_in("staging", None);
        let routing = decide(&desired, &Observed::default(), &Tracker::default());
        assert!(routing.routes.is_empty());
        assert_eq!(
            note(&routing, "web").unwrap(),
            "no route in environment staging: the service has no ingress.domain.environment"
        );
    }

    #[test]
    fn a_service_of_a_missing_deployment_gets_a_note() {
        let mut desired = web_in("production", None);
        desired.deployments.clear();
        let routing = decide(&desired, &Observed::default(), &Tracker::default());
        assert_eq!(
            note(&routing, "web").unwrap(),
            "deployment web does not exist"
        );
    }

    #[test]
    fn a_container_that_is_not_running_or_not_ready_gets_a_note() {
        let desired = web_in("staging", Some("$ENV.web.example.com"));
        let expected = "staging.web is not running and ready";
        let missing = decide(&desired, &Observed::default(), &Tracker::default());
        assert_eq!(note(&missing, "web").unwrap(), expected);

        let stopped = observed("staging", &[("staging.web", false, Some("172.17.0.3"))]);
        let routing = decide(&desired, &stopped, &Tracker::default());
        assert_eq!(note(&routing, "web").unwrap(), expected);

        let other_environment = observed("production", &[("staging.web", true, Some("10.0.0.2"))]);
        let routing = decide(&desired, &other_environment, &Tracker::default());
        assert_eq!(note(&routing, "web").unwrap(), expected);

        let mut failing = Tracker::default();
        failing.entry("web").probe_ok = Some(false);
        let running = observed("staging", &[("staging.web", true, Some("10.0.0.2"))]);
        let routing = decide(&desired, &running, &failing);
        assert!(routing.routes.is_empty());
        assert_eq!(note(&routing, "web").unwrap(), expected);

        let no_address = observed("staging", &[("staging.web", true, None)]);
        let routing = decide(&desired, &no_address, &Tracker::default());
        assert_eq!(
            note(&routing, "web").unwrap(),
            "staging.web has no network address"
        );
    }

    #[test]
    fn the_new_copy_of_an_interrupted_rollout_is_routed_only_while_the_container_does_not_run() {
        let desired = web_in("production", None);
        let upstream = |containers: &[Seen]| {
            let routing = decide(
                &desired,
                &observed("production", containers),
                &Tracker::default(),
            );
            routing.routes.first().map(|route| route.upstream.clone())
        };
        let next = ("web.orun-next", true, Some("172.17.0.4"));
        assert_eq!(
            upstream(&[("web", false, Some("172.17.0.3")), next]),
            Some("172.17.0.4:8080".to_string()),
            "the copy serves while web is stopped"
        );
        assert_eq!(
            upstream(&[next]),
            Some("172.17.0.4:8080".to_string()),
            "the copy serves while web is missing"
        );
        assert_eq!(
            upstream(&[("web", true, Some("172.17.0.3")), next]),
            Some("172.17.0.3:8080".to_string()),
            "web serves once it runs"
        );
        assert_eq!(
            upstream(&[("web.orun-old", true, Some("172.17.0.2")), next]),
            None,
            "beside a running rollback copy, the new copy is not what serves"
        );
        assert_eq!(
            upstream(&[("web", false, None), ("web.orun-next", false, None)]),
            None,
            "nothing runs"
        );
    }

    #[test]
    fn a_rollout_moves_only_its_deployments_routes_to_the_new_address() {
        let desired = desired(
            "staging",
            &[
                deployment("web", ""),
                deployment("api", ""),
                service(
                    "web",
                    "web",
                    "web.example.com",
                    Some("$ENV.web.example.com"),
                ),
                service(
                    "www",
                    "web",
                    "www.example.com",
                    Some("$ENV.www.example.com"),
                ),
                service(
                    "api",
                    "api",
                    "api.example.com",
                    Some("$ENV.api.example.com"),
                ),
                service("old", "web", "old.example.com", None),
            ],
        );
        let route = |domain: &str, upstream: &str| Route {
            domain: domain.to_string(),
            upstream: upstream.to_string(),
            ssl: false,
        };
        let current = [
            route("staging.api.example.com", "10.0.0.5:8080"),
            route("staging.web.example.com", "10.0.0.2:8080"),
        ];
        let moved = repoint(&current, &desired.services, "web", "10.0.0.9");
        assert_eq!(
            moved,
            [
                route("staging.api.example.com", "10.0.0.5:8080"),
                route("staging.web.example.com", "10.0.0.9:8080"),
                route("staging.www.example.com", "10.0.0.9:8080"),
            ],
            "the api route stays, both web routes move, the service without a domain here gets none"
        );
        assert_eq!(
            repoint(&current, &desired.services, "worker", "10.0.0.9"),
            current,
            "a deployment without Services moves nothing"
        );
    }

    #[test]
    fn a_caddy_failure_is_noted_on_routed_services_only() {
        let desired = desired(
            "production",
            &[
                deployment("web", ""),
                deployment("api", "  stopTimeout: 5s\n"),
                service("web", "web", "web.example.com", None),
                service("api", "api", "api.example.com", None),
            ],
        );
        let containers = observed("production", &[("web", true, Some("172.17.0.3"))]);
        let mut routing = decide(&desired, &containers, &Tracker::default());
        settle(
            &mut routing.services,
            &Err("Caddy is not running".to_string()),
        );
        assert!(!routing.services["web"].active);
        assert_eq!(
            note(&routing, "web").unwrap(),
            "ingress: Caddy is not running"
        );
        assert_eq!(
            note(&routing, "api").unwrap(),
            "api is not running and ready"
        );
    }
}
