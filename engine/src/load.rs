//! Loads a manifest revision from in-memory files: picks the files of the four folders, parses each
//! strictly, and hands the result to `validate`. All-or-nothing: any problem rejects the revision,
//! and every problem of every file is reported, not only the first of each file. It does not read
//! the filesystem; callers pass the files in. Every file passes the input limits of `limits`
//! before it is parsed.

mod positions;
mod prune;

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;

use crate::error::{ManifestError, ManifestErrors, Unloaded};
use crate::limits::{self, LimitError, MAX_REVISION_BYTES};
use crate::manifest::{Kind, Manifest, Manifests, NodeSpec, Resource, NO_PROBE_KIND, PROBE_KINDS};
use crate::validate;

/// One file of the manifest repository: its path relative to the root (with `/`) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// The folder kind of a repository path, or `None` for files orun ignores.
pub fn kind_of_path(path: &str) -> Option<Kind> {
    let is_yaml = path.ends_with(".yaml") || path.ends_with(".yml");
    let (folder, rest) = path.split_once('/')?;
    if !is_yaml || rest.is_empty() {
        return None;
    }
    Kind::ALL.into_iter().find(|kind| kind.folder() == folder)
}

/// Parses and validates every manifest in `sources`; files outside the four folders are ignored.
pub fn load(sources: &[SourceFile]) -> Result<Manifests, ManifestErrors> {
    let mut manifests = Manifests::default();
    let mut errors = Vec::new();
    let mut sorted: Vec<(&SourceFile, Kind)> = sources
        .iter()
        .filter_map(|source| Some((source, kind_of_path(&source.path)?)))
        .collect();
    sorted.sort_by(|(a, _), (b, _)| a.path.cmp(&b.path));
    check_revision_size(&sorted)?;
    let mut unloaded = Unloaded::default();
    for (source, kind) in sorted {
        let result = match kind {
            Kind::Node => parse_into(source, kind, &mut manifests.nodes),
            Kind::Deployment => parse_into(source, kind, &mut manifests.deployments),
            Kind::Service => parse_into(source, kind, &mut manifests.services),
            Kind::Job => parse_into(source, kind, &mut manifests.jobs),
        };
        if let Err(problems) = result {
            errors.extend(problems);
            unloaded.add(kind, declared_name(source), &source.path);
        }
    }
    errors.extend(validate::validate(&manifests, &unloaded));
    if errors.is_empty() {
        Ok(manifests)
    } else {
        errors.sort();
        errors.dedup();
        Err(ManifestErrors(errors))
    }
}

/// The name a file that failed to load meant to define: its `metadata.name` when the file is YAML
/// that says, else the file's name without `.yaml` or `.yml`.
fn declared_name(source: &SourceFile) -> String {
    let written = limits::check(&source.text)
        .ok()
        .and_then(|text| serde_yaml::from_str::<serde_yaml::Value>(text).ok())
        .and_then(|document| {
            document
                .get("metadata")?
                .get("name")?
                .as_str()
                .map(str::to_string)
        });
    written.unwrap_or_else(|| {
        let file = source.path.rsplit('/').next().unwrap_or(&source.path);
        file.trim_end_matches(".yaml")
            .trim_end_matches(".yml")
            .to_string()
    })
}

/// Refuses a revision whose manifests add up to more than `MAX_REVISION_BYTES`, naming the file
/// that crosses the limit, before any of them is parsed.
fn check_revision_size(sources: &[(&SourceFile, Kind)]) -> Result<(), ManifestErrors> {
    let mut total = 0;
    for (source, _) in sources {
        total += source.text.len();
        if total > MAX_REVISION_BYTES {
            return Err(ManifestErrors(vec![ManifestError::new(
                &source.path,
                None,
                format!(
                    "the manifests up to this file add up to {total} bytes, more than the limit of {MAX_REVISION_BYTES} bytes (16 MiB) per revision"
                ),
            )]));
        }
    }
    Ok(())
}

/// Loads a single Node manifest, such as the `node.yaml` that `orun bootstrap` writes.
pub fn load_node(source: &SourceFile) -> Result<Manifest<NodeSpec>, ManifestErrors> {
    let mut nodes = BTreeMap::new();
    parse_into(source, Kind::Node, &mut nodes).map_err(ManifestErrors)?;
    let manifests = Manifests {
        nodes,
        ..Manifests::default()
    };
    let errors = validate::validate(&manifests, &Unloaded::default());
    if !errors.is_empty() {
        return Err(ManifestErrors(errors));
    }
    let node = manifests
        .nodes
        .into_values()
        .next()
        .expect("one node was parsed");
    Ok(node)
}

