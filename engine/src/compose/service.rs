//! One compose service as one Deployment spec, built from the manifest's own types: every
//! setting the importer knows is translated or dropped with a note; every other one is listed as
//! untranslatable with its path. It does not decide file names or what to do with the findings.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

use super::files::Declared;
use super::values::{flag, key_text, pairs, text, text_list, Path};
use super::volumes::{normalise, Mounts, VolumeContext};
use super::{checked, host_access, kernel, parse_dotenv, ports, units, ComposeInput, Report};
use crate::duration::Duration;
use crate::manifest::fields::{check_env_name, check_env_value};
use crate::manifest::settings::{LabelName, MIN_MEMORY};
use crate::manifest::{
    AbsolutePath, BuildSpec, Capability, ContainerFields, Cpus, DeploymentSpec, EnvMap,
    ExecCommand, ExtraHost, HealthSpec, Hostname, ImageReference, InnerPath, LabelMap, LogFiles,
    LoggingSpec, MemoryLimit, Name, NetworkJoin, NetworkMode, PidsLimit, ProbeTarget, PullPolicy,
    ReadinessProbe, Replicas, ScalarText, Signal, Size, SysctlMap, Text, User,
};

/// What every service's translation shares.
pub struct Context<'a> {
    pub input: &'a ComposeInput<'a>,
    pub variables: &'a BTreeMap<String, String>,
    /// Compose service name → deployment name.
    pub deployments: &'a BTreeMap<String, Name>,
    /// Compose volume name → orun named volume.
    pub volumes: &'a BTreeMap<String, String>,
    /// The secrets and configs declared at the top level.
    pub declared: &'a Declared,
    /// Compose service name → its `networks`, for the services that get the field.
    pub networks: &'a BTreeMap<String, Vec<NetworkJoin>>,
}

