//! The `dependsOn` graph between deployments (docs/manifests.md): its cycles, what a deployment
//! needs directly and transitively, and the order that puts dependencies first with ties by name.
//! It does not know about files or actions; `validate` reports problems and `plan` orders phases.

use std::collections::{BTreeMap, BTreeSet};

/// Label holding a container's `dependsOn` names, comma-separated, set only when there are any.
/// It lets the planner remove the containers of deleted deployments dependents first; it is not
/// part of the spec hash, so changing `dependsOn` does not recreate a container (docs/plans.md).
pub const LABEL_DEPENDS_ON: &str = "run.orcra.dev/depends-on";

/// Deployment name → the deployments it depends on directly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DependencyGraph {
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl DependencyGraph {
    /// A graph from (deployment, its dependencies) pairs; a deployment listed twice keeps the
    /// union of its dependencies.
    pub fn new<I, D, S>(deployments: I) -> Self
    where
        I: IntoIterator<Item = (S, D)>,
        D: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, dependencies) in deployments {
            edges
                .entry(name.into())
                .or_default()
                .extend(dependencies.into_iter().map(Into::into));
        }
        DependencyGraph { edges }
    }

    /// The deployments `name` depends on directly.
    pub fn direct(&self, name: &str) -> impl Iterator<Item = &str> {
        self.edges
            .get(name)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Every deployment `name` needs, directly or through others; never `name` itself, even on a
    /// cycle.
    pub fn requires(&self, name: &str) -> BTreeSet<&str> {
        let mut seen = BTreeSet::new();
        let mut pending: Vec<&str> = self.direct(name).collect();
        while let Some(next) = pending.pop() {
            if next != name && seen.insert(next) {
                pending.extend(self.direct(next));
            }
        }
        seen
    }

    /// Every cycle found, each once, as the path that closes it (`a -> b -> a`), starting at its
    /// smallest name; sorted.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut found = BTreeSet::new();
        let mut finished = BTreeSet::new();
        for start in self.edges.keys() {
            let mut path = Vec::new();
            self.visit(start, &mut path, &mut finished, &mut found);
        }
        found.into_iter().collect()
    }

    fn visit<'a>(
        &'a self,
        name: &'a str,
        path: &mut Vec<&'a str>,
        finished: &mut BTreeSet<&'a str>,
        found: &mut BTreeSet<Vec<String>>,
    ) {
        if let Some(index) = path.iter().position(|on_path| *on_path == name) {
            found.insert(closed_cycle(&path[index..]));
            return;
        }
        if finished.contains(name) {
            return;
        }
        path.push(name);
        for dependency in self.direct(name) {
            self.visit(dependency, path, finished, found);
        }
        path.pop();
        finished.insert(name);
    }

    /// `names` with every deployment after the ones among them it requires, ties by name. Names
    /// caught in a cycle, which validation rejects, come last by name.
    pub fn order<'a>(&self, names: &BTreeSet<&'a str>) -> Vec<&'a str> {
        self.ordered(names, |name| self.first_among(name, names))
    }

    /// `names` with every deployment after the ones among them that require it — the order to
    /// remove them in — ties by name.
    pub fn reverse_order<'a>(&self, names: &BTreeSet<&'a str>) -> Vec<&'a str> {
        self.ordered(names, |name| self.dependents_among(name, names))
    }

    /// The deployments among `names` that `name` requires.
    pub fn first_among<'a>(&self, name: &str, names: &BTreeSet<&'a str>) -> BTreeSet<&'a str> {
        let required = self.requires(name);
        names
            .iter()
            .copied()
            .filter(|other| required.contains(other))
            .collect()
    }

    /// The deployments among `names` that require `name`.
    pub fn dependents_among<'a>(&self, name: &str, names: &BTreeSet<&'a str>) -> BTreeSet<&'a str> {
        names
            .iter()
            .copied()
            .filter(|other| *other != name && self.requires(other).contains(name))
            .collect()
    }

    /// `names` in an order where each comes after its `before` set, ties by name.
    fn ordered<'a>(
        &self,
        names: &BTreeSet<&'a str>,
        before: impl Fn(&str) -> BTreeSet<&'a str>,
    ) -> Vec<&'a str> {
        let mut waiting: BTreeMap<&'a str, BTreeSet<&'a str>> =
            names.iter().map(|&name| (name, before(name))).collect();
        let mut ordered = Vec::with_capacity(names.len());
        while !waiting.is_empty() {
            let next = waiting
                .iter()
                .find(|(_, before)| before.is_empty())
                .map(|(name, _)| *name);
            let Some(next) = next else {
                ordered.extend(waiting.keys().copied());
                break;
            };
            waiting.remove(next);
            for before in waiting.values_mut() {
                before.remove(next);
            }
            ordered.push(next);
        }
        ordered
    }
}

