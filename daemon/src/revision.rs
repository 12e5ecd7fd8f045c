//! A manifest revision read from a folder (a work tree or the node's clone): the files the engine's
//! revision pipeline asks for, the build contexts under the code folder, and the secrets decrypted
//! with the node's age identity. It decides nothing about what the files mean; `engine::revision`
//! does.

use std::fs;
use std::path::{Path, PathBuf};

use engine::build::ContextFile;
use engine::load::kind_of_path;
use engine::manifest::{BuildSpec, Kind, NodeSpec};
use engine::revision::RevisionSource;
use engine::{Manifests, Secrets, SourceFile};

use crate::build_context::{context_files, ContextError};
use crate::files::{files_under, WalkError};
use crate::secrets::{self, SecretsError};

/// The revision checked out in `root`.
#[derive(Clone, Debug)]
pub struct WorkTree {
    pub root: PathBuf,
    /// Base of build contexts when set (the daemon's `codeDir`); otherwise the selected node's
    /// `codeDir` under `root`, else `root`.
    pub code_dir: Option<PathBuf>,
    pub age_key: AgeKey,
}

/// Where the age identity that opens `secrets.yaml` is.
#[derive(Clone, Debug)]
pub enum AgeKey {
    /// This file (the daemon settles it once, at start).
    File(PathBuf),
    /// `--age-key-path` when given; otherwise looked up by `secrets::age_key_path` under the
    /// selected node's `dataDir`.
    Lookup(Option<PathBuf>),
}

/// Why a folder's revision could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("manifest repository: {0}")]
    Walk(#[from] WalkError),
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}: manifest is not valid UTF-8")]
    NotUtf8(String),
    #[error("cannot read build context {}: {source}", .context.display())]
    Context {
        context: PathBuf,
        source: ContextError,
    },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

impl WorkTree {
    /// A work tree whose code folder and age identity follow the selected node (the CLI).
    pub fn new(root: &Path, age_key_flag: Option<&Path>) -> Self {
        WorkTree {
            root: root.to_path_buf(),
            code_dir: None,
            age_key: AgeKey::Lookup(age_key_flag.map(Path::to_path_buf)),
        }
    }

    /// Where build contexts live for `node`.
    pub fn code_dir(&self, node: Option<&NodeSpec>) -> PathBuf {
        match (&self.code_dir, node.and_then(|node| node.code_dir.as_ref())) {
            (Some(fixed), _) => fixed.clone(),
            (None, Some(dir)) => self.root.join(dir),
            (None, None) => self.root.clone(),
        }
    }

    /// The age identity file for `node`.
    pub fn age_key(&self, node: Option<&NodeSpec>) -> PathBuf {
        match &self.age_key {
            AgeKey::File(path) => path.clone(),
            AgeKey::Lookup(flag) => secrets::age_key_for(flag.as_deref(), node),
        }
    }
}

impl RevisionSource for WorkTree {
    type Error = ReadError;

    fn manifest_files(&self) -> Result<Vec<SourceFile>, ReadError> {
        let found = files_under(&self.root, in_manifest_folder, |file| {
            kind_of_path(file).is_some()
        })?;
        found
            .into_iter()
            .map(|file| {
                let bytes = read(&file.path)?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| ReadError::NotUtf8(file.relative.clone()))?;
                Ok(SourceFile {
                    path: file.relative,
                    text,
                })
            })
            .collect()
    }

    fn build_context(
        &self,
        node: Option<&NodeSpec>,
        build: &BuildSpec,
    ) -> Result<Vec<ContextFile>, ReadError> {
        let context = self.code_dir(node).join(build.context.as_str());
        let found = context_files(&context, build.dockerfile.as_str()).map_err(|source| {
            ReadError::Context {
                context: context.clone(),
                source,
            }
        })?;
        found
            .into_iter()
            .map(|file| {
                Ok(ContextFile {
                    contents: read(&file.path)?,
                    path: file.relative,
                })
            })
            .collect()
    }

    fn secrets(
        &self,
        manifests: &Manifests,
        node: Option<&NodeSpec>,
    ) -> Result<Secrets, ReadError> {
        Ok(secrets::load_secrets(
            &self.root,
            manifests,
            &self.age_key(node),
        )?)
    }
}

/// Only the three manifest folders are walked (app code beside them is not), never `.git`.
fn in_manifest_folder(folder: &str) -> bool {
    let mut parts = folder.split('/');
    let top = parts.next().unwrap_or_default();
    Kind::ALL.iter().any(|kind| kind.folder() == top) && parts.all(|part| part != ".git")
}

fn read(path: &Path) -> Result<Vec<u8>, ReadError> {
    fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })
}
