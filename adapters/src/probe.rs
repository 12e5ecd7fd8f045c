//! Health probes (docs/health.md): where a probe goes (`localhost` means the container itself: its
//! address on its Docker network, falling back to the published host port), one check of each
//! kind — HTTP 200–399 within the timeout and no proxy, a TCP connection that opens, a command
//! that exits 0 inside the container — and waiting for readiness. Failure messages name the probe,
//! its target (URL, `host:port` or command), the last status or error, and the limit that fired;
//! [`ReadinessError`] is why a container did not get ready. Acting on failures is the caller's
//! job.

use std::io::ErrorKind;
use std::net::IpAddr;
use std::time::Duration;

use engine::duration::Duration as ManifestDuration;
use engine::manifest::{ExecCommand, HttpTarget, ProbeTarget, ReadinessProbe, TcpTarget};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::docker::container::{self, ContainerStatus};
use crate::docker::{Docker, DockerError};
use engine::outcome::CheckFailure;

/// Why a container did not get ready.
#[derive(Debug, thiserror::Error)]
pub enum ReadinessError {
    /// Docker could not say how the container is.
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error("readiness probe of {name}: the container disappeared")]
    Disappeared { name: String },
    #[error("readiness probe of {name} ({target}): the container stopped before it was ready (exit code {exit_code})")]
    Stopped {
        name: String,
        target: ProbeTarget,
        exit_code: i64,
    },
    /// The probe still failed when its deadline came; `last` is its last check.
    #[error("readiness probe of {name} failed: {} last answered {}; not ready within the deadline {deadline}", .last.attempt, .last.detail)]
    NotReady {
        name: String,
        last: CheckFailure,
        deadline: ManifestDuration,
    },
}

/// The most output of a failed exec probe a message quotes, from its end.
const EXEC_OUTPUT_QUOTED: usize = 200;

/// An HTTP client for probes: no proxy, no redirects (a 3xx answer is a success).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a plain HTTP client builds")
}

/// Addresses (`host:port`) to try for `host:port` on a container, in order: as written for any
/// host but the container itself; else its network address, then the host port it publishes.
pub fn candidate_addresses(
    host: &str,
    port: u16,
    local: bool,
    container: &ContainerStatus,
) -> Vec<String> {
    if !local {
        return vec![format!("{host}:{port}")];
    }
    let mut addresses = Vec::new();
    if let Some(ip) = &container.ip {
        addresses.push(format!("{ip}:{port}"));
    }
    let key = format!("{port}/tcp");
    if let Some((_, host_ip, host_port)) = container
        .published
        .iter()
        .find(|(published, _, host_port)| *published == key && !host_port.is_empty())
    {
        let host = match host_ip.parse::<IpAddr>() {
            Ok(ip) if !ip.is_unspecified() => host_ip.clone(),
            _ => "127.0.0.1".to_string(),
        };
        addresses.push(format!("{host}:{host_port}"));
    }
    if addresses.is_empty() {
        addresses.push(format!("127.0.0.1:{port}"));
    }
    addresses
}

/// URLs to try for `target` on a container, in order.
pub fn candidate_urls(target: &HttpTarget, container: &ContainerStatus) -> Vec<String> {
    candidate_addresses(
        &target.host,
        target.port,
        target.is_container_local(),
        container,
    )
    .into_iter()
    .map(|address| format!("http://{address}{}", target.path))
    .collect()
}

/// What one check needs besides the probe: Docker for exec, the HTTP client, the container.
pub struct CheckContext<'a> {
    pub docker: &'a Docker,
    pub client: &'a reqwest::Client,
    pub name: &'a str,
    pub status: &'a ContainerStatus,
}

