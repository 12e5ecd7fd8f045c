//! Limits on the YAML orun parses (docs/manifests.md#input-limits), checked before a file reaches
//! the YAML parser: its size, how deep it nests and how many nodes its aliases expand to. The
//! parser's time grows with the square of the nesting and alias expansion multiplies the work of
//! every later pass, so a small hostile file could otherwise stall the node. A leading UTF-8 byte
//! order mark is dropped here too. The walk over the parser's events is shared with the loader,
//! which locates fields with it. It reads no file: callers that read from disk also stop reading
//! at [`MAX_FILE_BYTES`].

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::mem::MaybeUninit;

use unsafe_libyaml as yaml_unsafe;

/// The largest manifest or `secrets.yaml`, in bytes (1 MiB).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// The largest total of a revision's manifests, in bytes (16 MiB).
pub const MAX_REVISION_BYTES: usize = 16 * 1024 * 1024;

/// The deepest nesting of mappings and sequences a file may have.
pub const MAX_NESTING_DEPTH: usize = 64;

/// The most YAML nodes a file may hold once its aliases are expanded.
pub const MAX_NODES: u64 = 100_000;

/// The UTF-8 byte order mark some editors put at the start of a file.
const BYTE_ORDER_MARK: char = '\u{feff}';

/// A file over one of the limits; `line` and `column` are 1-based.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error(
        "the file is {size} bytes, more than the limit of {} bytes (1 MiB)",
        MAX_FILE_BYTES
    )]
    TooLarge { size: usize },
    #[error("nested more than {MAX_NESTING_DEPTH} levels deep")]
    TooDeep { line: usize, column: usize },
    #[error("more than {MAX_NODES} YAML nodes once its aliases are expanded")]
    TooManyNodes { line: usize, column: usize },
}

impl LimitError {
    /// Where the limit was crossed, when it is a place in the file.
    pub fn location(&self) -> Option<(usize, usize)> {
        match self {
            LimitError::TooLarge { .. } => None,
            LimitError::TooDeep { line, column } | LimitError::TooManyNodes { line, column } => {
                Some((*line, *column))
            }
        }
    }
}

/// Checks `text` against the limits and returns it without a leading byte order mark. A file the
/// parser cannot read passes, for the parser to report its syntax error.
pub fn check(text: &str) -> Result<&str, LimitError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(LimitError::TooLarge { size: text.len() });
    }
    let text = text.strip_prefix(BYTE_ORDER_MARK).unwrap_or(text);
    scan(text)?;
    Ok(text)
}

/// Walks the parser's events and stops at the first event past a limit. Stopping there keeps the
/// scan linear: the parser's quadratic cost only sets in at deep nesting.
fn scan(text: &str) -> Result<(), LimitError> {
    let mut count = NodeCount::default();
    let mut result = Ok(());
    walk(text, |event| {
        let node = match event.kind {
            EventKind::Scalar { anchor, .. } => Node::Scalar(anchor),
            EventKind::SequenceStart { anchor } | EventKind::MappingStart { anchor } => {
                Node::Start(anchor)
            }
            EventKind::SequenceEnd | EventKind::MappingEnd => Node::End,
            EventKind::Alias { anchor } => Node::Alias(anchor),
        };
        match count.add(node) {
            Ok(()) => true,
            Err(limit) => {
                let (line, column) = (event.line, event.column);
                result = Err(match limit {
                    Limit::Depth => LimitError::TooDeep { line, column },
                    Limit::Nodes => LimitError::TooManyNodes { line, column },
                });
                false
            }
        }
    });
    result
}

/// One structural event of the YAML parser, where it starts (1-based line and column).
pub(crate) struct Event {
    pub kind: EventKind,
    pub line: usize,
    pub column: usize,
}

