//! The dashboards' shared frame: the HTML page around a view (skip link, header, live regions,
//! footer), the stylesheet and script they load from their own host, the headers every answer
//! carries, and the small pieces of markup both views use (state words with their colour,
//! commits, times). Templates are `maud`'s, which escape every value put in them, so text from
//! manifests, Git or Docker is shown as text. `node_page.rs` is the node's view; the fleet's is
//! the CLI's. It reads no state and asks nothing: callers pass the data and the time.

pub mod node_page;

use std::time::{Duration, SystemTime};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};

/// Where the stylesheet is served.
pub const STYLESHEET_PATH: &str = "/dashboard.css";
/// Where the script is served.
pub const SCRIPT_PATH: &str = "/dashboard.js";
/// How often a page refreshes itself, in seconds: by its script in place, or by the browser
/// reloading it when scripts do not run.
pub const REFRESH_SECONDS: u64 = 4;

const STYLESHEET: &str = include_str!("dashboard/dashboard.css");
const SCRIPT: &str = include_str!("dashboard/dashboard.js");

/// Only this host's own files may load, and nothing inline runs: a string that slipped into the
/// markup unescaped still could not execute.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'";

/// A whole page: `title` in the tab, `header` (the view's name and its overall state) and `main`
/// as the view renders them, `footer` below. The elements marked `data-live` are what the script
/// swaps in place on each refresh.
pub fn page(
    title: &str,
    rendered_at: SystemTime,
    header: Markup,
    main: Markup,
    footer: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) }
                link rel="stylesheet" href=(STYLESHEET_PATH);
                script src=(SCRIPT_PATH) defer {}
                noscript { meta http-equiv="refresh" content=(REFRESH_SECONDS); }
            }
            body data-refresh=(REFRESH_SECONDS) {
                a.skip href="#content" { "Skip to content" }
                header.top id="top" data-live {
                    div.wrap {
                        (header)
                        p.updated id="updated" {
                            "Updated " (clock(rendered_at)) " UTC · refreshes every "
                            (REFRESH_SECONDS) " s"
                        }
                    }
                }
                main.wrap id="content" tabindex="-1" data-live { (main) }
                footer.wrap { (footer) }
            }
        }
    }
}

/// `router` with the stylesheet and the script at their paths.
pub fn with_assets<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .route(STYLESHEET_PATH, get(|| async { stylesheet() }))
        .route(SCRIPT_PATH, get(|| async { script() }))
}

/// A table that becomes a card per row on a narrow screen: its caption, its column headings and
/// its rows, each cell labelled (`data-label`) with its column's heading.
pub fn table(caption: &str, columns: &[&str], rows: Markup) -> Markup {
    html! {
        table.cards {
            caption { (caption) }
            thead { tr { @for column in columns { th scope="col" { (column) } } } }
            tbody { (rows) }
        }
    }
}

/// An HTML page with the dashboard's headers.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    with_headers(status, "text/html; charset=utf-8", markup.into_string())
}

/// A JSON document beside a page (the fleet's `/fleet.json`), with the dashboard's headers.
pub fn respond_json(status: StatusCode, json: String) -> Response {
    with_headers(status, "application/json", json)
}

/// The stylesheet, with the dashboard's headers.
pub fn stylesheet() -> Response {
    with_headers(
        StatusCode::OK,
        "text/css; charset=utf-8",
        STYLESHEET.to_string(),
    )
}

/// The script, with the dashboard's headers.
pub fn script() -> Response {
    with_headers(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        SCRIPT.to_string(),
    )
}

fn with_headers(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Each refresh must see the node as it is now.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// How a state reads at a glance; the word beside it always says the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Good,
    Warn,
    Bad,
    Quiet,
}

impl Tone {
    fn class(self) -> &'static str {
        match self {
            Tone::Good => "badge good",
            Tone::Warn => "badge warn",
            Tone::Bad => "badge bad",
            Tone::Quiet => "badge quiet",
        }
    }
}

/// A state as a word with its colour.
pub fn badge(tone: Tone, word: &str) -> Markup {
    html! { span class=(tone.class()) { (word) } }
}

/// The node's `healthy`, in words.
pub fn health(healthy: bool) -> Markup {
    if healthy {
        badge(Tone::Good, "Healthy")
    } else {
        badge(Tone::Bad, "Unhealthy")
    }
}

