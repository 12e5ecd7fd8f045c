//! Hostile input: a corpus of repositories written to stall, crash, exhaust or mislead the loader
//! — YAML bombs, deep nesting, huge files, other encodings, control characters, symlinks out of the
//! repository, FIFOs and devices, overflowing numbers and durations, bad secrets files, hostile
//! Node values, huge build contexts. Each case runs the real `orun validate` and `orun plan
//! --observed` on a generated repository; compose projects run `orun import compose` the same way
//! (deep nesting, alias bombs, `env_file`s outside the project or that are FIFOs, symlinks where
//! it writes), and a hostile `sshKeyPath` goes through `orun bootstrap --dry-run`. Every run must
//! end by itself with exit 0 or 1, stay under a 10 s and 200 MB guard (limits that catch a hang or
//! a blow-up, far above what a run needs even on a loaded machine; not a measurement), print
//! no raw control character, and on exit 1 name the file at fault. No Docker is involved.

use std::fs;
use std::io::Read;
use std::os::unix::fs::symlink;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use engine::sops::DataKey;
use sops::{data_key_bytes, identity, sops_file};
use tempfile::TempDir;

#[path = "support/sops.rs"]
mod sops;

/// The guard against a hang: every run ends well within it. The slowest cases take a fraction of
/// it alone, and several times longer on a machine busy with other builds.
const TIME_GUARD: Duration = Duration::from_secs(10);
/// The guard against a memory blow-up, as the child's peak resident set.
const MEMORY_GUARD_KB: i64 = 200 * 1024;
/// A run still going after this is killed, so a regression fails the test instead of hanging it.
const KILL_AFTER: Duration = Duration::from_secs(30);

const HEADER: &str =
    "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: web\n";

