//! Image operations: pulling with streamed progress, an idle timeout and the registry's
//! credentials ([`PullError`] names a refusing registry), and building a build-mode image from a
//! tar of its context, refused when the context no longer holds the files its tag was computed
//! from (a `BuildError` keeps the builder's last output lines apart from its message), and
//! pointing a tag back at an image id that is still there (a pinned commit's images). Deciding
//! what to pull, build or tag is the planner's and the node loop's job; finding credentials is `credentials`'.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, TagImageOptionsBuilder,
};
use bollard::Docker;
use engine::build::{tag_matches, BuildInputs};
use engine::outcome::BuildError;
use engine::spec::CanonicalBuild;
use futures_util::{Stream, StreamExt};

use super::credentials::{self, Credentials};
use super::{Call, DockerError, Failure};
use crate::build_context::{read_context, ContextError, ReadContext};

/// A pull that sends nothing for this long has stalled and fails.
pub const PULL_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// A build whose output stays silent for this long has stalled and fails.
pub const BUILD_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// How many of the builder's last output lines a failed build reports.
const BUILD_ERROR_LINES: usize = 10;

/// Why a pull failed.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    /// The registry refused to serve the image without (other) credentials.
    #[error("pull of {reference} {refusal}")]
    Refused {
        reference: String,
        refusal: RegistryRefusal,
    },
    /// Docker failed otherwise, or the pull stalled.
    #[error(transparent)]
    Docker(DockerError),
}

/// A registry's refusal to serve an image, as Docker reported it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("refused by registry {registry}: {} ({message})", if *.sent_credentials { "credentials for it were rejected" } else { "no credentials configured for it" })]
pub struct RegistryRefusal {
    pub registry: String,
    /// Credentials were sent with the request, so the registry rejected them.
    pub sent_credentials: bool,
    /// Docker's message.
    pub message: String,
}