/// Translates the settings of service `service`, to be deployment `name`; `None` when it has
/// neither an image nor a build that orun can use.
pub fn translate(
    context: &Context,
    service: &str,
    name: &Name,
    settings: &Mapping,
    report: &mut Report,
) -> Option<DeploymentSpec> {
    let base = Path::root().key("services").key(service);
    let volume_context = VolumeContext {
        compose_dir: context.input.compose_dir,
        home: context.variables.get("HOME").map(String::as_str),
        deployment: name.as_str(),
        volume_names: context.volumes,
    };
    let mut deployment = DeploymentSpec::default();
    let spec = &mut deployment.container;
    let mut mounts = Mounts::default();
    let mut replicas: Option<(&Value, Path)> = None;
    let mut env = BTreeMap::new();
    let mut environment = None;
    let mut expose = None;
    let mut image = None;
    let mut kernel = kernel::Pending::default();
    for (key, value) in settings {
        let key = key_text(key);
        let path = base.key(&key);
        if kernel.translate(&key, value, &path, spec, report) {
            continue;
        }
        match key.as_str() {
            "image" => image = text(value),
            "build" => spec.build = build(context, value, &path, report),
            "pull_policy" => spec.pull_policy = pull_policy(value, &path, report),
            "command" => spec.command = command(value, &path, report),
            "entrypoint" => spec.entrypoint = command(value, &path, report),
            "env_file" => env_files(context, value, &path, &mut env, report),
            "environment" => environment = Some((value, path)),
            "ports" => ports::published(value, &path, &mut spec.ports, report),
            "expose" => expose = Some((value, path)),
            "volumes" => volume_context.volumes(value, &path, &mut mounts, report),
            "tmpfs" => volume_context.tmpfs(value, &path, &mut mounts, report),
            "depends_on" => deployment.depends_on = depends_on(context, value, &path, report),
            "healthcheck" => deployment.health = healthcheck(value, &path, report),
            "user" => spec.user = checked(text(value), User::parse, &path, report),
            "working_dir" => {
                spec.working_dir = checked(text(value), AbsolutePath::parse, &path, report)
            }
            "hostname" => spec.hostname = checked(text(value), Hostname::parse, &path, report),
            "extra_hosts" => spec.extra_hosts = extra_hosts(value, &path, report),
            "cap_add" => spec.cap_add = capabilities(value, &path, report),
            "cap_drop" => spec.cap_drop = capabilities(value, &path, report),
            "labels" => spec.labels = LabelMap(labels(value, &path, report)),
            "sysctls" => spec.sysctls = SysctlMap(map(value, &path, report)),
            "stop_signal" => {
                let signal = text(value).map(|signal| signal_name(&signal));
                spec.stop_signal = checked(signal, Signal::parse, &path, report);
            }
            "stop_grace_period" => spec.stop_timeout = duration(value, &path, report),
            "init" => spec.init = boolean(value, &path, report),
            "read_only" => spec.read_only_root_filesystem = boolean(value, &path, report),
            "shm_size" => spec.shm_size = size(value, &path, report),
            "logging" => spec.logging = logging(value, &path, report),
            "deploy" => deploy(value, &path, spec, &mut replicas, report),
            "scale" => replicas = Some((value, path)),
            "mem_limit" => spec.resources.memory = memory(value, &path, report),
            "cpus" => spec.resources.cpus = checked(text(value), Cpus::parse, &path, report),
            "pids_limit" => spec.resources.pids = pids(value),
            "network_mode" => spec.network = network_mode(value, &path, report),
            "stdin_open" => spec.interactive = boolean(value, &path, report),
            "tty" => spec.tty = boolean(value, &path, report),
            "ulimits" => spec.ulimits = host_access::ulimits(value, &path, report),
            "security_opt" => spec.security_opt = host_access::security_opt(value, &path, report),
            "devices" => spec.devices = host_access::devices(value, &path, report),
            "group_add" => spec.group_add = host_access::group_add(value, &path, report),
            "gpus" => spec.gpus = host_access::gpus(value, &path, report),
            "profiles" => host_access::profiles(value, &path, service, report),
            "networks" => spec.networks = context.networks.get(service).cloned(),
            "secrets" => spec.secret_files = context.declared.secret_files(value, &path, report),
            "configs" => spec.files = context.declared.files(value, &path, report),
            "restart" => report.note(&path, "dropped, orun supervises containers"),
            "container_name" => report.note(
                &path,
                format!("dropped, orun names the container after the deployment ({name})"),
            ),
            _ if key.starts_with("x-") => {}
            _ if is_empty(value) => report.note(&path, "empty, dropped"),
            _ => report.untranslatable(&path, "orun has no equivalent"),
        }
    }
    kernel.finish(spec, report);
    if let Some((value, path)) = environment {
        environment_values(context, value, &path, &mut env, report);
    }
    if let Some((value, path)) = expose {
        ports::exposed(value, &path, &mut spec.ports, report);
    }
    let image_path = base.key("image");
    match image {
        Some(_) if spec.build.is_some() => report.note(&image_path, "dropped, build wins"),
        Some(image) => {
            let image = checked(Some(image), ImageReference::parse, &image_path, report)?;
            spec.image = Some(image);
        }
        None if spec.build.is_none() => {
            if !settings.contains_key("build") {
                report.untranslatable(&base, "a service needs an image or a build");
            }
            return None;
        }
        None => {}
    }
    if spec.network != NetworkMode::Environment && !spec.ports.is_empty() {
        report.note(
            &base.key("ports"),
            "dropped, a container outside the environment network publishes no ports",
        );
        spec.ports.clear();
    }
    spec.env = EnvMap(
        env.into_iter()
            .map(|(key, value)| (key, ScalarText(value)))
            .collect(),
    );
    spec.volumes = mounts.volumes;
    spec.tmpfs = mounts.tmpfs;
    if let Some((value, path)) = replicas {
        let published = spec.ports.iter().any(|port| port.port.is_some());
        deployment.replicas = replica_count(value, &path, published, report);
    }
    Some(deployment)
}