/// What a case must end with.
enum Expect {
    /// Exit 0 from both commands.
    Valid,
    /// Exit 1, with this file named in the error.
    Invalid(&'static str),
    /// Exit 1, with this text (a path and why it was refused) printed on stdout or stderr.
    Refused(&'static str),
}

struct Case {
    name: &'static str,
    expect: Expect,
    /// Text that must not appear in any output (the contents of a file outside the repository).
    forbidden: &'static [&'static str],
    build: Box<dyn Fn(&Path)>,
}

fn case(name: &'static str, expect: Expect, build: impl Fn(&Path) + 'static) -> Case {
    Case {
        name,
        expect,
        forbidden: &[],
        build: Box::new(build),
    }
}

fn write(root: &Path, path: &str, bytes: impl AsRef<[u8]>) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn link(root: &Path, path: &str, target: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    symlink(target, path).unwrap();
}

fn fifo(root: &Path, path: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    assert!(Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap()
        .success());
}

/// A deployment `web` with `spec` lines (indented by two spaces) after the header.
fn deployment(spec: &str) -> String {
    format!("{HEADER}spec:\n{spec}")
}

fn web(root: &Path, spec: &str) {
    write(root, "deployments/web.yaml", deployment(spec));
}

/// A Node `n1` with `spec` lines, and a host and a Git URL unless `spec` gives its own.
fn node(root: &Path, spec: &str) {
    let mut fields = String::new();
    for (field, value) in [
        ("host", "10.0.0.1"),
        ("gitRepo", "git@example.com:acme/infra.git"),
    ] {
        if !spec.contains(&format!("  {field}:")) {
            fields.push_str(&format!("  {field}: {value}\n"));
        }
    }
    write(
        root,
        "nodes/n1.yaml",
        format!("apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: n1\nspec:\n{fields}{spec}"),
    );
}

/// A build-mode deployment whose context is `app/`, with a Dockerfile.
fn build_app(root: &Path) {
    web(root, "  build:\n    context: app\n");
    write(root, "app/Dockerfile", "FROM scratch\n");
}

/// A `secrets.yaml` as `sops` writes it for the corpus's age key, with these pairs.
fn secrets(root: &Path, key_dir: &Path, pairs: &[(&str, &str)]) {
    fs::create_dir_all(key_dir).unwrap();
    let (_, recipient) = identity(key_dir, "age.key");
    let text = sops_file(&DataKey::new(data_key_bytes()), &recipient, pairs);
    write(root, "secrets.yaml", text);
}

fn laughs(levels: usize) -> String {
    let mut text = String::from("  env: &l0 [a, a, a, a, a, a, a, a, a, a]\n");
    for level in 1..levels {
        let items = vec![format!("*l{}", level - 1); 10].join(", ");
        text.push_str(&format!("  x{level}: &l{level} [{items}]\n"));
    }
    text
}

fn corpus() -> Vec<Case> {
    let mut cases = vec![
        // YAML bombs.
        case(
            "billion laughs",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, &laughs(9));
            },
        ),
        case(
            "quadratic aliases of a large anchor",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                let items = vec!["x"; 20_000].join(", ");
                let aliases = vec!["*big"; 2_000].join(", ");
                web(
                    root,
                    &format!("  image: nginx\n  command: &big [{items}]\n  x: [{aliases}]\n"),
                );
            },
        ),
        case("aliases within the limit", Expect::Valid, |root| {
            web(root, "  image: nginx\n  health:\n    readiness:\n      http: &probe localhost:80/\n    liveness:\n      http: *probe\n");
        }),
        case(
            "self-referencing alias",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx\n  command: &a [*a]\n");
            },
        ),
        case(
            "undefined alias",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: *nothing\n");
            },
        ),
        case(
            "a billion laughs in secrets.yaml",
            Expect::Invalid("secrets.yaml"),
            |root| {
                write(root, "secrets.yaml", laughs(9).replace("  ", ""));
                web(root, "  image: nginx\n");
            },
        ),
        // Nesting.
        case(
            "flow sequences nested 100 000 deep",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(
                    root,
                    &format!("  image: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
                );
            },
        ),
        case(
            "flow mappings nested 50 000 deep",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(
                    root,
                    &format!(
                        "  image: {}1{}\n",
                        "{a: ".repeat(50_000),
                        "}".repeat(50_000)
                    ),
                );
            },
        ),
        case(
            "unclosed nesting of half a megabyte",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                write(root, "deployments/web.yaml", "[".repeat(500_000));
            },
        ),
        case(
            "compact block sequences 10 000 deep",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, &format!("  command:\n    {}x\n", "- ".repeat(10_000)));
            },
        ),
        case(
            "indented mappings 1 000 deep",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                let nested: String = (0..1_000)
                    .map(|level| format!("{}k:\n", " ".repeat(level + 2)))
                    .collect();
                web(root, &format!("  image: nginx\n  x:\n{nested}"));
            },
        ),
        case(
            "nesting just past the limit",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(
                    root,
                    &format!(
                        "  image: nginx\n  command: {}{}\n",
                        "[".repeat(63),
                        "]".repeat(63)
                    ),
                );
            },
        ),
        case(
            "deep nesting in a Node",
            Expect::Invalid("nodes/n1.yaml"),
            |root| {
                node(
                    root,
                    &format!("  dataDir: {}{}\n", "[".repeat(10_000), "]".repeat(10_000)),
                );
            },
        ),
        case(
            "deep nesting in secrets.yaml",
            Expect::Invalid("secrets.yaml"),
            |root| {
                write(
                    root,
                    "secrets.yaml",
                    format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
                );
                web(root, "  image: nginx\n");
            },
        ),
        case(
            "deep nesting in a file the loader ignores",
            Expect::Valid,
            |root| {
                web(root, "  image: nginx\n");
                write(root, "app/config.yaml", "[".repeat(100_000));
                write(root, "deployments/notes.txt", "[".repeat(100_000));
            },
        ),
        // Sizes.
        case(
            "a manifest one byte over 1 MiB",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                let body = deployment("  image: nginx\n");
                let padding = "#".repeat(1024 * 1024 + 1 - body.len());
                write(root, "deployments/web.yaml", format!("{body}{padding}"));
            },
        ),
        case("a manifest of exactly 1 MiB", Expect::Valid, |root| {
            let body = deployment("  image: nginx\n");
            let padding = "#".repeat(1024 * 1024 - body.len());
            write(root, "deployments/web.yaml", format!("{body}{padding}"));
        }),
        case(
            "a megabyte of problems",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                let unknown: String = (0..40_000)
                    .map(|index| format!("  unknown{index}: 1\n"))
                    .collect();
                web(root, &format!("  image: nginx\n{unknown}"));
            },
        ),
        case(
            "manifests adding up past 16 MiB",
            Expect::Invalid("deployments/"),
            |root| {
                let padding = "#".repeat(1024 * 1024 - 200);
                for index in 0..17 {
                    let text = deployment("  image: nginx\n")
                        .replace("name: web", &format!("name: w{index}"));
                    write(
                        root,
                        &format!("deployments/w{index:02}.yaml"),
                        format!("{text}{padding}"),
                    );
                }
            },
        ),
        case("a value of 900 KB", Expect::Valid, |root| {
            web(
                root,
                &format!("  image: nginx\n  env:\n    BIG: {}\n", "x".repeat(900_000)),
            );
        }),
        case("2 000 small deployments", Expect::Valid, |root| {
            for index in 0..2_000 {
                let text =
                    deployment("  image: nginx\n").replace("name: web", &format!("name: w{index}"));
                write(root, &format!("deployments/w{index}.yaml"), text);
            }
        }),
        case(
            "an empty manifest",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                write(root, "deployments/web.yaml", "");
            },
        ),
        case(
            "a manifest of only comments and blank lines",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                write(root, "deployments/web.yaml", "# nothing\n\n".repeat(50_000));
            },
        ),
        case(
            "secrets.yaml over 1 MiB",
            Expect::Invalid("secrets.yaml"),
            |root| {
                write(root, "secrets.yaml", "#".repeat(1024 * 1024 + 1));
                web(root, "  image: nginx\n");
            },
        ),
        case(
            "many documents in one file",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                write(root, "deployments/web.yaml", "---\na: 1\n".repeat(20_000));
            },
        ),
        // Encodings.
        case(
            "UTF-16 LE with a byte order mark",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                let text = deployment("  image: nginx\n");
                let mut bytes = vec![0xFF, 0xFE];
                bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
                write(root, "deployments/web.yaml", bytes);
            },
        ),
        case(
            "UTF-16 BE without a byte order mark",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                let text = deployment("  image: nginx\n");
                let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
                write(root, "deployments/web.yaml", bytes);
            },
        ),
        case("UTF-32", Expect::Invalid("deployments/web.yaml"), |root| {
            let text = deployment("  image: nginx\n");
            let bytes: Vec<u8> = text
                .chars()
                .flat_map(|c| u32::from(c).to_le_bytes())
                .collect();
            write(root, "deployments/web.yaml", bytes);
        }),
        case("a UTF-8 byte order mark", Expect::Valid, |root| {
            write(
                root,
                "deployments/web.yaml",
                format!("\u{feff}{}", deployment("  image: nginx\n")),
            );
        }),
        case(
            "an invalid UTF-8 byte",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                let mut bytes = deployment("  image: nginx\n").into_bytes();
                bytes.extend(b"  env:\n    A: \xff\n");
                write(root, "deployments/web.yaml", bytes);
            },
        ),
        case(
            "an overlong UTF-8 sequence",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                let mut bytes = deployment("  image: nginx\n").into_bytes();
                bytes.extend(b"  command: [\"\xc0\xaf\"]\n");
                write(root, "deployments/web.yaml", bytes);
            },
        ),
        case(
            "a right-to-left override in a value",
            Expect::Valid,
            |root| {
                web(root, "  image: nginx\n  env:\n    A: \"abc\u{202e}fed\"\n");
            },
        ),
        case(
            "a zero-width space in a name",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                write(
                    root,
                    "deployments/web.yaml",
                    deployment("  image: nginx\n").replace("name: web", "name: we\u{200b}b"),
                );
            },
        ),
        // Control characters.
        case(
            "a raw escape character",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx\n  env:\n    A: \u{1b}[2Jcleared\n");
            },
        ),
        case(
            "an escape sequence in an env value",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(
                    root,
                    "  image: nginx\n  env:\n    A: \"\\e[2J\\e]0;owned\\a\"\n",
                );
            },
        ),
        case(
            "NUL in an env value",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx\n  env:\n    A: \"a\\0b\"\n");
            },
        ),
        case(
            "a carriage return in an env value",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx\n  env:\n    A: \"shown\\rhidden\"\n");
            },
        ),
        case(
            "a C1 control in a build arg",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                build_app(root);
                web(
                    root,
                    "  build:\n    context: app\n    args:\n      A: \"\\x9b31m\"\n",
                );
            },
        ),
        case(
            "DEL in an env value",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx\n  env:\n    A: \"a\\x7fb\"\n");
            },
        ),
        case("tabs and newlines in an env value", Expect::Valid, |root| {
            web(
                root,
                "  image: nginx\n  env:\n    PEM: \"line one\\n\\tline two\\n\"\n",
            );
        }),
        case(
            "an escape sequence in an env name",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx\n  env:\n    \"\\e[31mA\": b\n");
            },
        ),
        case(
            "an escape sequence in an image",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: \"nginx\\e[2J\"\n");
            },
        ),
        case(
            "shell syntax in an image",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx;rm -rf /\n");
            },
        ),
        case("an escape sequence in a command", Expect::Valid, |root| {
            web(
                root,
                "  image: nginx\n  command: [\"echo\", \"\\e[2J\\e]0;owned\\a\"]\n",
            );
        }),
        case(
            "an escape sequence in an unknown field",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx\n  \"\\e[31mevil\\e[0m\": 1\n");
            },
        ),
        case(
            "an escape sequence in a domain",
            Expect::Invalid("services/web.yaml"),
            |root| {
                web(
                    root,
                    "  image: nginx\n  ports:\n    - containerPort: 80\n      port: 8080\n",
                );
                write(root, "services/web.yaml", "apiVersion: run.orcra.dev/v0alpha\nkind: Service\nmetadata:\n  name: web\nspec:\n  deployment: web\n  ingress:\n    domain:\n      default: \"a\\e[2J.example.com\"\n");
            },
        ),
        case(
            "a raw NUL byte",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                write(
                    root,
                    "deployments/web.yaml",
                    format!("{}\0\n", deployment("  image: nginx\n")),
                );
            },
        ),
        // Symlinks.
        case(
            "a manifest linking to /etc/shadow",
            Expect::Invalid("deployments/shadow.yaml"),
            |root| {
                link(root, "deployments/shadow.yaml", "/etc/shadow");
            },
        ),
        case(
            "a manifest linking to /proc/self/environ",
            Expect::Invalid("deployments/environ.yaml"),
            |root| {
                link(root, "deployments/environ.yaml", "/proc/self/environ");
            },
        ),
        case(
            "a manifest climbing out with ../",
            Expect::Invalid("deployments/passwd.yaml"),
            |root| {
                link(
                    root,
                    "deployments/passwd.yaml",
                    "../../../../../../../../etc/passwd",
                );
            },
        ),
        case("a manifest folder linking to /", Expect::Valid, |root| {
            symlink("/", root.join("deployments")).unwrap();
        }),
        case(
            "a folder linking back into the repository",
            Expect::Valid,
            |root| {
                web(root, "  image: nginx\n");
                symlink("..", root.join("deployments/loop")).unwrap();
            },
        ),
        case("a symlink loop", Expect::Invalid("deployments/"), |root| {
            link(root, "deployments/a.yaml", "b.yaml");
            link(root, "deployments/b.yaml", "a.yaml");
        }),
        case(
            "a dangling symlink",
            Expect::Invalid("deployments/gone.yaml"),
            |root| {
                link(root, "deployments/gone.yaml", "/nonexistent/orun/gone.yaml");
            },
        ),
        case(
            "a symlink to a manifest inside the repository",
            Expect::Valid,
            |root| {
                write(root, "common/web.yaml", deployment("  image: nginx\n"));
                link(root, "deployments/web.yaml", "../common/web.yaml");
            },
        ),
        case(
            "secrets.yaml linking to /etc/shadow",
            Expect::Invalid("secrets.yaml"),
            |root| {
                web(root, "  image: nginx\n");
                link(root, "secrets.yaml", "/etc/shadow");
            },
        ),
        case(
            "a build context file linking to /etc/passwd",
            Expect::Invalid("passwd"),
            |root| {
                build_app(root);
                link(root, "app/passwd", "/etc/passwd");
            },
        ),
        case(
            "a build context that is a link to /",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  build:\n    context: app\n");
                symlink("/", root.join("app")).unwrap();
            },
        ),
        case(
            "a folder in a build context linking to /",
            Expect::Valid,
            |root| {
                build_app(root);
                symlink("/", root.join("app/slash")).unwrap();
            },
        ),
        case(
            "a .dockerignore linking to /etc/passwd",
            Expect::Invalid(".dockerignore"),
            |root| {
                build_app(root);
                link(root, "app/.dockerignore", "/etc/passwd");
            },
        ),
        case(
            "a Dockerfile linking to /dev/zero",
            Expect::Invalid("Dockerfile"),
            |root| {
                web(root, "  build:\n    context: app\n");
                link(root, "app/Dockerfile", "/dev/zero");
            },
        ),
        // Special files.
        case(
            "a manifest that is a FIFO",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                fifo(root, "deployments/web.yaml");
            },
        ),
        case(
            "a FIFO in a build context",
            Expect::Invalid("pipe"),
            |root| {
                build_app(root);
                fifo(root, "app/pipe");
            },
        ),
        case(
            "a manifest linking to /dev/zero",
            Expect::Invalid("deployments/zero.yaml"),
            |root| {
                link(root, "deployments/zero.yaml", "/dev/zero");
            },
        ),
        case(
            "a build context file linking to /dev/urandom",
            Expect::Invalid("random"),
            |root| {
                build_app(root);
                link(root, "app/random", "/dev/urandom");
            },
        ),
        case(
            "secrets.yaml as a FIFO",
            Expect::Invalid("secrets.yaml"),
            |root| {
                web(root, "  image: nginx\n");
                fifo(root, "secrets.yaml");
            },
        ),
        case(
            "a manifest that is a socket",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                fs::create_dir_all(root.join("deployments")).unwrap();
                let listener =
                    std::os::unix::net::UnixListener::bind(root.join("deployments/web.yaml"))
                        .unwrap();
                drop(listener);
            },
        ),
        case(
            "a manifest linking to /proc/kmsg",
            Expect::Invalid("deployments/kmsg.yaml"),
            |root| {
                link(root, "deployments/kmsg.yaml", "/proc/kmsg");
            },
        ),
        // Overflowing numbers and durations.
        case(
            "a stopTimeout that overflows",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(
                    root,
                    "  image: nginx\n  stopTimeout: 18446744073709551600s\n",
                );
            },
        ),
        case(
            "a deadline of 500 billion years",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx\n  health:\n    readiness:\n      http: localhost:80/\n      deadline: 500000000000y\n");
            },
        ),
        case(
            "a pollInterval over a day",
            Expect::Invalid("nodes/n1.yaml"),
            |root| {
                node(root, "  pollInterval: 25h\n");
            },
        ),
        case(
            "a duration past the number type",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx\n  health:\n    liveness:\n      http: localhost:80/\n      interval: 99999999999999999999999999ms\n");
            },
        ),
        case(
            "a port past u64",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx\n  ports:\n    - containerPort: 99999999999999999999999\n      port: 1\n");
            },
        ),
        case(
            "a negative port",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(
                    root,
                    "  image: nginx\n  ports:\n    - containerPort: -1\n      port: 1\n",
                );
            },
        ),
        case(
            "a failureThreshold past u32",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx\n  health:\n    liveness:\n      http: localhost:80/\n      failureThreshold: 99999999999\n");
            },
        ),
        case(
            "a failureThreshold of 1e309",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                web(root, "  image: nginx\n  health:\n    liveness:\n      http: localhost:80/\n      failureThreshold: 1e309\n");
            },
        ),
        case("a huge number as an env value", Expect::Valid, |root| {
            web(
                root,
                &format!("  image: nginx\n  env:\n    N: {}\n", "9".repeat(10_000)),
            );
        }),
        // Bad secrets files (read with the corpus's age key).
        case(
            "secrets.yaml that is not sops",
            Expect::Invalid("secrets.yaml"),
            |root| {
                web(root, "  image: nginx\n");
                write(root, "secrets.yaml", "PASSWORD: hunter2\n");
            },
        ),
        case(
            "secrets.yaml of random bytes",
            Expect::Invalid("secrets.yaml"),
            |root| {
                web(root, "  image: nginx\n");
                let bytes: Vec<u8> = (0..4096u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect();
                write(root, "secrets.yaml", bytes);
            },
        ),
        case(
            "an empty secrets.yaml",
            Expect::Invalid("secrets.yaml"),
            |root| {
                web(root, "  image: nginx\n");
                write(root, "secrets.yaml", "");
            },
        ),
        case(
            "secrets.yaml holding a list",
            Expect::Invalid("secrets.yaml"),
            |root| {
                web(root, "  image: nginx\n");
                write(root, "secrets.yaml", "- a\n- b\n");
            },
        ),
        case(
            "secrets.yaml with a garbled age stanza",
            Expect::Invalid("secrets.yaml"),
            |root| {
                web(root, "  image: nginx\n");
                write(root, "secrets.yaml", "A: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\nsops:\n  age:\n    - recipient: age1xyz\n      enc: |\n        -----BEGIN AGE ENCRYPTED FILE-----\n        garbage\n        -----END AGE ENCRYPTED FILE-----\n  mac: x\n");
            },
        ),
        case("a secrets.yaml folder", Expect::Valid, |root| {
            web(root, "  image: nginx\n");
            fs::create_dir_all(root.join("secrets.yaml")).unwrap();
        }),
    ];
    cases.push(case(
        "a build context file of 1 GiB",
        Expect::Invalid("big.bin: larger than 67108864 bytes"),
        |root| {
            build_app(root);
            let file = fs::File::create(root.join("app/big.bin")).unwrap();
            file.set_len(1 << 30).unwrap();
        },
    ));
    cases.push(case(
        "a dependency whose file fails to load",
        Expect::Invalid("deployment \"db\" is defined in deployments/db.yaml, which failed to load"),
        |root| {
            web(root, "  image: nginx\n  dependsOn: [db]\n");
            write(
                root,
                "deployments/db.yaml",
                "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: db\nspec:\n  image: [postgres\n",
            );
        },
    ));
    cases.extend(secret_cases());
    cases.extend(bootstrap_cases());
    cases.push(Case {
        forbidden: &["root:"],
        ..case(
            "a manifest linking to /etc/passwd leaks nothing",
            Expect::Invalid("deployments/web.yaml"),
            |root| {
                link(root, "deployments/web.yaml", "/etc/passwd");
            },
        )
    });
    cases
}