/// Why a build context could not be sent to Docker.
#[derive(Debug, thiserror::Error)]
enum ArchiveError {
    #[error(transparent)]
    Read(#[from] ContextError),
    #[error("its files changed since the tag was computed from them: not building other files under it (a new plan, on a node a new commit, computes the tag again)")]
    Changed,
    #[error(transparent)]
    Tar(#[from] std::io::Error),
}

/// One progress message of a pull: per layer (`id`) or for the whole image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullProgress {
    pub layer: Option<String>,
    pub status: String,
    pub current: Option<u64>,
    pub total: Option<u64>,
}

/// Points the tag `reference` back at the local image `id` when that image still exists and the
/// tag has moved on to another; true when it did. A digest reference is left alone: it cannot move.
pub async fn point_tag_at(
    docker: &Docker,
    reference: &str,
    id: &str,
) -> Result<bool, bollard::errors::Error> {
    if reference.contains('@') {
        return Ok(false);
    }
    match docker.inspect_image(id).await {
        Ok(_) => {}
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => return Ok(false),
        Err(error) => return Err(error),
    }
    let current = match docker.inspect_image(reference).await {
        Ok(image) => image.id,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => None,
        Err(error) => return Err(error),
    };
    if current.as_deref() == Some(id) {
        return Ok(false);
    }
    let (repository, tag) = split_reference(reference);
    let options = TagImageOptionsBuilder::default()
        .repo(repository)
        .tag(tag)
        .build();
    docker.tag_image(id, Some(options)).await?;
    Ok(true)
}

/// Splits a normalized reference into Docker's `fromImage` and `tag` (a tag or a digest).
fn split_reference(reference: &str) -> (&str, &str) {
    if let Some((repository, digest)) = reference.split_once('@') {
        return (repository, digest);
    }
    let slash = reference.rfind('/').map_or(0, |index| index + 1);
    match reference[slash..].rfind(':') {
        Some(colon) => (&reference[..slash + colon], &reference[slash + colon + 1..]),
        None => (reference, "latest"),
    }
}

/// Parts of Docker's message for a pull the registry refused to serve without (other)
/// credentials.
const REFUSALS: [&str; 6] = [
    "no basic auth credentials",
    "unauthorized",
    "authentication required",
    "access denied",
    "denied:",
    "403 forbidden",
];

/// Whether Docker's message for a failed pull says the registry refused access.
fn is_refusal(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    REFUSALS.iter().any(|refusal| message.contains(refusal))
}

/// Pulls `reference` with the registry's `credentials`, if any, reporting progress; fails on a
/// registry error or when the stream stalls. A refusal names the registry and whether
/// credentials were sent.
pub async fn pull(
    docker: &Docker,
    reference: &str,
    credentials: Option<&Credentials>,
    mut progress: impl FnMut(PullProgress),
) -> Result<(), PullError> {
    let (repository, tag) = split_reference(reference);
    let options = CreateImageOptionsBuilder::default()
        .from_image(repository)
        .tag(tag)
        .build();
    let key = credentials::registry_key(reference);
    let auth = credentials.map(|credentials| credentials::to_docker(credentials, &key));
    let stream = docker.create_image(Some(options), None, auth);
    drain(stream, PULL_IDLE_TIMEOUT, |info| {
        progress(PullProgress {
            layer: info.id,
            status: info.status.unwrap_or_default(),
            current: info
                .progress_detail
                .as_ref()
                .and_then(|p| p.current)
                .and_then(|v| u64::try_from(v).ok()),
            total: info
                .progress_detail
                .as_ref()
                .and_then(|p| p.total)
                .and_then(|v| u64::try_from(v).ok()),
        })
    })
    .await
    .map_err(|failure| pull_error(reference, credentials.is_some(), failure))
}

/// The error of a failed pull of `reference`: a refusal when Docker's message says so.
fn pull_error(reference: &str, sent_credentials: bool, failure: Failure) -> PullError {
    if let Failure::Answer { message, .. } = &failure {
        if let Some(refusal) = refusal(reference, sent_credentials, message) {
            return PullError::Refused {
                reference: reference.to_string(),
                refusal,
            };
        }
    }
    PullError::Docker(DockerError {
        call: Call::Pull(reference.to_string()),
        failure,
    })
}

/// When Docker's `message` about pulling `reference` is a refusal: which registry refused, and
/// whether credentials were missing or rejected.
fn refusal(reference: &str, sent_credentials: bool, message: &str) -> Option<RegistryRefusal> {
    is_refusal(message).then(|| RegistryRefusal {
        registry: credentials::registry_name(reference).to_string(),
        sent_credentials,
        message: message.to_string(),
    })
}

/// The image of the builder's step line `Step 1/3 : FROM [--platform=…] IMAGE [AS NAME]`.
fn base_image_of_step(line: &str) -> Option<&str> {
    let (_, instruction) = line.strip_prefix("Step ")?.split_once(" : ")?;
    let mut words = instruction.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("from") {
        return None;
    }
    // An image named through a build arg is printed unexpanded: its registry is unknown here.
    words
        .find(|word| !word.starts_with("--"))
        .filter(|image| !image.contains('$'))
}

/// What a failed build's `failure` says: a base image's refusal (the builder's last line is the
/// `FROM` step that pulled it) like a refused pull, else the builder's error.
fn build_failure(failure: &Failure, last_line: Option<&str>, sent_to: &[String]) -> String {
    let error = failure.to_string();
    let Some(image) = last_line.and_then(base_image_of_step) else {
        return error;
    };
    let host = credentials::config::hostname(&credentials::registry_key(image)).to_string();
    let sent = sent_to.contains(&host);
    match refusal(image, sent, &error) {
        Some(refused) => format!("base image {image} {refused}"),
        None => error,
    }
}

/// Consumes a Docker progress stream, failing on an error item or after `idle` without an item.
async fn drain<T>(
    stream: impl Stream<Item = Result<T, bollard::errors::Error>>,
    idle: Duration,
    mut each: impl FnMut(T),
) -> Result<(), Failure> {
    let mut stream = std::pin::pin!(stream);
    loop {
        match tokio::time::timeout(idle, stream.next()).await {
            Err(_) => return Err(Failure::Stalled { idle }),
            Ok(None) => return Ok(()),
            Ok(Some(Err(error))) => return Err(Failure::of(&error)),
            Ok(Some(Ok(item))) => each(item),
        }
    }
}

/// Builds `tag` from `<code_dir>/<build.context>` with the build's Dockerfile and args, pulling
/// base images with `registries`' credentials, reporting each output line; a failure carries the
/// builder's error and its last output lines. The context is read once, and its files go to
/// Docker only when they are the ones `tag` was computed from: the plan may have read them in
/// another process (`orun apply --plan`), or long before (a node's drift repair).
pub async fn build(
    docker: &Docker,
    tag: &str,
    code_dir: &Path,
    build: &CanonicalBuild,
    registries: HashMap<String, DockerCredentials>,
    mut output: impl FnMut(&str),
) -> Result<(), BuildError> {
    let failed = |message: String| BuildError {
        message,
        output: Vec::new(),
    };
    let context = code_dir.join(&build.context);
    let archive = {
        let code_dir = code_dir.to_path_buf();
        let build = build.clone();
        let tag = tag.to_string();
        tokio::task::spawn_blocking(move || archive_context(&code_dir, &build, &tag))
    }
    .await
    .map_err(|error| failed(format!("build context task failed: {error}")))?
    .map_err(|error| {
        failed(format!(
            "build {tag}: cannot archive build context {}: {error}",
            context.display()
        ))
    })?;
    let args: HashMap<String, String> = build.args.clone().into_iter().collect();
    let mut options = BuildImageOptionsBuilder::default()
        .dockerfile(&build.dockerfile)
        .t(tag)
        .buildargs(&args)
        .rm(true)
        .forcerm(true);
    if let Some(target) = &build.target {
        options = options.target(target);
    }
    let options = options.build();
    let sent_to: Vec<String> = registries
        .keys()
        .map(|key| credentials::config::hostname(key).to_string())
        .collect();
    let registries = (!registries.is_empty()).then_some(registries);
    let stream = docker.build_image(
        options,
        registries,
        Some(bollard::body_full(archive.into())),
    );
    let mut last_lines: VecDeque<String> = VecDeque::new();
    let mut pending = String::new();
    let result = drain(stream, BUILD_IDLE_TIMEOUT, |info| {
        let Some(text) = info.stream else { return };
        pending.push_str(&text);
        while let Some(end) = pending.find('\n') {
            let line: String = pending.drain(..=end).collect();
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            output(line);
            if last_lines.len() == BUILD_ERROR_LINES {
                last_lines.pop_front();
            }
            last_lines.push_back(line.to_string());
        }
    })
    .await;
    result.map_err(|failure| {
        let failure = build_failure(&failure, last_lines.back().map(String::as_str), &sent_to);
        BuildError {
            message: format!("build {tag}: {failure}"),
            output: last_lines.into(),
        }
    })
}

/// The tar of `build`'s context under `code_dir` (`.dockerignore` applied) when its files are the
/// ones `tag` was computed from; symlinks, which never lead outside `code_dir`, are archived as
/// the files they point to.
fn archive_context(
    code_dir: &Path,
    build: &CanonicalBuild,
    tag: &str,
) -> Result<Vec<u8>, ArchiveError> {
    let read = read_context(code_dir, &build.context, &build.dockerfile)?;
    let inputs = BuildInputs {
        files: &read.files,
        args: &build.args,
        dockerfile: &build.dockerfile,
        target: build.target.as_deref(),
    };
    if !tag_matches(tag, &inputs) {
        return Err(ArchiveError::Changed);
    }
    Ok(tar_context(&read)?)
}

/// A tar of exactly the bytes read, each file with the header `tar` would give the file on disk.
fn tar_context(read: &ReadContext) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    for (file, metadata) in read.files.iter().zip(&read.metadata) {
        let mut header = tar::Header::new_gnu();
        header.set_metadata(metadata);
        header.set_size(file.contents.len() as u64);
        archive.append_data(&mut header, &file.path, file.contents.as_slice())?;
    }
    archive.into_inner()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    use engine::build::{image_tag, BuildInputs};
    use engine::manifest::BuildMode;
    use engine::spec::CanonicalBuild;