/// One check of `target` on the container, within `timeout`.
pub async fn check_target(
    context: &CheckContext<'_>,
    target: &ProbeTarget,
    timeout: Duration,
) -> Result<(), CheckFailure> {
    match target {
        ProbeTarget::Http(http) => {
            check(
                context.client,
                &candidate_urls(http, context.status),
                timeout,
            )
            .await
        }
        ProbeTarget::Tcp(tcp) => check_tcp(tcp, context.status, timeout).await,
        ProbeTarget::Exec(command) => {
            check_exec(context.docker, context.name, command, timeout).await
        }
    }
}

/// One HTTP check: the first URL that can be connected to decides; 200–399 within `timeout`
/// passes.
pub async fn check(
    client: &reqwest::Client,
    urls: &[String],
    timeout: Duration,
) -> Result<(), CheckFailure> {
    let mut failure = None;
    for url in urls {
        let attempt = format!("GET {url}");
        match client.get(url).timeout(timeout).send().await {
            Ok(response) => {
                let code = response.status().as_u16();
                return if (200..400).contains(&code) {
                    Ok(())
                } else {
                    Err(CheckFailure {
                        attempt,
                        detail: format!("status {code}"),
                    })
                };
            }
            Err(error) => {
                let detail = if error.is_timeout() {
                    no_answer(timeout)
                } else if error.is_connect() {
                    "connection refused or unreachable".to_string()
                } else {
                    error.to_string()
                };
                let connect = error.is_connect();
                failure = Some(CheckFailure { attempt, detail });
                // Only an unreachable address falls back to the next candidate.
                if !connect {
                    break;
                }
            }
        }
    }
    Err(failure.unwrap_or_else(|| CheckFailure {
        attempt: "GET".to_string(),
        detail: "no address to probe".to_string(),
    }))
}

fn no_answer(timeout: Duration) -> String {
    format!(
        "no answer within the timeout {}",
        ManifestDuration::from(timeout)
    )
}

/// One TCP check: a connection opens within `timeout`. A refused connection decides, since the
/// address answered; only an unreachable one falls back to the published port, whose proxy would
/// accept a connection even when nothing listens behind it.
async fn check_tcp(
    target: &TcpTarget,
    container: &ContainerStatus,
    timeout: Duration,
) -> Result<(), CheckFailure> {
    let addresses = candidate_addresses(
        &target.host,
        target.port,
        target.is_container_local(),
        container,
    );
    let mut failure = None;
    for address in addresses {
        let attempt = format!("connect {address}");
        let detail = match tokio::time::timeout(timeout, TcpStream::connect(&address)).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(error)) if error.kind() == ErrorKind::ConnectionRefused => {
                return Err(CheckFailure {
                    attempt,
                    detail: "connection refused".to_string(),
                })
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => no_answer(timeout),
        };
        failure = Some(CheckFailure { attempt, detail });
    }
    Err(failure.unwrap_or_else(|| CheckFailure {
        attempt: format!("connect {target}"),
        detail: "no address to probe".to_string(),
    }))
}

