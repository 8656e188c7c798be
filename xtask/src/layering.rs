//! The crate layering check, read from `cargo metadata`.
//!
//! Rules (ARCHITECTURE.md states them as invariants):
//! 1. refresh-core depends on no async runtime, HTTP or socket crate (transitively).
//! 2. location-store depends on no HTTP stack (transitively).
//! 3. The emulator depends on no client crate, by any kind of dependency, transitively.
//! 4. Edges between client crates point down only: refresh-core ← location-store ←
//!    runtime ← driver. A client crate may use the emulator, and the dev-only testkit
//!    (shared test fixtures, which wraps the emulator and the driver), only as a
//!    dev-dependency.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use serde_json::Value;

/// Client crates from the bottom of the stack to the top.
const CLIENT_LAYERS: [&str; 4] = [
    "meridian-refresh-core",
    "meridian-location-store",
    "meridian-runtime",
    "meridian-driver",
];
const EMULATOR: &str = "meridian-emulator";
/// Shared test fixtures over the emulator and the client crates: dev-only, like the emulator.
const TESTKIT: &str = "meridian-testkit";

/// Crates that do I/O or schedule tasks: forbidden below the runtime.
const IO_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "socket2",
    "async-std",
    "smol",
    "hyper",
    "hyper-util",
    "h2",
    "reqwest",
    "ureq",
    "rustls",
    "tokio-rustls",
    "native-tls",
];
/// The HTTP stack: forbidden in location-store.
const HTTP_CRATES: &[&str] = &["hyper", "hyper-util", "h2", "reqwest", "ureq"];

/// One broken rule, naming the offending edge or path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The dependency path from the crate that breaks the rule to the forbidden crate.
    pub path: Vec<String>,
    /// Which rule.
    pub rule: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.join(" -> "), self.rule)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    Build,
    Dev,
}

struct Graph {
    names: HashMap<String, String>,
    /// package id -> (dependency package id, kinds of that edge)
    edges: HashMap<String, Vec<(String, Vec<Kind>)>>,
    workspace: Vec<String>,
}

/// Checks every rule against `cargo metadata --format-version 1` output.
pub fn check(metadata: &Value) -> Result<Vec<Violation>, String> {
    let graph = Graph::parse(metadata)?;
    let mut violations = Vec::new();
    let non_dev = [Kind::Normal, Kind::Build];
    let any = [Kind::Normal, Kind::Build, Kind::Dev];

    if let Some(root) = graph.workspace_id(CLIENT_LAYERS[0]) {
        for path in graph.reachable(root, &non_dev, |name| IO_CRATES.contains(&name)) {
            violations.push(Violation {
                path,
                rule: "refresh-core must not depend on an async runtime, HTTP or socket crate",
            });
        }
    }
    if let Some(root) = graph.workspace_id(CLIENT_LAYERS[1]) {
        for path in graph.reachable(root, &non_dev, |name| HTTP_CRATES.contains(&name)) {
            violations.push(Violation {
                path,
                rule: "location-store must not depend on an HTTP stack",
            });
        }
    }
    if let Some(root) = graph.workspace_id(EMULATOR) {
        for path in graph.reachable(root, &any, |name| CLIENT_LAYERS.contains(&name)) {
            violations.push(Violation {
                path,
                rule: "the emulator must not depend on a client crate",
            });
        }
    }
    for from_id in &graph.workspace {
        let from = graph.name(from_id);
        let Some(from_rank) = rank(from) else {
            continue;
        };
        for (to_id, kinds) in graph.edges.get(from_id).into_iter().flatten() {
            let to = graph.name(to_id);
            // A crate's dev-dependency on itself (to turn on a test-only feature for its
            // own tests) is no edge between layers.
            if to_id == from_id {
                continue;
            }
            let rule = if let Some(to_rank) = rank(to) {
                (to_rank >= from_rank).then_some(
                    "client crates may only depend downward: refresh-core <- location-store <- runtime <- driver",
                )
            } else if to == EMULATOR {
                kinds
                    .iter()
                    .any(|k| *k != Kind::Dev)
                    .then_some("a client crate may use the emulator only as a dev-dependency")
            } else if to == TESTKIT {
                kinds
                    .iter()
                    .any(|k| *k != Kind::Dev)
                    .then_some("a client crate may use the testkit only as a dev-dependency")
            } else {
                None
            };
            if let Some(rule) = rule {
                violations.push(Violation {
                    path: vec![from.to_string(), to.to_string()],
                    rule,
                });
            }
        }
    }
    Ok(violations)
}

