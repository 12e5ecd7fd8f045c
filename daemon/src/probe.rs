//! HTTP health probes (docs/health.md): where a probe goes (`localhost` means the container itself: its
//! address on its Docker network, falling back to the published host port), one check (200–399
//! within the timeout, no proxy), and waiting for readiness. Failure messages name the probe, the
//! URL, the last status or error, and the limit that fired. Acting on failures is the caller's job.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{anyhow, Result};
use engine::duration::Duration as ManifestDuration;
use engine::manifest::{HttpTarget, ReadinessProbe};
use tokio::time::Instant;

use crate::docker::container::{self, ContainerStatus};
use crate::docker::Docker;

/// An HTTP client for probes: no proxy, no redirects (a 3xx answer is a success).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a plain HTTP client builds")
}

/// URLs to try for `target` on a container, in order.
pub fn candidate_urls(target: &HttpTarget, container: &ContainerStatus) -> Vec<String> {
    if !target.is_container_local() {
        return vec![format!(
            "http://{}:{}{}",
            target.host, target.port, target.path
        )];
    }
    let mut urls = Vec::new();
    if let Some(ip) = &container.ip {
        urls.push(format!("http://{ip}:{}{}", target.port, target.path));
    }
    let key = format!("{}/tcp", target.port);
    if let Some((_, host_ip, host_port)) = container
        .published
        .iter()
        .find(|(port, _, host_port)| *port == key && !host_port.is_empty())
    {
        let host = match host_ip.parse::<IpAddr>() {
            Ok(ip) if !ip.is_unspecified() => host_ip.clone(),
            _ => "127.0.0.1".to_string(),
        };
        urls.push(format!("http://{host}:{host_port}{}", target.path));
    }
    if urls.is_empty() {
        urls.push(format!("http://127.0.0.1:{}{}", target.port, target.path));
    }
    urls
}

/// The result of one failed check: which URL and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckFailure {
    pub url: String,
    pub detail: String,
}

/// One check: the first URL that can be connected to decides; 200–399 within `timeout` passes.
pub async fn check(
    client: &reqwest::Client,
    urls: &[String],
    timeout: Duration,
) -> Result<(), CheckFailure> {
    let mut failure = None;
    for url in urls {
        match client.get(url).timeout(timeout).send().await {
            Ok(response) => {
                let code = response.status().as_u16();
                return if (200..400).contains(&code) {
                    Ok(())
                } else {
                    Err(CheckFailure {
                        url: url.clone(),
                        detail: format!("status {code}"),
                    })
                };
            }
            Err(error) => {
                let detail = if error.is_timeout() {
                    format!(
                        "no answer within the timeout {}",
                        ManifestDuration::from(timeout)
                    )
                } else if error.is_connect() {
                    "connection refused or unreachable".to_string()
                } else {
                    error.to_string()
                };
                let connect = error.is_connect();
                failure = Some(CheckFailure {
                    url: url.clone(),
                    detail,
                });
                // Only an unreachable address falls back to the next candidate.
                if !connect {
                    break;
                }
            }
        }
    }
    Err(failure.unwrap_or_else(|| CheckFailure {
        url: String::new(),
        detail: "no address to probe".to_string(),
    }))
}

/// Polls the readiness probe of container `name` every `interval` until it passes or `deadline`
/// passes; a container that stops meanwhile fails at once.
pub async fn wait_ready(
    docker: &Docker,
    client: &reqwest::Client,
    name: &str,
    probe: &ReadinessProbe,
) -> Result<()> {
    let deadline = Instant::now() + probe.deadline.as_std();
    loop {
        let status = container::inspect(docker, name)
            .await?
            .ok_or_else(|| anyhow!("readiness probe of {name}: the container disappeared"))?;
        if !status.running {
            return Err(anyhow!(
                "readiness probe of {name} ({}): the container stopped before it was ready (exit code {})",
                probe.http,
                status.exit_code
            ));
        }
        let urls = candidate_urls(&probe.http, &status);
        let Err(last) = check(client, &urls, probe.timeout.as_std()).await else {
            return Ok(());
        };
        if Instant::now() + probe.interval.as_std() > deadline {
            return Err(anyhow!(
                "readiness probe of {name} failed: GET {} last answered {}; not ready within the deadline {}",
                last.url,
                last.detail,
                probe.deadline
            ));
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
}
