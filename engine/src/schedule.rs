//! Cron schedules of scheduled jobs (docs/manifests.md): five-field expressions and the usual
//! `@hourly`-style forms, read in UTC, and the next time one fires after a given time. The time is
//! always an input: this module reads no clock and decides nothing about running.

use chrono::{DateTime, Utc};
use croner::Cron;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A checked cron expression, kept as written.
#[derive(Clone)]
pub struct Schedule {
    text: String,
    /// Boxed: a parsed expression is large, and schedules sit in enums beside small variants.
    cron: Box<Cron>,
}

impl Schedule {
    /// Reads `text` as a five-field cron expression (minute, hour, day of month, month, day of
    /// week) or an `@yearly`, `@monthly`, `@weekly`, `@daily` or `@hourly` form; the error says
    /// what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        if !trimmed.starts_with('@') {
            let fields = trimmed.split_whitespace().count();
            if fields != 5 {
                return Err(format!(
                    "invalid cron expression {text:?}: it has {fields} field(s), expected 5 \
                     (minute hour day-of-month month day-of-week) or an @-form such as @hourly"
                ));
            }
        }
        let cron = Cron::new(trimmed)
            .parse()
            .map_err(|error| format!("invalid cron expression {text:?}: {error}"))?;
        Ok(Schedule {
            text: text.to_string(),
            cron: Box::new(cron),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first time strictly after `after` that the schedule fires, to the minute; `None`
    /// when it never fires again (a date that never comes, such as 30 February).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(&after, false).ok()
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Schedule {}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Schedule::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for Schedule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// The name part of a scheduled run's container: its minute in UTC as `yyyymmddHHMM`, twelve
/// digits that sort as the runs do (`202612061005`).
pub fn run_stamp(time: DateTime<Utc>) -> String {
    time.format("%Y%m%d%H%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn five_fields_and_at_forms_fire_in_utc() {
        let every_minute = Schedule::parse("* * * * *").unwrap();
        assert_eq!(
            every_minute.next_after(at("2026-12-06T10:05:30Z")),
            Some(at("2026-12-06T10:06:00Z"))
        );
        assert_eq!(
            every_minute.next_after(at("2026-12-06T10:06:00Z")),
            Some(at("2026-12-06T10:07:00Z")),
            "strictly after"
        );
        let hourly = Schedule::parse("@hourly").unwrap();
        assert_eq!(
            hourly.next_after(at("2026-12-06T10:05:00Z")),
            Some(at("2026-12-06T11:00:00Z"))
        );
        let daily = Schedule::parse("@daily").unwrap();
        assert_eq!(
            daily.next_after(at("2026-12-06T10:05:00Z")),
            Some(at("2026-12-07T00:00:00Z"))
        );
        let nightly = Schedule::parse("30 2 * * 1-5").unwrap();
        assert_eq!(
            nightly.next_after(at("2026-12-05T10:00:00Z")),
            Some(at("2026-12-07T02:30:00Z")),
            "Saturday 5 December: the next weekday is Monday"
        );
    }

    #[test]
    fn a_bad_expression_says_what_is_wrong() {
        let six = Schedule::parse("0 * * * * *").unwrap_err();
        assert!(six.contains("it has 6 field(s), expected 5"), "{six}");
        let range = Schedule::parse("61 * * * *").unwrap_err();
        assert!(
            range.starts_with("invalid cron expression \"61 * * * *\": "),
            "{range}"
        );
        let word = Schedule::parse("@sometimes").unwrap_err();
        assert!(word.starts_with("invalid cron expression"), "{word}");
    }

    #[test]
    fn a_run_stamp_is_the_minute_in_utc() {
        assert_eq!(run_stamp(at("2026-12-06T10:05:59Z")), "202612061005");
    }
}
