//! `orun import compose` as a user runs it: exit codes, the printed lines, `--force`, `--out` with
//! build contexts, `--node-host`, `.env` and the process environment, and that what it writes
//! passes `orun validate`. The compose files here use settings every orun release understands.

use std::fs;
use std::path::Path;

use tempfile::TempDir;

#[path = "support/command.rs"]
mod command;

use command::{orun, orun_command, stderr, stdout, write};

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().to_string()
}

const SHOP: &str = "\
version: \"3.8\"
services:
  web:
    image: nginx:${WEB_TAG:-alpine}
    restart: always
    ports:
      - \"8080:80\"
    volumes:
      - ./html:/usr/share/nginx/html:ro
    environment:
      - LOG_LEVEL=info
  api:
    build:
      context: ./api
      dockerfile: Dockerfile.prod
    command: serve --port 9000
    ports:
      - 127.0.0.1:9000:9000
    env_file: api.env
";

fn validate(repo: &Path) {
    let output = orun(&["validate", "--repo", &repo.to_string_lossy()]);
    assert!(
        output.status.success(),
        "orun validate failed: {}",
        stderr(&output)
    );
}

#[test]
fn imports_in_place_and_the_result_validates() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "docker-compose.yml", SHOP);
    write(dir.path(), "api.env", "DATABASE_URL=postgres://db/shop\n");
    write(dir.path(), "api/Dockerfile.prod", "FROM scratch\n");
    let output = orun_command(&["import", "compose", &path(dir.path(), "docker-compose.yml")])
        .env_remove("WEB_TAG")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines[..6],
        [
            "services.web: translated to deployments/web.yaml",
            "services.api: translated to deployments/api.yaml",
            "version: dropped, orun needs no file format version",
            "services.web.restart: dropped, orun supervises containers",
            "services.api.env_file: api.env inlined into env (1 variable); secrets belong in secrets.yaml",
            &format!("wrote 2 file(s) to {}", fs::canonicalize(dir.path()).unwrap().display()),
        ]
    );
    let web = fs::read_to_string(dir.path().join("deployments/web.yaml")).unwrap();
    assert!(web.contains("image: nginx:alpine"), "{web}");
    assert!(
        web.contains(&format!(
            "hostPath: {}/html",
            fs::canonicalize(dir.path()).unwrap().display()
        )),
        "{web}"
    );
    let api = fs::read_to_string(dir.path().join("deployments/api.yaml")).unwrap();
    assert!(
        api.contains("context: api\n    dockerfile: Dockerfile.prod"),
        "{api}"
    );
    assert!(
        api.contains("command:\n  - serve\n  - --port\n  - '9000'"),
        "{api}"
    );
    assert!(api.contains("DATABASE_URL: postgres://db/shop"), "{api}");
    validate(dir.path());
}

#[test]
fn untranslatable_settings_write_nothing_unless_forced() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n    runtime: runsc\n    external_links: [redis]\n",
    );
    let file = path(dir.path(), "compose.yaml");
    let output = orun(&["import", "compose", &file]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "services.web: translated to deployments/web.yaml\n\
         services.web.runtime: cannot be translated: orun has no equivalent\n\
         services.web.external_links: cannot be translated: orun reaches only the deployments of its environment, by their names\n"
    );
    assert_eq!(
        stderr(&output),
        format!("error: {file}: 2 setting(s) cannot be translated; nothing written (--force writes the rest)\n")
    );
    assert!(!dir.path().join("deployments").exists());

    let output = orun(&["import", "compose", &file, "--force"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("services.web.runtime: cannot be translated"));
    assert!(dir.path().join("deployments/web.yaml").exists());
    validate(dir.path());
}

#[test]
fn another_out_folder_rewrites_build_contexts() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "apps/shop/compose.yaml",
        "services:\n  api:\n    build: ./api\n  tools:\n    build:\n      context: ../../../elsewhere\n",
    );
    let out = dir.path().to_string_lossy().to_string();
    let file = path(dir.path(), "apps/shop/compose.yaml");
    let output = orun(&["import", "compose", &file, "--out", &out]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains(
            "services.tools.build.context: cannot be translated: context \"../../../elsewhere\" lies outside the output folder"
        ),
        "{}",
        stdout(&output)
    );
    let output = orun(&["import", "compose", &file, "--out", &out, "--force"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let api = fs::read_to_string(dir.path().join("deployments/api.yaml")).unwrap();
    assert!(api.contains("context: apps/shop/api"), "{api}");
    assert!(!dir.path().join("deployments/tools.yaml").exists());
    assert!(!dir.path().join("apps/shop/deployments").exists());
}

#[test]
fn out_folder_inside_the_compose_folder_cannot_reach_contexts() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  api:\n    build: .\n",
    );
    let out = path(dir.path(), "infra");
    let output = orun(&[
        "import",
        "compose",
        &path(dir.path(), "compose.yaml"),
        "--out",
        &out,
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("services.api.build.context: cannot be translated"));
    assert!(!dir.path().join("infra").exists());
}

