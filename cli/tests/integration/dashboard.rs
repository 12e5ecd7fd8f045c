//! The dashboards in a real browser: headless Chromium driven through WebDriver
//! (`support::browser`) against live node daemons and `orun fleet dashboard`. What a user sees:
//! the text of each deployment's row (with its uptime), a job's row, the last plan, the page following a commit in place (a marker set on
//! `window` survives, so the page never reloaded, and keyboard focus stays put), the same facts
//! with scripts off (the page reloads itself), no request to another origin, a hostile string
//! shown as text and never run, no horizontal scrolling 390 px wide, and the fleet's rows with
//! two live nodes and a silent one. Each test keeps its screenshots under `target/dashboard-screenshots/`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::day_two::control;
use crate::fleet::publish;
use crate::support::browser::{Browser, Scripts};
use crate::support::node::{Node, Origin};
use crate::support::{eventually, free_port, http_get, test_image};

/// How long a commit may take to show on a page: a poll, an apply, and a refresh.
const COMMIT_SHOWS: Duration = Duration::from_secs(60);

/// `deployments/<name>.yaml`: the test image with `GREETING`, no published port.
fn deployment(origin: &Origin, name: &str, image: &str, greeting: &str) {
    origin.write(
        &format!("deployments/{name}.yaml"),
        &format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  \
             image: '{image}'\n  env:\n    GREETING: {greeting}\n  stopTimeout: 1s\n"
        ),
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn wait_applied(node: &Node, commit: &str, ready: &[&str]) {
    node.wait_for("the commit applied and ready", COMMIT_SHOWS, |status| {
        status["node"]["applied_commit"] == commit
            && ready
                .iter()
                .all(|name| status["deployments"][name]["ready"] == true)
    });
}

/// Every URL `browser` requested is on `origin`.
async fn assert_same_origin(browser: &Browser, origin: &str) {
    let urls = browser.requested_urls().await;
    assert!(
        urls.iter().any(|url| url.ends_with("/dashboard.css"))
            && urls.iter().any(|url| url.ends_with("/dashboard.js")),
        "{urls:?}"
    );
    for url in &urls {
        assert!(url.starts_with(&format!("{origin}/")), "{url} of {urls:?}");
    }
}

/// At a phone's width (390 CSS pixels) the page does not scroll sideways; keeps a screenshot.
async fn assert_fits_a_phone(browser: &Browser, screenshot: &str) {
    browser
        .client
        .set_window_size(390, 844)
        .await
        .expect("a phone-sized window");
    let width = browser.eval("return window.innerWidth;").await;
    assert!(width.as_u64().is_some_and(|w| w <= 390), "{width}");
    let fits = browser
        .eval("return document.documentElement.scrollWidth <= window.innerWidth;")
        .await;
    assert_eq!(fits, Value::Bool(true), "the page scrolls sideways");
    browser.screenshot(screenshot).await;
}

#[test]
fn the_node_page_shows_each_deployment_and_follows_a_commit_in_place() {
    let origin = Origin::new();
    deployment(&origin, "web", test_image(), "hello");
    deployment(&origin, "api", test_image(), "hello");
    origin.write(
        "jobs/migrate.yaml",
        &format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Job\nmetadata:\n  name: migrate\nspec:\n  \
             image: '{}'\n  command: [\"sh\", \"-c\", \"exit 0\"]\n  runOn: change\n  before: [web]\n",
            test_image()
        ),
    );
    let first = origin.commit("web and api, migrate before web");
    let node = Node::start("dash-node", origin.bare().to_str().unwrap());
    wait_applied(&node, &first, &["web", "api"]);
    let page = format!("http://127.0.0.1:{}", node.status_port);

    runtime().block_on(async {
        let browser = Browser::start(Scripts::On, 1280, 1000).await;
        browser.goto(&format!("{page}/")).await;
        assert_eq!(browser.text("h1").await, "dash-node");
        for name in ["web", "api"] {
            let row = browser.text(&format!("#deployment-{name}")).await;
            for fact in [name, "Ready", "1 / 1", "running", test_image(), "create"] {
                assert!(row.contains(fact), "{fact} in the row {row:?}");
            }
        }
        let uptime = browser
            .eval(
                "return document.querySelector('#deployment-web td[data-label=\"Up for\"] time')\
                 .getAttribute('title');",
            )
            .await;
        assert!(
            uptime
                .as_str()
                .is_some_and(|title| title.starts_with("Started ")),
            "{uptime}"
        );
        let job = browser.text("#job-migrate").await;
        for fact in ["migrate", "on change, before web", "Succeeded"] {
            assert!(job.contains(fact), "{fact} in the job's row {job:?}");
        }
        let plan = browser.text("#plan").await;
        for fact in [
            first.as_str(),
            "deployment web",
            "job migrate",
            "create",
            "run",
        ] {
            assert!(plan.contains(fact), "{fact} in the last plan {plan:?}");
        }
        let sync = browser.text("#sync").await;
        assert!(sync.contains("Synced") && sync.contains(&first), "{sync}");
        assert!(browser.text("#top").await.contains("Healthy"));
        browser.screenshot("node").await;

        browser
            .eval(
                "window.orunMarker = 'kept'; \
                 document.querySelector('nav a[href=\"#deployments\"]').focus(); return null;",
            )
            .await;
        deployment(&origin, "api", test_image(), "bonjour");
        let second = origin.commit("api says bonjour");
        let sync = browser.wait_for_text("#sync", &second, COMMIT_SHOWS).await;
        assert!(
            sync.contains(&second),
            "the new commit never showed: {sync}"
        );
        let row = browser
            .wait_for_text("#deployment-api", "recreate", COMMIT_SHOWS)
            .await;
        assert!(row.contains("recreate (spec changed)"), "{row}");
        let plan = browser.wait_for_text("#plan", &second, COMMIT_SHOWS).await;
        assert!(
            plan.contains("recreate") && plan.contains("spec changed"),
            "{plan}"
        );
        assert_eq!(
            browser.eval("return window.orunMarker;").await,
            Value::from("kept"),
            "the page reloaded instead of refreshing in place"
        );
        assert_eq!(
            browser
                .eval("return document.activeElement.getAttribute('href');")
                .await,
            Value::from("#deployments"),
            "keyboard focus stays where it was"
        );
        let history = browser
            .wait_for_text("#history", &second, COMMIT_SHOWS)
            .await;
        assert!(
            history.contains(&first) && history.contains("Applied"),
            "both applies in the history: {history}"
        );
        assert_same_origin(&browser, &page).await;
        browser.screenshot("node-after-commit").await;

        control(&node, &["pin", &first, "--reason", "api must say hello"]);
        let sync = browser.wait_for_text("#sync", "Pinned", COMMIT_SHOWS).await;
        assert!(sync.contains("Reason: api must say hello"), "{sync}");
        let history = browser
            .wait_for_text("#history", "Applied, pinned", COMMIT_SHOWS)
            .await;
        assert!(history.contains(&first), "{history}");
        browser.screenshot("node-pinned").await;

        assert_fits_a_phone(&browser, "node-phone").await;
    });
}

#[test]
fn a_hostile_error_is_text_and_the_page_works_without_scripts() {
    let origin = Origin::new();
    deployment(&origin, "web", test_image(), "hello");
    let first = origin.commit("web");
    let node = Node::start("dash-hostile", origin.bare().to_str().unwrap());
    wait_applied(&node, &first, &["web"]);
    let page = format!("http://127.0.0.1:{}/", node.status_port);
    // Without double quotes, which the error message would show escaped.
    let hostile = "<img src=x onerror=window.pwned=1><script>window.pwned=2</script>";

    runtime().block_on(async {
        let plain = Browser::start(Scripts::Off, 1280, 1000).await;
        plain.goto(&page).await;
        // The reload inside <noscript> is in the page only when scripts are off.
        plain
            .client
            .find(fantoccini::Locator::Css("meta[http-equiv=refresh]"))
            .await
            .expect("scripts are off");
        let row = plain.text("#deployment-web").await;
        for fact in ["web", "Ready", "1 / 1", "running", test_image()] {
            assert!(row.contains(fact), "{fact} in the row {row:?}");
        }

        deployment(&origin, "web", hostile, "hello");
        let bad = origin.commit("a hostile image reference");
        // Without scripts the page still follows the node: it reloads itself.
        let sync = plain.wait_for_text("#sync", hostile, COMMIT_SHOWS).await;
        assert!(sync.contains("Invalid revision") && sync.contains(&bad), "{sync}");
        plain.screenshot("node-no-scripts-invalid-revision").await;

        let browser = Browser::start(Scripts::On, 1280, 1000).await;
        browser.goto(&page).await;
        let sync = browser.text("#sync").await;
        assert!(sync.contains(hostile), "shown as text: {sync}");
        let ran = browser
            .eval("return [window.pwned === undefined, document.querySelectorAll('main img, main script').length];")
            .await;
        assert_eq!(ran, serde_json::json!([true, 0]), "the hostile markup ran");
        browser.screenshot("node-hostile-error").await;
    });
}

/// `orun fleet dashboard` as a child process, ended when dropped.
struct FleetDashboard {
    child: Child,
    port: u16,
}

impl FleetDashboard {
    fn start(origin: &Origin) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_orun"))
            .args(["fleet", "dashboard", "--repo"])
            .arg(origin.work())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("orun fleet dashboard");
        let dashboard = FleetDashboard { child, port };
        assert!(
            eventually(Duration::from_secs(20), || http_get(port, "/fleet.json")
                .is_some()),
            "the fleet dashboard did not come up"
        );
        dashboard
    }
}

