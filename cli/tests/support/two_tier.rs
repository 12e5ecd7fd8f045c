//! The bundled two-tier example (examples/two-tier) for the tests that run it: where it is, and
//! its local variant laid out as the example's README does it. It runs nothing itself.

use std::fs;
use std::path::{Path, PathBuf};

/// The example's folder, the repository of its public variant.
pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/two-tier")
}

/// The demo age identity that decrypts the example's `secrets.yaml`.
pub fn demo_age_key() -> PathBuf {
    example().join("demo-age.key")
}

/// Writes the local variant into `repo`: the example's manifests, app, config and secrets with
/// the `local/deployments/` and `local/jobs/` files laid over `deployments/` and `jobs/`.
pub fn write_local_variant(repo: &Path) {
    let example = example();
    for folder in ["app", "config", "deployments", "jobs", "services", "nodes"] {
        copy_dir(&example.join(folder), &repo.join(folder));
    }
    fs::copy(example.join("secrets.yaml"), repo.join("secrets.yaml")).unwrap();
    for folder in ["deployments", "jobs"] {
        copy_dir(&example.join("local").join(folder), &repo.join(folder));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}
