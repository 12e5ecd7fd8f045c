//! Ingress routing decisions (docs/ingress.md): from the desired Services, the observed snapshot
//! (which copy of each replica serves, and its address) and the health tracker, the Caddy routes
//! — one upstream per replica that runs and is ready — and each Service's status entry; and how a
//! rollout changes one replica's upstream: moved to its new container, or withdrawn while the
//! replica is replaced. Pure: the node observes Docker beforehand and loads the routes into Caddy
//! afterwards.

use std::collections::BTreeMap;

use engine::copies::Copies;
use engine::desired::DesiredService;
use engine::observed::ObservedContainer;
use engine::{DesiredState, Observed};

use super::health::{DeploymentHealth, Tracker};
use crate::status::ServiceStatus;
use engine::routes::{Route, Upstream};

/// The routes to load into Caddy, sorted, and the entry of every Service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routing {
    pub routes: Vec<Route>,
    pub services: BTreeMap<String, ServiceStatus>,
}

/// The container a replica's upstream points at: the copy of container `name` that serves
/// (`engine::copies`) among the environment's observed containers, if its last probe did not
/// fail (`health`, its deployment's).
pub fn ready_copy<'a>(
    observed: &'a Observed,
    environment: &str,
    name: &str,
    health: Option<&DeploymentHealth>,
) -> Option<&'a ObservedContainer> {
    if health.is_some_and(|health| !health.probe_ok(name)) {
        return None;
    }
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

/// The upstream of replica `name` at `port`, or why it gets no traffic.
fn upstream(
    observed: &Observed,
    environment: &str,
    name: &str,
    health: Option<&DeploymentHealth>,
    port: u16,
) -> Result<Upstream, String> {
    let container = ready_copy(observed, environment, name, health)
        .ok_or_else(|| format!("{name} is not running and ready"))?;
    let ip = container
        .address
        .as_ref()
        .ok_or_else(|| format!("{name} has no network address"))?;
    Ok(Upstream {
        replica: name.to_string(),
        dial: format!("{ip}:{port}"),
    })
}

/// One route per Service whose deployment has a replica that serves (see [`ready_copy`]) and has
/// an address; each such replica is one of the route's upstreams.
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
            upstreams: Vec::new(),
            active: false,
            note: None,
        };
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
                let health = health.get(&deployment.name);
                let (upstreams, problems): (Vec<_>, Vec<_>) = deployment
                    .replicas
                    .iter()
                    .map(|replica| {
                        upstream(
                            observed,
                            environment,
                            &replica.container,
                            health,
                            service.port,
                        )
                    })
                    .partition(Result::is_ok);
                let upstreams: Vec<Upstream> = upstreams.into_iter().flatten().collect();
                if upstreams.is_empty() {
                    let problems: Vec<String> =
                        problems.into_iter().filter_map(Result::err).collect();
                    entry.note = Some(problems.join("; "));
                } else {
                    let route = Route {
                        domain: domain.clone(),
                        upstreams,
                        ssl: service.ssl,
                    };
                    entry.upstreams = route.dials();
                    entry.upstream = entry.upstreams.first().cloned();
                    routing.routes.push(route);
                }
            }
        }
        routing.services.insert(service.name.clone(), entry);
    }
    routing.routes.sort();
    routing
}