fn parse_into<S: DeserializeOwned>(
    source: &SourceFile,
    kind: Kind,
    into: &mut BTreeMap<String, Manifest<S>>,
) -> Result<(), Vec<ManifestError>> {
    let resource: Resource<S> = parse_resource(source, kind)?;
    let name = resource.metadata.name.as_str().to_string();
    if let Some(first) = into.get(&name) {
        return Err(vec![ManifestError::new(
            &source.path,
            Some("metadata.name"),
            format!(
                "duplicate {} name {name:?}, already defined in {}",
                kind.name(),
                first.file
            ),
        )]);
    }
    into.insert(
        name.clone(),
        Manifest {
            name,
            file: source.path.clone(),
            spec: resource.spec,
        },
    );
    Ok(())
}

/// Parses one file into its resource, or every problem found in it.
fn parse_resource<S: DeserializeOwned>(
    source: &SourceFile,
    folder_kind: Kind,
) -> Result<Resource<S>, Vec<ManifestError>> {
    let text = limits::check(&source.text).map_err(|error| vec![limit_error(source, &error)])?;
    let source = SourceFile {
        path: source.path.clone(),
        text: text.to_string(),
    };
    check_envelope(&source, folder_kind).map_err(|error| vec![error])?;
    parse_every_problem(&source)
}

/// A file over an input limit, located where the parser was when it crossed it.
fn limit_error(source: &SourceFile, error: &LimitError) -> ManifestError {
    let location = error.location();
    ManifestError {
        file: source.path.clone(),
        line: location.map(|(line, _)| line),
        column: location.map(|(_, column)| column),
        field: None,
        message: error.to_string(),
    }
}

/// Checks that the file is YAML holding a mapping of the folder's kind. A syntax error stops the
/// file here; the kind is checked first so that a misplaced file says so instead of listing
/// unknown fields.
fn check_envelope(source: &SourceFile, folder_kind: Kind) -> Result<(), ManifestError> {
    let value: serde_yaml::Value =
        serde_yaml::from_str(&source.text).map_err(|error| yaml_error(source, None, &error))?;
    let Some(mapping) = value.as_mapping() else {
        return Err(ManifestError::new(
            &source.path,
            None,
            "expected a mapping with apiVersion, kind, metadata and spec",
        ));
    };
    match mapping.get("kind").and_then(|kind| kind.as_str()) {
        None => {
            return Err(ManifestError::new(
                &source.path,
                Some("kind"),
                format!("missing kind, expected {:?}", folder_kind.name()),
            ))
        }
        Some(kind) if kind != folder_kind.name() => {
            let message = match Kind::ALL.iter().find(|known| known.name() == kind) {
                Some(_) => format!(
                    "kind {kind:?} does not belong in folder {}/, which holds {:?}",
                    folder_kind.folder(),
                    folder_kind.name()
                ),
                None => format!(
                    "unknown kind {kind:?}, expected {:?} in folder {}/",
                    folder_kind.name(),
                    folder_kind.folder()
                ),
            };
            return Err(ManifestError::new(&source.path, Some("kind"), message));
        }
        Some(_) => {}
    }
    Ok(())
}

/// How many problems one file lists at most. Every problem costs a pass over the whole file, so
/// this bounds the work a file full of mistakes (or garbage) can cause to that many parses.
const MAX_PROBLEMS_PER_FILE: usize = 50;

/// How many bytes the passes over one file may parse in all: a large file lists fewer problems,
/// so that listing them costs about as much as for a file of 160 KiB.
const PROBLEM_PARSE_BUDGET: usize = 8 * 1024 * 1024;

/// How many problems a file of `size` bytes lists at most: `MAX_PROBLEMS_PER_FILE`, fewer for
/// files so large that as many passes would exceed `PROBLEM_PARSE_BUDGET`, and at least one.
fn problem_limit(size: usize) -> usize {
    (PROBLEM_PARSE_BUDGET / size.max(1)).clamp(1, MAX_PROBLEMS_PER_FILE)
}

