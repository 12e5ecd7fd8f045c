//! A route of the node's ingress as data: which domain goes to which upstreams, one per serving
//! replica of the deployment. The node decides the routes and the Caddy adapter loads them; this
//! module does neither.

/// One route: requests for `domain` are spread over `upstreams`, in replica order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub domain: String,
    pub upstreams: Vec<Upstream>,
    pub ssl: bool,
}

/// Where one replica of a route's deployment is reached.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Upstream {
    /// The replica's container name (`<name>`, `<name>.<i>`); a rollout copy that serves stands
    /// in for it under this name.
    pub replica: String,
    /// `ip:port`.
    pub dial: String,
}

impl Route {
    /// The addresses the route sends requests to, in replica order.
    pub fn dials(&self) -> Vec<String> {
        self.upstreams
            .iter()
            .map(|upstream| upstream.dial.clone())
            .collect()
    }
}
