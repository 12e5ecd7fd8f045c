//! Data-driven plan cases: every folder under `testdata/` holds a manifest repository (`repo/`),
//! an observed snapshot (`observed.json`, empty when absent) and options (`case.yaml`). Each case
//! goes through the same revision pipeline as the CLI and the node, and its plan document (or the
//! error), followed by the desired Services when the case asks for them, is compared with
//! `snapshots/<case>.snap`; every mismatch is reported, not only the first.
//! A case's secrets are fingerprinted as if its `secrets.yaml` had the data key [`CASE_DATA_KEY`].

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use engine::build::ContextFile;
use engine::jobs::JobRuns;
use engine::load::kind_of_path;
use engine::manifest::{BuildSpec, InnerPath, NodeSpec};
use engine::observed::{ContainerState, ObservedContainer, ObservedImage};
use engine::revision::{self, NodeAndEnvironment, RevisionError, RevisionSource};
use engine::sops::DataKey;
use engine::spec::SecretValue;
use engine::{DesiredState, Environment, Manifests, Observed, PlanOptions, Secrets, SourceFile};
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
    /// List the desired Services after the plan, which does not show them.
    #[serde(default)]
    show_services: bool,
    /// The job runs the node remembers (its `state.json`).
    #[serde(default)]
    job_runs: JobRuns,
    /// The digests the registry answered for deployments with `imageUpdates: apply`.
    #[serde(default)]
    available_images: BTreeMap<String, String>,
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

    fn repository_file(&self, path: &InnerPath) -> io::Result<Vec<u8>> {
        fs::read(self.root.join(path.as_str()))
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
    let desired = match case_desired_state(case, options) {
        Ok(desired) => desired,
        Err(error) => return format!("error: {error}\n"),
    };
    let observed = case_observed(case);
    let plan_options = PlanOptions {
        allow_empty: options.allow_empty,
        new_commit: options.new_commit,
        job_runs: options.job_runs.clone(),
        available_images: options.available_images.clone(),
        ..PlanOptions::default()
    };
    let mut output = match engine::plan(&desired, &observed, &plan_options) {
        Ok(plan) => format!("{}\n", serde_json::to_string_pretty(&plan).unwrap()),
        Err(error) => format!("error: {error}\n"),
    };
    if options.show_services {
        output.push_str("services:\n");
        for service in desired.services.values() {
            output.push_str(&format!(
                "  {}: deployment {}, port {}, domain {}\n",
                service.name,
                service.deployment,
                service.port,
                service.domain.as_deref().unwrap_or("none")
            ));
        }
    }
    output
}

/// The case's desired state, or the validation error its revision has.
fn case_desired_state(case: &Path, options: &CaseOptions) -> Result<DesiredState, String> {
    let source = CaseRepo {
        root: case.join("repo"),
        secrets: options.secrets.fingerprinted(),
    };
    let selection = NodeAndEnvironment {
        environment: options
            .environment
            .as_deref()
            .map(|name| Environment::named(name).expect("valid case environment")),
        node: options.node.clone(),
        require_node: true,
        ..NodeAndEnvironment::default()
    };
    match revision::desired_state(&source, CASE_COMMIT, &selection) {
        Ok(revision) => Ok(revision.desired),
        // A case's files that cannot be read are the test's fault, not the revision's.
        Err(error @ RevisionError::Read(_)) => panic!("{}: {error}", case.display()),
        Err(error) => Err(error.to_string()),
    }
}

/// The case's observed snapshot; empty when it has none.
fn case_observed(case: &Path) -> Observed {
    let observed_path = case.join("observed.json");
    match fs::read_to_string(&observed_path) {
        Ok(text) => serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{}: {error}", observed_path.display())),
        Err(_) => Observed::default(),
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

/// A saved plan is stale when what its environment's plan reads changed, and only then: on a
/// shared host other environments and unrelated images come and go all the time.
#[test]
fn the_saved_plan_fingerprint_covers_only_what_the_plan_reads() {
    let case =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/other-environments-untouched");
    let options: CaseOptions =
        serde_yaml::from_str(&fs::read_to_string(case.join("case.yaml")).unwrap()).unwrap();
    let desired = case_desired_state(&case, &options).unwrap();
    let observed = case_observed(&case);
    let fingerprint = observed.fingerprint(&desired);
    let changed = |change: &dyn Fn(&mut Observed)| {
        let mut moved = observed.clone();
        change(&mut moved);
        moved.fingerprint(&desired) != fingerprint
    };
    let container = |observed: &mut Observed, name: &str| -> ObservedContainer {
        let index = observed
            .containers
            .iter()
            .position(|container| container.name == name)
            .unwrap_or_else(|| panic!("{name} is in the case"));
        observed.containers.remove(index)
    };

    assert!(
        !changed(&|o| o.containers.reverse()),
        "order does not count"
    );
    assert!(!changed(&|o| {
        let mut staging = container(o, "staging.web");
        staging.state = ContainerState::Exited;
        o.containers.push(staging);
    }));
    assert!(!changed(&|o| drop(container(o, "postgres"))));
    assert!(!changed(&|o| o.images.push(ObservedImage {
        id: format!("sha256:{}", "9".repeat(64)),
        tags: vec!["busybox:latest".into()],
        digests: vec![],
    })));

    assert!(!changed(&|o| {
        let mut foreign = container(o, "cache");
        foreign.state = ContainerState::Exited;
        o.containers.push(foreign);
    }));

    assert!(changed(&|o| {
        let mut orphan = container(o, "staging.web");
        orphan.name = "/old".into();
        orphan
            .labels
            .insert("run.orcra.dev/environment".into(), "production".into());
        o.containers.push(orphan);
    }));
    assert!(changed(&|o| o.images.clear()));
    assert!(changed(&|o| {
        let mut squatter = container(o, "postgres");
        squatter.name = "/web".into();
        o.containers.push(squatter);
    }));
}