#[test]
fn node_host_writes_a_node_that_validates() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n",
    );
    let output = orun(&[
        "import",
        "compose",
        &path(dir.path(), "compose.yaml"),
        "--node-host",
        "10.0.0.5",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let node = fs::read_to_string(dir.path().join("nodes/10-0-0-5.yaml")).unwrap();
    assert!(node.contains("host: 10.0.0.5"), "{node}");
    assert!(stdout(&output).contains("nodes/10-0-0-5.yaml: gitRepo is "));
    validate(dir.path());
}

#[test]
fn dotenv_fills_variables_and_the_process_environment_wins() {
    let dir = TempDir::new().unwrap();
    write(dir.path(), "compose.yaml", SHOP);
    write(dir.path(), "api.env", "");
    write(dir.path(), ".env", "WEB_TAG=from-dotenv\n");
    let file = path(dir.path(), "compose.yaml");
    let output = orun_command(&["import", "compose", &file])
        .env_remove("WEB_TAG")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let web = fs::read_to_string(dir.path().join("deployments/web.yaml")).unwrap();
    assert!(web.contains("image: nginx:from-dotenv"), "{web}");

    let other = TempDir::new().unwrap();
    write(other.path(), "compose.yaml", SHOP);
    write(other.path(), "api.env", "");
    write(other.path(), ".env", "WEB_TAG=from-dotenv\n");
    let output = orun_command(&["import", "compose", &path(other.path(), "compose.yaml")])
        .env("WEB_TAG", "from-process")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let web = fs::read_to_string(other.path().join("deployments/web.yaml")).unwrap();
    assert!(web.contains("image: nginx:from-process"), "{web}");
}

#[test]
fn existing_files_with_other_content_are_not_overwritten() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n",
    );
    write(dir.path(), "deployments/web.yaml", "# mine\n");
    let output = orun(&["import", "compose", &path(dir.path(), "compose.yaml")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("deployments/web.yaml already exists with other content"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("deployments/web.yaml")).unwrap(),
        "# mine\n"
    );
    fs::remove_file(dir.path().join("deployments/web.yaml")).unwrap();
    let first = orun(&["import", "compose", &path(dir.path(), "compose.yaml")]);
    assert!(first.status.success());
    let again = orun(&["import", "compose", &path(dir.path(), "compose.yaml")]);
    assert!(
        again.status.success(),
        "an identical file is fine: {}",
        stderr(&again)
    );
}

#[test]
fn unreadable_compose_files_are_errors_naming_the_file() {
    let dir = TempDir::new().unwrap();
    let missing = path(dir.path(), "missing.yaml");
    let output = orun(&["import", "compose", &missing]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).starts_with(&format!("error: cannot read compose file {missing}")));
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: ${IMAGE:?set IMAGE}\n",
    );
    let file = path(dir.path(), "compose.yaml");
    let output = orun(&["import", "compose", &file]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!("error: {file}: services.web.image: variable IMAGE is required: set IMAGE\n")
    );
}

/// Copies the files of `from` (a fixture with its `env_file`s) into `to`, folders included.
fn copy_folder(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let source = entry.unwrap().path();
        let target = to.join(source.file_name().unwrap());
        if source.is_dir() {
            copy_folder(&source, &target);
        } else {
            fs::copy(&source, &target).unwrap();
        }
    }
}

