//! A real web and database app on the real engine, all from the local Debian base image:
//! PostgreSQL 15 with its cluster in a named volume, a migration Job, a Python notes app and nginx
//! in front of it, the database password a secret file from `secrets.yaml` (fixtures in
//! `real_app/`). The migration runs between a ready database and the app's creation; the proxy's
//! network cannot see the database; the password is in the containers' files and nowhere else (not
//! in orun's output, `docker inspect`, `docker logs` or the data folder: `apply --once` keeps no
//! `state.json`, the node's is checked in `files_networks.rs`); a failing migration keeps the old
//! app serving until a fixed one runs; and a changed nginx configuration recreates the proxy
//! alone.

use std::cell::RefCell;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use engine::sops::DataKey;
use serde_json::Value;
use tempfile::TempDir;

use crate::jobs::kinds;
use crate::support::secrets::{assert_no_plaintext, SHARED_PASSWORD};
use crate::support::sops::{data_key_bytes, identity, sops_file};
use crate::support::{
    eventually, free_port, http_get, http_post, inspect, local_base, succeeded, text, walk,
    Scenario, SecretDir,
};

/// Where the fixtures are: the app's build context, the database's start script, nginx's
/// configuration and the second migration.
fn fixtures() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/integration/real_app"
    ))
}

/// Where the database's password is in every container that reads it.
const PASSWORD_FILE: &str = "/run/secrets/db_password";

/// The app's second migration, as a commit that breaks it has it.
const BROKEN_MIGRATION: &str =
    "ALTER TABLE notes ADD COLUMN created_at timestamptz NOT NULL DEFALT now();\n";

/// The scenario repository with its key, the folders `orun apply` writes mounted files to, and
/// everything orun printed, which the secret must not be in. The scenario is the first field so
/// that its containers are gone before the secret files' folder is removed.
struct RealApp {
    scenario: Scenario,
    secrets: SecretDir,
    data: TempDir,
    _keys: TempDir,
    key: String,
    port: u16,
    printed: RefCell<String>,
}

impl RealApp {
    fn new() -> Self {
        let base = local_base();
        let scenario = Scenario::new("realapp");
        let secrets = SecretDir::new("realapp");
        let keys = TempDir::new().unwrap();
        let (key, recipient) = identity(keys.path(), "age.key");
        let app = RealApp {
            scenario,
            secrets,
            data: TempDir::new().unwrap(),
            _keys: keys,
            key,
            port: free_port(),
            printed: RefCell::new(String::new()),
        };
        let repo = app.repo();
        fs::write(
            repo.join("secrets.yaml"),
            sops_file(
                &DataKey::new(data_key_bytes()),
                &recipient,
                &[("DB_PASSWORD", SHARED_PASSWORD)],
            ),
        )
        .unwrap();
        for file in [
            "app/Dockerfile",
            "app/app.py",
            "app/migrate.py",
            "app/migrations/001_notes.sql",
        ] {
            fs::create_dir_all(repo.join(file).parent().unwrap()).unwrap();
            fs::copy(fixtures().join(file), repo.join(file)).unwrap();
        }
        fs::create_dir_all(repo.join("db")).unwrap();
        fs::copy(fixtures().join("db.sh"), repo.join("db/db.sh")).unwrap();
        app.proxy_version("proxy-1");
        app.scenario.deployment("db", &db_spec(base));
        app.write_migrate_job();
        app.scenario.deployment("web", &web_spec("v1"));
        app.scenario
            .deployment("proxy", &proxy_spec(base, app.port));
        app
    }

    fn repo(&self) -> &Path {
        self.scenario.repo()
    }

    fn container(&self, name: &str) -> String {
        self.scenario.container(name)
    }

    /// Writes nginx's configuration with `version` in place of the placeholder.
    fn proxy_version(&self, version: &str) {
        let conf = fs::read_to_string(fixtures().join("nginx.conf")).unwrap();
        fs::create_dir_all(self.repo().join("proxy")).unwrap();
        fs::write(
            self.repo().join("proxy/nginx.conf"),
            conf.replace("PROXY_VERSION", version),
        )
        .unwrap();
    }