impl Drop for FleetDashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_fleet_page_has_a_row_per_node_linking_to_its_dashboard() {
    let origin = Origin::new();
    origin.write("README.md", "fleet\n");
    origin.commit("empty start");
    let url = origin.bare().to_str().unwrap().to_string();
    let first = Node::start("dash-fleet-a", &url);
    let second = Node::start("dash-fleet-b", &url);
    publish(&origin, &first, "dash-fleet-a");
    publish(&origin, &second, "dash-fleet-b");
    let gone = free_port();
    origin.write(
        "nodes/dash-fleet-c.yaml",
        &format!(
            "apiVersion: run.orcra.dev/v0alpha\nkind: Node\nmetadata:\n  name: dash-fleet-c\nspec:\n  \
             host: 127.0.0.1\n  gitRepo: {url}\n  environment: {}-c\n  statusAddr: 127.0.0.1:{gone}\n",
            first.environment
        ),
    );
    deployment(&origin, "web", test_image(), "hello");
    let commit = origin.commit("web on every node");
    for node in [&first, &second] {
        wait_applied(node, &commit, &["web"]);
    }
    let dashboard = FleetDashboard::start(&origin);
    let page = format!("http://127.0.0.1:{}", dashboard.port);

    let served: Value =
        serde_json::from_str(&http_get(dashboard.port, "/fleet.json").unwrap()).unwrap();
    let printed = Command::new(env!("CARGO_BIN_EXE_orun"))
        .args(["fleet", "status", "--output", "json", "--repo"])
        .arg(origin.work())
        .output()
        .unwrap();
    let printed: Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(
        served, printed,
        "/fleet.json is `orun fleet status --output json`"
    );

