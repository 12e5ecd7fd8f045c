//! Problems found in a manifest revision, each located by file, line/column and field path, and
//! findings that do not reject a revision (warnings and notes), located by file and field path.
//! It only describes them; finding them is `load`, `validate` and `placement`.

use std::fmt;

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