/// Well-formed, correctly encrypted `secrets.yaml` files whose pairs break the env rules.
fn secret_cases() -> Vec<Case> {
    let bad_pairs: [(&'static str, &'static [(&'static str, &'static str)]); 4] = [
        ("a secret named with a space", &[("BAD NAME", "x")]),
        ("a secret named with =", &[("A=B", "x")]),
        (
            "a secret value with an escape sequence",
            &[("A", "\u{1b}[2J")],
        ),
        ("a secret value with NUL", &[("A", "a\0b")]),
    ];
    let mut cases: Vec<Case> = bad_pairs
        .into_iter()
        .map(|(name, pairs)| {
            case(name, Expect::Invalid("secrets.yaml"), move |root| {
                web(root, "  image: nginx\n");
                secrets(root, &root.join(".keys"), pairs);
            })
        })
        .collect();
    cases.push(case("a valid secrets.yaml", Expect::Valid, |root| {
        web(root, "  image: nginx\n");
        secrets(root, &root.join(".keys"), &[("PASSWORD", "hunter2")]);
    }));
    cases
}

/// Node manifests with values aimed at the remote commands of `orun bootstrap`: control
/// characters and leading `-` are refused by name; shell syntax is valid text, which bootstrap
/// quotes.
fn bootstrap_cases() -> Vec<Case> {
    let refused = Expect::Invalid;
    [
        (
            "a dataDir with a newline",
            "  dataDir: \"/opt/orun\\nExecStartPre=/bin/sh -c id\"\n",
            refused("nodes/n1.yaml"),
        ),
        (
            "a dataDir with shell syntax",
            "  dataDir: \"/opt/$(reboot)`id`;rm -rf /\"\n",
            Expect::Valid,
        ),
        (
            "a user that is an ssh option",
            "  user: -oProxyCommand=sh\n",
            refused("nodes/n1.yaml"),
        ),
        (
            "a host that is an ssh option",
            "  host: -oProxyCommand=sh\n",
            refused("nodes/n1.yaml"),
        ),
        (
            "a gitRepo with a control character",
            "  gitRepo: \"git@example.com:a\\e[2J.git\"\n",
            refused("nodes/n1.yaml"),
        ),
        (
            "a knownHostsPath with a NUL",
            "  knownHostsPath: \"/tmp/a\\0b\"\n",
            refused("nodes/n1.yaml"),
        ),
    ]
    .into_iter()
    .map(|(name, spec, expect)| case(name, expect, move |root| node(root, spec)))
    .collect()
}

