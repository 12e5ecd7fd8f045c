//! Importing a docker compose file: a pure translation of its text (with the process environment,
//! the `.env` beside it and the `env_file`s it names) into a manifest repository's files, the
//! notes an operator should read, and the settings orun cannot express. The compose file passes the
//! manifest loader's input limits (size, nesting, alias expansion) before it is parsed. It does
//! not read or write files, nor decide whether to write: the CLI does both.

mod extends;
mod files;
mod host_access;
mod interpolate;
mod jobs;
mod kernel;
mod output;
mod ports;
mod service;
mod units;
mod values;
mod volumes;
mod written;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_yaml::{Mapping, Value};

use crate::limits::{self, LimitError};
use crate::load::SourceFile;
use crate::manifest::{Alias, Name, NetworkJoin, DEFAULT_NETWORK};
pub use interpolate::{interpolate, parse_dotenv, DotenvLineError, InterpolationProblem};
use output::{Envelope, NodeOut};
use values::{key_text, Path};

/// Everything the translation reads. The caller gathers it; the translation does no I/O.
pub struct ComposeInput<'a> {
    /// The compose file's text.
    pub text: &'a str,
    /// The process environment, which wins over `.env`, as with compose.
    pub environment: &'a BTreeMap<String, String>,
    /// The `.env` file beside the compose file, when there is one.
    pub dotenv: Option<&'a str>,
    /// Reads a file the compose file names relative to its folder (an `env_file`, the file of an
    /// `extends`): `None` when there is no such file; the error says why it cannot be read
    /// (outside the folder, not a regular file).
    pub read_env_file: &'a dyn Fn(&str) -> Result<Option<String>, String>,
    /// The compose file's folder as an absolute path: relative bind mounts start there.
    pub compose_dir: &'a str,
    /// The compose file's folder relative to the output folder (`""` when they are the same), or
    /// `None` when it lies outside it, so that no build context can be reached.
    pub compose_dir_from_out: Option<&'a str>,
    /// Write `nodes/<name>.yaml` for this host.
    pub node_host: Option<&'a str>,
    /// The `gitRepo` of that Node.
    pub git_repo: &'a str,
}

/// A remark about one compose setting, with its path (`services.web.restart`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// What a compose file becomes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Translation {
    /// Repository-relative path → YAML text, for every file to write.
    pub files: BTreeMap<String, String>,
    /// Repository-relative path → the file, relative to the compose file's folder, to copy
    /// there: the files of `configs`.
    pub copies: BTreeMap<String, String>,
    /// One line per service (`services.web: translated to deployments/web.yaml`), in file order.
    pub written: Vec<Finding>,
    /// Settings translated with a caveat, or dropped on purpose.
    pub notes: Vec<Finding>,
    /// Settings orun cannot express; any of them stops the import unless forced.
    pub untranslatable: Vec<Finding>,
}

impl Translation {
    /// The files to write as a revision's sources, for `engine::load` to check.
    pub fn sources(&self) -> Vec<SourceFile> {
        self.files
            .iter()
            .map(|(path, text)| SourceFile {
                path: path.clone(),
                text: text.clone(),
            })
            .collect()
    }

    /// Every line the command prints: what was written per service, the notes, then what could
    /// not be translated.
    pub fn lines(&self) -> Vec<String> {
        let untranslatable = self.untranslatable.iter().map(|finding| {
            format!(
                "{}: cannot be translated: {}",
                finding.path, finding.message
            )
        });
        self.written
            .iter()
            .chain(&self.notes)
            .map(ToString::to_string)
            .chain(untranslatable)
            .collect()
    }
}

/// A compose file that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("{}", located(.0))]
    Limit(LimitError),
    #[error("invalid YAML: {0}")]
    Yaml(String),
    #[error("expected a mapping with a services key at the top level")]
    NotCompose,
    #[error("services.{0}: expected a mapping of settings")]
    ServiceNotMapping(String),
    #[error("{path}: {message}")]
    Variable { path: String, message: String },
    /// The services once `extends` is resolved hold more YAML nodes than a file may.
    #[error("services: more than {0} YAML nodes once extends is resolved")]
    ExtendsTooLarge(u64),
}