/// `deploy.replicas` or `scale`: the deployment's `replicas`, unless its copies would all bind
/// the same published host port, which only one container can.
fn replica_count(value: &Value, path: &Path, published: bool, report: &mut Report) -> Replicas {
    let count = value
        .as_u64()
        .or_else(|| text(value).and_then(|text| text.parse().ok()));
    match count.map(|count| Replicas::new(u32::try_from(count).unwrap_or(u32::MAX))) {
        Some(Ok(replicas)) if replicas.get() > 1 && published => {
            report.untranslatable(
                path,
                "several replicas cannot publish the same host port; drop the host port and route through a Service",
            );
            Replicas::default()
        }
        Some(Ok(replicas)) => replicas,
        Some(Err(problem)) => {
            report.untranslatable(path, problem);
            Replicas::default()
        }
        None => {
            report.untranslatable(path, "expected a number of replicas");
            Replicas::default()
        }
    }
}

/// A setting compose reads as not set: `null`, or text that interpolated to nothing
/// (`platform: ${DOCKER_PLATFORM:-}`).
fn is_empty(value: &Value) -> bool {
    value.is_null() || value.as_str() == Some("")
}

pub(super) fn list(value: &Value, path: &Path, report: &mut Report) -> Vec<String> {
    text_list(value).unwrap_or_else(|| {
        report.untranslatable(path, "expected a list");
        Vec::new()
    })
}

/// Capability names without Docker's optional `CAP_` prefix.
fn capabilities(value: &Value, path: &Path, report: &mut Report) -> Vec<Capability> {
    list(value, path, report)
        .into_iter()
        .enumerate()
        .filter_map(|(index, name)| {
            let upper = name.to_ascii_uppercase();
            let bare = upper.strip_prefix("CAP_").unwrap_or(&upper).to_string();
            checked(Some(bare), Capability::parse, &path.index(index), report)
        })
        .collect()
}

/// `labels`, without those under orun's own prefix, which orun sets itself.
fn labels(value: &Value, path: &Path, report: &mut Report) -> BTreeMap<String, String> {
    let mut labels = map(value, path, report);
    labels.retain(|name, _| {
        checked(
            Some(name.clone()),
            LabelName::parse,
            &path.key(name),
            report,
        )
        .is_some()
    });
    labels
}

fn map(value: &Value, path: &Path, report: &mut Report) -> BTreeMap<String, String> {
    match pairs(value, '=') {
        Some(pairs) => pairs
            .into_iter()
            .map(|(key, value)| (key, value.unwrap_or_default()))
            .collect(),
        None => {
            report.untranslatable(path, "expected a map or a list of key=value");
            BTreeMap::new()
        }
    }
}

pub(super) fn boolean(value: &Value, path: &Path, report: &mut Report) -> bool {
    flag(value).unwrap_or_else(|| {
        report.untranslatable(path, "expected true or false");
        false
    })
}

/// A duration in orun's text, read back as the loader reads it.
fn duration_text(value: &Value, path: &Path, report: &mut Report) -> Option<String> {
    let translated = text(value).and_then(|text| units::duration(&text));
    if translated.is_none() {
        report.untranslatable(path, "expected a duration such as 10s or 1m30s");
    }
    translated
}

fn duration(value: &Value, path: &Path, report: &mut Report) -> Option<Duration> {
    let parse = |text: &str| text.parse::<Duration>().map_err(|error| error.to_string());
    checked(duration_text(value, path, report), parse, path, report)
}

fn size(value: &Value, path: &Path, report: &mut Report) -> Option<Size> {
    let translated = text(value).and_then(|text| units::binary_size(&text));
    if translated.is_none() {
        report.untranslatable(path, "expected a size such as 64m or 1g");
    }
    checked(translated, Size::parse, path, report)
}

/// A memory limit: a size of at least Docker's minimum.
pub(super) fn memory(value: &Value, path: &Path, report: &mut Report) -> Option<MemoryLimit> {
    let limit = size(value, path, report)?;
    if limit.bytes() < MIN_MEMORY {
        report.untranslatable(path, format!("{limit} is below Docker's minimum of 6Mi"));
        return None;
    }
    Some(MemoryLimit(limit))
}

fn pids(value: &Value) -> Option<PidsLimit> {
    value
        .as_i64()
        .and_then(|pids| u64::try_from(pids).ok())
        .filter(|pids| *pids > 0)
        .map(PidsLimit)
}