    runtime().block_on(async {
        let browser = Browser::start(Scripts::On, 1280, 800).await;
        browser.goto(&format!("{page}/")).await;
        assert!(browser.text("#top").await.contains("1 need attention"));
        for (node, row_id) in [
            (&first, "#node-dash-fleet-a"),
            (&second, "#node-dash-fleet-b"),
        ] {
            let row = browser.text(row_id).await;
            for fact in [
                "Reachable",
                "Synced",
                "Healthy",
                "1 / 1",
                &node.environment,
                &commit[..12],
            ] {
                assert!(row.contains(fact), "{fact} in the row {row:?}");
            }
            let href = browser
                .eval(&format!(
                    "return document.querySelector('{row_id} a').getAttribute('href');"
                ))
                .await;
            assert_eq!(
                href,
                Value::from(format!("http://127.0.0.1:{}/", node.status_port))
            );
        }
        let silent = browser.text("#node-dash-fleet-c").await;
        assert!(
            silent.contains("Unreachable") && silent.contains("unreachable"),
            "{silent}"
        );
        let why = browser.text("#node-dash-fleet-c-error").await;
        assert!(
            why.contains(&format!("http://127.0.0.1:{gone}/status")),
            "{why}"
        );
        assert_same_origin(&browser, &page).await;
        browser.screenshot("fleet").await;

        assert_fits_a_phone(&browser, "fleet-phone").await;

        // A row's link opens that node's own dashboard.
        browser.click("#node-dash-fleet-a a").await;
        let heading = browser
            .wait_for_text("h1", "dash-fleet-a", Duration::from_secs(10))
            .await;
        assert_eq!(heading, "dash-fleet-a");
    });
}