/// The cycle through `members` (in path order), rotated to start at its smallest name and closed
/// by repeating it.
fn closed_cycle(members: &[&str]) -> Vec<String> {
    let smallest = members
        .iter()
        .enumerate()
        .min_by_key(|(_, name)| **name)
        .map_or(0, |(index, _)| index);
    let mut cycle: Vec<String> = members[smallest..]
        .iter()
        .chain(&members[..smallest])
        .map(|name| name.to_string())
        .collect();
    cycle.push(cycle[0].clone());
    cycle
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> DependencyGraph {
        DependencyGraph::new(
            edges
                .iter()
                .map(|(name, dependencies)| (*name, dependencies.iter().copied())),
        )
    }

    fn names<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
        names.iter().copied().collect()
    }

    #[test]
    fn dependencies_come_first_and_ties_go_by_name() {
        let graph = graph(&[("a-web", &["z-db"]), ("m-api", &["z-db"]), ("z-db", &[])]);
        assert_eq!(
            graph.order(&names(&["a-web", "m-api", "z-db", "b-other"])),
            ["b-other", "z-db", "a-web", "m-api"]
        );
    }

    #[test]
    fn removal_puts_dependents_first_and_ties_go_by_name() {
        let graph = graph(&[("a-web", &["z-db"]), ("m-api", &["z-db"]), ("z-db", &[])]);
        let all = names(&["a-web", "m-api", "z-db", "b-other"]);
        assert_eq!(
            graph.reverse_order(&all),
            ["a-web", "b-other", "m-api", "z-db"]
        );
        assert_eq!(
            graph.dependents_among("z-db", &all),
            names(&["a-web", "m-api"])
        );
        assert_eq!(graph.first_among("a-web", &all), names(&["z-db"]));
    }

    #[test]
    fn a_dependency_through_a_deployment_outside_the_set_still_orders() {
        let graph = graph(&[("a", &["b"]), ("b", &["c"])]);
        assert_eq!(graph.order(&names(&["a", "c"])), ["c", "a"]);
        assert_eq!(graph.requires("a"), names(&["b", "c"]));
    }

    #[test]
    fn cycles_are_found_once_from_their_smallest_name() {
        let graph = graph(&[
            ("b", &["a"]),
            ("a", &["b"]),
            ("c", &["d"]),
            ("d", &["e"]),
            ("e", &["c"]),
            ("f", &["a"]),
            ("s", &["s"]),
        ]);
        let text: Vec<String> = graph.cycles().iter().map(|c| c.join(" -> ")).collect();
        assert_eq!(text, ["a -> b -> a", "c -> d -> e -> c", "s -> s"]);
    }

    #[test]
    fn a_graph_without_cycles_has_none_and_orders_every_name() {
        let graph = graph(&[("a", &["b", "c"]), ("b", &["c"]), ("c", &[])]);
        assert!(graph.cycles().is_empty());
        assert_eq!(graph.order(&names(&["a", "b", "c"])), ["c", "b", "a"]);
    }

    #[test]
    fn names_on_a_cycle_come_last_instead_of_looping() {
        let graph = graph(&[("a", &["b"]), ("b", &["a"])]);
        assert_eq!(graph.order(&names(&["a", "b", "c"])), ["c", "a", "b"]);
    }
}