/// `TERM` and `SIGTERM` both name SIGTERM, and `RTMIN+3` SIGRTMIN+3; orun wants the `SIG`
/// form. A signal number stays as it is.
fn signal_name(signal: &str) -> String {
    let upper = signal.to_ascii_uppercase();
    if upper.starts_with("SIG") || upper.bytes().all(|b| b.is_ascii_digit()) {
        upper
    } else {
        format!("SIG{upper}")
    }
}

fn pull_policy(value: &Value, path: &Path, report: &mut Report) -> PullPolicy {
    match text(value).as_deref() {
        Some("always") => PullPolicy::Always,
        Some("never") => PullPolicy::Never,
        Some("missing" | "if_not_present") => PullPolicy::IfNotPresent,
        Some("build") => {
            report.note(path, "dropped, orun builds a deployment that has a build");
            PullPolicy::IfNotPresent
        }
        _ => {
            report.untranslatable(path, "orun pulls always, never or when missing");
            PullPolicy::IfNotPresent
        }
    }
}

/// `command` or `entrypoint`: a list, or a string split like a shell would.
fn command(value: &Value, path: &Path, report: &mut Report) -> Option<Vec<String>> {
    let words = match value {
        Value::Null => return None,
        Value::Sequence(_) => text_list(value),
        _ => text(value).and_then(|line| shlex::split(&line)),
    };
    match words {
        Some(words) if words.is_empty() => {
            report.note(path, "empty, dropped: the image's default applies");
            None
        }
        Some(words) => Some(words),
        None => {
            report.untranslatable(path, "expected a list of words or a command line");
            None
        }
    }
}

/// `build`: a context path, or `{context, dockerfile, args, target}`.
fn build(context: &Context, value: &Value, path: &Path, report: &mut Report) -> Option<BuildSpec> {
    let mut source = ".".to_string();
    let mut dockerfile = None;
    let mut target = None;
    let mut args = BTreeMap::new();
    match value {
        Value::Mapping(settings) => {
            for (key, item) in settings {
                let key = key_text(key);
                let key_path = path.key(&key);
                match key.as_str() {
                    "context" => source = text(item).unwrap_or_default(),
                    "dockerfile" => dockerfile = text(item),
                    "target" => target = checked(text(item), Text::parse, &key_path, report),
                    "args" => args = build_args(context, item, &key_path, report),
                    _ => report.untranslatable(&key_path, "orun has no equivalent"),
                }
            }
        }
        _ => source = text(value).unwrap_or_default(),
    }
    let dockerfile_path = path.key("dockerfile");
    let dockerfile = match dockerfile {
        Some(file) if file.starts_with('/') || escapes(&file) => {
            report.untranslatable(
                &dockerfile_path,
                "orun reads the Dockerfile from inside the build context",
            );
            None
        }
        file => checked(file, InnerPath::parse, &dockerfile_path, report),
    };
    let context_path = path.key("context");
    let Some(relative) = build_context(context.input, &source) else {
        report.untranslatable(
            &context_path,
            format!("context {source:?} lies outside the output folder"),
        );
        return None;
    };
    let mut build = BuildSpec {
        context: checked(Some(relative), InnerPath::parse, &context_path, report)?,
        dockerfile: InnerPath::parse(crate::build::DEFAULT_DOCKERFILE).expect("constant path"),
        args: args
            .into_iter()
            .map(|(key, value)| (key, ScalarText(value)))
            .collect(),
        build_mode: Default::default(),
        target,
    };
    if let Some(dockerfile) = dockerfile {
        build.dockerfile = dockerfile;
    }
    Some(build)
}

/// Whether a relative path climbs above its base with `..`.
fn escapes(path: &str) -> bool {
    normalise(&format!("/base/{path}"))
        .is_none_or(|absolute| absolute != "/base" && !absolute.starts_with("/base/"))
}