    fn write_migrate_job(&self) {
        let path = self.repo().join("jobs/migrate.yaml");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            path,
            format!(
                "apiVersion: run.orcra.dev/v0alpha\nkind: Job\nmetadata:\n  name: migrate\nspec:\n  build:\n    context: app\n  command: [\"python3\", \"/app/migrate.py\"]\n{}  networks: [backend]\n  runOn: change\n  dependsOn: [db]\n  before: [web]\n  timeout: 2m\n",
                password_file(65534, 65534)
            ),
        )
        .unwrap();
    }

    /// Writes the app's second migration.
    fn second_migration(&self, sql: &str) {
        fs::write(self.repo().join("app/migrations/002_note_time.sql"), sql).unwrap();
    }

    /// `orun ARGS` with the age key, its output kept for the leak check.
    fn orun(&self, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--age-key-path", &self.key]);
        let output = self.scenario.orun(&all);
        let mut printed = self.printed.borrow_mut();
        printed.push_str(&text(&output.stdout));
        printed.push_str(&text(&output.stderr));
        output
    }

    /// `orun plan --output json`; the images it would build are removed with the scenario.
    fn plan(&self) -> Value {
        let output = self.orun(&["plan", "--output", "json"]);
        assert!(
            output.status.success(),
            "plan failed: {}",
            text(&output.stderr)
        );
        let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
        for action in plan["actions"].as_array().unwrap() {
            if action["kind"] == "build" {
                self.scenario.own_images(action["image"].as_str().unwrap());
            }
        }
        plan
    }

    /// `orun apply --once` with the folders for mounted files, after a plan that notes the
    /// images it builds; the output, whether or not it succeeded.
    fn try_apply(&self) -> Output {
        self.plan();
        self.orun(&[
            "apply",
            "--once",
            "--data-dir",
            self.data.path().to_str().unwrap(),
            "--secret-files-dir",
            self.secrets.path(),
        ])
    }

    /// [`RealApp::try_apply`], asserting success; returns stdout.
    fn apply(&self) -> String {
        succeeded(&self.try_apply(), "apply")
    }

    /// What the app answers on `path` through the proxy's published port.
    fn get(&self, path: &str) -> Option<String> {
        http_get(self.port, path)
    }

    /// Polls the proxy until `/` answers `expected` (nginx re-resolves `web` within 2s).
    fn wait_for_page(&self, expected: &str) {
        assert!(
            eventually(Duration::from_secs(20), || self.get("/").as_deref()
                == Some(expected)),
            "the proxy answers {:?}, not {expected:?}",
            self.get("/")
        );
    }

    /// The run containers of the migration, oldest first (their names hold the spec hash, which
    /// says nothing of their order).
    fn runs(&self) -> Vec<String> {
        let mut runs: Vec<(SystemTime, String)> = self
            .scenario
            .containers()
            .into_iter()
            .filter(|name| name.contains(".migrate.job-"))
            .map(|name| (time_of(&name, "Created"), name))
            .collect();
        runs.sort();
        runs.into_iter().map(|(_, name)| name).collect()
    }
}

/// The `secretEnv` and `secretFiles` lines that give the password as a file owned by `uid:gid`,
/// and as no variable.
fn password_file(uid: u32, gid: u32) -> String {
    format!(
        "  secretEnv: none\n  secretFiles:\n    - key: DB_PASSWORD\n      target: {PASSWORD_FILE}\n      uid: {uid}\n      gid: {gid}\n"
    )
}

/// PostgreSQL runs as the image's `postgres` user (101:103), which must read the password when
/// `initdb` sets it.
fn db_spec(base: &str) -> String {
    format!(
        "  image: {base}\n  command: [\"sh\", \"/usr/local/bin/db.sh\"]\n  files:\n    - source: db/db.sh\n      target: /usr/local/bin/db.sh\n{}  volumes:\n    - name: pgdata\n      containerPath: /var/lib/postgresql/data\n  networks: [backend]\n  health:\n    readiness:\n      exec: [\"/usr/lib/postgresql/15/bin/pg_isready\", \"-h\", \"127.0.0.1\", \"-U\", \"postgres\"]\n  stopTimeout: 5s\n",
        password_file(101, 103)
    )
}

fn web_spec(version: &str) -> String {
    format!(
        "  build:\n    context: app\n  env:\n    APP_VERSION: {version}\n{}  networks: [frontend, backend]\n  dependsOn: [db]\n  health:\n    readiness:\n      http: localhost:8000/health\n      deadline: 30s\n  stopTimeout: 2s\n",
        password_file(65534, 65534)
    )
}

/// nginx needs no secret: without `secretEnv: none` every key of `secrets.yaml` would be in its
/// environment.
fn proxy_spec(base: &str, port: u16) -> String {
    format!(
        "  image: {base}\n  command: [\"nginx\", \"-c\", \"/etc/nginx/orun.conf\", \"-g\", \"daemon off;\"]\n  files:\n    - source: proxy/nginx.conf\n      target: /etc/nginx/orun.conf\n  ports:\n    - containerPort: 8080\n      port: {port}\n      hostIP: 127.0.0.1\n  networks: [frontend]\n  secretEnv: none\n  health:\n    readiness:\n      tcp: localhost:8080\n  stopTimeout: 2s\n"
    )
}

/// A plan action as [`kinds`] lists it.
fn step(kind: &str, reason: &str) -> (String, String) {
    (kind.to_string(), reason.to_string())
}