/// Deserializes the file pass after pass: each failed pass reports its problem and hides the node
/// it came from, so the next pass gets further. It stops when a pass succeeds, when the problem
/// concerns the whole document, or after `problem_limit` problems. A missing field that is
/// missing only because its invalid value was hidden is not reported again.
fn parse_every_problem<S: DeserializeOwned>(
    source: &SourceFile,
) -> Result<Resource<S>, Vec<ManifestError>> {
    let mut hidden = BTreeSet::new();
    let mut hidden_fields = BTreeSet::new();
    let mut errors = Vec::new();
    let limit = problem_limit(source.text.len());
    let mut places = None;
    loop {
        let mut track = serde_path_to_error::Track::new();
        let deserializer = serde_path_to_error::Deserializer::new(
            serde_yaml::Deserializer::from_str(&source.text),
            &mut track,
        );
        let (error, culprit) = match prune::deserialize(deserializer, &hidden) {
            Ok(resource) if errors.is_empty() => return Ok(resource),
            Ok(_) => return Err(errors),
            Err(failure) => failure,
        };
        let field = track.path().to_string();
        let mut error = yaml_error(source, Some(field.clone()), &error);
        let places = places.get_or_insert_with(|| positions::places(&source.text));
        at_own_place(&mut error, places);
        if !is_missing_because_hidden(&error, &field, &hidden_fields) {
            if errors.len() == limit {
                errors.push(ManifestError::new(
                    &source.path,
                    None,
                    format!("more than {limit} problems, only the first {limit} are listed"),
                ));
                return Err(errors);
            }
            errors.push(error);
        }
        hidden_fields.insert(field);
        // Stop when nothing can be hidden: the problem concerns the whole document.
        if !culprit.is_some_and(|node| hidden.insert(node)) {
            return Err(errors);
        }
    }
}

/// Moves `error` to its field's own place when the parser located it before the field, at the
/// mapping or sequence that encloses it.
fn at_own_place(error: &mut ManifestError, places: &BTreeMap<String, positions::Place>) {
    let (Some(field), Some(line), Some(column)) = (&error.field, error.line, error.column) else {
        return;
    };
    let Some(place) = places.get(field) else {
        return;
    };
    if (line, column) < place.key.unwrap_or(place.value) {
        let (own_line, own_column) = place.start();
        error.line = Some(own_line);
        error.column = Some(own_column);
    }
}

/// True for a `missing field` error whose field was present but hidden after its own problem, and
/// likewise for a probe whose only kind of check was hidden, and for a `one of … is required`
/// error on a mapping one of whose fields was hidden that way.
fn is_missing_because_hidden(
    error: &ManifestError,
    parent: &str,
    hidden_fields: &BTreeSet<String>,
) -> bool {
    if error.message == NO_PROBE_KIND {
        return PROBE_KINDS
            .iter()
            .any(|kind| hidden_fields.contains(&format!("{parent}.{kind}")));
    }
    if error.message.starts_with("one of ") {
        let prefix = format!("{parent}.");
        return hidden_fields.iter().any(|field| field.starts_with(&prefix));
    }
    let Some(name) = error
        .message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    else {
        return false;
    };
    let field = if parent == "." {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    };
    hidden_fields.contains(&field)
}