/// A build context as a path relative to the output folder, if it lies inside it.
fn build_context(input: &ComposeInput, source: &str) -> Option<String> {
    if source.contains("://") || source.starts_with("git@") {
        return None;
    }
    let from_out = input.compose_dir_from_out?;
    let inside_compose = match source.strip_prefix(input.compose_dir) {
        Some(rest) if source.starts_with('/') => rest.trim_start_matches('/').to_string(),
        _ if source.starts_with('/') => return None,
        _ => source.to_string(),
    };
    let joined = normalise(&format!("/out/{from_out}/{inside_compose}"))?;
    let relative = joined.strip_prefix("/out")?;
    if relative.is_empty() {
        return Some(".".to_string());
    }
    relative.strip_prefix('/').map(ToString::to_string)
}

fn build_args(
    context: &Context,
    value: &Value,
    path: &Path,
    report: &mut Report,
) -> BTreeMap<String, String> {
    let Some(pairs) = pairs(value, '=') else {
        report.untranslatable(path, "expected a map or a list of key=value");
        return BTreeMap::new();
    };
    let mut args = BTreeMap::new();
    for (key, value) in pairs {
        match value.or_else(|| context.variables.get(&key).cloned()) {
            Some(value) => {
                args.insert(key, value);
            }
            None => report.note(
                &path.key(&key),
                "no value and not set in the environment, left out",
            ),
        }
    }
    args
}

/// `env_file`: one path, a list of paths, or a list of `{path, required}`; each file inlined.
fn env_files(
    context: &Context,
    value: &Value,
    path: &Path,
    env: &mut BTreeMap<String, String>,
    report: &mut Report,
) {
    let entries: Vec<(String, bool)> = match value {
        Value::Sequence(items) => items
            .iter()
            .filter_map(|item| match item {
                Value::Mapping(entry) => Some((
                    entry.get("path").and_then(text)?,
                    entry.get("required").and_then(flag).unwrap_or(true),
                )),
                _ => Some((text(item)?, true)),
            })
            .collect(),
        _ => text(value)
            .map(|file| vec![(file, true)])
            .unwrap_or_default(),
    };
    for (file, required) in entries {
        let content = match (context.input.read_env_file)(&file) {
            Ok(Some(content)) => content,
            Ok(None) if !required => {
                report.note(path, format!("{file} is optional and missing, skipped"));
                continue;
            }
            Ok(None) => {
                report.untranslatable(path, format!("cannot read {file}: no such file"));
                continue;
            }
            Err(error) => {
                report.untranslatable(path, format!("cannot read {file}: {error}"));
                continue;
            }
        };
        match parse_dotenv(&content) {
            Ok(values) => {
                let count = match values.len() {
                    1 => "1 variable".to_string(),
                    count => format!("{count} variables"),
                };
                report.note(
                    path,
                    format!("{file} inlined into env ({count}); secrets belong in secrets.yaml"),
                );
                for (key, value) in values {
                    insert_env(env, key, value, path, report);
                }
            }
            Err(error) => report.untranslatable(
                path,
                format!("{file} line {}: {}", error.line, error.message),
            ),
        }
    }
}

/// `environment`: a map or a `KEY=value` list; a key without a value takes it from the
/// environment, as compose does.
fn environment_values(
    context: &Context,
    value: &Value,
    path: &Path,
    env: &mut BTreeMap<String, String>,
    report: &mut Report,
) {
    let Some(pairs) = pairs(value, '=') else {
        report.untranslatable(path, "expected a map or a list of KEY=value");
        return;
    };
    for (key, value) in pairs {
        let key_path = path.key(&key);
        match value.or_else(|| context.variables.get(&key).cloned()) {
            Some(value) => insert_env(env, key, value, &key_path, report),
            None => report.note(
                &key_path,
                "no value and not set in the environment, left out",
            ),
        }
    }
}

/// Adds one variable to `env` if the manifest loader accepts its name and value.
fn insert_env(
    env: &mut BTreeMap<String, String>,
    key: String,
    value: String,
    path: &Path,
    report: &mut Report,
) {
    match check_env_name(&key).and_then(|()| check_env_value(&value)) {
        Ok(()) => {
            env.insert(key, value);
        }
        Err(why) => report.untranslatable(path, format!("{key}: {why}")),
    }
}

