//! Git (git2): the HEAD commit of a checkout, and the node's manifest clone: fetching the tracked
//! branch from `origin`, writing a fetched commit's files into a separate folder to validate them,
//! and checking a commit out over whatever the work tree holds. SSH remotes use the deploy key and
//! accept only host keys listed in the node's known-hosts file (`known_hosts.rs`). Credentials
//! written into an `http(s)` URL never reach a file: the clone's `origin` is the URL without
//! them, they are handed to libgit2 through its credential callback, and a clone whose `origin`
//! still carries them is rewritten (`credentials.rs`). Errors and `Debug` show the remote with its
//! credentials redacted (`engine::redact`). It decides neither which commit to check out nor
//! when. Blocking: call it from a blocking thread, never from an async worker.

use std::cell::{Cell, RefCell};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Once;

use engine::redact;
use git2::build::CheckoutBuilder;
use git2::{
    AutotagOption, CertificateCheckStatus, Cred, CredentialType, FetchOptions, RemoteCallbacks,
    Repository,
};

use credentials::UrlCredentials;
pub use known_hosts::HostKeyRefusal;
use known_hosts::{check_host_key, ssh_port};

mod credentials;
mod known_hosts;

/// Commit id recorded for revisions that are not in a Git repository.
pub const UNCOMMITTED: &str = "uncommitted";

/// The HEAD commit id of the repository containing `dir`, or `uncommitted` outside Git.
pub fn head_commit(dir: &Path) -> String {
    git2::Repository::discover(dir)
        .ok()
        .and_then(|repo| {
            let commit = repo.head().ok()?.peel_to_commit().ok()?;
            Some(commit.id().to_string())
        })
        .unwrap_or_else(|| UNCOMMITTED.to_string())
}

/// Where and how the node fetches its manifests.
#[derive(Clone, PartialEq, Eq)]
pub struct Remote {
    /// `origin`: ssh, https, git, file URL or local path.
    pub url: String,
    pub branch: String,
    /// Private key for SSH remotes.
    pub deploy_key: PathBuf,
    /// Accepted SSH host keys (OpenSSH `known_hosts` format, unhashed host names).
    pub known_hosts: PathBuf,
}

impl Remote {
    /// The URL as it may be printed: credentials in it replaced by `***`.
    pub fn display_url(&self) -> String {
        redact::url_credentials(&self.url).into_owned()
    }
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.display_url())
            .field("branch", &self.branch)
            .field("deploy_key", &self.deploy_key)
            .field("known_hosts", &self.known_hosts)
            .finish()
    }
}

/// Why a Git operation on the node's clone failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    #[error("fetch {url} (branch {branch}): {failure}")]
    Fetch {
        /// The remote's URL, credentials redacted.
        url: String,
        branch: String,
        failure: FetchFailure,
    },
    #[error("check out {commit} in {}: {message}", .checkout.display())]
    CheckOut {
        commit: String,
        checkout: PathBuf,
        message: String,
    },
    /// The blocking task running a git2 call panicked or was cancelled.
    #[error("git task failed: {0}")]
    Task(String),
}

/// The step of a fetch that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FetchFailure {
    #[error("cannot create {}: {message}", .dir.display())]
    CreateDir { dir: PathBuf, message: String },
    #[error("cannot create a clone in {}: {message}", .dir.display())]
    Init { dir: PathBuf, message: String },
    /// Pointing `origin` at the URL, or the transfer itself, failed (libgit2's message, with
    /// credentials of any URL in it redacted).
    #[error("{0}")]
    Remote(String),
    #[error(transparent)]
    HostKey(HostKeyRefusal),
    #[error("the remote has no branch {0}")]
    NoBranch(String),
}

/// Fetches `remote.branch` from `origin` into the clone at `checkout` (created on first use) and
/// returns the fetched commit id. The work tree is not touched; see [`check_out`].
pub fn fetch(checkout: &Path, remote: &Remote) -> Result<String, GitError> {
    set_network_timeouts();
    fetch_inner(checkout, remote).map_err(|failure| GitError::Fetch {
        url: remote.display_url(),
        branch: remote.branch.clone(),
        failure,
    })
}

