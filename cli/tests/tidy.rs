//! Mechanical checks of the invariants ARCHITECTURE.md states, run with every `cargo test`: the
//! engine depends on nothing that does I/O and touches no filesystem, clock, environment or
//! process; only the CLI uses anyhow; the CLI makes no Docker or Git calls of its own; rollout
//! copies are decided in one place; no two modules of a crate use each other; every source file
//! says what it is; the codemap names every source file; nothing cites documents outside the
//! repository. It reads the repository's files only.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Files tracked under `dir` (relative to the root) whose names end with `suffix`.
fn files(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root().join(dir)];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_dir() && name != "target" && !name.starts_with('.') {
                pending.push(path);
            } else if name.ends_with(suffix) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The dependency names of a crate's `[dependencies]` table.
fn dependencies(krate: &str) -> Vec<String> {
    let manifest = read(&root().join(krate).join("Cargo.toml"));
    let mut names = Vec::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.']).next().unwrap().trim();
            names.push(name.to_string());
        }
    }
    names
}

/// Crates that do I/O, and orun's own crates around the engine.
const IO_CRATES: [&str; 16] = [
    "tokio",
    "bollard",
    "git2",
    "reqwest",
    "axum",
    "hyper",
    "ignore",
    "walkdir",
    "tar",
    "libc",
    "sd-notify",
    "tracing",
    "tracing-subscriber",
    "prometheus-client",
    "adapters",
    "node",
];

/// What reads a file, the environment, a process, the network or the clock.
const HOST_ACCESS: [&str; 7] = [
    "std::fs",
    "std::env",
    "std::process",
    "SystemTime::now",
    "Instant::now",
    "TcpStream",
    "UdpSocket",
];

#[test]
fn engine_depends_on_no_io_crate() {
    let dependencies = dependencies("engine");
    let offending: Vec<&String> = dependencies
        .iter()
        .filter(|name| IO_CRATES.contains(&name.as_str()))
        .collect();
    assert!(offending.is_empty(), "engine depends on {offending:?}");
}

#[test]
fn engine_reads_no_file_clock_environment_or_process() {
    for file in files("engine/src", ".rs") {
        let text = read(&file);
        for word in HOST_ACCESS.iter().chain(&["SystemTime", "TcpListener"]) {
            assert!(!text.contains(word), "{} uses {word}", file.display());
        }
    }
}

/// The node's decisions (`node/src/decisions/`) are held to the engine's rule: outside their
/// tests they name no I/O crate, no adapter and no clock, and touch no file, environment or
/// process.
#[test]
fn the_nodes_decisions_do_no_io() {
    let crate_paths: Vec<String> = IO_CRATES
        .iter()
        .map(|name| format!("{}::", name.replace('-', "_")))
        .collect();
    let decisions = files("node/src/decisions", ".rs");
    assert!(decisions.len() >= 5, "{decisions:?}");
    for file in decisions {
        let text = read(&file);
        let code = text.split("#[cfg(test)]").next().unwrap();
        for word in crate_paths.iter().map(String::as_str).chain(HOST_ACCESS) {
            assert!(!code.contains(word), "{} uses {word}", file.display());
        }
    }
}

#[test]
fn bootstrap_does_not_depend_on_the_node_agent() {
    assert!(!dependencies("bootstrap")
        .iter()
        .any(|name| name == "node" || name == "adapters"));
}

#[test]
fn adapters_do_not_depend_on_the_node_daemon() {
    assert!(!dependencies("adapters").iter().any(|name| name == "node"));
}

/// The library crates' errors are typed: `anyhow` is for the CLI, which only prints them.
#[test]
fn only_the_cli_depends_on_anyhow() {
    for krate in ["engine", "adapters", "node", "bootstrap"] {
        assert!(
            !dependencies(krate).iter().any(|name| name == "anyhow"),
            "{krate} depends on anyhow"
        );
    }
}