/// `extra_hosts`: a list of `host=address` or `host:address` (an IPv6 address keeps its colons),
/// or a map of host → address or list of addresses; each address an IP address, also in
/// brackets, or `host-gateway`.
fn extra_hosts(value: &Value, path: &Path, report: &mut Report) -> Vec<ExtraHost> {
    let entries: Vec<(Path, String)> = match value {
        Value::Mapping(map) => map
            .iter()
            .flat_map(|(host, addresses)| {
                let host = key_text(host);
                let host_path = path.key(&host);
                let addresses = match addresses {
                    Value::Sequence(_) => text_list(addresses).unwrap_or_default(),
                    _ => text(addresses).into_iter().collect(),
                };
                addresses
                    .into_iter()
                    .map(move |address| (host_path.clone(), format!("{host}={address}")))
            })
            .collect(),
        _ => match text_list(value) {
            Some(items) => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| (path.index(index), item))
                .collect(),
            None => {
                report.untranslatable(path, "expected a list of host=address or a map");
                return Vec::new();
            }
        },
    };
    entries
        .into_iter()
        .filter_map(|(entry_path, entry)| {
            checked(Some(entry), ExtraHost::parse, &entry_path, report)
        })
        .map(|host| host.in_docker_form())
        .collect()
}

/// `depends_on`: a list of services, or a map of service → `{condition, restart, required}`.
fn depends_on(context: &Context, value: &Value, path: &Path, report: &mut Report) -> Vec<Name> {
    let services: Vec<String> = match value {
        Value::Sequence(_) => text_list(value).unwrap_or_default(),
        Value::Mapping(map) => {
            for (service, options) in map {
                let service_path = path.key(&key_text(service));
                for (key, option) in options.as_mapping().into_iter().flatten() {
                    let key = key_text(key);
                    let option_path = service_path.key(&key);
                    match (key.as_str(), text(option).as_deref()) {
                        ("condition", Some("service_started" | "service_healthy")) => {}
                        // The service waited on becomes a job that runs before this one (`jobs.rs`).
                        ("condition", Some("service_completed_successfully")) => {}
                        ("condition", _) => report.untranslatable(
                            &option_path,
                            "orun starts a dependent once its dependencies run and are ready, or after a job that runs before it; it has no other condition",
                        ),
                        ("restart", _) => report.note(
                            &option_path,
                            "dropped, orun does not restart dependents when a dependency is recreated",
                        ),
                        ("required", _) => report.note(&option_path, "dropped, every dependency is required"),
                        _ => report.untranslatable(&option_path, "orun has no equivalent"),
                    }
                }
            }
            map.keys().map(key_text).collect()
        }
        _ => {
            report.untranslatable(path, "expected a list or a map of services");
            return Vec::new();
        }
    };
    let mut names = Vec::new();
    for service in services {
        match context.deployments.get(&service) {
            Some(name) => names.push(name.clone()),
            None => report.untranslatable(
                &path.key(&service),
                format!("no service {service} in this file"),
            ),
        }
    }
    names.sort();
    names.dedup();
    names
}

/// Docker's healthcheck defaults: 30s interval and timeout, 3 retries, no start period.
const DOCKER_INTERVAL: Duration = Duration::from_secs(30);
const DOCKER_TIMEOUT: Duration = Duration::from_secs(30);
const DOCKER_RETRIES: u64 = 3;
/// orun's default readiness deadline, the least the translated deadline allows.
const SHORTEST_DEADLINE: Duration = Duration::from_secs(60);

/// `healthcheck` as a readiness `exec` probe. orun waits for readiness once per container, so
/// Docker's `retries` become part of the deadline: the start period plus `retries` rounds of
/// interval and timeout, never shorter than orun's default.
fn healthcheck(value: &Value, path: &Path, report: &mut Report) -> HealthSpec {
    HealthSpec {
        readiness: readiness(value, path, report),
        liveness: None,
    }
}