    use super::{archive_context, build_failure, pull_error, split_reference, Failure};
    use crate::build_context::read_context;

    fn app_build() -> CanonicalBuild {
        CanonicalBuild {
            context: "app".to_string(),
            dockerfile: "Dockerfile".to_string(),
            args: BTreeMap::from([("V".to_string(), "1".to_string())]),
            build_mode: BuildMode::BuildOnce,
            target: None,
        }
    }

    /// The tag a plan computes for `build` from the files under `code_dir` now.
    fn planned_tag(code_dir: &std::path::Path, build: &CanonicalBuild) -> String {
        let read = read_context(code_dir, &build.context, &build.dockerfile).unwrap();
        let inputs = BuildInputs {
            files: &read.files,
            args: &build.args,
            dockerfile: &build.dockerfile,
            target: None,
        };
        image_tag("web", &inputs)
    }

    #[test]
    fn the_tar_holds_the_files_the_tag_was_computed_from_with_their_modes() {
        let dir = tempfile::TempDir::new().unwrap();
        let app = dir.path().join("app");
        fs::create_dir_all(app.join("bin")).unwrap();
        fs::write(app.join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
        fs::write(app.join("bin/run"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(app.join("bin/run"), fs::Permissions::from_mode(0o755)).unwrap();
        let build = app_build();
        let tag = planned_tag(dir.path(), &build);
        let tar = archive_context(dir.path(), &build, &tag).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut entries = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mode = entry.header().mode().unwrap() & 0o777;
            let mut contents = String::new();
            entry.read_to_string(&mut contents).unwrap();
            entries.push((path, mode, contents));
        }
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].0, "Dockerfile");
        assert_eq!(entries[0].2, "FROM scratch\nCOPY . /\n");
        assert_eq!(
            entries[1],
            ("bin/run".to_string(), 0o755, "#!/bin/sh\n".to_string())
        );
    }

