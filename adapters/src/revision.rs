//! A manifest revision read from a folder (a work tree or the node's clone): the files the engine's
//! revision pipeline asks for, the build contexts under the code folder, and the secrets decrypted
//! with the node's age identity. Manifests are read within the input limits of
//! `engine::limits`, and no file is taken from outside the folder (see `files`). It decides
//! nothing about what the files mean; `engine::revision` does.

use std::path::{Path, PathBuf};

use engine::attachments::MAX_FILE_BYTES as MAX_MOUNTED_FILE_BYTES;
use engine::build::ContextFile;
use engine::limits::{MAX_FILE_BYTES, MAX_REVISION_BYTES};
use engine::load::kind_of_path;
use engine::manifest::{BuildSpec, InnerPath, Kind, NodeSpec};
use engine::revision::RevisionSource;
use engine::{Manifests, Secrets, SourceFile};

use crate::build_context::{read_context, ContextError};
use crate::files::{file_inside, files_under, read_regular, Refusal, WalkError};
use crate::secrets::{self, SecretsError};

/// The revision checked out in `root`.
#[derive(Clone, Debug)]
pub struct WorkTree {
    pub root: PathBuf,
    pub code_dir: CodeDir,
    pub age_key: AgeKey,
}

/// Where a revision's build contexts live; [`WorkTree::code_dir`] resolves it.
#[derive(Clone, Debug)]
pub enum CodeDir {
    /// The selected node's `codeDir`, under the root when relative, else the root (the CLI).
    OfNode,
    /// This folder whatever the revision's node says, else the root (the node daemon, with the
    /// `codeDir` of its `--config` file).
    Fixed(Option<PathBuf>),
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
    #[error(transparent)]
    Walk(#[from] WalkError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("{0}: the manifests up to this file add up to more than {MAX_REVISION_BYTES} bytes (16 MiB), the limit per revision")]
    RevisionTooLarge(String),
    #[error("{file}: manifest is not valid UTF-8 ({found}): save it as UTF-8")]
    NotUtf8 { file: String, found: &'static str },
    #[error("cannot read build context {}: {source}", .context.display())]
    Context {
        context: PathBuf,
        source: ContextError,
    },
    #[error("{0}: no file there in the repository (nothing, or a folder)")]
    NoFile(String),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

impl WorkTree {
    /// A work tree whose code folder and age identity follow the selected node (the CLI).
    pub fn new(root: &Path, age_key_flag: Option<&Path>) -> Self {
        WorkTree {
            root: root.to_path_buf(),
            code_dir: CodeDir::OfNode,
            age_key: AgeKey::Lookup(age_key_flag.map(Path::to_path_buf)),
        }
    }

    /// Where build contexts live for `node`: the one place `codeDir` is resolved, for the tags a
    /// revision's contexts hash to and for the builds that read them again.
    pub fn code_dir(&self, node: Option<&NodeSpec>) -> PathBuf {
        let dir = match &self.code_dir {
            CodeDir::OfNode => node
                .and_then(|node| node.code_dir.as_ref())
                .map(|dir| self.root.join(dir)),
            CodeDir::Fixed(dir) => dir.clone(),
        };
        dir.unwrap_or_else(|| self.root.clone())
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
        let found = files_under(&self.root, &self.root, in_manifest_folder, |file| {
            kind_of_path(file).is_some()
        })?;
        let mut total = 0;
        found
            .into_iter()
            .map(|file| {
                let bytes = read_regular(&file.path, &file.relative, Some(MAX_FILE_BYTES))?;
                total += bytes.len();
                if total > MAX_REVISION_BYTES {
                    return Err(ReadError::RevisionTooLarge(file.relative));
                }
                if bytes.contains(&0) {
                    return Err(ReadError::NotUtf8 {
                        found: encoding_hint(&bytes),
                        file: file.relative,
                    });
                }
                let text = String::from_utf8(bytes).map_err(|error| ReadError::NotUtf8 {
                    found: encoding_hint(error.as_bytes()),
                    file: file.relative.clone(),
                })?;
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
        let code_dir = self.code_dir(node);
        read_context(&code_dir, build.context.as_str(), build.dockerfile.as_str())
            .map(|read| read.files)
            .map_err(|source| ReadError::Context {
                context: code_dir.join(build.context.as_str()),
                source,
            })
    }

    fn repository_file(&self, path: &InnerPath) -> Result<Vec<u8>, ReadError> {
        let file = path.as_str();
        let found = file_inside(&self.root.join(file), &self.root, file)?
            .ok_or_else(|| ReadError::NoFile(file.to_string()))?;
        Ok(read_regular(&found, file, Some(MAX_MOUNTED_FILE_BYTES))?)
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

/// What a manifest that is not UTF-8 text looks like instead. NUL bytes are valid UTF-8 but no
/// YAML has them, while UTF-16 and UTF-32 text is full of them.
fn encoding_hint(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => "it starts with a UTF-16 byte order mark",
        _ if bytes.contains(&0) => "it holds NUL bytes, as UTF-16 and UTF-32 text does",
        _ => "it holds bytes that are not UTF-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::manifest::InnerPath;
    use std::fs;

    fn write(root: &Path, file: &str, bytes: &[u8]) {
        let path = root.join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    fn manifest_error(root: &Path) -> String {
        WorkTree::new(root, None)
            .manifest_files()
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn code_dir_follows_the_node_for_the_cli_and_the_fixed_folder_for_a_node_daemon() {
        let node = |code_dir: &str| {
            let text = format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: n1\nspec:\n  host: 10.0.0.1\n  gitRepo: /srv/infra.git\n{code_dir}"
            );
            let source = SourceFile {
                path: "nodes/n1.yaml".to_string(),
                text,
            };
            engine::load::load_node(&source).unwrap().spec
        };
        let (relative, absolute, unset) = (
            node("  codeDir: code\n"),
            node("  codeDir: /srv/code\n"),
            node(""),
        );
        let cli = WorkTree::new(Path::new("/repo"), None);
        assert_eq!(cli.code_dir(Some(&relative)), Path::new("/repo/code"));
        assert_eq!(cli.code_dir(Some(&absolute)), Path::new("/srv/code"));
        assert_eq!(cli.code_dir(Some(&unset)), Path::new("/repo"));
        assert_eq!(cli.code_dir(None), Path::new("/repo"));
        let daemon = |fixed: Option<&str>| WorkTree {
            code_dir: CodeDir::Fixed(fixed.map(PathBuf::from)),
            ..WorkTree::new(Path::new("/data/repo"), None)
        };
        assert_eq!(
            daemon(Some("/srv/app")).code_dir(Some(&relative)),
            Path::new("/srv/app")
        );
        assert_eq!(
            daemon(None).code_dir(Some(&absolute)),
            Path::new("/data/repo")
        );
    }

    #[test]
    fn manifests_in_other_encodings_are_named_with_a_hint() {
        let dir = tempfile::TempDir::new().unwrap();
        write(dir.path(), "deployments/web.yaml", b"\xff\xfek\0i\0");
        assert_eq!(
            manifest_error(dir.path()),
            "deployments/web.yaml: manifest is not valid UTF-8 (it starts with a UTF-16 byte order mark): save it as UTF-8"
        );
    }

    #[test]
    fn a_manifest_over_the_size_limit_is_not_read_whole() {
        let dir = tempfile::TempDir::new().unwrap();
        write(
            dir.path(),
            "deployments/web.yaml",
            &vec![b'#'; MAX_FILE_BYTES + 1],
        );
        assert_eq!(
            manifest_error(dir.path()),
            "deployments/web.yaml: larger than 1048576 bytes, the limit for this file: refusing to read it"
        );
    }

    #[test]
    fn manifests_adding_up_past_the_revision_limit_are_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        let chunk = vec![b'#'; MAX_FILE_BYTES];
        for index in 0..=MAX_REVISION_BYTES / MAX_FILE_BYTES {
            write(dir.path(), &format!("deployments/{index:02}.yaml"), &chunk);
        }
        assert_eq!(
            manifest_error(dir.path()),
            "deployments/16.yaml: the manifests up to this file add up to more than 16777216 bytes (16 MiB), the limit per revision"
        );
    }

    #[test]
    fn a_build_context_file_linking_outside_code_dir_is_refused() {
        let dir = tempfile::TempDir::new().unwrap();
        write(dir.path(), "app/Dockerfile", b"FROM scratch");
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("app/hostname")).unwrap();
        let tree = WorkTree::new(dir.path(), None);
        let build = BuildSpec {
            context: InnerPath::parse("app").unwrap(),
            dockerfile: InnerPath::parse("Dockerfile").unwrap(),
            args: Default::default(),
            build_mode: Default::default(),
            target: None,
        };
        let error = tree.build_context(None, &build).unwrap_err().to_string();
        assert!(
            error.contains(": hostname: a symlink whose real path is outside"),
            "{error}"
        );
    }

    #[test]
    fn a_mounted_file_is_read_only_as_a_regular_file_inside_the_repository_within_1_mib() {
        let dir = tempfile::TempDir::new().unwrap();
        let tree = WorkTree::new(dir.path(), None);
        let read = |path: &str| {
            tree.repository_file(&InnerPath::parse(path).unwrap())
                .map_err(|error| error.to_string())
        };
        write(dir.path(), "config/app.conf", b"x = 1\n");
        assert_eq!(read("config/app.conf").unwrap(), b"x = 1\n");
        std::os::unix::fs::symlink("app.conf", dir.path().join("config/inside")).unwrap();
        assert_eq!(read("config/inside").unwrap(), b"x = 1\n");
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("config/outside")).unwrap();
        let error = read("config/outside").unwrap_err();
        assert!(
            error.starts_with("config/outside: a symlink whose real path is outside"),
            "{error}"
        );
        assert_eq!(
            read("config/missing").unwrap_err(),
            "config/missing: no file there in the repository (nothing, or a folder)"
        );
        assert_eq!(
            read("config").unwrap_err(),
            "config: no file there in the repository (nothing, or a folder)"
        );
        let fifo = std::ffi::CString::new(
            dir.path()
                .join("config/fifo")
                .as_os_str()
                .as_encoded_bytes(),
        )
        .unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(read("config/fifo")
            .unwrap_err()
            .contains("not a regular file"));
        write(
            dir.path(),
            "config/big",
            &vec![b'#'; MAX_MOUNTED_FILE_BYTES + 1],
        );
        assert!(read("config/big")
            .unwrap_err()
            .starts_with("config/big: larger than 1048576 bytes"));
    }
}