/// A limit error with the place where the file crossed it, when it is one.
fn located(error: &LimitError) -> String {
    match error.location() {
        Some((line, column)) => format!("line {line} column {column}: {error}"),
        None => error.to_string(),
    }
}

/// Notes and untranslatable settings, gathered while walking the file.
#[derive(Debug, Default)]
pub(crate) struct Report {
    notes: Vec<Finding>,
    untranslatable: Vec<Finding>,
}

impl Report {
    pub(crate) fn note(&mut self, path: &Path, message: impl Into<String>) {
        self.notes.push(Finding {
            path: path.to_string(),
            message: message.into(),
        });
    }

    pub(crate) fn untranslatable(&mut self, path: &Path, message: impl Into<String>) {
        self.untranslatable.push(Finding {
            path: path.to_string(),
            message: message.into(),
        });
    }
}

/// Runs a translated value through the check the manifest loader applies to its field, giving
/// the manifest's type, so the written repository always loads; a value the schema refuses is
/// listed as untranslatable with the loader's reason.
pub(crate) fn checked<T>(
    value: Option<String>,
    check: fn(&str) -> Result<T, String>,
    path: &Path,
    report: &mut Report,
) -> Option<T> {
    match check(&value?) {
        Ok(checked) => Some(checked),
        Err(why) => {
            report.untranslatable(path, why);
            None
        }
    }
}

/// Resolves YAML merge keys (`<<: *defaults`), also those that a merged mapping brings along,
/// which one pass leaves in place: an anchor's own `<<` arrives as a key of every mapping it
/// is merged into. Each pass takes one level of merges away, at most [`MERGE_LEVELS`].
fn apply_merges(document: &mut Value) -> Result<(), ComposeError> {
    for _ in 0..MERGE_LEVELS {
        if !has_merge_key(document) {
            return Ok(());
        }
        document
            .apply_merge()
            .map_err(|error| ComposeError::Yaml(error.to_string()))?;
    }
    Err(ComposeError::Yaml(format!(
        "merge keys (<<) nested more than {MERGE_LEVELS} levels deep"
    )))
}

/// How many levels of merge keys within merged mappings the importer resolves.
const MERGE_LEVELS: usize = 16;

fn has_merge_key(value: &Value) -> bool {
    match value {
        Value::Mapping(map) => map
            .iter()
            .any(|(key, item)| key.as_str() == Some("<<") || has_merge_key(item)),
        Value::Sequence(items) => items.iter().any(has_merge_key),
        Value::Tagged(tagged) => has_merge_key(&tagged.value),
        _ => false,
    }
}