/// One finished run: exit status, output, duration, and the peak resident set of the largest child
/// so far (the runs are sequential and each is checked, so a peak over the guard is this run's).
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    max_rss_kb: i64,
}

/// Runs `orun args…` and measures it, killing it after `KILL_AFTER`.
fn run(args: &[&str]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_orun"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("SOPS_AGE_KEY_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("orun starts");
    let pid = libc::pid_t::try_from(child.id()).expect("a process id");
    let mut stdout_pipe = child.stdout.take().unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stdout = thread::spawn(move || {
        let mut text = Vec::new();
        stdout_pipe.read_to_end(&mut text).ok();
        text
    });
    let stderr = thread::spawn(move || {
        let mut text = Vec::new();
        stderr_pipe.read_to_end(&mut text).ok();
        text
    });
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        thread::spawn(move || {
            while started.elapsed() < KILL_AFTER {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
            // SAFETY: signals the child this test started, which is not reaped before `done`.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        })
    };
    let status = child.wait().expect("orun ends");
    let elapsed = started.elapsed();
    done.store(true, Ordering::SeqCst);
    watchdog.join().unwrap();
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is valid for writes; `getrusage` fills it in on success.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) },
        0
    );
    // SAFETY: filled in by the successful call above.
    let usage = unsafe { usage.assume_init() };
    Run {
        status,
        stdout: String::from_utf8_lossy(&stdout.join().unwrap()).to_string(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap()).to_string(),
        elapsed,
        max_rss_kb: usage.ru_maxrss,
    }
}

