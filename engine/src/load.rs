//! Loads a manifest revision from in-memory files: picks the files of the three folders, parses each
//! strictly, and hands the result to `validate`. All-or-nothing: any problem rejects the revision.
//! It does not read the filesystem; callers pass the files in.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use crate::error::{ManifestError, ManifestErrors};
use crate::manifest::{DeploymentSpec, Kind, NodeSpec, Resource, ServiceSpec};
use crate::validate;

/// One file of the manifest repository: its path relative to the root (with `/`) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// A parsed resource and the file it came from.
#[derive(Clone, Debug)]
pub struct Loaded<S> {
    pub name: String,
    pub file: String,
    pub spec: S,
}

/// A valid revision: every resource by kind, keyed by `metadata.name`.
#[derive(Clone, Debug, Default)]
pub struct Manifests {
    pub nodes: BTreeMap<String, Loaded<NodeSpec>>,
    pub deployments: BTreeMap<String, Loaded<DeploymentSpec>>,
    pub services: BTreeMap<String, Loaded<ServiceSpec>>,
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

/// Parses and validates every manifest in `sources`; files outside the three folders are ignored.
pub fn load(sources: &[SourceFile]) -> Result<Manifests, ManifestErrors> {
    let mut manifests = Manifests::default();
    let mut errors = Vec::new();
    let mut sorted: Vec<&SourceFile> = sources.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for source in sorted {
        let Some(kind) = kind_of_path(&source.path) else {
            continue;
        };
        let result = match kind {
            Kind::Node => parse_into(source, kind, &mut manifests.nodes),
            Kind::Deployment => parse_into(source, kind, &mut manifests.deployments),
            Kind::Service => parse_into(source, kind, &mut manifests.services),
        };
        if let Err(error) = result {
            errors.push(error);
        }
    }
    errors.extend(validate::validate(&manifests));
    if errors.is_empty() {
        Ok(manifests)
    } else {
        errors.sort();
        errors.dedup();
        Err(ManifestErrors(errors))
    }
}

/// Loads a single Node manifest, such as the `node.yaml` that `orun bootstrap` writes.
pub fn load_node(source: &SourceFile) -> Result<Loaded<NodeSpec>, ManifestErrors> {
    let mut nodes = BTreeMap::new();
    parse_into(source, Kind::Node, &mut nodes).map_err(|error| ManifestErrors(vec![error]))?;
    let manifests = Manifests {
        nodes,
        ..Manifests::default()
    };
    let errors = validate::validate(&manifests);
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
    into: &mut BTreeMap<String, Loaded<S>>,
) -> Result<(), ManifestError> {
    let resource: Resource<S> = parse_resource(source, kind)?;
    let name = resource.metadata.name.as_str().to_string();
    if let Some(first) = into.get(&name) {
        return Err(ManifestError::new(
            &source.path,
            Some("metadata.name"),
            format!(
                "duplicate {} name {name:?}, already defined in {}",
                kind.name(),
                first.file
            ),
        ));
    }
    into.insert(
        name.clone(),
        Loaded {
            name,
            file: source.path.clone(),
            spec: resource.spec,
        },
    );
    Ok(())
}

fn parse_resource<S: DeserializeOwned>(
    source: &SourceFile,
    folder_kind: Kind,
) -> Result<Resource<S>, ManifestError> {
    // The kind is checked first so that a misplaced file says so instead of listing unknown fields.
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
    let deserializer = serde_yaml::Deserializer::from_str(&source.text);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        yaml_error(source, Some(path), error.inner())
    })
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