fn readiness(value: &Value, path: &Path, report: &mut Report) -> Option<ReadinessProbe> {
    let Some(settings) = value.as_mapping() else {
        report.untranslatable(path, "expected a mapping");
        return None;
    };
    let mut exec = None;
    let mut interval = DOCKER_INTERVAL;
    let mut timeout = DOCKER_TIMEOUT;
    let mut retries = DOCKER_RETRIES;
    let mut start_period = Duration::from_secs(0);
    for (key, item) in settings {
        let key = key_text(key);
        let key_path = path.key(&key);
        let read_duration = |report: &mut Report| {
            duration_text(item, &key_path, report).and_then(|text| text.parse::<Duration>().ok())
        };
        match key.as_str() {
            "test" => exec = health_test(item, &key_path, report),
            "interval" => interval = read_duration(report).unwrap_or(interval),
            "timeout" => timeout = read_duration(report).unwrap_or(timeout),
            "start_period" => start_period = read_duration(report).unwrap_or(start_period),
            "retries" => match item.as_u64().or_else(|| text(item)?.parse().ok()) {
                Some(count) => retries = count,
                None => report.untranslatable(&key_path, "expected a number"),
            },
            "start_interval" => report.note(&key_path, "dropped, orun probes at one interval"),
            "disable" if flag(item) == Some(true) => {
                report.note(path, "disabled, no readiness probe");
                return None;
            }
            "disable" => {}
            _ => report.untranslatable(&key_path, "orun has no equivalent"),
        }
    }
    let exec = exec?;
    let rounds =
        (interval.as_std() + timeout.as_std()) * u32::try_from(retries).unwrap_or(u32::MAX);
    let deadline = Duration::from(start_period.as_std() + rounds)
        .max(SHORTEST_DEADLINE)
        .min(Duration::MAX);
    Some(ReadinessProbe {
        target: ProbeTarget::Exec(exec),
        interval,
        timeout,
        deadline,
    })
}

/// `["CMD", …]`, `["CMD-SHELL", "…"]`, a plain string (a shell command) or `["NONE"]`.
fn health_test(value: &Value, path: &Path, report: &mut Report) -> Option<ExecCommand> {
    let words = health_words(value, path, report)?;
    match ExecCommand::new(words) {
        Ok(command) => Some(command),
        Err(why) => {
            report.untranslatable(path, why);
            None
        }
    }
}

fn health_words(value: &Value, path: &Path, report: &mut Report) -> Option<Vec<String>> {
    let shell = |line: &str| vec!["/bin/sh".to_string(), "-c".to_string(), line.to_string()];
    if let Some(line) = value.as_str() {
        return Some(shell(line));
    }
    let words = text_list(value).unwrap_or_default();
    match words.split_first() {
        Some((form, rest)) if form == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
        Some((form, rest)) if form == "CMD-SHELL" && !rest.is_empty() => {
            Some(shell(&rest.join(" ")))
        }
        Some((form, _)) if form == "NONE" => {
            report.note(path, "NONE, no readiness probe");
            None
        }
        _ => {
            report.untranslatable(
                path,
                "expected [\"CMD\", …], [\"CMD-SHELL\", \"…\"] or a command line",
            );
            None
        }
    }
}

/// `logging`: the json-file driver's `max-size` and `max-file`.
fn logging(value: &Value, path: &Path, report: &mut Report) -> LoggingSpec {
    let mut out = LoggingSpec::default();
    for (key, item) in value.as_mapping().into_iter().flatten() {
        let key = key_text(key);
        let key_path = path.key(&key);
        match key.as_str() {
            "driver" if matches!(text(item).as_deref(), Some("json-file" | "local")) => {}
            "options" => {
                for (option, setting) in item.as_mapping().into_iter().flatten() {
                    let option = key_text(option);
                    let option_path = key_path.key(&option);
                    let setting = text(setting).unwrap_or_default();
                    match option.as_str() {
                        "max-size" => {
                            let max_size = units::log_size(&setting);
                            if max_size.is_none() {
                                report.untranslatable(&option_path, "expected a size such as 10m");
                            }
                            out.max_size = checked(max_size, Size::parse, &option_path, report);
                        }
                        "max-file" => {
                            // Written as given, 0 included: the loader's own check then names it.
                            out.max_files = setting.parse().ok().map(LogFiles);
                            if out.max_files.is_none() {
                                report.untranslatable(&option_path, "expected a number");
                            }
                        }
                        _ => report.untranslatable(
                            &option_path,
                            "orun sets only max-size and max-file of the json-file driver",
                        ),
                    }
                }
            }
            _ => report.untranslatable(
                &key_path,
                "orun logs with the json-file driver, rotated by max-size and max-file",
            ),
        }
    }
    out
}