fn yaml_error(
    source: &SourceFile,
    path: Option<String>,
    error: &serde_yaml::Error,
) -> ManifestError {
    let location = error.location();
    let mut message = error.to_string();
    if let Some(location) = &location {
        let suffix = format!(" at line {} column {}", location.line(), location.column());
        if let Some(index) = message.find(&suffix) {
            message.replace_range(index..index + suffix.len(), "");
        }
    }
    let field = path.filter(|path| path != ".");
    if let Some(field) = &field {
        // The parser prefixes its own path, which can stop at the enclosing mapping.
        if let Some((prefix, rest)) = message.split_once(": ") {
            let encloses = field == prefix
                || field.starts_with(&format!("{prefix}."))
                || field.starts_with(&format!("{prefix}["));
            if encloses {
                message = rest.to_string();
            }
        }
    }
    ManifestError {
        file: source.path.clone(),
        line: location.as_ref().map(|l| l.line()),
        column: location.as_ref().map(|l| l.column()),
        field,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(path: &str, text: &str) -> Vec<String> {
        let source = SourceFile {
            path: path.into(),
            text: text.into(),
        };
        let errors = load(&[source]).expect_err("the file has problems");
        errors.0.iter().map(ToString::to_string).collect()
    }

    const HEADER: &str =
        "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\n";

    #[test]
    fn a_commit_status_needs_a_known_provider_and_an_http_api() {
        let node = |commit_status: &str| {
            format!("apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: a\nspec:\n  host: a\n  gitRepo: /srv/infra.git\n  commitStatus:\n{commit_status}")
        };
        assert_eq!(
            problems(
                "nodes/a.yaml",
                &node("    provider: bitbucket\n    api: ftp://git.example\n    tokenFrom: GIT_TOKEN\n")
            ),
            [
                "nodes/a.yaml:9:5: spec.commitStatus.provider: unknown provider \"bitbucket\": use github, gitea, forgejo or gitlab",
                "nodes/a.yaml:10:10: spec.commitStatus.api: must be an http:// or https:// URL with a host",
            ]
        );
        assert_eq!(
            problems(
                "nodes/a.yaml",
                &node("    provider: gitea\n    api: https://git.example/api/v1\n")
            ),
            ["nodes/a.yaml:9:5: spec.commitStatus: missing field `tokenFrom`"]
        );
    }

    #[test]
    fn every_problem_of_a_file_is_listed_in_order() {
        let text = format!(
            "{HEADER}spec:\n  image: nginx\n  restart: always\n  ports:\n    - containerPort: 80\n      port: 99999\n  stopTimeout: 10\n"
        );
        let listed = problems("deployments/web.yaml", &text);
        let fields: Vec<&str> = listed
            .iter()
            .map(|line| line.split(": ").nth(1).unwrap())
            .collect();
        assert_eq!(
            fields,
            ["spec.restart", "spec.ports[0].port", "spec.stopTimeout"],
            "{listed:#?}"
        );
        assert!(
            listed[1].starts_with("deployments/web.yaml:10:13: "),
            "{listed:#?}"
        );
    }

    #[test]
    fn errors_raised_after_a_value_is_read_point_at_the_field_itself() {
        let text = format!(
            "{HEADER}spec:\n  image: nginx\n  user: root\n  workingDir: relative\n  health:\n    readiness:\n      tcp: localhost:80\n    liveness: {{}}\n  volumes:\n    - hostPath: /srv/a\n      containerPath: /a\n    - hostPath: /srv/b\n      containerPath: b\n    - containerPath: /c\n    - name: data\n      containerPath: /d\n      extra: 1\n"
        );
        assert_eq!(
            problems("deployments/web.yaml", &text),
            [
                "deployments/web.yaml:8:15: spec.workingDir: path \"relative\" must be absolute",
                "deployments/web.yaml:12:15: spec.health.liveness: a probe needs one of http, tcp or exec",
                "deployments/web.yaml:17:22: spec.volumes[1].containerPath: path \"b\" must be absolute",
                "deployments/web.yaml:18:7: spec.volumes[2]: one of hostPath (bind mount) or name (named volume) is required",
                "deployments/web.yaml:21:7: spec.volumes[3].extra: unknown field `extra`, expected one of `hostPath`, `name`, `containerPath`, `readOnly`, `selinux`, `propagation`",
            ]
        );
        let block = format!(
            "{HEADER}spec:\n  image: nginx\n  health:\n    readiness:\n      tcp: localhost:80\n    liveness:\n      interval: 5s\n"
        );
        assert_eq!(
            problems("deployments/web.yaml", &block),
            ["deployments/web.yaml:10:5: spec.health.liveness: a probe needs one of http, tcp or exec"]
        );
    }

    #[test]
    fn a_reference_to_a_file_that_failed_to_load_names_that_file() {
        let source = |path: &str, text: String| SourceFile {
            path: path.into(),
            text,
        };
        let db = "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: db\nspec:\n  image: postgres\n  bogus: 1\n";
        let web = format!("{HEADER}spec:\n  image: nginx\n  dependsOn: [db, cache]\n  placement:\n    nodes: [n1]\n");
        let service = "apiVersion: run.orcra.dev/v0alpha\nkind: Service\nmetadata:\n  name: db\nspec:\n  deployment: db\n  port: 5432\n  ingress:\n    domain:\n      default: db.example.com\n";
        let listed: Vec<String> = load(&[
            source("deployments/db.yaml", db.to_string()),
            source(
                "deployments/cache.yaml",
                "kind: Deployment\n: [".to_string(),
            ),
            source("deployments/web.yaml", web),
            source(
                "nodes/n1.yaml",
                "kind: Node\nmetadata: {name: n1}\nspec: {}\n".to_string(),
            ),
            source("services/db.yaml", service.to_string()),
        ])
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
        for expected in [
            "deployments/web.yaml: spec.dependsOn[0]: deployment \"db\" is defined in deployments/db.yaml, which failed to load (see its errors)",
            "deployments/web.yaml: spec.dependsOn[1]: deployment \"cache\" is defined in deployments/cache.yaml, which failed to load (see its errors)",
            "deployments/web.yaml: spec.placement.nodes[0]: Node \"n1\" is defined in nodes/n1.yaml, which failed to load (see its errors)",
            "services/db.yaml: spec.deployment: deployment \"db\" is defined in deployments/db.yaml, which failed to load (see its errors)",
        ] {
            assert!(listed.iter().any(|line| line == expected), "{expected}\n{listed:#?}");
        }
        assert!(
            !listed
                .iter()
                .any(|line| line.contains("does not exist") || line.contains("no Node named")),
            "{listed:#?}"
        );
    }

    #[test]
    fn an_invalid_required_value_is_not_also_reported_missing() {
        let text = format!(
            "{HEADER}spec:\n  image: nginx\n  volumes:\n    - hostPath: data\n      containerPath: /data\n"
        );
        let listed = problems("deployments/web.yaml", &text);
        assert_eq!(listed.len(), 1, "{listed:#?}");
        assert!(listed[0].contains("spec.volumes[0].hostPath: path \"data\" must be absolute"));
    }

    #[test]
    fn a_field_that_is_really_missing_is_still_reported() {
        let text = format!("{HEADER}spec:\n  image: nginx\n  ports:\n    - port: 99999\n");
        let listed = problems("deployments/web.yaml", &text);
        assert_eq!(listed.len(), 2, "{listed:#?}");
        assert!(listed[0].contains("spec.ports[0]: missing field `containerPort`"));
        assert!(listed[1].contains("spec.ports[0].port: port 99999 is out of range"));
    }

    #[test]
    fn a_syntax_error_stops_only_its_own_file() {
        let broken = SourceFile {
            path: "deployments/broken.yaml".into(),
            text: format!("{HEADER}spec:\n  image: nginx\n  bogus: 1\n ports: []\n"),
        };
        let other = SourceFile {
            path: "deployments/web.yaml".into(),
            text: format!("{HEADER}spec:\n  image: nginx\n  a: 1\n  b: 2\n"),
        };
        let errors = load(&[broken, other]).expect_err("both files have problems");
        let files: Vec<&str> = errors.0.iter().map(|error| error.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "deployments/broken.yaml",
                "deployments/web.yaml",
                "deployments/web.yaml"
            ],
            "{errors}"
        );
    }

    #[test]
    fn a_revision_over_the_total_size_is_refused_before_parsing() {
        let padding = "#".repeat(limits::MAX_FILE_BYTES - 100);
        let sources: Vec<SourceFile> = (0..17)
            .map(|index| SourceFile {
                path: format!("deployments/w{index:02}.yaml"),
                text: format!("{HEADER}{padding}"),
            })
            .collect();
        let errors = load(&sources).expect_err("over 16 MiB");
        assert_eq!(errors.0.len(), 1, "{errors}");
        assert!(
            errors.0[0]
                .to_string()
                .starts_with("deployments/w16.yaml: the manifests up to this file add up to "),
            "{errors}"
        );
    }

    #[test]
    fn nesting_and_a_byte_order_mark_are_handled_before_parsing() {
        let nested = format!(
            "{HEADER}spec:\n  image: {}{}\n",
            "[".repeat(70),
            "]".repeat(70)
        );
        let listed = problems("deployments/web.yaml", &nested);
        assert_eq!(
            listed,
            ["deployments/web.yaml:6:72: nested more than 64 levels deep"]
        );
        let bom = SourceFile {
            path: "deployments/web.yaml".into(),
            text: format!("\u{feff}{HEADER}spec:\n  image: nginx\n"),
        };
        assert!(load(&[bom]).is_ok());
    }

    #[test]
    fn a_large_file_lists_fewer_problems_so_its_passes_stay_bounded() {
        assert_eq!(problem_limit(10_000), MAX_PROBLEMS_PER_FILE);
        assert_eq!(problem_limit(1024 * 1024), 8);
        assert_eq!(problem_limit(usize::MAX), 1);
        let unknown: String = (0..40_000)
            .map(|index| format!("  unknown{index}: 1\n"))
            .collect();
        let text = format!("{HEADER}spec:\n  image: nginx\n{unknown}");
        let limit = problem_limit(text.len());
        let listed = problems("deployments/web.yaml", &text);
        assert_eq!(listed.len(), limit + 1);
        assert_eq!(
            listed[0],
            format!("deployments/web.yaml: more than {limit} problems, only the first {limit} are listed")
        );
    }

    #[test]
    fn a_file_lists_at_most_a_bounded_number_of_problems() {
        let unknown: String = (0..MAX_PROBLEMS_PER_FILE + 10)
            .map(|index| format!("  unknown{index}: 1\n"))
            .collect();
        let text = format!("{HEADER}spec:\n  image: nginx\n{unknown}");
        let listed = problems("deployments/web.yaml", &text);
        assert_eq!(listed.len(), MAX_PROBLEMS_PER_FILE + 1);
        assert_eq!(
            listed[0],
            "deployments/web.yaml: more than 50 problems, only the first 50 are listed"
        );
    }
}