/// Translates a compose file into manifest files.
pub fn translate(input: &ComposeInput) -> Result<Translation, ComposeError> {
    let text = limits::check(input.text).map_err(ComposeError::Limit)?;
    let mut document: Value =
        serde_yaml::from_str(text).map_err(|error| ComposeError::Yaml(error.to_string()))?;
    apply_merges(&mut document)?;
    written::restore(text, &mut document);
    let variables = variables(input)?;
    let mut report = Report::default();
    interpolate_tree(&mut document, &Path::root(), &variables, &mut report)?;
    let mut load = |file: &str| other_file(input, &variables, file);
    extends::resolve(&mut document, &mut load, &mut report)
        .map_err(|()| ComposeError::ExtendsTooLarge(limits::MAX_NODES))?;
    let Value::Mapping(top) = document else {
        return Err(ComposeError::NotCompose);
    };
    let Some(Value::Mapping(services)) = top.get("services") else {
        return Err(ComposeError::NotCompose);
    };
    let root = Path::root();
    for (key, value) in &top {
        let key = key_text(key);
        let path = root.key(&key);
        match key.as_str() {
            "services" | "volumes" | "networks" | "secrets" | "configs" => {}
            "version" => report.note(&path, "dropped, orun needs no file format version"),
            "name" => report.note(
                &path,
                "dropped, orun names containers after the deployment and the environment",
            ),
            _ if key.starts_with("x-") => {}
            _ if value.is_null() => {}
            _ => report.untranslatable(&path, "orun has no equivalent"),
        }
    }
    let names = deployment_names(services, &mut report);
    let declared_volumes = top.get("volumes").and_then(Value::as_mapping);
    let volume_names = volume_names(declared_volumes, services, &mut report);
    let networks = network_joins(services, top.get("networks"), &mut report);
    let mut translation = Translation::default();
    let declared = files::declared(&top, &mut translation, &mut report);
    let context = service::Context {
        input,
        variables: &variables,
        deployments: &names,
        volumes: &volume_names,
        declared: &declared,
        networks: &networks,
    };
    let one_shots = jobs::one_shots(services, &names);
    let job_names: BTreeSet<&Name> = one_shots
        .keys()
        .filter_map(|service| names.get(service))
        .collect();
    for (key, value) in services {
        let service = key_text(key);
        let Some(name) = names.get(&service) else {
            continue;
        };
        let Value::Mapping(settings) = value else {
            return Err(ComposeError::ServiceNotMapping(service));
        };
        let Some(mut spec) = service::translate(&context, &service, name, settings, &mut report)
        else {
            continue;
        };
        if let Some(before) = one_shots.get(&service) {
            let file = format!("jobs/{name}.yaml");
            translation.written.push(Finding {
                path: root.key("services").key(&service).to_string(),
                message: format!(
                    "translated to {file}, a job that runs before {}",
                    before
                        .iter()
                        .map(Name::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
            let path = root.key("services").key(&service);
            let job = jobs::job_yaml(name.as_str(), spec, before, &path, &mut report);
            translation.files.insert(file, job);
            continue;
        }
        // A one-shot it waits for is a job that runs before it, not a dependency.
        spec.depends_on
            .retain(|dependency| !job_names.contains(dependency));
        let file = format!("deployments/{name}.yaml");
        translation.written.push(Finding {
            path: root.key("services").key(&service).to_string(),
            message: format!("translated to {file}"),
        });
        translation
            .files
            .insert(file, output::deployment_yaml(name.as_str(), &spec));
    }
    if let Some(host) = input.node_host {
        let name = dns_label(host);
        let file = format!("nodes/{name}.yaml");
        let node = NodeOut {
            host: host.to_string(),
            git_repo: input.git_repo.to_string(),
        };
        report.note(
            &Path::root().key(&file),
            format!(
                "gitRepo is {}; point it at the remote the node pulls from",
                input.git_repo
            ),
        );
        translation
            .files
            .insert(file, Envelope::new("Node", &name, node).to_yaml());
    }
    translation.notes = report.notes;
    translation.untranslatable = report.untranslatable;
    Ok(translation)
}

/// Another compose file beside this one, which an `extends` names, read as this one is: within
/// the input limits, merge keys resolved, variables interpolated.
fn other_file(
    input: &ComposeInput,
    variables: &BTreeMap<String, String>,
    file: &str,
) -> Result<Value, String> {
    let text = (input.read_env_file)(file)?.ok_or_else(|| "no such file".to_string())?;
    let text = limits::check(&text).map_err(|error| error.to_string())?;
    let mut document: Value = serde_yaml::from_str(text).map_err(|error| error.to_string())?;
    apply_merges(&mut document).map_err(|error| error.to_string())?;
    written::restore(text, &mut document);
    let mut report = Report::default();
    interpolate_tree(
        &mut document,
        &Path::root().key(file),
        variables,
        &mut report,
    )
    .map_err(|error| error.to_string())?;
    Ok(document)
}

/// The process environment over the `.env` file.
fn variables(input: &ComposeInput) -> Result<BTreeMap<String, String>, ComposeError> {
    let mut variables = match input.dotenv {
        Some(text) => parse_dotenv(text).map_err(|error| ComposeError::Variable {
            path: format!(".env line {}", error.line),
            message: error.message,
        })?,
        None => BTreeMap::new(),
    };
    variables.extend(
        input
            .environment
            .iter()
            .map(|(key, value)| (key.clone(), value.clone())),
    );
    Ok(variables)
}

/// Interpolates every string of the document in place, as compose does before reading it.
fn interpolate_tree(
    value: &mut Value,
    path: &Path,
    variables: &BTreeMap<String, String>,
    report: &mut Report,
) -> Result<(), ComposeError> {
    match value {
        Value::String(text) => match interpolate(text, variables) {
            Ok(done) => {
                for variable in done.unset {
                    report.note(
                        path,
                        format!("variable {variable} is not set, it became an empty string"),
                    );
                }
                *text = done.text;
            }
            Err(InterpolationProblem::Required { variable, message }) => {
                return Err(ComposeError::Variable {
                    path: path.to_string(),
                    message: format!("variable {variable} is required: {message}"),
                })
            }
            Err(InterpolationProblem::Syntax(message)) => {
                return Err(ComposeError::Variable {
                    path: path.to_string(),
                    message,
                })
            }
        },
        Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                interpolate_tree(item, &path.index(index), variables, report)?;
            }
        }
        Value::Mapping(mapping) => {
            for (key, item) in mapping.iter_mut() {
                interpolate_tree(item, &path.key(&key_text(key)), variables, report)?;
            }
        }
        Value::Tagged(tagged) => interpolate_tree(&mut tagged.value, path, variables, report)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// A name made into a DNS label: lowercase, every run of other characters a `-`, at most 63.
pub fn dns_label(text: &str) -> String {
    let mut label = String::new();
    for c in text.to_ascii_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            label.push(c);
        } else if !label.ends_with('-') {
            label.push('-');
        }
    }
    let trimmed = label.trim_matches('-');
    trimmed[..trimmed.len().min(63)]
        .trim_end_matches('-')
        .to_string()
}

/// Each service's deployment name; a service whose name cannot become a distinct one is listed.
fn deployment_names(services: &Mapping, report: &mut Report) -> BTreeMap<String, Name> {
    let mut names = BTreeMap::new();
    let mut taken = BTreeSet::new();
    for key in services.keys() {
        let service = key_text(key);
        let path = Path::root().key("services").key(&service);
        let label = dns_label(&service);
        let Some(name) = Name::parse(&label)
            .ok()
            .filter(|name| taken.insert(name.clone()))
        else {
            report.untranslatable(
                &path,
                format!("the name does not make a distinct deployment name ({label:?})"),
            );
            continue;
        };
        if label != service {
            report.note(&path, format!("deployment named {name}"));
        }
        names.insert(service, name);
    }
    names
}

/// orun's name for every named volume the services use, with notes on the declarations.
fn volume_names(
    declared: Option<&Mapping>,
    services: &Mapping,
    report: &mut Report,
) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for (key, declaration) in declared.into_iter().flatten() {
        let volume = key_text(key);
        let path = Path::root().key("volumes").key(&volume);
        let mut name = dns_label(&volume);
        if let Value::Mapping(settings) = declaration {
            for (setting, value) in settings {
                let setting = key_text(setting);
                let setting_path = path.key(&setting);
                match setting.as_str() {
                    "name" => {
                        if let Some(text) = values::text(value) {
                            name = dns_label(&text);
                        }
                    }
                    "external" => report.note(
                        &setting_path,
                        "orun uses the volume of the same name and creates it when missing",
                    ),
                    "driver" if values::text(value).as_deref() == Some("local") => {}
                    _ => report.untranslatable(
                        &setting_path,
                        "orun creates named volumes with Docker's local driver and no options",
                    ),
                }
            }
        }
        if name != volume {
            report.note(&path, format!("named volume {name}"));
        }
        names.insert(volume, name);
    }
    let used = volumes::named_volumes_in_use(services);
    for volume in used {
        let name = dns_label(&volume);
        names.entry(volume).or_insert(name);
    }
    names
}

/// A service's networks: the names it joins, or `None` when it sets none (the default network).
fn service_networks(settings: &Mapping) -> Option<BTreeSet<String>> {
    match settings.get("networks")? {
        Value::Sequence(items) => Some(items.iter().filter_map(values::text).collect()),
        Value::Mapping(map) => Some(map.keys().map(key_text).collect()),
        _ => None,
    }
}

/// The `networks` each service's deployment gets. One network shared by everyone (with no
/// aliases) maps onto the environment network, and no service gets the field; otherwise each
/// service that names its networks joins them as `orun-<env>.<name>` (`default` stays the
/// environment network) with their aliases, and a service that names none joins the environment
/// network alone, as compose's `default`.
fn network_joins(
    services: &Mapping,
    declared: Option<&Value>,
    report: &mut Report,
) -> BTreeMap<String, Vec<NetworkJoin>> {
    let mut memberships = Vec::new();
    for (key, value) in services {
        let Value::Mapping(settings) = value else {
            continue;
        };
        if settings.contains_key("network_mode") {
            continue;
        }
        let service = key_text(key);
        let explicit = service_networks(settings);
        let joined = explicit
            .clone()
            .unwrap_or_else(|| BTreeSet::from([DEFAULT_NETWORK.to_string()]));
        memberships.push((service, explicit.is_some(), joined));
    }
    let shared = memberships.windows(2).all(|pair| pair[0].2 == pair[1].2);
    let mut joins = BTreeMap::new();
    for (service, explicit, joined) in &memberships {
        if !explicit {
            continue;
        }
        let path = Path::root().key("services").key(service).key("networks");
        let options = services
            .get(service.as_str())
            .and_then(|settings| settings.get("networks"))
            .and_then(Value::as_mapping);
        let list = joined.iter().cloned().collect::<Vec<_>>().join(", ");
        if shared {
            let aliases: Vec<Alias> = joined
                .iter()
                .flat_map(|network| network_aliases(options, network, &path, report))
                .collect();
            let message = if joined.len() <= 1 {
                format!("dropped, the environment network replaces {list}")
            } else {
                format!(
                    "dropped, every service joins {list}; the environment network replaces them"
                )
            };
            report.note(&path, message);
            if !aliases.is_empty() {
                let name = Name::parse(DEFAULT_NETWORK).expect("a DNS label");
                joins.insert(service.clone(), vec![NetworkJoin { name, aliases }]);
            }
            continue;
        }
        let mut service_joins = Vec::new();
        for network in joined {
            let label = if network == DEFAULT_NETWORK {
                network.clone()
            } else {
                dns_label(network)
            };
            let Ok(name) = Name::parse(&label) else {
                report.untranslatable(
                    &path,
                    format!("network {network} does not make a network name ({label:?})"),
                );
                continue;
            };
            let aliases = network_aliases(options, network, &path, report);
            service_joins.push(NetworkJoin { name, aliases });
        }
        joins.insert(service.clone(), service_joins);
    }
    if !shared {
        note_external_networks(declared, report);
    }
    joins
}

/// The `aliases` of `network` in a service's `networks` mapping; other options are listed as
/// untranslatable.
fn network_aliases(
    options: Option<&Mapping>,
    network: &str,
    path: &Path,
    report: &mut Report,
) -> Vec<Alias> {
    let Some(Value::Mapping(settings)) = options.and_then(|options| options.get(network)) else {
        return Vec::new();
    };
    let path = path.key(network);
    let mut aliases = Vec::new();
    for (option, value) in settings {
        let option = key_text(option);
        let option_path = path.key(&option);
        if option != "aliases" {
            report.untranslatable(
                &option_path,
                "orun gives a container its deployment name and aliases on each network, and Docker its address",
            );
            continue;
        }
        for (index, alias) in values::text_list(value)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if let Some(alias) = checked(
                Some(alias.clone()),
                Alias::parse,
                &option_path.index(index),
                report,
            ) {
                aliases.push(alias);
            }
        }
    }
    aliases
}

/// orun joins its own networks, never a network made elsewhere: an `external` one is noted.
fn note_external_networks(declared: Option<&Value>, report: &mut Report) {
    for (key, settings) in declared.and_then(Value::as_mapping).into_iter().flatten() {
        let network = key_text(key);
        if settings.get("external").is_some() {
            report.note(
                &Path::root().key("networks").key(&network).key("external"),
                format!(
                    "orun joins its own network orun-<env>.{} instead of this one",
                    dns_label(&network)
                ),
            );
        }
    }
}