fn fetch_inner(checkout: &Path, remote: &Remote) -> Result<String, FetchFailure> {
    let repo = open_or_init(checkout)?;
    let message = |error: git2::Error| {
        FetchFailure::Remote(redact::url_credentials(error.message()).into_owned())
    };
    let (url, in_url) = credentials::split(&remote.url);
    match repo.find_remote("origin") {
        Ok(origin) if origin.url().ok() == Some(url.as_str()) => {}
        Ok(origin) => {
            let carried_credentials = origin
                .url()
                .is_ok_and(|old| credentials::split(old).1.is_some());
            repo.remote_set_url("origin", &url).map_err(message)?;
            if carried_credentials {
                // The last fetch recorded the old URL there; the next one writes it anew.
                let _ = fs::remove_file(repo.path().join("FETCH_HEAD"));
            }
        }
        Err(_) => {
            repo.remote("origin", &url).map_err(message)?;
        }
    }
    let mut origin = repo.find_remote("origin").map_err(message)?;
    let attempts = Cell::new(0u32);
    // libgit2 replaces a refusal's message with a generic one; keep ours to report it.
    let refusal: RefCell<Option<HostKeyRefusal>> = RefCell::new(None);
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(|_url, username, allowed| {
        // libgit2 asks again after a rejection; answering twice would loop on a bad key.
        attempts.set(attempts.get() + 1);
        let by_url = allowed
            .contains(CredentialType::USER_PASS_PLAINTEXT)
            .then_some(in_url.as_ref())
            .flatten();
        if attempts.get() > 1 {
            return Err(git2::Error::from_str(&match by_url {
                Some(_) => "the remote rejected the credentials in the URL".to_string(),
                None => format!(
                    "the remote rejected the deploy key {}",
                    remote.deploy_key.display()
                ),
            }));
        }
        if let Some(UrlCredentials { username, password }) = by_url {
            Cred::userpass_plaintext(username, password)
        } else if allowed.contains(CredentialType::SSH_KEY) {
            Cred::ssh_key(username.unwrap_or("git"), None, &remote.deploy_key, None)
        } else if allowed.contains(CredentialType::DEFAULT) {
            Cred::default()
        } else {
            Err(git2::Error::from_str(
                "the remote asks for a username and password, which orun does not send",
            ))
        }
    });
    let port = ssh_port(&remote.url);
    callbacks.certificate_check(|cert, host| match cert.as_hostkey() {
        Some(hostkey) => check_host_key(host, port, hostkey.hostkey(), &remote.known_hosts)
            .map_err(|why| {
                let error = git2::Error::from_str(&why.to_string());
                refusal.replace(Some(why));
                error
            }),
        // TLS certificates are verified by libgit2 itself.
        None => Ok(CertificateCheckStatus::CertificatePassthrough),
    });
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(callbacks)
        .download_tags(AutotagOption::None);
    let refspec = format!(
        "+refs/heads/{branch}:refs/remotes/origin/{branch}",
        branch = remote.branch
    );
    let fetched = origin.fetch(&[refspec.as_str()], Some(&mut options), None);
    fetched.map_err(|error| match refusal.take() {
        Some(why) => FetchFailure::HostKey(why),
        None => message(error),
    })?;
    let tracking = format!("refs/remotes/origin/{}", remote.branch);
    let commit = repo
        .find_reference(&tracking)
        .and_then(|reference| reference.peel_to_commit())
        .map_err(|_| FetchFailure::NoBranch(remote.branch.clone()))?;
    Ok(commit.id().to_string())
}

/// Makes the work tree of the clone at `checkout` exactly `commit`: local changes and untracked
/// files do not survive, so force-pushed history is followed like any other.
pub fn check_out(checkout: &Path, commit: &str) -> Result<(), GitError> {
    let inner = || -> Result<(), git2::Error> {
        let repo = Repository::open(checkout)?;
        let commit = repo.find_commit(git2::Oid::from_str(commit)?)?;
        let mut options = CheckoutBuilder::new();
        options.force().remove_untracked(true);
        repo.checkout_tree(commit.as_object(), Some(&mut options))?;
        repo.set_head_detached(commit.id())
    };
    inner().map_err(|error| GitError::CheckOut {
        commit: commit.to_string(),
        checkout: checkout.to_path_buf(),
        message: error.message().to_string(),
    })
}