/// Every way `run` broke the rules for `case`, as lines for the report.
fn problems(case: &Case, command: &str, run: &Run) -> Vec<String> {
    let mut found = Vec::new();
    let mut fail = |what: String| found.push(format!("{} ({command}): {what}", case.name));
    if run.elapsed > TIME_GUARD {
        fail(format!(
            "took {:?}, over the {TIME_GUARD:?} guard",
            run.elapsed
        ));
    }
    if run.max_rss_kb > MEMORY_GUARD_KB {
        fail(format!(
            "peaked at {} KB, over the 200 MB guard",
            run.max_rss_kb
        ));
    }
    let output = format!("{}{}", run.stdout, run.stderr);
    if let Some(c) = output
        .chars()
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
    {
        fail(format!("printed the raw control character {c:?}"));
    }
    for text in case.forbidden {
        if output.contains(text) {
            fail(format!(
                "printed {text:?}, the contents of a file outside the repository"
            ));
        }
    }
    match (&case.expect, run.status.code()) {
        (Expect::Valid, Some(0)) => {}
        (Expect::Invalid(file), Some(1)) if run.stderr.contains(file) => {}
        (Expect::Invalid(file), Some(1)) => {
            fail(format!("exit 1 without naming {file}: {}", run.stderr))
        }
        (Expect::Refused(text), Some(1)) if output.contains(text) => {}
        (Expect::Refused(text), Some(1)) => {
            fail(format!("exit 1 without saying {text:?}: {output}"))
        }
        (_, code) => fail(format!(
            "ended with {code:?} (signal {:?}), expected {}: {}",
            run.status.signal(),
            match case.expect {
                Expect::Valid => "exit 0",
                Expect::Invalid(_) | Expect::Refused(_) => "exit 1",
            },
            run.stderr
        )),
    }
    found
}

