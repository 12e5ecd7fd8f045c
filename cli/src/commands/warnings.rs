//! The warnings the libraries log while a one-shot command runs (an age identity other users can
//! read, registry credentials left out of a build), printed on stderr as `warning: …` lines with
//! their control characters escaped. Only warnings and errors are shown; `orun start` sets up its
//! own logging instead.

use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::render::escaped;

/// Installs the stderr warning output for this process; a second call changes nothing.
pub fn to_stderr() {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .event_format(Warning)
        .try_init();
}

/// Formats an event as one `warning: <message> <field>=<value>…` line.
struct Warning;

impl<S, N> FormatEvent<S, N> for Warning
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = String::new();
        context
            .field_format()
            .format_fields(Writer::new(&mut fields), event)?;
        let word = if *event.metadata().level() == tracing::Level::ERROR {
            "error"
        } else {
            "warning"
        };
        writeln!(writer, "{word}: {}", escaped(&fields))
    }
}
