//! Durations as manifests write them (`500ms`, `5s`, `1m30s`, `2h`): parsing, the upper bound every
//! duration must respect, and canonical text; no clock.

use std::fmt;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative span of time written with units, e.g. `1m30s`, at most [`Duration::MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(std::time::Duration);

/// A duration text that cannot be read, or that is longer than [`Duration::MAX`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error(
        "invalid duration {0:?}: expected a number with a unit, such as 500ms, 5s, 1m30s or 2h"
    )]
    Invalid(String),
    #[error("duration {0:?} is too long: at most 24h")]
    TooLong(String),
}

impl Duration {
    /// The longest duration a manifest or flag may give: every timeout, interval and deadline is
    /// added to clock readings, and a day is far beyond any sensible value while keeping that
    /// arithmetic clear of overflow.
    pub const MAX: Duration = Duration::from_secs(24 * 60 * 60);

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
        // A bare number has no unit and is ambiguous; humantime would reject it too,
        // but leading/trailing spaces are accepted by humantime and not by us.
        if text.trim() != text || text.is_empty() {
            return Err(DurationError::Invalid(text.to_string()));
        }
        let parsed = match humantime::parse_duration(text) {
            Ok(parsed) => Duration(parsed),
            Err(humantime::DurationError::NumberOverflow) => {
                return Err(DurationError::TooLong(text.to_string()))
            }
            Err(_) => return Err(DurationError::Invalid(text.to_string())),
        };
        if parsed > Duration::MAX {
            return Err(DurationError::TooLong(text.to_string()));
        }
        Ok(parsed)
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
    fn durations_longer_than_a_day_are_refused_as_too_long() {
        assert_eq!("24h".parse(), Ok(Duration::MAX));
        for text in [
            "24h1s",
            "2d",
            "18446744073709551600s",
            "500000000000y",
            "99999999999999999999999h",
        ] {
            assert_eq!(
                text.parse::<Duration>().unwrap_err().to_string(),
                format!("duration {text:?} is too long: at most 24h")
            );
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
