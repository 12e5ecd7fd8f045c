//! Where each node of a file is, by the field path its errors name (`spec.volumes[1].containerPath`,
//! as `serde_path_to_error` writes it): the line and column of its key and of its value. The
//! parser locates an error that a type raises after reading its value (a path that must be
//! absolute, a probe without a check) at the enclosing mapping or sequence, which can be a parent's
//! or a sibling's line; `load` moves such an error to the field itself. It does not decide what an
//! error says.

use std::collections::BTreeMap;

use crate::limits::{walk, EventKind};

/// A 1-based line and column.
pub type Position = (usize, usize);

/// Where one node is: its key in a mapping (none for a sequence element) and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub key: Option<Position>,
    pub value: Position,
}

impl Place {
    /// Where an error about the node points: its value when that starts on the key's line (or
    /// the node has no key), else its key, whose line is the field's own.
    pub fn start(&self) -> Position {
        match self.key {
            Some(key) if key.0 != self.value.0 => key,
            _ => self.value,
        }
    }
}

/// Marks the path of a node inside a key that is not plain text, whose nodes get no path.
const NO_PATH: &str = "\u{0}";

/// An open mapping or sequence and the path of the node it is.
enum Frame {
    Mapping {
        path: String,
        /// The key just read, with its position, while its value is awaited.
        key: Option<(Option<String>, Position)>,
    },
    Sequence {
        path: String,
        next: usize,
    },
}

/// Every node of `text` with a field path, the first occurrence of each path kept. Keys that are
/// not plain text (a mapping as a key) give their nodes no path.
pub fn places(text: &str) -> BTreeMap<String, Place> {
    let mut places = BTreeMap::new();
    let mut open: Vec<Frame> = Vec::new();
    walk(text, |event| {
        let position = (event.line, event.column);
        let is_end = matches!(event.kind, EventKind::MappingEnd | EventKind::SequenceEnd);
        if is_end {
            open.pop();
            return true;
        }
        // A key of a mapping: remember it and wait for its value.
        if let Some(Frame::Mapping {
            key: key @ None, ..
        }) = open.last_mut()
        {
            let text = match &event.kind {
                EventKind::Scalar { value, .. } => String::from_utf8(value.clone()).ok(),
                _ => None,
            };
            *key = Some((text, position));
            if matches!(
                event.kind,
                EventKind::MappingStart { .. } | EventKind::SequenceStart { .. }
            ) {
                // A complex key: its contents get no path; the frame only absorbs its end.
                open.push(Frame::Sequence {
                    path: NO_PATH.to_string(),
                    next: 0,
                });
            }
            return true;
        }
        let (path, key) = match open.last_mut() {
            None => (Some(String::new()), None),
            Some(Frame::Mapping { path, key }) => {
                let (name, at) = key.take().expect("a value follows its key");
                let child = match (path.contains(NO_PATH), name) {
                    (false, Some(name)) if path.is_empty() => Some(name),
                    (false, Some(name)) => Some(format!("{path}.{name}")),
                    _ => None,
                };
                (child, Some(at))
            }
            Some(Frame::Sequence { path, next }) => {
                let child = (!path.contains(NO_PATH)).then(|| format!("{path}[{next}]"));
                *next += 1;
                (child, None)
            }
        };
        if let Some(path) = &path {
            places.entry(path.clone()).or_insert(Place {
                key,
                value: position,
            });
        }
        let inner = path.unwrap_or_else(|| NO_PATH.to_string());
        match event.kind {
            EventKind::MappingStart { .. } => open.push(Frame::Mapping {
                path: inner,
                key: None,
            }),
            EventKind::SequenceStart { .. } => open.push(Frame::Sequence {
                path: inner,
                next: 0,
            }),
            _ => {}
        }
        true
    });
    places
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_its_key_and_value() {
        let text = "spec:\n  image: nginx\n  health:\n    liveness: {}\n    readiness:\n      tcp: x\n  volumes:\n    - hostPath: /a\n    - {name: b, containerPath: c}\n";
        let found = places(text);
        assert_eq!(
            found["spec.image"],
            Place {
                key: Some((2, 3)),
                value: (2, 10)
            }
        );
        assert_eq!(found["spec.health.liveness"].start(), (4, 15));
        assert_eq!(found["spec.health.readiness"].start(), (5, 5));
        assert_eq!(found["spec.volumes[1]"].start(), (9, 7));
        assert_eq!(found["spec.volumes[1].containerPath"].start(), (9, 32));
        assert_eq!(found["spec.volumes[0].hostPath"].start(), (8, 17));
    }

    #[test]
    fn complex_keys_give_no_paths_and_do_not_confuse_the_rest() {
        let text = "? [a, b]\n: {c: 1}\nd: {e: 2}\n";
        let found = places(text);
        assert_eq!(found["d.e"].start(), (3, 8));
        assert!(!found.keys().any(|path| path.contains('c')), "{found:?}");
    }
}