/// Runs `args` inside `container`: whether it succeeded, and its standard output.
fn run_in(container: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new("docker")
        .arg("exec")
        .arg(container)
        .args(args)
        .output()
        .expect("docker CLI");
    (output.status.success(), text(&output.stdout))
}

/// `docker logs` of `container`, both streams.
fn logs(container: &str) -> String {
    let output = Command::new("docker")
        .args(["logs", container])
        .output()
        .expect("docker CLI");
    format!("{}{}", text(&output.stdout), text(&output.stderr))
}

fn container_id(name: &str) -> String {
    inspect(name).unwrap_or_else(|| panic!("{name} does not exist"))["Id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A time of `container`: `Created`, or `State.StartedAt` / `State.FinishedAt` as `StartedAt`.
fn time_of(container: &str, field: &str) -> SystemTime {
    let inspected = inspect(container).unwrap();
    let value = match field {
        "Created" => &inspected["Created"],
        _ => &inspected["State"][field],
    };
    humantime::parse_rfc3339(value.as_str().unwrap()).unwrap()
}

/// The line number of the `ok` line of the step that `needle` names, in an apply's output.
fn ok_line(output: &str, needle: &str) -> usize {
    output
        .lines()
        .position(|line| line.trim_start().starts_with("ok") && line.contains(needle))
        .unwrap_or_else(|| panic!("no finished step {needle:?} in:\n{output}"))
}

#[test]
fn a_web_and_database_app_migrates_in_order_keeps_its_secret_and_survives_a_failed_migration() {
    let app = RealApp::new();
    let env = app.scenario.environment.clone();
    let (db, web, proxy) = (
        app.container("db"),
        app.container("web"),
        app.container("proxy"),
    );

    // 1. The first apply: the database is ready, then the migration runs, then web is created.
    let output = app.apply();
    let db_ready = ok_line(&output, &format!(" create {db} ("));
    let migrated = ok_line(&output, &format!(" run {env}.migrate.job-"));
    let web_created = ok_line(&output, &format!(" create {web} ("));
    assert!(
        db_ready < migrated && migrated < web_created,
        "db ready, then the migration, then web:\n{output}"
    );
    let runs = app.runs();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(inspect(&runs[0]).unwrap()["State"]["ExitCode"], 0);
    assert!(
        time_of(&runs[0], "FinishedAt") <= time_of(&web, "Created"),
        "the migration finished before web was created"
    );
    assert!(
        logs(&runs[0]).contains("migrated to 1 (001_notes.sql)"),
        "{}",
        logs(&runs[0])
    );
    app.wait_for_page("notes v1 schema 1\n");
    assert_eq!(
        http_post(app.port, "/notes", &[], b"first note", None),
        Some((200, "note 1\n".to_string()))
    );
    assert_eq!(app.get("/notes").as_deref(), Some("first note\n"));
    assert_eq!(app.get("/proxy-version").as_deref(), Some("proxy-1\n"));
    let conf_mount = inspect(&proxy).unwrap()["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|mount| mount["Destination"] == "/etc/nginx/orun.conf")
        .expect("nginx's configuration is mounted")
        .clone();
    assert_eq!(conf_mount["RW"], false, "{conf_mount:#}");

    // 2. Segmentation: the proxy (frontend) can neither resolve nor reach the database (backend);
    // web, on both, reaches the database and is what the proxy reaches.
    let db_address = inspect(&db).unwrap()["NetworkSettings"]["Networks"]
        [format!("orun-{env}.backend")]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!db_address.is_empty());
    assert!(
        !run_in(&proxy, &["getent", "hosts", "db"]).0,
        "the proxy resolved db"
    );
    assert!(
        !run_in(&proxy, &["nc", "-z", "-w", "2", &db_address, "5432"]).0,
        "the proxy reached db at {db_address}"
    );
    assert!(run_in(&proxy, &["getent", "hosts", "web"]).0);
    let (resolved, answer) = run_in(&web, &["getent", "hosts", "db"]);
    assert!(resolved && answer.starts_with(&db_address), "{answer}");
    assert!(run_in(&web, &["nc", "-z", "-w", "2", "db", "5432"]).0);

    // 3. The secret: readable at its target by each container's user, from a tmpfs, and in no
    // output, container description, log or file of the data folder.
    for container in [&db, &web] {
        let (read, content) = run_in(container, &["cat", PASSWORD_FILE]);
        assert!(
            read && content == SHARED_PASSWORD,
            "{container}: {content:?}"
        );
        let mount = inspect(container).unwrap()["Mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|mount| mount["Destination"] == PASSWORD_FILE)
            .expect("the password is mounted")
            .clone();
        assert_eq!(mount["RW"], false);
        let source = mount["Source"].as_str().unwrap();
        assert!(source.starts_with(app.secrets.path()), "{source}");
        let filesystem = Command::new("stat")
            .args(["-f", "-c", "%T", source])
            .output()
            .unwrap();
        assert_eq!(text(&filesystem.stdout).trim(), "tmpfs", "{source}");
    }
    assert_eq!(
        run_in(&web, &["id", "-u"]).1.trim(),
        "65534",
        "web reads the password as its own user"
    );
    let human_plan = app.orun(&["plan"]);
    assert!(human_plan.status.success());
    let labels = inspect(&web).unwrap()["Config"]["Labels"].to_string();
    assert!(labels.contains("secret:"), "{labels}");
    let assert_nowhere_else = || {
        assert_no_plaintext(&app.printed.borrow());
        for container in app.scenario.containers() {
            assert_no_plaintext(&inspect(&container).unwrap().to_string());
            assert_no_plaintext(&logs(&container));
        }
        let data_files = walk(app.data.path());
        assert!(
            !data_files.is_empty(),
            "the mounted files' copies are there"
        );
        for file in data_files {
            assert_no_plaintext(&String::from_utf8_lossy(&fs::read(&file).unwrap()));
        }
    };
    assert_nowhere_else();

    // 4. A migration that fails (bad SQL) with a new web: the apply fails, web v1 keeps serving.
    let web_v1 = container_id(&web);
    app.second_migration(BROKEN_MIGRATION);
    app.scenario.deployment("web", &web_spec("v2"));
    let failed = app.try_apply();
    let stdout = text(&failed.stdout);
    assert!(!failed.status.success(), "{stdout}");
    assert!(stdout.contains("exited with code 3"), "{stdout}");
    let runs = app.runs();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let failed_log = logs(&runs[1]);
    assert!(
        failed_log.contains("migration 002_note_time.sql failed")
            && failed_log.contains("syntax error"),
        "{failed_log}"
    );
    assert_eq!(container_id(&web), web_v1, "web was not recreated");
    assert_eq!(app.get("/").as_deref(), Some("notes v1 schema 1\n"));
    assert_eq!(app.get("/notes").as_deref(), Some("first note\n"));
    assert_eq!(kinds(&app.plan()), [step("blocked web", "job_failed")]);

    // 5. The fixed migration runs, then web v2 starts on schema 2 with the notes kept.
    app.second_migration(&fs::read_to_string(fixtures().join("002_note_time.sql")).unwrap());
    let output = app.apply();
    let migrated = ok_line(&output, &format!(" run {env}.migrate.job-"));
    let web_recreated = ok_line(&output, &format!(" recreate {web} ("));
    assert!(migrated < web_recreated, "{output}");
    assert_ne!(container_id(&web), web_v1, "web is recreated");
    app.wait_for_page("notes v2 schema 2\n");
    assert_eq!(app.get("/notes").as_deref(), Some("first note\n"));
    assert_eq!(
        http_post(app.port, "/notes", &[], b"second note", None),
        Some((200, "note 2\n".to_string()))
    );
    assert_eq!(
        app.get("/notes").as_deref(),
        Some("first note\nsecond note\n")
    );

    // 6. A changed nginx configuration recreates the proxy alone, naming the file.
    let (db_id, web_id, proxy_id) = (container_id(&db), container_id(&web), container_id(&proxy));
    let runs_before = app.runs();
    app.proxy_version("proxy-2");
    let plan = app.plan();
    assert_eq!(
        kinds(&plan),
        [step("recreate proxy", "spec_changed")],
        "{plan:#}"
    );
    let changes: Vec<&str> = plan["actions"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["field"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["files[/etc/nginx/orun.conf].sha256"]);
    let output = app.apply();
    assert!(
        output.contains(&format!("~ {proxy} (step "))
            && output.contains("\n    files[/etc/nginx/orun.conf].sha256\n"),
        "the printed plan names the file: {output}"
    );
    let recreated: Vec<&str> = output
        .lines()
        .filter(|line| line.trim_start().starts_with("ok") && line.contains(" recreate "))
        .collect();
    assert_eq!(recreated.len(), 1, "{output}");
    assert!(
        recreated[0].contains(&format!(" recreate {proxy} (")),
        "{output}"
    );
    assert_ne!(container_id(&proxy), proxy_id);
    assert_eq!(container_id(&db), db_id);
    assert_eq!(container_id(&web), web_id);
    assert_eq!(app.runs(), runs_before, "the migration did not run again");
    assert!(
        eventually(Duration::from_secs(10), || app
            .get("/proxy-version")
            .as_deref()
            == Some("proxy-2\n")),
        "{:?}",
        app.get("/proxy-version")
    );
    app.wait_for_page("notes v2 schema 2\n");
    assert!(
        app.apply().contains("No changes. Node is converged."),
        "converged"
    );
    assert_nowhere_else();
}