/// What an [`Event`] is, with the anchor it defines or refers to and a scalar's text.
pub(crate) enum EventKind {
    Scalar {
        anchor: Option<Vec<u8>>,
        value: Vec<u8>,
    },
    SequenceStart {
        anchor: Option<Vec<u8>>,
    },
    MappingStart {
        anchor: Option<Vec<u8>>,
    },
    SequenceEnd,
    MappingEnd,
    Alias {
        anchor: Option<Vec<u8>>,
    },
}

/// Hands the parser's structural events of `text` to `on` in order until it answers `false`, the
/// document ends or the parser fails (a file the parser cannot read is left to it to report). The
/// parser is the libyaml parser, configured as `serde_yaml` configures it, so both read the same
/// structure.
pub(crate) fn walk(text: &str, mut on: impl FnMut(Event) -> bool) {
    let mut parser = Box::<yaml_unsafe::yaml_parser_t>::new_uninit();
    let parser = parser.as_mut_ptr();
    let mut event = MaybeUninit::<yaml_unsafe::yaml_event_t>::uninit();
    let event = event.as_mut_ptr();
    // SAFETY: `parser` points to memory owned by the box above, initialized by
    // `yaml_parser_initialize` before any other use and released by `yaml_parser_delete` on
    // every path after a successful initialization. The input string outlives the parser. Each
    // event is read only between a successful `yaml_parser_parse` and its `yaml_event_delete`;
    // anchor names and scalar values are owned by that event and copied before deletion.
    unsafe {
        if yaml_unsafe::yaml_parser_initialize(parser).fail {
            return;
        }
        yaml_unsafe::yaml_parser_set_encoding(parser, yaml_unsafe::YAML_UTF8_ENCODING);
        yaml_unsafe::yaml_parser_set_input_string(parser, text.as_ptr(), text.len() as u64);
        while yaml_unsafe::yaml_parser_parse(parser, event).ok {
            let type_ = (*event).type_;
            let mark = (*event).start_mark;
            let kind = match type_ {
                yaml_unsafe::YAML_SCALAR_EVENT => {
                    let scalar = &(*event).data.scalar;
                    let value = if scalar.value.is_null() {
                        Vec::new()
                    } else {
                        std::slice::from_raw_parts(scalar.value, scalar.length as usize).to_vec()
                    };
                    Some(EventKind::Scalar {
                        anchor: anchor(scalar.anchor),
                        value,
                    })
                }
                yaml_unsafe::YAML_SEQUENCE_START_EVENT => Some(EventKind::SequenceStart {
                    anchor: anchor((*event).data.sequence_start.anchor),
                }),
                yaml_unsafe::YAML_MAPPING_START_EVENT => Some(EventKind::MappingStart {
                    anchor: anchor((*event).data.mapping_start.anchor),
                }),
                yaml_unsafe::YAML_SEQUENCE_END_EVENT => Some(EventKind::SequenceEnd),
                yaml_unsafe::YAML_MAPPING_END_EVENT => Some(EventKind::MappingEnd),
                yaml_unsafe::YAML_ALIAS_EVENT => Some(EventKind::Alias {
                    anchor: anchor((*event).data.alias.anchor),
                }),
                _ => None,
            };
            yaml_unsafe::yaml_event_delete(event);
            if type_ == yaml_unsafe::YAML_STREAM_END_EVENT {
                break;
            }
            let Some(kind) = kind else { continue };
            let event = Event {
                kind,
                line: mark.line as usize + 1,
                column: mark.column as usize + 1,
            };
            if !on(event) {
                break;
            }
        }
        yaml_unsafe::yaml_parser_delete(parser);
    }
}

/// The anchor name an event carries, if any.
///
/// # Safety
/// `name` is null or a NUL-terminated string that is valid for the duration of the call.
unsafe fn anchor(name: *const u8) -> Option<Vec<u8>> {
    if name.is_null() {
        None
    } else {
        // SAFETY: guaranteed by the caller.
        Some(unsafe { CStr::from_ptr(name.cast()) }.to_bytes().to_vec())
    }
}