/// `deploy`: its resource limits and replicas (read by the caller once the ports are known); the
/// restart policy is dropped.
fn deploy<'v>(
    value: &'v Value,
    path: &Path,
    spec: &mut ContainerFields,
    replicas: &mut Option<(&'v Value, Path)>,
    report: &mut Report,
) {
    let resources = &mut spec.resources;
    for (key, item) in value.as_mapping().into_iter().flatten() {
        let key = key_text(key);
        let key_path = path.key(&key);
        match key.as_str() {
            "resources" => {
                for (kind, settings) in item.as_mapping().into_iter().flatten() {
                    let kind = key_text(kind);
                    let kind_path = key_path.key(&kind);
                    for (setting, amount) in settings.as_mapping().into_iter().flatten() {
                        let setting = key_text(setting);
                        let setting_path = kind_path.key(&setting);
                        match (kind.as_str(), setting.as_str()) {
                            ("limits", "memory") => {
                                resources.memory = memory(amount, &setting_path, report)
                            }
                            ("limits", "cpus") => {
                                resources.cpus =
                                    checked(text(amount), Cpus::parse, &setting_path, report)
                            }
                            ("limits", "pids") => resources.pids = pids(amount),
                            ("reservations", "devices") => {
                                spec.gpus =
                                    host_access::reserved_devices(amount, &setting_path, report)
                            }
                            ("reservations", "memory") => {
                                spec.memory_reservation = memory(amount, &setting_path, report)
                            }
                            ("reservations", "cpus") => report.note(
                                &setting_path,
                                "dropped, Docker reserves CPUs only for Swarm services; cpuShares weighs containers",
                            ),
                            _ => report.untranslatable(&setting_path, "orun has no equivalent"),
                        }
                    }
                }
            }
            "restart_policy" => report.note(&key_path, "dropped, orun supervises containers"),
            "mode" if text(item).as_deref() == Some("replicated") => {
                report.note(&key_path, "dropped, replicas are orun's only mode")
            }
            "replicas" => *replicas = Some((item, key_path)),
            _ => report.untranslatable(&key_path, "orun has no equivalent"),
        }
    }
}

fn network_mode(value: &Value, path: &Path, report: &mut Report) -> NetworkMode {
    match text(value).as_deref() {
        Some("host") => NetworkMode::Host,
        Some("none") => NetworkMode::None,
        Some("bridge" | "default") => {
            report.note(path, "dropped, the environment network replaces it");
            NetworkMode::Environment
        }
        Some(mode) if mode.starts_with("service:") || mode.starts_with("container:") => {
            report.untranslatable(
                path,
                "orun shares no network namespace between containers; deployments reach each other by name",
            );
            NetworkMode::Environment
        }
        _ => {
            report.untranslatable(
                path,
                "orun joins the environment network, the host's or none",
            );
            NetworkMode::Environment
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_get_their_sig_prefix() {
        assert_eq!(signal_name("TERM"), "SIGTERM");
        assert_eq!(signal_name("SIGQUIT"), "SIGQUIT");
        assert_eq!(signal_name("rtmin+3"), "SIGRTMIN+3");
        assert_eq!(signal_name("9"), "9");
    }

    #[test]
    fn relative_paths_that_climb_out_escape() {
        assert!(escapes("../Dockerfile"));
        assert!(escapes("a/../../b"));
        assert!(!escapes("docker/Dockerfile"));
        assert!(!escapes("a/../b"));
    }
}