/// A temporary folder holding `folder` as `case` builds it, and that folder's path.
fn built(case: &Case, folder: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    let root = dir.path().join(folder);
    fs::create_dir_all(&root).unwrap();
    (case.build)(&root);
    (dir, root)
}

fn assert_kept_the_rules(report: &[String], cases: usize) {
    assert!(
        report.is_empty(),
        "{} of {cases} cases broke the rules:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn every_hostile_repository_ends_in_time_with_a_clear_answer() {
    let cases = corpus();
    assert!(
        cases.len() >= 60,
        "the corpus has only {} cases",
        cases.len()
    );
    let observed = TempDir::new().unwrap();
    let snapshot = observed.path().join("empty.json");
    fs::write(&snapshot, "{}").unwrap();
    let keys = TempDir::new().unwrap();
    identity(keys.path(), "age.key");
    let mut report = Vec::new();
    for case in &cases {
        let (_dir, root) = built(case, "repo");
        let key = root.join(".keys/age.key");
        let key = if key.exists() {
            key
        } else {
            keys.path().join("age.key")
        };
        let repo = root.to_str().unwrap();
        let key = key.to_str().unwrap();
        let validate = run(&["validate", "--repo", repo, "--age-key-path", key]);
        report.extend(problems(case, "validate", &validate));
        let plan = run(&[
            "plan",
            "--repo",
            repo,
            "--age-key-path",
            key,
            "--observed",
            snapshot.to_str().unwrap(),
        ]);
        report.extend(problems(case, "plan --observed", &plan));
    }
    assert_kept_the_rules(&report, cases.len());
}

/// A `compose.yaml` with one service `web` and `service` lines after its image.
fn compose(root: &Path, service: &str) {
    write(
        root,
        "compose.yaml",
        format!("services:\n  web:\n    image: nginx\n{service}"),
    );
}

/// Compose projects written to make `orun import compose` hang, exhaust memory, read files outside
/// the project or write through symlinks. The compose file is `compose.yaml` at the case's root;
/// the case's temporary folder around it stands for the rest of the machine.
fn import_cases() -> Vec<Case> {
    let mut cases = vec![
        case(
            "a compose file nested 200000 levels deep",
            Expect::Refused("nested more than 64 levels deep"),
            |root| {
                let deep = format!("{}{}", "[".repeat(200_000), "]".repeat(200_000));
                write(
                    root,
                    "compose.yaml",
                    format!("services:\n  web:\n    labels: {deep}\n"),
                );
            },
        ),
        case(
            "a compose file of aliases expanding each other",
            Expect::Refused("YAML nodes once its aliases are expanded"),
            |root| {
                let bomb = laughs(10);
                write(
                    root,
                    "compose.yaml",
                    format!("x-bomb:\n{bomb}services:\n  web:\n    image: nginx\n"),
                );
            },
        ),
        case(
            "a compose file of 2 MiB",
            Expect::Refused("more than the limit of 1048576 bytes"),
            |root| compose(root, &format!("# {}\n", "x".repeat(2 * 1024 * 1024))),
        ),
        Case {
            forbidden: &["outside-secret"],
            ..case(
                "an env_file above the compose folder",
                Expect::Refused("../x: outside the compose file's folder"),
                move |root| {
                    fs::write(root.parent().unwrap().join("x"), "STOLEN=outside-secret\n").unwrap();
                    compose(root, "    env_file: ../x\n");
                },
            )
        },
        case(
            "an env_file with an absolute path",
            Expect::Refused("/etc/hostname: outside the compose file's folder"),
            move |root| compose(root, "    env_file: /etc/hostname\n"),
        ),
        case(
            "an env_file that is a FIFO",
            Expect::Refused("web.env: not a regular file"),
            move |root| {
                fifo(root, "web.env");
                compose(root, "    env_file: web.env\n");
            },
        ),
        case(
            "a .env that is a FIFO",
            Expect::Refused(".env: not a regular file"),
            move |root| {
                fifo(root, ".env");
                compose(root, "");
            },
        ),
        case(
            "a written file that is a symlink out of the project",
            Expect::Refused("deployments/web.yaml: a symlink: refusing to write through it"),
            move |root| {
                compose(root, "");
                let target = root.parent().unwrap().join("authorized_keys");
                link(root, "deployments/web.yaml", target.to_str().unwrap());
            },
        ),
        case(
            "a deployments folder that is a symlink",
            Expect::Refused("deployments: a symlink: refusing to write through it"),
            move |root| {
                compose(root, "");
                let elsewhere = root.parent().unwrap().join("elsewhere");
                fs::create_dir_all(&elsewhere).unwrap();
                link(root, "deployments", elsewhere.to_str().unwrap());
            },
        ),
        case(
            "a large base that extends copies into thousands of services",
            Expect::Refused("YAML nodes once extends is resolved"),
            |root| {
                let environment: Vec<String> = (0..20_000).map(|n| format!("V{n}=x")).collect();
                let mut text = format!(
                    "services:\n  base:\n    image: nginx\n    environment: [{}]\n",
                    environment.join(", ")
                );
                for n in 0..5_000 {
                    text.push_str(&format!("  s{n}: {{extends: base}}\n"));
                }
                write(root, "compose.yaml", text);
            },
        ),
        Case {
            forbidden: &["outside-secret"],
            ..case(
                "an extends file above the compose folder",
                Expect::Refused("../x: outside the compose file's folder"),
                move |root| {
                    fs::write(
                        root.parent().unwrap().join("x"),
                        "services:\n  base:\n    image: outside-secret\n",
                    )
                    .unwrap();
                    compose(root, "    extends: {file: ../x, service: base}\n");
                },
            )
        },
        case(
            "services extending each other in a cycle",
            Expect::Refused("extends forms a cycle"),
            |root| {
                write(
                    root,
                    "compose.yaml",
                    "services:\n  a:\n    image: nginx\n    extends: b\n  b:\n    image: nginx\n    extends: a\n",
                );
            },
        ),
        case("a plain compose file", Expect::Valid, move |root| {
            compose(root, "")
        }),
    ];
    // `env_file`s linking to the node's files: refused by name, never read.
    let links = [
        ("an env_file linking to /etc/passwd", "/etc/passwd"),
        ("an env_file linking to /dev/zero", "/dev/zero"),
    ];
    cases.extend(links.into_iter().map(|(name, target)| Case {
        forbidden: &["root:"],
        ..case(
            name,
            Expect::Refused("linked.env: outside the compose file's folder"),
            move |root| {
                link(root, "linked.env", target);
                compose(root, "    env_file: linked.env\n");
            },
        )
    }));
    cases
}

#[test]
fn every_hostile_compose_project_imports_in_time_with_a_clear_answer() {
    let cases = import_cases();
    let mut report = Vec::new();
    for case in &cases {
        let (dir, root) = built(case, "project");
        let file = root.join("compose.yaml");
        let import = run(&["import", "compose", file.to_str().unwrap()]);
        report.extend(problems(case, "import compose", &import));
        let elsewhere = dir.path().join("elsewhere");
        let outside: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
            .filter(|name| !["project", "x", "elsewhere"].contains(&name.as_str()))
            .chain(
                fs::read_dir(&elsewhere)
                    .into_iter()
                    .flatten()
                    .map(|entry| format!("elsewhere/{:?}", entry.unwrap().file_name())),
            )
            .collect();
        if !outside.is_empty() {
            report.push(format!(
                "{}: wrote outside the project: {outside:?}",
                case.name
            ));
        }
    }
    assert_kept_the_rules(&report, cases.len());
}

#[test]
fn bootstrap_dry_run_prints_lines_a_shell_reads_as_written() {
    let dir = TempDir::new().unwrap();
    let key = "/keys/id; touch pwned $(touch pwned2) `touch pwned3`";
    node(
        dir.path(),
        &format!(
            "  sshKeyPath: \"{key}\"\n  user: deploy\n  dataDir: \"/opt/orun $(touch pwned4)\"\n"
        ),
    );
    let nodes = dir.path().join("nodes/n1.yaml");
    let dry = run(&["bootstrap", "--dry-run", nodes.to_str().unwrap()]);
    assert_eq!(dry.status.code(), Some(0), "{}", dry.stderr);
    let lines: Vec<&str> = dry
        .stdout
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("ssh "))
        .collect();
    assert!(lines.len() >= 8, "{}", dry.stdout);
    let shell = TempDir::new().unwrap();
    for line in lines {
        let output = Command::new("sh")
            .args(["-c", &format!("printf '%s\\0' {line}")])
            .current_dir(shell.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{line}");
        let words: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .split_terminator('\0')
            .map(str::to_string)
            .collect();
        assert!(words.iter().any(|word| word == key), "{line}: {words:?}");
        assert_eq!(words[0], "ssh", "{line}");
    }
    assert_eq!(
        fs::read_dir(shell.path()).unwrap().count(),
        0,
        "pasting a dry-run line ran a command"
    );
}