/// One exec check: `command` exits 0 inside container `name` within `timeout`.
async fn check_exec(
    docker: &Docker,
    name: &str,
    command: &ExecCommand,
    timeout: Duration,
) -> Result<(), CheckFailure> {
    let attempt = format!("exec {command}");
    let detail =
        match tokio::time::timeout(timeout, container::exec(docker, name, command.words())).await {
            Ok(Ok(outcome)) if outcome.exit_code == 0 => return Ok(()),
            Ok(Ok(outcome)) => {
                let output = outcome.output.trim();
                let start = output
                    .char_indices()
                    .rev()
                    .nth(EXEC_OUTPUT_QUOTED)
                    .map_or(0, |(index, _)| index);
                if output.is_empty() {
                    format!("exit code {}", outcome.exit_code)
                } else {
                    format!("exit code {}: {}", outcome.exit_code, &output[start..])
                }
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!(
                "did not exit within the timeout {}",
                ManifestDuration::from(timeout)
            ),
        };
    Err(CheckFailure { attempt, detail })
}

/// Polls the readiness probe of container `name` every `interval` until it passes or `deadline`
/// passes; a container that stops meanwhile fails at once.
pub async fn wait_ready(
    docker: &Docker,
    client: &reqwest::Client,
    name: &str,
    probe: &ReadinessProbe,
) -> Result<(), ReadinessError> {
    let deadline = Instant::now() + probe.deadline.as_std();
    loop {
        let status =
            container::inspect(docker, name)
                .await?
                .ok_or_else(|| ReadinessError::Disappeared {
                    name: name.to_string(),
                })?;
        if !status.running {
            return Err(ReadinessError::Stopped {
                name: name.to_string(),
                target: probe.target.clone(),
                exit_code: status.exit_code,
            });
        }
        let context = CheckContext {
            docker,
            client,
            name,
            status: &status,
        };
        let Err(last) = check_target(&context, &probe.target, probe.timeout.as_std()).await else {
            return Ok(());
        };
        if Instant::now() + probe.interval.as_std() > deadline {
            return Err(ReadinessError::NotReady {
                name: name.to_string(),
                last,
                deadline: probe.deadline,
            });
        }
        tokio::time::sleep(probe.interval.as_std()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::ContainerStateStatusEnum;

    fn container(ip: Option<&str>, published: &[(&str, &str, &str)]) -> ContainerStatus {
        ContainerStatus {
            status: ContainerStateStatusEnum::RUNNING,
            running: true,
            exit_code: 0,
            restart_count: 0,
            error: String::new(),
            ip: ip.map(str::to_string),
            published: published
                .iter()
                .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
                .collect(),
            stop_timeout: None,
            labels: Default::default(),
        }
    }

    #[test]
    fn localhost_means_the_container_then_its_published_port() {
        let target = HttpTarget::parse("localhost:80/health").unwrap();
        let urls = candidate_urls(
            &target,
            &container(Some("172.17.0.3"), &[("80/tcp", "0.0.0.0", "8080")]),
        );
        assert_eq!(
            urls,
            vec![
                "http://172.17.0.3:80/health",
                "http://127.0.0.1:8080/health"
            ]
        );
        let urls = candidate_urls(
            &target,
            &container(None, &[("80/tcp", "127.0.0.2", "9000")]),
        );
        assert_eq!(urls, vec!["http://127.0.0.2:9000/health"]);
    }

    #[test]
    fn other_hosts_are_probed_as_written() {
        let target = HttpTarget::parse("10.0.0.5:8080/ready").unwrap();
        let urls = candidate_urls(&target, &container(Some("172.17.0.3"), &[]));
        assert_eq!(urls, vec!["http://10.0.0.5:8080/ready"]);
    }

    #[test]
    fn tcp_targets_resolve_like_http_ones() {
        let local = TcpTarget::parse("localhost:6379").unwrap();
        let status = container(Some("172.17.0.3"), &[("6379/tcp", "127.0.0.1", "16379")]);
        let addresses =
            candidate_addresses(&local.host, local.port, local.is_container_local(), &status);
        assert_eq!(addresses, ["172.17.0.3:6379", "127.0.0.1:16379"]);
        let remote = TcpTarget::parse("db:5432").unwrap();
        let addresses = candidate_addresses(
            &remote.host,
            remote.port,
            remote.is_container_local(),
            &status,
        );
        assert_eq!(addresses, ["db:5432"]);
    }

    #[tokio::test]
    async fn a_tcp_check_passes_when_the_connection_opens_and_names_the_address_when_refused() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = TcpTarget::parse(&format!("127.0.0.1:{port}")).unwrap();
        let status = container(None, &[]);
        let timeout = Duration::from_secs(2);
        assert_eq!(check_tcp(&open, &status, timeout).await, Ok(()));
        drop(listener);
        let failure = check_tcp(&open, &status, timeout).await.unwrap_err();
        assert_eq!(failure.attempt, format!("connect 127.0.0.1:{port}"));
        assert_eq!(failure.detail, "connection refused");
    }
}
