//! Build-mode deployments against the real engine: content-addressed tags, build-once and always,
//! `.dockerignore`, and failed builds that stop nothing.

use std::fs;

use serde_json::Value;

use crate::support::{free_port, http_get, inspect, text, Scenario};

/// A build context `app/` in the scenario's repo: busybox httpd serving `www/`. A file naming the
/// scenario makes its tags unique, so images left by earlier runs cannot stand in for a build.
fn write_context(scenario: &Scenario, page: &str) {
    let app = scenario.repo().join("app");
    fs::create_dir_all(app.join("www")).unwrap();
    fs::write(app.join("www/run"), &scenario.environment).unwrap();
    fs::copy("/bin/busybox", app.join("busybox"))
        .expect("/bin/busybox (apt-get install busybox-static)");
    fs::write(app.join("www/index.html"), page).unwrap();
    fs::write(
        app.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nCOPY www /www\nENTRYPOINT [\"/bin/busybox\"]\nCMD [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n",
    )
    .unwrap();
}

fn build_spec(port: u16, mode: &str) -> String {
    format!(
        "  build:\n    context: app\n    buildMode: {mode}\n  ports:\n    - containerPort: 80\n      port: {port}\n      hostIP: 127.0.0.1\n  stopTimeout: 1s\n"
    )
}

fn kinds(plan: &Value) -> Vec<(String, String)> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn build_once_builds_once_and_rebuilds_when_the_context_changes() {
    let scenario = Scenario::new("buildonce");
    scenario.own_images("orun.local/siteonce");
    let port = free_port();
    write_context(&scenario, "first\n");
    scenario.deployment("siteonce", &build_spec(port, "build-once"));
    let plan = scenario.plan();
    assert_eq!(
        kinds(&plan),
        vec![
            ("network".into(), "missing".into()),
            ("build".into(), "image_missing".into()),
            ("create".into(), "missing".into())
        ]
    );
    let tag = plan["actions"][1]["image"].as_str().unwrap().to_string();
    assert!(
        tag.starts_with("orun.local/siteonce:") && tag.len() == "orun.local/siteonce:".len() + 12,
        "{tag}"
    );

    let output = scenario.apply();
    assert!(
        output.contains("build siteonce | Step 1/"),
        "build output is streamed: {output}"
    );
    assert_eq!(http_get(port, "/").as_deref(), Some("first\n"));
    assert!(inspect(&scenario.container("siteonce")).unwrap()["Config"]["Image"] == tag.as_str());
    let again = scenario.apply();
    assert!(
        again.contains("No changes. Node is converged."),
        "an unchanged context was rebuilt: {again}"
    );

    fs::write(scenario.repo().join("app/www/index.html"), "second\n").unwrap();
    let plan = scenario.plan();
    assert_eq!(
        kinds(&plan),
        vec![
            ("build".into(), "image_missing".into()),
            ("recreate".into(), "spec_changed".into())
        ]
    );
    assert_ne!(plan["actions"][0]["image"], tag.as_str());
    scenario.apply();
    assert_eq!(http_get(port, "/").as_deref(), Some("second\n"));
}

#[test]
fn dockerignored_files_do_not_change_the_tag() {
    let scenario = Scenario::new("ignored");
    scenario.own_images("orun.local/siteignored");
    write_context(&scenario, "page\n");
    fs::write(scenario.repo().join("app/.dockerignore"), "notes.txt\n").unwrap();
    fs::write(scenario.repo().join("app/notes.txt"), "one\n").unwrap();
    scenario.deployment("siteignored", &build_spec(free_port(), "build-once"));
    scenario.apply();
    fs::write(scenario.repo().join("app/notes.txt"), "two\n").unwrap();
    assert!(
        scenario.plan()["actions"].as_array().unwrap().is_empty(),
        "an ignored file changed the tag"
    );
}

#[test]
fn build_mode_always_rebuilds_on_every_commit() {
    let scenario = Scenario::new("buildalways");
    scenario.own_images("orun.local/sitealways");
    let port = free_port();
    write_context(&scenario, "always\n");
    scenario.deployment("sitealways", &build_spec(port, "always"));
    scenario.apply();
    let plan = scenario.plan();
    assert_eq!(kinds(&plan), vec![("build".into(), "build_always".into())]);
    let output = scenario.apply();
    assert!(output.contains("step 1 build"), "{output}");
    assert_eq!(http_get(port, "/").as_deref(), Some("always\n"));
}

#[test]
fn a_failed_build_reports_the_builder_and_stops_nothing() {
    let scenario = Scenario::new("badbuild");
    scenario.own_images("orun.local/sitebad");
    let port = free_port();
    write_context(&scenario, "working\n");
    scenario.deployment("sitebad", &build_spec(port, "build-once"));
    scenario.apply();
    let id = inspect(&scenario.container("sitebad")).unwrap()["Id"].clone();

    let dockerfile = scenario.repo().join("app/Dockerfile");
    let broken = fs::read_to_string(&dockerfile)
        .unwrap()
        .replace("COPY www /www", "COPY www /www\nRUN /bin/busybox false");
    fs::write(&dockerfile, broken).unwrap();
    let output = scenario.orun(&["apply", "--once"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("FAIL step 1 build"), "{stdout}");
    assert!(stdout.contains("last build output:"), "{stdout}");
    assert!(stdout.contains("RUN /bin/busybox false"), "{stdout}");
    assert!(
        stdout.contains("skipped because a network, volume, pull or build failed"),
        "{stdout}"
    );
    let site = inspect(&scenario.container("sitebad")).unwrap();
    assert_eq!(site["Id"], id);
    assert_eq!(site["State"]["Running"], true);
    assert_eq!(http_get(port, "/").as_deref(), Some("working\n"));
}