#[test]
fn cli_makes_no_docker_or_git_calls_of_its_own() {
    let dependencies = dependencies("cli");
    for name in ["bollard", "git2"] {
        assert!(
            !dependencies.iter().any(|dependency| dependency == name),
            "cli depends on {name}"
        );
    }
}

/// The rollout copies are decided in `engine::copies` only: no other source file spells a copy's
/// suffix or takes a copy's name apart.
#[test]
fn rollout_copies_are_decided_in_one_place() {
    const COPY_DECISIONS: [&str; 5] = [
        "\".orun-old\"",
        "\".orun-next\"",
        "ROLLBACK_SUFFIX",
        "NEXT_SUFFIX",
        "strip_suffix(\".orun",
    ];
    let owner = root().join("engine/src/copies.rs");
    for krate in ["engine", "adapters", "node", "cli"] {
        for file in files(&format!("{krate}/src"), ".rs") {
            if file == owner {
                continue;
            }
            let text = read(&file);
            for word in COPY_DECISIONS {
                assert!(!text.contains(word), "{} uses {word}", file.display());
            }
        }
    }
}

/// For each top-level module of a crate (`load` for `load.rs` and `load/prune.rs`), the other
/// top-level modules its code outside `#[cfg(test)]` names with a `crate::` path.
fn module_uses(krate: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join(krate).join("src");
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files(&format!("{krate}/src"), ".rs") {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let module = relative
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        if matches!(module.as_str(), "lib" | "main") {
            continue;
        }
        let text = read(&file);
        let code = text.split("#[cfg(test)]").next().unwrap();
        let named = uses.entry(module.clone()).or_default();
        for line in code
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
        {
            for (_, rest) in line
                .match_indices("crate::")
                .map(|(at, _)| line.split_at(at + 7))
            {
                let used: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !used.is_empty() && used != module {
                    named.insert(used);
                }
            }
        }
    }
    uses
}

#[test]
fn no_two_modules_of_a_crate_use_each_other() {
    for krate in ["engine", "adapters", "node", "bootstrap", "cli"] {
        let uses = module_uses(krate);
        for (module, named) in &uses {
            for other in named {
                let back = uses
                    .get(other)
                    .is_some_and(|theirs| theirs.contains(module));
                if back && module < other {
                    panic!(
                        "{krate}: {module} and {other} use each other; move what they share so that one depends on the other"
                    );
                }
            }
        }
    }
}

#[test]
fn every_source_file_says_what_it_is() {
    for krate in ["engine", "adapters", "node", "bootstrap", "cli"] {
        for file in files(&format!("{krate}/src"), ".rs") {
            assert!(
                read(&file).starts_with("//!"),
                "{} does not start with a //! line",
                file.display()
            );
        }
    }
}

#[test]
fn the_codemap_names_every_source_file() {
    let architecture = read(&root().join("ARCHITECTURE.md"));
    for krate in ["engine", "adapters", "node", "bootstrap", "cli"] {
        for file in files(&format!("{krate}/src"), ".rs") {
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            if matches!(name.as_str(), "lib.rs" | "main.rs" | "mod.rs") {
                continue;
            }
            let stem = name.trim_end_matches(".rs");
            assert!(
                architecture.contains(&format!("`{name}`"))
                    || architecture.contains(&format!("`{stem}`"))
                    || architecture.contains(&format!("`{stem}/`")),
                "ARCHITECTURE.md does not mention {}",
                file.display()
            );
        }
    }
}

#[test]
fn nothing_cites_documents_outside_the_repository() {
    // Spelled in pieces so that this file does not cite them itself.
    let cites = [
        format!("{} \u{a7}", "SPEC"),
        ["..", "shared"].join("/"),
        format!("{}.md", "SPEC"),
    ];
    let mut checked = 0;
    for suffix in [".rs", ".md", ".toml", ".sh", ".yaml"] {
        for file in files(".", suffix) {
            let text = read(&file);
            for cite in &cites {
                assert!(!text.contains(cite), "{} cites {cite:?}", file.display());
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} files checked");
}