/// Writes the files of `commit` into `target`, emptied first so that no file of an earlier
/// commit survives, without touching the clone's work tree, index or HEAD: a fetched commit is
/// read there before it may replace the work tree.
pub fn check_out_into(checkout: &Path, commit: &str, target: &Path) -> Result<(), GitError> {
    let failed = |message: String| GitError::CheckOut {
        commit: commit.to_string(),
        checkout: target.to_path_buf(),
        message,
    };
    match fs::remove_dir_all(target) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(failed(format!("cannot empty the folder: {error}"))),
    }
    fs::create_dir_all(target)
        .map_err(|error| failed(format!("cannot create the folder: {error}")))?;
    let inner = || -> Result<(), git2::Error> {
        let repo = Repository::open(checkout)?;
        let commit = repo.find_commit(git2::Oid::from_str(commit)?)?;
        let mut options = CheckoutBuilder::new();
        // The folder is empty: every file of the commit is missing there and must be written,
        // also those the clone's HEAD has unchanged.
        options
            .force()
            .recreate_missing(true)
            .update_index(false)
            .target_dir(target);
        repo.checkout_tree(commit.as_object(), Some(&mut options))
    };
    inner().map_err(|error| failed(error.message().to_string()))
}

/// Whether the clone at `checkout` holds `commit`.
pub fn has_commit(checkout: &Path, commit: &str) -> bool {
    let found = || -> Result<(), git2::Error> {
        let repo = Repository::open(checkout)?;
        repo.find_commit(git2::Oid::from_str(commit)?)?;
        Ok(())
    };
    found().is_ok()
}

/// The commit the clone at `checkout` has checked out, if it is a clone with a HEAD.
pub fn checked_out(checkout: &Path) -> Option<String> {
    let repo = Repository::open(checkout).ok()?;
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    Some(commit.id().to_string())
}

fn open_or_init(checkout: &Path) -> Result<Repository, FetchFailure> {
    if let Ok(repo) = Repository::open(checkout) {
        return Ok(repo);
    }
    fs::create_dir_all(checkout).map_err(|error| FetchFailure::CreateDir {
        dir: checkout.to_path_buf(),
        message: error.to_string(),
    })?;
    Repository::init(checkout).map_err(|error| FetchFailure::Init {
        dir: checkout.to_path_buf(),
        message: error.message().to_string(),
    })
}