    #[test]
    fn a_context_that_changed_after_its_tag_was_computed_is_not_archived() {
        let dir = tempfile::TempDir::new().unwrap();
        let app = dir.path().join("app");
        fs::create_dir_all(&app).unwrap();
        fs::write(app.join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::write(app.join("page.html"), "v1").unwrap();
        let build = app_build();
        let tag = planned_tag(dir.path(), &build);
        fs::write(app.join("page.html"), "v2").unwrap();
        let error = archive_context(dir.path(), &build, &tag).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("its files changed since the tag was computed"),
            "{error}"
        );
        assert!(archive_context(dir.path(), &build, &planned_tag(dir.path(), &build)).is_ok());
    }

    #[test]
    fn refused_base_images_name_the_registry_and_the_credentials() {
        let answer = |message: &str| Failure::Answer {
            status: None,
            message: message.to_string(),
        };
        let step = Some("Step 1/2 : FROM --platform=linux/amd64 127.0.0.1:5123/base:1 AS base");
        assert_eq!(
            build_failure(&answer("unauthorized: authentication required"), step, &["127.0.0.1:5123".to_string()]),
            "base image 127.0.0.1:5123/base:1 refused by registry 127.0.0.1:5123: credentials for it were rejected \
             (unauthorized: authentication required)"
        );
        assert_eq!(
            build_failure(
                &answer("pull access denied for acme/base"),
                Some("Step 1/4 : from acme/base"),
                &[]
            ),
            "base image acme/base refused by registry docker.io: no credentials configured for it \
             (pull access denied for acme/base)"
        );
        assert_eq!(
            build_failure(
                &answer("The command '/bin/sh -c make' returned a non-zero code: 2"),
                Some("Step 3/4 : RUN make"),
                &[]
            ),
            "The command '/bin/sh -c make' returned a non-zero code: 2"
        );
        assert_eq!(
            build_failure(
                &answer("unauthorized"),
                Some("Step 2/2 : FROM ${BASE}"),
                &[]
            ),
            "unauthorized"
        );
    }

    #[test]
    fn refused_pulls_name_the_registry_and_the_credentials() {
        let answer = |message: &str| Failure::Answer {
            status: Some(500),
            message: message.to_string(),
        };
        let reference = "127.0.0.1:5123/app:1";
        assert_eq!(
            pull_error(
                reference,
                false,
                answer("Head \"http://127.0.0.1:5123/v2/app/manifests/1\": no basic auth credentials")
            )
            .to_string(),
            "pull of 127.0.0.1:5123/app:1 refused by registry 127.0.0.1:5123: no credentials configured for it \
             (Head \"http://127.0.0.1:5123/v2/app/manifests/1\": no basic auth credentials)"
        );
        assert_eq!(
            pull_error(reference, true, answer("unauthorized: authentication required")).to_string(),
            "pull of 127.0.0.1:5123/app:1 refused by registry 127.0.0.1:5123: credentials for it were rejected \
             (unauthorized: authentication required)"
        );
        assert_eq!(
            pull_error("acme/private", false, answer("pull access denied for acme/private, repository does not exist or may require 'docker login': denied: requested access to the resource is denied")).to_string()
                .split(" (")
                .next()
                .unwrap(),
            "pull of acme/private refused by registry docker.io: no credentials configured for it"
        );
        assert_eq!(
            pull_error(reference, true, answer("manifest for 127.0.0.1:5123/app:1 not found: manifest unknown")).to_string(),
            "pull 127.0.0.1:5123/app:1: manifest for 127.0.0.1:5123/app:1 not found: manifest unknown"
        );
    }

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(split_reference("nginx:alpine"), ("nginx", "alpine"));
        assert_eq!(
            split_reference("127.0.0.1:5000/app:1.2"),
            ("127.0.0.1:5000/app", "1.2")
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/app"),
            ("127.0.0.1:5000/app", "latest")
        );
        assert_eq!(split_reference("repo@sha256:abc"), ("repo", "sha256:abc"));
    }
}