fn rank(name: &str) -> Option<usize> {
    CLIENT_LAYERS.iter().position(|layer| *layer == name)
}

impl Graph {
    fn parse(metadata: &Value) -> Result<Self, String> {
        let packages = metadata["packages"]
            .as_array()
            .ok_or("cargo metadata: no `packages` array")?;
        let mut names = HashMap::new();
        for package in packages {
            let (Some(id), Some(name)) = (package["id"].as_str(), package["name"].as_str()) else {
                return Err("cargo metadata: a package without id or name".into());
            };
            names.insert(id.to_string(), name.to_string());
        }
        let workspace = metadata["workspace_members"]
            .as_array()
            .ok_or("cargo metadata: no `workspace_members`")?
            .iter()
            .filter_map(|id| id.as_str().map(str::to_string))
            .collect();
        let nodes = metadata["resolve"]["nodes"]
            .as_array()
            .ok_or("cargo metadata: no `resolve.nodes` (was --no-deps passed?)")?;
        let mut edges = HashMap::new();
        for node in nodes {
            let id = node["id"]
                .as_str()
                .ok_or("cargo metadata: node without id")?;
            let mut deps = Vec::new();
            for dep in node["deps"].as_array().into_iter().flatten() {
                let pkg = dep["pkg"]
                    .as_str()
                    .ok_or("cargo metadata: dep without pkg")?;
                let kinds = dep["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|k| match k["kind"].as_str() {
                        Some("dev") => Kind::Dev,
                        Some("build") => Kind::Build,
                        _ => Kind::Normal,
                    })
                    .collect();
                deps.push((pkg.to_string(), kinds));
            }
            edges.insert(id.to_string(), deps);
        }
        Ok(Self {
            names,
            edges,
            workspace,
        })
    }

    fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map_or(id, String::as_str)
    }

    fn workspace_id(&self, name: &str) -> Option<&str> {
        self.workspace
            .iter()
            .find(|id| self.name(id) == name)
            .map(String::as_str)
    }

    /// Paths from `root` to every package matching `forbidden`, following edges of
    /// `root_kinds` from the root and normal/build edges below it (a dependency's own
    /// dev-dependencies are never built for us). Each forbidden package is reported once,
    /// by its shortest path.
    fn reachable(
        &self,
        root: &str,
        root_kinds: &[Kind],
        forbidden: impl Fn(&str) -> bool,
    ) -> Vec<Vec<String>> {
        let mut parent: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([root]);
        let mut found = Vec::new();
        while let Some(id) = queue.pop_front() {
            let kinds: &[Kind] = if id == root {
                root_kinds
            } else {
                &[Kind::Normal, Kind::Build]
            };
            for (dep, dep_kinds) in self.edges.get(id).into_iter().flatten() {
                if !dep_kinds.iter().any(|k| kinds.contains(k))
                    || dep == root
                    || parent.contains_key(dep.as_str())
                {
                    continue;
                }
                parent.insert(dep, id);
                if forbidden(self.name(dep)) {
                    // Report the first forbidden crate on a path, not what lies behind it.
                    found.push(self.path(root, dep, &parent));
                } else {
                    queue.push_back(dep);
                }
            }
        }
        found
    }

    fn path(&self, root: &str, leaf: &str, parent: &HashMap<&str, &str>) -> Vec<String> {
        let mut path = vec![self.name(leaf).to_string()];
        let mut at = leaf;
        while at != root {
            match parent.get(at) {
                Some(up) => at = up,
                None => break,
            }
            path.push(self.name(at).to_string());
        }
        path.reverse();
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Metadata for a workspace with the given `(from, to, kind)` edges; package ids are
    /// the names, and every `meridian-*` crate is a workspace member.
    fn metadata(edges: &[(&str, &str, Option<&str>)]) -> Value {
        let mut names: Vec<&str> = CLIENT_LAYERS.to_vec();
        names.push(EMULATOR);
        for (from, to, _) in edges {
            names.extend([*from, *to]);
        }
        names.sort_unstable();
        names.dedup();
        let packages: Vec<Value> = names.iter().map(|n| json!({"id": n, "name": n})).collect();
        let members: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| n.starts_with("meridian-"))
            .collect();
        let nodes: Vec<Value> = names
            .iter()
            .map(|n| {
                let deps: Vec<Value> = edges
                    .iter()
                    .filter(|(from, _, _)| from == n)
                    .map(|(_, to, kind)| json!({"pkg": to, "dep_kinds": [{"kind": kind}]}))
                    .collect();
                json!({"id": n, "deps": deps})
            })
            .collect();
        json!({"packages": packages, "workspace_members": members, "resolve": {"nodes": nodes}})
    }

    fn violations(edges: &[(&str, &str, Option<&str>)]) -> Vec<String> {
        check(&metadata(edges))
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const GOOD: &[(&str, &str, Option<&str>)] = &[
        ("meridian-refresh-core", "dashmap", None),
        ("meridian-refresh-core", "proptest", Some("dev")),
        ("meridian-location-store", "meridian-refresh-core", None),
        ("meridian-runtime", "meridian-location-store", None),
        ("meridian-runtime", "meridian-refresh-core", None),
        ("meridian-runtime", "tokio", None),
        ("meridian-driver", "meridian-runtime", None),
        ("meridian-driver", "hyper", None),
        ("meridian-driver", "meridian-emulator", Some("dev")),
        ("meridian-driver", "meridian-testkit", Some("dev")),
        ("meridian-testkit", "meridian-driver", None),
        ("meridian-testkit", "meridian-emulator", None),
        ("meridian-emulator", "hyper", None),
        ("hyper", "tokio", None),
    ];

    #[test]
    fn the_intended_graph_passes() {
        assert_eq!(violations(GOOD), Vec::<String>::new());
    }

    #[test]
    fn io_reached_transitively_from_refresh_core_names_the_path() {
        let mut edges = GOOD.to_vec();
        edges.push(("dashmap", "tokio", None));
        assert_eq!(
            violations(&edges),
            vec![
                "meridian-refresh-core -> dashmap -> tokio: refresh-core must not depend on an async runtime, HTTP or socket crate"
            ]
        );
    }

    #[test]
    fn a_dev_only_runtime_in_refresh_core_is_allowed() {
        let mut edges = GOOD.to_vec();
        edges.push(("meridian-refresh-core", "tokio", Some("dev")));
        assert!(violations(&edges).is_empty());
    }

    #[test]
    fn hyper_in_location_store_fails() {
        let mut edges = GOOD.to_vec();
        edges.push(("meridian-location-store", "hyper", None));
        let found = violations(&edges);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("meridian-location-store -> hyper: location-store"));
    }

    #[test]
    fn emulator_depending_on_a_client_crate_fails_even_as_dev() {
        let mut edges = GOOD.to_vec();
        edges.push(("meridian-emulator", "meridian-location-store", Some("dev")));
        let found = violations(&edges);
        assert_eq!(
            found,
            vec![
                "meridian-emulator -> meridian-location-store: the emulator must not depend on a client crate"
            ]
        );
    }

    #[test]
    fn an_upward_edge_between_client_crates_fails() {
        let mut edges = GOOD.to_vec();
        edges.push(("meridian-location-store", "meridian-runtime", None));
        let found = violations(&edges);
        assert!(
            found.contains(
                &"meridian-location-store -> meridian-runtime: client crates may only depend downward: refresh-core <- location-store <- runtime <- driver".to_string()
            ),
            "{found:?}"
        );
    }

    #[test]
    fn a_normal_edge_from_the_driver_to_the_emulator_fails() {
        let mut edges = GOOD.to_vec();
        edges.push(("meridian-driver", "meridian-emulator", None));
        let found = violations(&edges);
        assert_eq!(
            found,
            vec![
                "meridian-driver -> meridian-emulator: a client crate may use the emulator only as a dev-dependency"
            ]
        );
    }

    #[test]
    fn a_normal_edge_from_a_client_crate_to_the_testkit_fails() {
        let mut edges = GOOD.to_vec();
        edges.push(("meridian-runtime", "meridian-testkit", None));
        let found = violations(&edges);
        assert_eq!(
            found,
            vec![
                "meridian-runtime -> meridian-testkit: a client crate may use the testkit only as a dev-dependency"
            ]
        );
    }

    #[test]
    fn the_emulator_depending_on_the_testkit_fails_as_it_reaches_client_crates() {
        let mut edges = GOOD.to_vec();
        edges.push(("meridian-emulator", "meridian-testkit", Some("dev")));
        let found = violations(&edges);
        assert!(
            found
                .iter()
                .any(|v| v.starts_with("meridian-emulator -> meridian-testkit -> meridian-driver")),
            "{found:?}"
        );
    }

    #[test]
    fn metadata_without_resolve_is_a_clear_error() {
        let err = check(&json!({"packages": [], "workspace_members": []})).unwrap_err();
        assert!(err.contains("resolve.nodes"), "{err}");
    }
}
