//! The content-addressed tag of build-mode images (docs/builds.md): a hash of the context's files and
//! the build args. It does not read files or run builds; callers pass the context in.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// One file of a build context, path relative to the context with `/` separators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextFile {
    pub path: String,
    pub contents: Vec<u8>,
}

/// Everything a build depends on: the context's files, the args, the Dockerfile's path (its
/// contents are one of the files) and the target stage.
#[derive(Clone, Copy, Debug)]
pub struct BuildInputs<'a> {
    pub files: &'a [ContextFile],
    pub args: &'a BTreeMap<String, String>,
    pub dockerfile: &'a str,
    pub target: Option<&'a str>,
}

/// The Dockerfile builds use unless `build.dockerfile` names another.
pub const DEFAULT_DOCKERFILE: &str = "Dockerfile";

/// The repository part of every build-mode image's tag, before the deployment's name.
const TAG_PREFIX: &str = "orun.local/";

/// `orun.local/<deployment>:<first 12 hex of SHA-256 over every build input>`.
/// Files are hashed in path order with their lengths, so moving bytes between files changes the
/// tag. The Dockerfile's path and the target enter the hash only when they differ from the
/// defaults, so tags made before they counted stay the same.
pub fn image_tag(deployment: &str, inputs: &BuildInputs) -> String {
    format!("{TAG_PREFIX}{deployment}:{}", content_hash(inputs))
}

/// Whether `tag` is the tag [`image_tag`] gives a build of `inputs`: a build checks with it that
/// the context it sends is the one its tag was computed from.
pub fn tag_matches(tag: &str, inputs: &BuildInputs) -> bool {
    tag.strip_prefix(TAG_PREFIX)
        .and_then(|rest| rest.rsplit_once(':'))
        .is_some_and(|(_, hash)| hash == content_hash(inputs))
}

/// The first 12 hex digits of the SHA-256 over every build input.
fn content_hash(inputs: &BuildInputs) -> String {
    let mut sorted: Vec<&ContextFile> = inputs.files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hasher = Sha256::new();
    for file in sorted {
        hasher.update(b"file\0");
        hasher.update(file.path.as_bytes());
        hasher.update([0]);
        hasher.update((file.contents.len() as u64).to_le_bytes());
        hasher.update(&file.contents);
    }
    for (name, value) in inputs.args {
        hasher.update(b"arg\0");
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        hasher.update([0]);
    }
    if inputs.dockerfile != DEFAULT_DOCKERFILE {
        hasher.update(b"dockerfile\0");
        hasher.update(inputs.dockerfile.as_bytes());
        hasher.update([0]);
    }
    if let Some(target) = inputs.target {
        hasher.update(b"target\0");
        hasher.update(target.as_bytes());
        hasher.update([0]);
    }
    let mut digest = format!("{:x}", hasher.finalize());
    digest.truncate(12);
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, contents: &str) -> ContextFile {
        ContextFile {
            path: path.into(),
            contents: contents.as_bytes().to_vec(),
        }
    }

    fn tag(files: &[ContextFile], args: &BTreeMap<String, String>) -> String {
        image_tag(
            "app",
            &BuildInputs {
                files,
                args,
                dockerfile: DEFAULT_DOCKERFILE,
                target: None,
            },
        )
    }

    #[test]
    fn tag_depends_on_contents_and_args() {
        let args = BTreeMap::new();
        let a = tag(&[file("Dockerfile", "FROM x"), file("a", "1")], &args);
        let b = tag(&[file("a", "1"), file("Dockerfile", "FROM x")], &args);
        assert_eq!(a, b);
        assert!(a.starts_with("orun.local/app:"));
        assert_eq!(a.len(), "orun.local/app:".len() + 12);
        assert_ne!(
            a,
            tag(&[file("Dockerfile", "FROM x"), file("a", "2")], &args)
        );
        let with_arg = BTreeMap::from([("V".to_string(), "1".to_string())]);
        assert_ne!(
            a,
            tag(&[file("Dockerfile", "FROM x"), file("a", "1")], &with_arg)
        );
    }

    #[test]
    fn a_tag_matches_the_inputs_it_was_computed_from_only() {
        let args = BTreeMap::new();
        let files = [file("Dockerfile", "FROM x"), file("a", "1")];
        let inputs = BuildInputs {
            files: &files,
            args: &args,
            dockerfile: DEFAULT_DOCKERFILE,
            target: None,
        };
        let tag = image_tag("app", &inputs);
        assert!(tag_matches(&tag, &inputs));
        let changed = [file("Dockerfile", "FROM x"), file("a", "2")];
        let changed = BuildInputs {
            files: &changed,
            ..inputs
        };
        assert!(!tag_matches(&tag, &changed));
        assert!(!tag_matches("nginx:alpine", &inputs));
        assert!(!tag_matches(&tag.replace("orun.local/", "other/"), &inputs));
    }

    #[test]
    fn tag_depends_on_the_dockerfile_path_and_the_target() {
        let args = BTreeMap::new();
        let files = [
            file("Dockerfile", "FROM x"),
            file("Dockerfile.prod", "FROM y"),
        ];
        let default = tag(&files, &args);
        let with = |dockerfile, target| {
            image_tag(
                "app",
                &BuildInputs {
                    files: &files,
                    args: &args,
                    dockerfile,
                    target,
                },
            )
        };
        assert_eq!(with(DEFAULT_DOCKERFILE, None), default);
        assert_ne!(with("Dockerfile.prod", None), default);
        assert_ne!(with(DEFAULT_DOCKERFILE, Some("runtime")), default);
        assert_ne!(
            with(DEFAULT_DOCKERFILE, Some("runtime")),
            with(DEFAULT_DOCKERFILE, Some("debug"))
        );
    }
}