/// A `sync_state` word as people read it; a word of a newer node is shown as sent.
pub fn sync_state(state: &str) -> Markup {
    let (tone, word) = match state {
        "synced" => (Tone::Good, "Synced"),
        "syncing" => (Tone::Warn, "Syncing"),
        "starting" => (Tone::Quiet, "Starting"),
        "backoff" => (Tone::Bad, "Backing off"),
        "invalid_revision" => (Tone::Bad, "Invalid revision"),
        other => (Tone::Quiet, other),
    };
    badge(tone, word)
}

/// A commit hash: the first 12 hex digits shown, the whole hash in the element (for copying,
/// and shown whole on hover or keyboard focus); `None` as a dash.
pub fn commit(hash: Option<&str>) -> Markup {
    match hash {
        Some(hash) => html! {
            code.hash tabindex="0" title=(hash) { (hash) }
        },
        None => html! { span.none { "none yet" } },
    }
}

/// An RFC 3339 time as how long ago (or how soon) it is from `now`, the exact time in the
/// element; a text that is no such time is shown as it is.
pub fn when(time: Option<&str>, now: SystemTime) -> Markup {
    let Some(time) = time else {
        return html! { span.none { "never" } };
    };
    let Ok(at) = humantime::parse_rfc3339_weak(time) else {
        return html! { (time) };
    };
    let relative = match now.duration_since(at) {
        Ok(past) if past.as_secs() == 0 => "now".to_string(),
        Ok(past) => format!("{} ago", span(past)),
        Err(future) if future.duration().as_secs() == 0 => "now".to_string(),
        Err(future) => format!("in {}", span(future.duration())),
    };
    html! { time datetime=(time) title=(time) { (relative) } }
}

/// A duration in its largest whole unit: `12 s`, `5 min`, `3 h`, `2 d`.
pub fn span(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..=59 => format!("{seconds} s"),
        60..=3599 => format!("{} min", seconds / 60),
        3600..=86_399 => format!("{} h", seconds / 3600),
        _ => format!("{} d", seconds / 86_400),
    }
}

/// How long something has lasted, in its two largest units: `45 s`, `12 min`, `3 h 12 min`,
/// `2 d 5 h`; a zero second unit is left out (`3 h`).
pub fn lasting(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (large, small) = match seconds {
        0..=3599 => return span(duration),
        3600..=86_399 => ((seconds / 3600, "h"), (seconds % 3600 / 60, "min")),
        _ => ((seconds / 86_400, "d"), (seconds % 86_400 / 3600, "h")),
    };
    match small {
        (0, _) => format!("{} {}", large.0, large.1),
        _ => format!("{} {} {} {}", large.0, large.1, small.0, small.1),
    }
}

/// `HH:MM:SS` of `time` in UTC.
fn clock(time: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(time).to_string();
    stamp.get(11..19).unwrap_or(&stamp).to_string()
}

/// A word of the API (`spec_changed`) as prose (`spec changed`).
pub fn words(word: &str) -> String {
    word.replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_how_long_ago() {
        let now = humantime::parse_rfc3339("2026-11-26T10:05:00Z").unwrap();
        let shown = |time| when(Some(time), now).into_string();
        assert_eq!(
            shown("2026-11-26T10:04:48Z"),
            r#"<time datetime="2026-11-26T10:04:48Z" title="2026-11-26T10:04:48Z">12 s ago</time>"#
        );
        assert!(shown("2026-11-26T10:05:30Z").contains(">in 30 s<"));
        assert!(shown("2026-11-24T10:00:00Z").contains(">2 d ago<"));
        assert!(shown("2026-11-26T10:05:00Z").contains(">now<"));
        assert_eq!(shown("soon"), "soon");
        assert_eq!(
            when(None, now).into_string(),
            r#"<span class="none">never</span>"#
        );
        assert_eq!(clock(now), "10:05:00");
    }

    #[test]
    fn how_long_reads_in_two_units() {
        let shown = |seconds| lasting(Duration::from_secs(seconds));
        assert_eq!(shown(45), "45 s");
        assert_eq!(shown(12 * 60 + 5), "12 min");
        assert_eq!(shown(3 * 3600 + 12 * 60 + 5), "3 h 12 min");
        assert_eq!(shown(3 * 3600 + 30), "3 h");
        assert_eq!(shown(2 * 86_400 + 5 * 3600 + 59), "2 d 5 h");
    }

    #[test]
    fn every_answer_carries_the_policy_and_nosniff() {
        for response in [
            respond(StatusCode::OK, html! { "x" }),
            stylesheet(),
            script(),
        ] {
            let headers = response.headers();
            assert_eq!(
                headers[header::CONTENT_SECURITY_POLICY],
                "default-src 'self'"
            );
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        }
    }
}
