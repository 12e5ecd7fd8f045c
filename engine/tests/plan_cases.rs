//! Data-driven plan cases: every folder under `testdata/` holds a manifest repository (`repo/`),
//! an observed snapshot (`observed.json`, empty when absent) and options (`case.yaml`). Each case
//! goes through the same revision pipeline as the CLI and the node, and its plan document (or the
//! error) is compared with `snapshots/<case>.snap`; every mismatch is reported, not only the first.
//! A case's secrets are fingerprinted as if its `secrets.yaml` had the data key [`CASE_DATA_KEY`].

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use engine::build::ContextFile;
use engine::load::kind_of_path;
use engine::manifest::{BuildSpec, NodeSpec};
use engine::revision::{self, RevisionSource, Selection};
use engine::sops::DataKey;
use engine::spec::SecretValue;
use engine::{Environment, Manifests, Observed, PlanOptions, Secrets, SourceFile};
use serde::Deserialize;

/// The commit every case's revision is attributed to.
const CASE_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// The SOPS data key every case's secrets are fingerprinted with.
const CASE_DATA_KEY: [u8; 32] = [7; 32];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CaseOptions {
    /// What the case shows; repeated at the top of its snapshot.
    description: String,
    environment: Option<String>,
    node: Option<String>,
    #[serde(default)]
    allow_empty: bool,
    #[serde(default = "yes")]
    new_commit: bool,
    #[serde(default)]
    secrets: CaseSecrets,
}

/// Plaintext secrets, as if decrypted from the case's `secrets.yaml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSecrets {
    #[serde(default)]
    shared: BTreeMap<String, String>,
    #[serde(default)]
    inline: BTreeMap<String, BTreeMap<String, String>>,
}

fn yes() -> bool {
    true
}

/// A case's `repo/` folder as a revision source; build contexts follow the node's `codeDir`.
struct CaseRepo {
    root: PathBuf,
    secrets: Secrets,
}

impl CaseRepo {
    /// Every file under `dir`, relative to it, with its contents.
    fn files(dir: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
        let mut files = Vec::new();
        for entry in ignore::WalkBuilder::new(dir)
            .standard_filters(false)
            .build()
        {
            let entry = entry.map_err(io::Error::other)?;
            if entry.file_type().is_some_and(|kind| kind.is_file()) {
                let relative = entry.path().strip_prefix(dir).unwrap();
                let relative = relative.to_string_lossy().replace('\\', "/");
                files.push((relative, fs::read(entry.path())?));
            }
        }
        Ok(files)
    }
}

impl RevisionSource for CaseRepo {
    type Error = io::Error;

    fn manifest_files(&self) -> io::Result<Vec<SourceFile>> {
        Ok(Self::files(&self.root)?
            .into_iter()
            .filter(|(path, _)| kind_of_path(path).is_some())
            .map(|(path, bytes)| SourceFile {
                path,
                text: String::from_utf8(bytes).expect("case manifests are UTF-8"),
            })
            .collect())
    }

    fn build_context(
        &self,
        node: Option<&NodeSpec>,
        build: &BuildSpec,
    ) -> io::Result<Vec<ContextFile>> {
        let code_dir = match node.and_then(|node| node.code_dir.as_ref()) {
            Some(dir) => self.root.join(dir),
            None => self.root.clone(),
        };
        Ok(Self::files(&code_dir.join(build.context.as_str()))?
            .into_iter()
            .map(|(path, contents)| ContextFile { path, contents })
            .collect())
    }

    fn secrets(&self, _: &Manifests, _: Option<&NodeSpec>) -> io::Result<Secrets> {
        Ok(self.secrets.clone())
    }
}

impl CaseSecrets {
    fn fingerprinted(&self) -> Secrets {
        let key = DataKey::new(CASE_DATA_KEY).fingerprint_key();
        let secrets = |values: &BTreeMap<String, String>| {
            values
                .iter()
                .map(|(name, value)| (name.clone(), SecretValue::new(value.clone(), &key)))
                .collect()
        };
        Secrets {
            shared: secrets(&self.shared),
            inline: self
                .inline
                .iter()
                .map(|(deployment, values)| (deployment.clone(), secrets(values)))
                .collect(),
        }
    }
}

fn run_case(case: &Path, options: &CaseOptions) -> String {
    let source = CaseRepo {
        root: case.join("repo"),
        secrets: options.secrets.fingerprinted(),
    };
    let selection = Selection {
        environment: options
            .environment
            .as_deref()
            .map(|name| Environment::named(name).expect("valid case environment")),
        node: options.node.clone(),
        require_node: true,
        branch: None,
    };
    let revision = match revision::desired_state(&source, CASE_COMMIT, &selection) {
        Ok(revision) => revision,
        Err(error) if error.is_invalid() => return format!("error: {error}\n"),
        Err(error) => panic!("{}: {error}", case.display()),
    };
    let observed_path = case.join("observed.json");
    let observed: Observed = match fs::read_to_string(&observed_path) {
        Ok(text) => serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", observed_path.display())),
        Err(_) => Observed::default(),
    };
    let plan_options = PlanOptions {
        allow_empty: options.allow_empty,
        new_commit: options.new_commit,
        ..PlanOptions::default()
    };
    match engine::plan(&revision.desired, &observed, &plan_options) {
        Ok(plan) => format!("{}\n", serde_json::to_string_pretty(&plan).unwrap()),
        Err(error) => format!("error: {error}\n"),
    }
}

#[test]
fn plan_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    insta::glob!("../../testdata", "*/case.yaml", |path| {
        let case = path.parent().unwrap();
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let options: CaseOptions = serde_yaml::from_str(&fs::read_to_string(path).unwrap())
            .unwrap_or_else(|error| panic!("{name}/case.yaml: {error}"));
        let output = run_case(case, &options);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(root.join("snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        settings.remove_snapshot_suffix();
        settings.set_description(options.description.trim());
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_snapshot!(name, output));
    });
}