#[test]
fn real_compose_files_import_and_validate() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/compose");
    let mut imported = 0;
    for entry in fs::read_dir(&fixtures).unwrap() {
        let project = entry.unwrap().path();
        if !project.join("docker-compose.yml").exists() {
            continue;
        }
        let dir = TempDir::new().unwrap();
        copy_folder(&project, dir.path());
        let file = path(dir.path(), "docker-compose.yml");
        let output = orun(&["import", "compose", &file, "--force"]);
        assert!(
            output.status.success(),
            "{}: {}",
            project.display(),
            stderr(&output)
        );
        for manifest in fs::read_dir(dir.path().join("deployments")).unwrap() {
            let text = fs::read_to_string(manifest.unwrap().path()).unwrap();
            for context in text
                .lines()
                .filter_map(|line| line.trim().strip_prefix("context: "))
            {
                fs::create_dir_all(dir.path().join(context)).unwrap();
            }
        }
        if stdout(&output).contains("containers read it from secrets.yaml") {
            validate_but_for_secret_keys(dir.path());
        } else {
            validate(dir.path());
        }
        imported += 1;
    }
    assert!(imported >= 5, "only {imported} fixtures found");
}

/// A repository whose secret files name keys that the operator still has to add to a
/// `secrets.yaml` it does not have yet passes `orun validate` with a warning for each.
fn validate_but_for_secret_keys(repo: &Path) {
    let output = orun(&["validate", "--repo", &repo.to_string_lossy()]);
    let warnings = stderr(&output);
    assert!(output.status.success(), "{warnings}");
    assert!(
        warnings.lines().all(|line| line.starts_with("warning: ")
            && line.contains(".key: ")
            && line.contains(" is not in secrets.yaml, which the repository does not have yet")),
        "{warnings}"
    );
}

#[test]
fn refused_values_are_listed_and_env_keeps_its_text() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n    hostname: web_1\n    environment:\n      VERSION: 1.10\n      MASK: 0x1F\n",
    );
    let file = path(dir.path(), "compose.yaml");
    let output = orun(&["import", "compose", &file]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output)
            .contains("services.web.hostname: cannot be translated: invalid hostname \"web_1\""),
        "{}",
        stdout(&output)
    );
    assert!(!dir.path().join("deployments").exists());
    let output = orun(&["import", "compose", &file, "--force"]);
    assert!(output.status.success(), "{}", stderr(&output));
    validate(dir.path());
    let web = fs::read_to_string(dir.path().join("deployments/web.yaml")).unwrap();
    assert!(web.contains("VERSION: '1.10'"), "{web}");
    assert!(web.contains("MASK: '0x1F'"), "{web}");
    assert!(!web.contains("hostname"), "{web}");
}

