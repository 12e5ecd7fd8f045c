//! Durations as manifests write them (`500ms`, `5s`, `1m30s`, `2h`): parsing and canonical text; no clock.

use std::fmt;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative span of time written with units, e.g. `1m30s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

/// A duration text that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {text:?}: expected a number with a unit, such as 500ms, 5s, 1m30s or 2h")]
pub struct DurationError {
    text: String,
}

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Duration(std::time::Duration::from_secs(secs))
    }

    pub const fn from_millis(millis: u64) -> Self {
        Duration(std::time::Duration::from_millis(millis))
    }

    pub const fn as_std(&self) -> std::time::Duration {
        self.0
    }

    pub const fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl From<std::time::Duration> for Duration {
    fn from(value: std::time::Duration) -> Self {
        Duration(value)
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || DurationError {
            text: text.to_string(),
        };
        // A bare number has no unit and is ambiguous; humantime would reject it too,
        // but leading/trailing spaces are accepted by humantime and not by us.
        if text.trim() != text || text.is_empty() {
            return Err(error());
        }
        humantime::parse_duration(text)
            .map(Duration)
            .map_err(|_| error())
    }
}

impl fmt::Display for Duration {
    /// Canonical text without spaces, e.g. `1m30s`, `1s500ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = humantime::format_duration(self.0).to_string();
        f.write_str(&text.replace(' ', ""))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 500ms, 5s, 1m30s or 2h")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
                text.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_examples() {
        assert_eq!("500ms".parse(), Ok(Duration::from_millis(500)));
        assert_eq!("5s".parse(), Ok(Duration::from_secs(5)));
        assert_eq!("1m30s".parse(), Ok(Duration::from_secs(90)));
        assert_eq!("2h".parse(), Ok(Duration::from_secs(7200)));
    }

    #[test]
    fn rejects_numbers_without_unit_and_garbage() {
        for text in ["5", "", " 5s", "5 parsecs", "-1s", "s"] {
            assert!(text.parse::<Duration>().is_err(), "{text:?} parsed");
        }
    }

    #[test]
    fn canonical_text_round_trips() {
        for text in ["500ms", "5s", "1m30s", "2h", "1s500ms", "0s"] {
            let parsed: Duration = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
        }
    }
}
