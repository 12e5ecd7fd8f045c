//! A route of the node's ingress as data: which domain goes to which upstream. The node decides
//! the routes and the Caddy adapter loads them; this module does neither.

/// One route: requests for `domain` go to `upstream` (`ip:port`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub domain: String,
    pub upstream: String,
    pub ssl: bool,
}