/// `current` with the upstream of replica `replica` in every route of `deployment`'s Services
/// pointing at `ip`, the address of a copy of that replica which passed readiness (a Service that
/// had no route yet gets one); or, without `ip`, withdrawn from them, unless it is the last
/// upstream of a route, which nothing could take over. Upstreams are kept in the order of
/// `replicas`, the deployment's replica containers, and a replica no longer among them is
/// dropped; other routes stay.
pub fn repoint(
    current: &[Route],
    services: &BTreeMap<String, DesiredService>,
    deployment: &str,
    replicas: &[String],
    replica: &str,
    ip: Option<&str>,
) -> Vec<Route> {
    let changed: Vec<Route> = services
        .values()
        .filter(|service| service.deployment == deployment)
        .filter_map(|service| {
            let domain = service.domain.clone()?;
            let existing = current.iter().find(|route| route.domain == domain);
            let upstreams: Vec<Upstream> = replicas
                .iter()
                .filter_map(|name| match (name == replica, ip) {
                    (true, Some(ip)) => Some(Upstream {
                        replica: name.clone(),
                        dial: format!("{ip}:{}", service.port),
                    }),
                    (true, None) => None,
                    (false, _) => existing?
                        .upstreams
                        .iter()
                        .find(|upstream| &upstream.replica == name)
                        .cloned(),
                })
                .collect();
            if upstreams.is_empty() {
                return existing.cloned();
            }
            Some(Route {
                domain,
                upstreams,
                ssl: service.ssl,
            })
        })
        .collect();
    let mut routes: Vec<Route> = current
        .iter()
        .filter(|route| !changed.iter().any(|new| new.domain == route.domain))
        .cloned()
        .collect();
    routes.extend(changed);
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
                started_at: None,
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

    fn upstream(replica: &str, dial: &str) -> Upstream {
        Upstream {
            replica: replica.to_string(),
            dial: dial.to_string(),
        }
    }

    fn route(domain: &str, upstreams: &[(&str, &str)]) -> Route {
        Route {
            domain: domain.to_string(),
            upstreams: upstreams
                .iter()
                .map(|(replica, dial)| upstream(replica, dial))
                .collect(),
            ssl: false,
        }
    }

    /// Deployment `web` with three replicas behind Service `web`, in production.
    fn three_replicas() -> DesiredState {
        desired(
            "production",
            &[
                deployment("web", "  replicas: 3\n"),
                service("web", "web", "web.example.com", None),
            ],
        )
    }

    #[test]
    fn every_replica_that_runs_and_is_ready_is_an_upstream() {
        let desired = three_replicas();
        let all = observed(
            "production",
            &[
                ("web", true, Some("10.0.0.2")),
                ("web.2", true, Some("10.0.0.3")),
                ("web.3", true, Some("10.0.0.4")),
            ],
        );
        let routing = decide(&desired, &all, &Tracker::default());
        assert_eq!(
            routing.routes,
            [route(
                "web.example.com",
                &[
                    ("web", "10.0.0.2:8080"),
                    ("web.2", "10.0.0.3:8080"),
                    ("web.3", "10.0.0.4:8080")
                ]
            )]
        );
        let entry = &routing.services["web"];
        assert_eq!(
            entry.upstreams,
            ["10.0.0.2:8080", "10.0.0.3:8080", "10.0.0.4:8080"]
        );
        assert_eq!(entry.upstream.as_deref(), Some("10.0.0.2:8080"));

        let mut health = Tracker::default();
        health.entry("web").replica_mut("web.2").probe_ok = Some(false);
        let some = observed(
            "production",
            &[
                ("web", true, Some("10.0.0.2")),
                ("web.2", true, Some("10.0.0.3")),
                ("web.3", false, Some("10.0.0.4")),
            ],
        );
        let routing = decide(&desired, &some, &health);
        assert_eq!(
            routing.routes,
            [route("web.example.com", &[("web", "10.0.0.2:8080")])],
            "web.2 failed its probe and web.3 does not run: neither gets traffic"
        );
        assert_eq!(note(&routing, "web"), None);

        let mut failing = Tracker::default();
        for replica in ["web", "web.2", "web.3"] {
            failing.entry("web").replica_mut(replica).probe_ok = Some(false);
        }
        let routing = decide(&desired, &all, &failing);
        assert!(routing.routes.is_empty());
        assert_eq!(
            note(&routing, "web").unwrap(),
            "web is not running and ready; web.2 is not running and ready; web.3 is not running and ready"
        );
    }

    #[test]
    fn a_replica_moves_alone_and_is_withdrawn_only_while_another_serves() {
        let desired = three_replicas();
        let replicas: Vec<String> = ["web", "web.2", "web.3"].map(String::from).to_vec();
        let current = [route(
            "web.example.com",
            &[
                ("web", "10.0.0.2:8080"),
                ("web.2", "10.0.0.3:8080"),
                ("web.3", "10.0.0.4:8080"),
            ],
        )];
        let change = |current: &[Route], replicas: &[String], replica: &str, ip: Option<&str>| {
            repoint(current, &desired.services, "web", replicas, replica, ip)
        };
        assert_eq!(
            change(&current, &replicas, "web.2", Some("10.0.0.9")),
            [route(
                "web.example.com",
                &[
                    ("web", "10.0.0.2:8080"),
                    ("web.2", "10.0.0.9:8080"),
                    ("web.3", "10.0.0.4:8080")
                ]
            )],
            "only web.2's upstream moves"
        );
        let withdrawn = change(&current, &replicas, "web.2", None);
        assert_eq!(
            withdrawn,
            [route(
                "web.example.com",
                &[("web", "10.0.0.2:8080"), ("web.3", "10.0.0.4:8080")]
            )]
        );
        assert_eq!(
            change(&withdrawn, &replicas, "web.2", Some("10.0.0.9")),
            [route(
                "web.example.com",
                &[
                    ("web", "10.0.0.2:8080"),
                    ("web.2", "10.0.0.9:8080"),
                    ("web.3", "10.0.0.4:8080")
                ]
            )],
            "added back in its place"
        );
        let last = [route("web.example.com", &[("web.3", "10.0.0.4:8080")])];
        assert_eq!(
            change(&last, &replicas, "web.3", None),
            last,
            "the last upstream stays"
        );
        assert_eq!(
            change(&current, &replicas[..1], "web.3", None),
            [route("web.example.com", &[("web", "10.0.0.2:8080")])],
            "a replica scaled away goes, and so do the others no longer desired"
        );
    }

    #[test]
    fn a_running_ready_container_with_an_address_gets_a_route() {
        let desired = web_in("production", None);
        let containers = observed("production", &[("web", true, Some("172.17.0.3"))]);
        let mut routing = decide(&desired, &containers, &Tracker::default());
        let route = Route {
            domain: "web.example.com".to_string(),
            upstreams: vec![upstream("web", "172.17.0.3:8080")],
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
        failing.entry("web").replica_mut("staging.web").probe_ok = Some(false);
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
            routing.routes.first().map(|route| route.dials().join(" "))
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
        let current = [
            route(
                "staging.api.example.com",
                &[("staging.api", "10.0.0.5:8080")],
            ),
            route(
                "staging.web.example.com",
                &[("staging.web", "10.0.0.2:8080")],
            ),
        ];
        let web = ["staging.web".to_string()];
        let moved = repoint(
            &current,
            &desired.services,
            "web",
            &web,
            "staging.web",
            Some("10.0.0.9"),
        );
        assert_eq!(
            moved,
            [
                route("staging.api.example.com", &[("staging.api", "10.0.0.5:8080")]),
                route("staging.web.example.com", &[("staging.web", "10.0.0.9:8080")]),
                route("staging.www.example.com", &[("staging.web", "10.0.0.9:8080")]),
            ],
            "the api route stays, both web routes move, the service without a domain here gets none"
        );
        let worker = ["staging.worker".to_string()];
        assert_eq!(
            repoint(
                &current,
                &desired.services,
                "worker",
                &worker,
                "staging.worker",
                Some("10.0.0.9")
            ),
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
