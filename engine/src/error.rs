//! Problems found in a manifest revision, each located by file, line/column and field path, and
//! findings that do not reject a revision (warnings and notes), located by file and field path,
//! and the names that files which failed to load meant to define, so that references to them name
//! those files. It only describes them; finding them is `load`, `validate` and `placement`.

use std::collections::BTreeMap;
use std::fmt;

use crate::manifest::Kind;

/// One problem in one manifest file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct ManifestError {
    /// Path relative to the repository root, e.g. `deployments/web.yaml`.
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Field path as written in the manifest, e.g. `spec.ports[1].port`.
    pub field: Option<String>,
    pub message: String,
}

impl ManifestError {
    pub fn new(file: &str, field: Option<&str>, message: impl Into<String>) -> Self {
        ManifestError {
            file: file.to_string(),
            line: None,
            column: None,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem of a rejected revision, sorted by file, then position.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ManifestErrors(pub Vec<ManifestError>);

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(
            f,
            "{count} problem{} in the manifests",
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.0 {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

/// How much a [`Finding`] matters; warnings come before notes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Probably not what was meant, such as a deployment that no node runs.
    Warning,
    /// Worth knowing about how orun reads the revision.
    Note,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

/// Something to tell about a valid revision, which it does not reject. It displays as a
/// [`ManifestError`] without a position does: `file: field: message`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub level: Level,
    /// Path relative to the repository root, e.g. `deployments/web.yaml`.
    pub file: String,
    /// Field path as written in the manifest, e.g. `spec.dependsOn[0]`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.field, self.message)
    }
}

/// The files of a revision that failed to load, by the name each meant to define, so that a
/// reference to one names the file at fault rather than calling the name unknown.
#[derive(Debug, Default)]
pub struct Unloaded {
    deployments: BTreeMap<String, String>,
    nodes: BTreeMap<String, String>,
}

impl Unloaded {
    /// Records that `file`, of `kind`, meant to define `name` and did not load.
    pub fn add(&mut self, kind: Kind, name: String, file: &str) {
        let names = match kind {
            Kind::Deployment => &mut self.deployments,
            Kind::Node => &mut self.nodes,
            Kind::Service | Kind::Job => return,
        };
        names.entry(name).or_insert_with(|| file.to_string());
    }

    /// Why a reference to the deployment `name`, which did not load, fails: its file failed.
    pub(crate) fn deployment(&self, name: &str) -> Option<String> {
        self.deployments
            .get(name)
            .map(|file| failed_file("deployment", name, file))
    }

    /// Why a reference to the Node `name`, which did not load, fails: its file failed.
    pub(crate) fn node(&self, name: &str) -> Option<String> {
        self.nodes
            .get(name)
            .map(|file| failed_file("Node", name, file))
    }
}

fn failed_file(kind: &str, name: &str, file: &str) -> String {
    format!("{kind} {name:?} is defined in {file}, which failed to load (see its errors)")
}
