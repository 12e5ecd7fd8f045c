//! Headless Chromium driven through WebDriver (`fantoccini` against Debian's `chromedriver`): a
//! chromedriver on a free port in its own process group per browser, so that dropping the
//! [`Browser`] ends chromedriver and every Chromium it started even when the test failed, and
//! screenshots kept under `target/dashboard-screenshots/`.

use std::fs;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use super::{eventually, free_port};

/// Where the tests keep their screenshots: `target/dashboard-screenshots/<name>.png`.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target folder")
        .join("dashboard-screenshots")
}

/// Whether pages may run their scripts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scripts {
    On,
    Off,
}

/// One chromedriver with one headless Chromium session.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Browser {
    /// A session `width` × `height` CSS pixels wide and tall.
    pub async fn start(scripts: Scripts, width: u32, height: u32) -> Self {
        super::lab::require();
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: the drop ends chromedriver and its browsers together.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let mut browser_guard = DriverGuard(Some(driver));
        assert!(
            eventually(Duration::from_secs(20), || TcpStream::connect((
                "127.0.0.1",
                port
            ))
            .is_ok()),
            "chromedriver did not listen on port {port}"
        );
        let mut options = json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                format!("--window-size={width},{height}"),
            ],
        });
        if scripts == Scripts::Off {
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let capabilities = json!({ "browserName": "chrome", "goog:chromeOptions": options });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object literal")
        };
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session with headless Chromium");
        Browser {
            client,
            driver: browser_guard.0.take().expect("the driver"),
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page loads");
    }

    /// The visible text of the first element matching `css`. The page swaps its parts (or
    /// reloads) every few seconds, so an element found may be gone when its text is asked for:
    /// then it is looked up again.
    pub async fn text(&self, css: &str) -> String {
        let mut last_error = String::new();
        for _ in 0..10 {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => match element.text().await {
                    Ok(text) => return text,
                    Err(error) => last_error = error.to_string(),
                },
                Err(error) => last_error = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("no text of {css} on the page: {last_error}")
    }

    /// Clicks the first element matching `css`, looking it up again if the page swapped it away
    /// in between.
    pub async fn click(&self, css: &str) {
        let mut last_error = String::new();
        for _ in 0..10 {
            match self.client.find(Locator::Css(css)).await {
                Ok(element) => match element.click().await {
                    Ok(()) => return,
                    Err(error) => last_error = error.to_string(),
                },
                Err(error) => last_error = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("cannot click {css}: {last_error}")
    }

    /// The value of a script's `return`.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("{script}: {error}"))
    }

    /// Waits up to `limit` for `css`'s text to contain `expected`; its last text either way.
    pub async fn wait_for_text(&self, css: &str, expected: &str, limit: Duration) -> String {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let text = self.text(css).await;
            if text.contains(expected) || std::time::Instant::now() >= deadline {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Saves a PNG of the window as `target/dashboard-screenshots/<name>.png`; its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = screenshot_dir();
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        fs::write(&path, png).unwrap();
        path
    }

    /// Every URL the page has loaded or fetched so far, itself included.
    pub async fn requested_urls(&self) -> Vec<String> {
        let entries = self
            .eval("return performance.getEntries().map(e => e.name).filter(n => n.includes(':'));")
            .await;
        entries
            .as_array()
            .expect("a list")
            .iter()
            .map(|url| url.as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        end_group(&mut self.driver);
    }
}

/// Ends chromedriver's process group if the session never came up.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(driver) = &mut self.0 {
            end_group(driver);
        }
    }
}

fn end_group(driver: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", driver.id())])
        .status();
    let _ = driver.wait();
}
