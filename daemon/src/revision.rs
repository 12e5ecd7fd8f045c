//! Reads a manifest revision from a directory: the YAML files of the three folders and the build
//! contexts of build-mode deployments, then loads them with the engine. It does not decrypt secrets
//! (`secrets` does).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use engine::build::{image_tag, ContextFile};
use engine::load::kind_of_path;
use engine::manifest::Kind;
use engine::{ManifestErrors, Manifests, SourceFile};

use crate::build_context::context_files;

/// A loaded revision: valid manifests plus what resolution needs from disk.
#[derive(Clone, Debug)]
pub struct Revision {
    pub manifests: Manifests,
    pub commit: String,
    /// Content-addressed image tags of build-mode deployments.
    pub build_tags: BTreeMap<String, String>,
}

/// Why a revision could not be loaded: unreadable files, or manifests that fail validation.
#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    #[error(transparent)]
    Invalid(#[from] ManifestErrors),
    #[error(transparent)]
    Io(#[from] anyhow::Error),
}

/// Loads the revision checked out at `repo` with `commit`; build contexts are looked up under
/// `code_dir` (the node's `codeDir`), or under `repo` when it is `None`.
pub fn load_revision(
    repo: &Path,
    commit: &str,
    code_dir: Option<&Path>,
) -> Result<Revision, RevisionError> {
    let sources = read_sources(repo)?;
    let manifests = engine::load(&sources)?;
    let build_tags = build_tags(&manifests, code_dir.unwrap_or(repo))?;
    Ok(Revision {
        manifests,
        commit: commit.to_string(),
        build_tags,
    })
}

/// Every YAML file under `nodes/`, `deployments/` and `services/` of `repo`, at any depth.
pub fn read_sources(repo: &Path) -> Result<Vec<SourceFile>> {
    if !repo.is_dir() {
        anyhow::bail!("manifest repository {} is not a directory", repo.display());
    }
    let mut sources = Vec::new();
    for kind in Kind::ALL {
        let folder = repo.join(kind.folder());
        if !folder.is_dir() {
            continue;
        }
        for path in files_under(&folder)? {
            let relative = relative_path(repo, &path);
            if kind_of_path(&relative).is_none() {
                continue;
            }
            let bytes =
                fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let text = String::from_utf8(bytes)
                .with_context(|| format!("{relative}: manifest is not valid UTF-8"))?;
            sources.push(SourceFile {
                path: relative,
                text,
            });
        }
    }
    Ok(sources)
}

/// Image tags for every build-mode deployment, hashing each context under `code_dir`.
pub fn build_tags(manifests: &Manifests, code_dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut tags = BTreeMap::new();
    for deployment in manifests.deployments.values() {
        let Some(build) = &deployment.spec.build else {
            continue;
        };
        let context = code_dir.join(build.context.as_str());
        let files = read_context(&context, build.dockerfile.as_str()).with_context(|| {
            format!(
                "{}: spec.build.context: cannot read build context {}",
                deployment.file,
                context.display()
            )
        })?;
        let args = build
            .args
            .iter()
            .map(|(key, value)| (key.clone(), value.0.clone()))
            .collect();
        tags.insert(
            deployment.name.clone(),
            image_tag(&deployment.name, &files, &args),
        );
    }
    Ok(tags)
}

fn read_context(context: &Path, dockerfile: &str) -> Result<Vec<ContextFile>> {
    context_files(context, dockerfile)?
        .into_iter()
        .map(|entry| {
            let contents = fs::read(&entry.path)
                .with_context(|| format!("cannot read {}", entry.path.display()))?;
            Ok(ContextFile {
                path: entry.relative,
                contents,
            })
        })
        .collect()
}

/// Regular files under `dir`, recursively, sorted; `.git` folders are skipped.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries =
            fs::read_dir(&current).with_context(|| format!("cannot list {}", current.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", current.display()))?;
            let path = entry.path();
            let file_type = entry
                .file_type()
                .with_context(|| format!("cannot stat {}", path.display()))?;
            if file_type.is_dir() {
                if entry.file_name() != ".git" {
                    pending.push(path);
                }
            } else if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

fn relative_path(base: &Path, path: &Path) -> String {
    let relative = path.strip_prefix(base).unwrap_or(path);
    relative
        .components()
        .map(|component| component.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