/// One structural event of the parser, with the anchor it defines or refers to.
enum Node {
    Scalar(Option<Vec<u8>>),
    Start(Option<Vec<u8>>),
    End,
    Alias(Option<Vec<u8>>),
}

enum Limit {
    Depth,
    Nodes,
}

/// The nesting depth so far and the number of nodes the document has once aliases are expanded:
/// an alias counts as many nodes as the node its anchor names.
#[derive(Default)]
struct NodeCount {
    /// For each open collection: its anchor and the node total when it started.
    open: Vec<(Option<Vec<u8>>, u64)>,
    total: u64,
    anchored: BTreeMap<Vec<u8>, u64>,
}

impl NodeCount {
    fn add(&mut self, node: Node) -> Result<(), Limit> {
        match node {
            Node::Scalar(anchor) => {
                self.total += 1;
                if let Some(anchor) = anchor {
                    self.anchored.insert(anchor, 1);
                }
            }
            Node::Start(anchor) => {
                self.open.push((anchor, self.total));
                self.total += 1;
                if self.open.len() > MAX_NESTING_DEPTH {
                    return Err(Limit::Depth);
                }
            }
            Node::End => {
                if let Some((Some(anchor), start)) = self.open.pop() {
                    self.anchored.insert(anchor, self.total - start);
                }
            }
            Node::Alias(anchor) => {
                let size = anchor
                    .and_then(|anchor| self.anchored.get(&anchor).copied())
                    .unwrap_or(1);
                self.total = self.total.saturating_add(size);
            }
        }
        if self.total > MAX_NODES {
            return Err(Limit::Nodes);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn nesting_up_to_the_limit_passes_and_one_more_level_fails() {
        assert!(check(&flow(MAX_NESTING_DEPTH)).is_ok());
        assert_eq!(
            check(&flow(MAX_NESTING_DEPTH + 1)),
            Err(LimitError::TooDeep {
                line: 1,
                column: MAX_NESTING_DEPTH + 1
            })
        );
    }

    #[test]
    fn block_nesting_counts_like_flow_nesting() {
        let block: String = (0..=MAX_NESTING_DEPTH)
            .map(|level| format!("{}a:\n", "  ".repeat(level)))
            .collect::<String>()
            + &"  ".repeat(MAX_NESTING_DEPTH + 1)
            + "b: 1\n";
        assert!(matches!(check(&block), Err(LimitError::TooDeep { .. })));
        let compact = format!("{}x\n", "- ".repeat(MAX_NESTING_DEPTH + 1));
        assert!(matches!(check(&compact), Err(LimitError::TooDeep { .. })));
    }

    #[test]
    fn a_deeply_nested_megabyte_is_refused_at_once() {
        // Without the early stop the parser needs minutes for this text.
        let bomb = flow(MAX_FILE_BYTES / 2 - 1);
        assert!(matches!(check(&bomb), Err(LimitError::TooDeep { .. })));
    }

    #[test]
    fn aliases_count_as_the_nodes_they_expand_to() {
        let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..10 {
            let previous = format!("*a{}", level - 1);
            let items = [previous.as_str(); 10].join(", ");
            laughs.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        assert!(matches!(
            check(&laughs),
            Err(LimitError::TooManyNodes { .. })
        ));
        let few = "base: &base {a: 1, b: 2}\nweb: *base\napi: *base\n";
        assert!(check(few).is_ok());
    }

    #[test]
    fn size_is_checked_before_anything_else() {
        let huge = "#".repeat(MAX_FILE_BYTES + 1);
        assert_eq!(
            check(&huge),
            Err(LimitError::TooLarge {
                size: MAX_FILE_BYTES + 1
            })
        );
        assert!(check(&"#".repeat(MAX_FILE_BYTES)).is_ok());
    }

    #[test]
    fn a_byte_order_mark_is_dropped_and_syntax_errors_are_left_to_the_parser() {
        assert_eq!(check("\u{feff}a: 1\n"), Ok("a: 1\n"));
        assert_eq!(check("a: [1\n"), Ok("a: [1\n"));
    }
}
