//! Compose's durations (Go's `1m30s`, `1.5s`, `500ms`) and byte sizes (`64m`, `1gb`, a plain
//! number of bytes) turned into orun's duration and size text. It does not check orun's bounds:
//! the written manifest goes through the ordinary loader.

use crate::duration::Duration;

/// Reads a Go duration such as `1m30s` or `1.5s` and writes it as orun does (`1m30s`, `1s500ms`).
pub fn duration(text: &str) -> Option<String> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(Duration::from_secs(0).to_string());
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_length = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let number: f64 = rest[..number_length].parse().ok()?;
        rest = &rest[number_length..];
        let unit_length = rest
            .bytes()
            .take_while(|b| !(b.is_ascii_digit() || *b == b'.'))
            .count();
        let scale = match &rest[..unit_length] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_length..];
        nanos += number * scale;
    }
    let millis = (nanos / 1e6).ceil();
    Some(Duration::from_millis(millis as u64).to_string())
}

/// Reads a Docker memory size (`512m`, `1gb`, `1.5g`, `2048`; units are powers of 1024, as
/// Docker reads `mem_limit` and `shm_size`) and writes it with orun's binary units (`512Mi`).
pub fn binary_size(text: &str) -> Option<String> {
    let lower = text.trim().to_ascii_lowercase();
    let unit_start = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let number: f64 = lower[..unit_start].parse().ok()?;
    let unit = lower[unit_start..].trim();
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        _ => return None,
    };
    let bytes = (number * 1024f64.powi(power)).round() as u64;
    Some(bytes_text(bytes))
}

/// The largest binary unit that divides `bytes` exactly.
pub fn bytes_text(bytes: u64) -> String {
    for (suffix, size) in [
        ("Ti", 1u64 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ] {
        if bytes >= size && bytes % size == 0 {
            return format!("{}{suffix}", bytes / size);
        }
    }
    format!("{}k", bytes.div_ceil(1000))
}

/// A json-file `max-size` (`10m`, `1g`, `500k`), which orun reads with the same 1000-based units.
pub fn log_size(text: &str) -> Option<String> {
    let lower = text.trim().to_ascii_lowercase();
    let unit_start = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(unit_start);
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let valid = !number.is_empty() && matches!(unit, "" | "k" | "m" | "g");
    valid.then(|| format!("{number}{unit}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_become_orun_durations() {
        assert_eq!(duration("1m30s").as_deref(), Some("1m30s"));
        assert_eq!(duration("1.5s").as_deref(), Some("1s500ms"));
        assert_eq!(duration("90s").as_deref(), Some("1m30s"));
        assert_eq!(duration("500ms").as_deref(), Some("500ms"));
        assert_eq!(duration("1h").as_deref(), Some("1h"));
        assert_eq!(duration("0").as_deref(), Some("0s"));
        assert_eq!(duration("10 parsecs"), None);
        assert_eq!(duration("10"), None);
    }

    #[test]
    fn docker_sizes_become_binary_sizes() {
        assert_eq!(binary_size("512m").as_deref(), Some("512Mi"));
        assert_eq!(binary_size("1gb").as_deref(), Some("1Gi"));
        assert_eq!(binary_size("1.5G").as_deref(), Some("1536Mi"));
        assert_eq!(binary_size("2048").as_deref(), Some("2Ki"));
        assert_eq!(binary_size("1000").as_deref(), Some("1k"));
        assert_eq!(binary_size("lots"), None);
        assert_eq!(log_size("10M").as_deref(), Some("10m"));
        assert_eq!(log_size("200kb").as_deref(), Some("200k"));
        assert_eq!(log_size("ten"), None);
    }
}