/// Bounds connecting to and waiting on a remote, so a dead remote fails the poll instead of
/// hanging it.
fn set_network_timeouts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: called once, before any other libgit2 network operation of this process.
        unsafe {
            let _ = git2::opts::set_server_connect_timeout_in_milliseconds(10_000);
            let _ = git2::opts::set_server_timeout_in_milliseconds(60_000);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_fetch_names_the_url_and_branch() {
        let dir = tempfile::tempdir().unwrap();
        let remote = Remote {
            url: dir.path().join("missing").display().to_string(),
            branch: "main".to_string(),
            deploy_key: dir.path().join("key"),
            known_hosts: dir.path().join("known_hosts"),
        };
        let error = fetch(&dir.path().join("clone"), &remote).unwrap_err();
        assert!(matches!(
            &error,
            GitError::Fetch {
                failure: FetchFailure::Remote(_),
                ..
            }
        ));
        let prefix = format!("fetch {} (branch main): ", remote.url);
        assert!(error.to_string().starts_with(&prefix), "{error}");
    }

    #[test]
    fn credentials_in_the_remote_url_never_reach_an_error_or_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        // A loopback port nothing listens on: the connection is refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let remote = Remote {
            url: format!("https://deploy:s3cr3t-token@127.0.0.1:{port}/infra.git"),
            branch: "main".to_string(),
            deploy_key: dir.path().join("key"),
            known_hosts: dir.path().join("known_hosts"),
        };
        let error = fetch(&dir.path().join("clone"), &remote).unwrap_err();
        for shown in [
            error.to_string(),
            format!("{error:?}"),
            format!("{remote:?}"),
        ] {
            assert!(!shown.contains("s3cr3t-token"), "{shown}");
            assert!(!shown.contains("deploy:"), "{shown}");
        }
        let prefix = format!("fetch https://***@127.0.0.1:{port}/infra.git (branch main): ");
        assert!(error.to_string().starts_with(&prefix), "{error}");
    }

    /// A smart-HTTP Git server on a loopback port serving the repositories under `root` through
    /// `git http-backend`, answering 401 to any request without Basic `user:password`.
    fn http_git_server(root: &Path, user: &str, password: &str) -> u16 {
        use base64::Engine;
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let root = root.to_path_buf();
        let wanted = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let target = line.split(' ').nth(1).unwrap_or("/").to_string();
                let method = line.split(' ').next().unwrap_or("GET").to_string();
                let (mut length, mut authorized, mut kind) = (0, false, String::new());
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let header = header.trim_end();
                    if header.is_empty() {
                        break;
                    }
                    let (name, value) = header.split_once(':').unwrap();
                    let value = value.trim();
                    match name.to_ascii_lowercase().as_str() {
                        "content-length" => length = value.parse().unwrap(),
                        "authorization" => authorized = value == wanted,
                        "content-type" => kind = value.to_string(),
                        _ => {}
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let mut stream = stream;
                if !authorized {
                    let _ = stream.write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    continue;
                }
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let mut backend = std::process::Command::new("git")
                    .arg("http-backend")
                    .env("GIT_PROJECT_ROOT", &root)
                    .env("GIT_HTTP_EXPORT_ALL", "1")
                    .env("REQUEST_METHOD", &method)
                    .env("PATH_INFO", path)
                    .env("QUERY_STRING", query)
                    .env("CONTENT_TYPE", &kind)
                    .env("CONTENT_LENGTH", length.to_string())
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                backend.stdin.take().unwrap().write_all(&body).unwrap();
                let output = backend.wait_with_output().unwrap().stdout;
                let split = output.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
                let head = String::from_utf8_lossy(&output[..split]).to_string();
                let status = head
                    .lines()
                    .find_map(|line| line.strip_prefix("Status: "))
                    .unwrap_or("200 OK")
                    .to_string();
                let payload = &output[split + 4..];
                let mut answer = format!("HTTP/1.1 {status}\r\n");
                for line in head.lines().filter(|line| !line.starts_with("Status:")) {
                    answer.push_str(&format!("{line}\r\n"));
                }
                answer.push_str(&format!(
                    "Content-Length: {}\r\nConnection: close\r\n\r\n",
                    payload.len()
                ));
                let _ = stream.write_all(answer.as_bytes());
                let _ = stream.write_all(payload);
            }
        });
        port
    }

    /// The files under `dir` (all of them, `.git` included) whose bytes contain `needle`.
    fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
        crate::files::files_under(dir, dir, |_| true, |_| true)
            .unwrap()
            .into_iter()
            .filter(|file| {
                fs::read(&file.path)
                    .unwrap()
                    .windows(needle.len())
                    .any(|window| window == needle.as_bytes())
            })
            .map(|file| file.relative)
            .collect()
    }

    #[test]
    fn credentials_in_an_http_url_authenticate_the_fetch_and_reach_no_file() {
        const TOKEN: &str = "t0ken-Zq81-never-on-disk";
        let dir = tempfile::tempdir().unwrap();
        let served = dir.path().join("served");
        let source = Repository::init(served.join("source")).unwrap();
        let first = commit_files(&source, &[("a.txt", Some("a1"))]);
        let bare = served.join("infra.git");
        let cloned = std::process::Command::new("git")
            .args(["clone", "-q", "--bare"])
            .arg(served.join("source"))
            .arg(&bare)
            .status()
            .unwrap();
        assert!(cloned.success());
        let port = http_git_server(&served, "deploy", TOKEN);
        let data_dir = dir.path().join("data");
        let checkout = data_dir.join("repo");
        let remote = |url: String| Remote {
            url,
            branch: source.head().unwrap().shorthand().unwrap().to_string(),
            deploy_key: dir.path().join("key"),
            known_hosts: dir.path().join("known_hosts"),
        };
        let with_token = remote(format!("http://deploy:{TOKEN}@127.0.0.1:{port}/infra.git"));

        // Without the credentials the server refuses: the fetch below did send them.
        let refused = fetch(
            &dir.path().join("anonymous"),
            &remote(format!("http://127.0.0.1:{port}/infra.git")),
        );
        assert!(refused.is_err());

        assert_eq!(fetch(&checkout, &with_token).unwrap(), first);
        check_out(&checkout, &first).unwrap();
        assert_eq!(fetch(&checkout, &with_token).unwrap(), first);
        assert_eq!(files_containing(&data_dir, TOKEN), Vec::<String>::new());
        let origin = Repository::open(&checkout).unwrap();
        assert_eq!(
            origin.find_remote("origin").unwrap().url().ok(),
            Some(format!("http://127.0.0.1:{port}/infra.git").as_str())
        );

        // A clone an earlier orun left with the token in its configuration is scrubbed.
        origin.remote_set_url("origin", &with_token.url).unwrap();
        fs::write(checkout.join(".git/FETCH_HEAD"), &with_token.url).unwrap();
        assert!(!files_containing(&data_dir, TOKEN).is_empty());
        assert_eq!(fetch(&checkout, &with_token).unwrap(), first);
        assert_eq!(files_containing(&data_dir, TOKEN), Vec::<String>::new());
    }

    /// Commits `files` (path, contents; `None` removes) in `repo`; the new commit id.
    fn commit_files(repo: &Repository, files: &[(&str, Option<&str>)]) -> String {
        let root = repo.workdir().unwrap().to_path_buf();
        let mut index = repo.index().unwrap();
        for (path, contents) in files {
            match contents {
                Some(text) => {
                    let file = root.join(path);
                    fs::create_dir_all(file.parent().unwrap()).unwrap();
                    fs::write(file, text).unwrap();
                    index.add_path(Path::new(path)).unwrap();
                }
                None => {
                    fs::remove_file(root.join(path)).unwrap();
                    index.remove_path(Path::new(path)).unwrap();
                }
            }
        }
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let signature = git2::Signature::now("orun test", "test@orun.invalid").unwrap();
        let parent = repo.head().ok().map(|head| head.peel_to_commit().unwrap());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        let id = repo
            .commit(
                Some("HEAD"),
                &signature,
                &signature,
                "test",
                &tree,
                &parents,
            )
            .unwrap();
        id.to_string()
    }

    /// Every file under `dir` with its contents, by relative path.
    fn files_of(dir: &Path) -> Vec<(String, String)> {
        let mut files = crate::files::files_under(dir, dir, |folder| folder != ".git", |_| true)
            .unwrap()
            .into_iter()
            .map(|file| (file.relative, fs::read_to_string(file.path).unwrap()))
            .collect::<Vec<_>>();
        files.sort();
        files
    }

    fn pairs(files: &[(&str, &str)]) -> Vec<(String, String)> {
        files
            .iter()
            .map(|(path, text)| (path.to_string(), text.to_string()))
            .collect()
    }

    #[test]
    fn a_commit_is_written_into_another_folder_without_touching_the_clone() {
        let dir = tempfile::tempdir().unwrap();
        let clone = dir.path().join("repo");
        let repo = Repository::init(&clone).unwrap();
        let first = commit_files(&repo, &[("a.txt", Some("a1")), ("dir/b.txt", Some("b1"))]);
        let second = commit_files(
            &repo,
            &[
                ("a.txt", Some("a2")),
                ("c.txt", Some("c2")),
                ("dir/b.txt", None),
            ],
        );
        check_out(&clone, &first).unwrap();

        let target = dir.path().join("candidate");
        fs::create_dir_all(target.join("stale")).unwrap();
        fs::write(target.join("stale/old.txt"), "old").unwrap();
        check_out_into(&clone, &second, &target).unwrap();
        assert_eq!(
            files_of(&target),
            pairs(&[("a.txt", "a2"), ("c.txt", "c2")])
        );
        // Files the clone's HEAD has unchanged are written too.
        check_out_into(&clone, &first, &target).unwrap();
        assert_eq!(
            files_of(&target),
            pairs(&[("a.txt", "a1"), ("dir/b.txt", "b1")])
        );

        assert_eq!(checked_out(&clone).as_deref(), Some(first.as_str()));
        assert_eq!(
            files_of(&clone),
            pairs(&[("a.txt", "a1"), ("dir/b.txt", "b1")])
        );
        assert!(
            repo.statuses(None).unwrap().is_empty(),
            "the clone's index changed"
        );
        assert!(has_commit(&clone, &second));
        assert!(!has_commit(&clone, &"0".repeat(40)));
        assert!(!has_commit(&dir.path().join("missing"), &first));
    }

    #[test]
    fn writing_an_unknown_commit_names_it_and_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let clone = dir.path().join("repo");
        let repo = Repository::init(&clone).unwrap();
        commit_files(&repo, &[("a.txt", Some("a"))]);
        let target = dir.path().join("candidate");
        let missing = "0".repeat(40);
        let error = check_out_into(&clone, &missing, &target).unwrap_err();
        let prefix = format!("check out {missing} in {}: ", target.display());
        assert!(error.to_string().starts_with(&prefix), "{error}");
    }
}