#[test]
fn symlinks_under_out_are_never_written_through() {
    let dir = TempDir::new().unwrap();
    let compose = dir.path().join("app");
    write(
        &compose,
        "compose.yaml",
        "services:\n  web:\n    image: nginx\n",
    );
    let victim = dir.path().join("authorized_keys");
    fs::write(&victim, "ssh-ed25519 AAAA operator\n").unwrap();
    fs::create_dir_all(compose.join("deployments")).unwrap();
    let link = compose.join("deployments/web.yaml");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let file = path(&compose, "compose.yaml");
    let output = orun(&["import", "compose", &file]);
    assert_eq!(output.status.code(), Some(1));
    let real_link = fs::canonicalize(&compose)
        .unwrap()
        .join("deployments/web.yaml");
    assert!(
        stderr(&output).contains(&format!(
            "{}: a symlink: refusing to write through it",
            real_link.display()
        )),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        fs::read_to_string(&victim).unwrap(),
        "ssh-ed25519 AAAA operator\n"
    );

    // A dangling symlink would create its target.
    fs::remove_file(&link).unwrap();
    let created = dir.path().join("created-by-import");
    std::os::unix::fs::symlink(&created, &link).unwrap();
    assert_eq!(orun(&["import", "compose", &file]).status.code(), Some(1));
    assert!(!created.exists());

    // A folder symlink would write anywhere.
    fs::remove_dir_all(compose.join("deployments")).unwrap();
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, compose.join("deployments")).unwrap();
    let output = orun(&["import", "compose", &file]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("deployments: a symlink: refusing to write through it"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn env_files_outside_the_compose_folder_or_not_regular_are_refused_by_name() {
    let dir = TempDir::new().unwrap();
    let compose = dir.path().join("app");
    fs::create_dir_all(&compose).unwrap();
    fs::write(dir.path().join("x"), "STOLEN=outside-secret\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("x"), compose.join("linked.env")).unwrap();
    fs::create_dir_all(compose.join("folder.env")).unwrap();
    let real = fs::canonicalize(&compose).unwrap();
    for (env_file, expected) in [
        (
            "../x",
            format!("{}/../x: outside the compose file's folder", real.display()),
        ),
        (
            "/etc/hostname",
            "/etc/hostname: outside the compose file's folder".to_string(),
        ),
        (
            "linked.env",
            format!(
                "{}/linked.env: outside the compose file's folder",
                real.display()
            ),
        ),
        (
            "folder.env",
            format!("{}/folder.env: not a regular file", real.display()),
        ),
    ] {
        write(
            &compose,
            "compose.yaml",
            &format!("services:\n  web:\n    image: nginx\n    env_file:\n      - path: {env_file}\n        required: false\n"),
        );
        let output = orun(&["import", "compose", &path(&compose, "compose.yaml")]);
        assert_eq!(output.status.code(), Some(1), "{env_file}");
        let printed = stdout(&output);
        assert!(
            printed.contains(&format!(
                "services.web.env_file: cannot be translated: cannot read {env_file}: "
            )) && printed.contains(&expected),
            "{env_file}: {printed}"
        );
        assert!(!printed.contains("outside-secret"), "{printed}");
        assert!(!compose.join("deployments").exists());
    }
}

#[test]
fn a_config_file_is_copied_into_the_repository_and_the_result_validates() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "compose.yaml",
        "services:\n  proxy:\n    image: nginx\n    configs:\n      - source: nginx\n        target: /etc/nginx/nginx.conf\nconfigs:\n  nginx:\n    file: ./proxy/nginx.conf\n",
    );
    write(dir.path(), "proxy/nginx.conf", "events {}\n");
    let output = orun(&["import", "compose", &path(dir.path(), "compose.yaml")]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("configs.nginx: copied to configs/nginx/nginx.conf"));
    assert_eq!(
        fs::read_to_string(dir.path().join("configs/nginx/nginx.conf")).unwrap(),
        "events {}\n"
    );
    let proxy = fs::read_to_string(dir.path().join("deployments/proxy.yaml")).unwrap();
    assert!(
        proxy.contains(
            "files:\n  - source: configs/nginx/nginx.conf\n    target: /etc/nginx/nginx.conf\n"
        ),
        "{proxy}"
    );
    validate(dir.path());
}

#[test]
fn a_config_file_outside_the_compose_folder_is_refused_and_nothing_written() {
    let dir = TempDir::new().unwrap();
    write(
        dir.path(),
        "app/compose.yaml",
        "services:\n  proxy:\n    image: nginx\n    configs: [nginx]\nconfigs:\n  nginx:\n    file: ../secret.conf\n",
    );
    write(dir.path(), "secret.conf", "x\n");
    let output = orun(&["import", "compose", &path(dir.path(), "app/compose.yaml")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("outside the compose file's folder"),
        "{}",
        stderr(&output)
    );
    assert!(!dir.path().join("app/deployments").exists());
}

#[test]
fn extends_reads_a_base_from_a_file_beside_the_compose_file_only() {
    let dir = TempDir::new().unwrap();
    let compose = dir.path().join("app");
    fs::create_dir_all(&compose).unwrap();
    write(
        &compose,
        "common.yml",
        "services:\n  base:\n    image: nginx:1.27\n    environment: [TZ=UTC]\n",
    );
    fs::write(
        dir.path().join("outside.yml"),
        "services:\n  base:\n    image: stolen\n",
    )
    .unwrap();
    write(
        &compose,
        "compose.yaml",
        "services:\n  web:\n    extends: {file: common.yml, service: base}\n    environment: {PORT: \"80\"}\n  other:\n    extends: {file: ../outside.yml, service: base}\n    image: busybox\n",
    );
    let output = orun(&["import", "compose", &path(&compose, "compose.yaml")]);
    assert_eq!(output.status.code(), Some(1));
    let printed = stdout(&output);
    assert!(
        printed
            .contains("services.other.extends: cannot be translated: cannot read ../outside.yml: ")
            && printed.contains("outside the compose file's folder"),
        "{printed}"
    );
    let output = orun(&[
        "import",
        "compose",
        &path(&compose, "compose.yaml"),
        "--force",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let web = fs::read_to_string(compose.join("deployments/web.yaml")).unwrap();
    assert!(web.contains("image: nginx:1.27"), "{web}");
    assert!(
        web.contains("PORT: '80'") && web.contains("TZ: UTC"),
        "{web}"
    );
    let other = fs::read_to_string(compose.join("deployments/other.yaml")).unwrap();
    assert!(
        other.contains("image: busybox") && !other.contains("stolen"),
        "{other}"
    );
    validate(&compose);
}
