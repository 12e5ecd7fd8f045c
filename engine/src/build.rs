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

/// `orun.local/<deployment>:<first 12 hex of SHA-256 over the files and args>`.
/// Files are hashed in path order with their lengths, so moving bytes between files changes the tag.
pub fn image_tag(
    deployment: &str,
    files: &[ContextFile],
    args: &BTreeMap<String, String>,
) -> String {
    let mut sorted: Vec<&ContextFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut hasher = Sha256::new();
    for file in sorted {
        hasher.update(b"file\0");
        hasher.update(file.path.as_bytes());
        hasher.update([0]);
        hasher.update((file.contents.len() as u64).to_le_bytes());
        hasher.update(&file.contents);
    }
    for (name, value) in args {
        hasher.update(b"arg\0");
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(value.as_bytes());
        hasher.update([0]);
    }
    let digest = format!("{:x}", hasher.finalize());
    format!("orun.local/{deployment}:{}", &digest[..12])
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

    #[test]
    fn tag_depends_on_contents_and_args_only() {
        let args = BTreeMap::new();
        let a = image_tag(
            "app",
            &[file("Dockerfile", "FROM x"), file("a", "1")],
            &args,
        );
        let b = image_tag(
            "app",
            &[file("a", "1"), file("Dockerfile", "FROM x")],
            &args,
        );
        assert_eq!(a, b);
        assert!(a.starts_with("orun.local/app:"));
        assert_eq!(a.len(), "orun.local/app:".len() + 12);
        assert_ne!(
            a,
            image_tag(
                "app",
                &[file("Dockerfile", "FROM x"), file("a", "2")],
                &args
            )
        );
        let with_arg = BTreeMap::from([("V".to_string(), "1".to_string())]);
        assert_ne!(
            a,
            image_tag(
                "app",
                &[file("Dockerfile", "FROM x"), file("a", "1")],
                &with_arg
            )
        );
    }
}
