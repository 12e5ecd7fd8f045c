//! A deserializer adapter that hides the nodes of a document already found faulty, so that another
//! pass over the same text gets past them to the next problem, and that names the node to hide
//! when a pass fails. It does not decide what a problem is or how it is reported; `load` does.
//!
//! The adapter wraps any serde deserializer, so positions and messages stay exactly those of the
//! wrapped parser. Variant contents of enums are not looked into: a problem inside one hides the
//! whole enum value.

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, Visitor};

/// Where a node sits in its document: the index of every mapping entry or sequence element on the
/// way from the root. Indexes count the entries as written, hidden ones included, so a path names
/// the same node on every pass over the same text.
pub type NodePath = Vec<usize>;

/// Deserializes a `T` from `deserializer` as if the nodes in `hidden` were not in the document.
/// On failure it returns the error with the node to hide so that the next pass gets further:
/// the innermost entry or element the error came out of, or `None` when it came from the root.
pub fn deserialize<'de, D, T>(
    deserializer: D,
    hidden: &BTreeSet<NodePath>,
) -> Result<T, (D::Error, Option<NodePath>)>
where
    D: Deserializer<'de>,
    T: de::Deserialize<'de>,
{
    let pass = Pass {
        hidden,
        culprit: RefCell::new(None),
    };
    let root = Pruning {
        inner: deserializer,
        pass: &pass,
        node: NodePath::new(),
    };
    T::deserialize(root).map_err(|error| (error, pass.culprit.into_inner()))
}

/// What one pass shares across its nested calls.
struct Pass<'a> {
    hidden: &'a BTreeSet<NodePath>,
    /// The first node an error came out of; outer nodes that see the same error keep it.
    culprit: RefCell<Option<NodePath>>,
}

impl Pass<'_> {
    fn is_hidden(&self, node: &NodePath, index: usize) -> bool {
        self.hidden.contains(&child(node, index))
    }

    fn blame(&self, node: NodePath) {
        self.culprit.borrow_mut().get_or_insert(node);
    }
}

fn child(node: &NodePath, index: usize) -> NodePath {
    let mut path = node.clone();
    path.push(index);
    path
}

/// The deserializer of the node at `node`.
struct Pruning<'p, D> {
    inner: D,
    pass: &'p Pass<'p>,
    node: NodePath,
}

impl<'p, D> Pruning<'p, D> {
    fn wrap<V>(&self, visitor: V) -> Wrap<'p, V> {
        Wrap {
            visitor,
            pass: self.pass,
            node: self.node.clone(),
        }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($argument:ident: $type:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($argument: $type,)* visitor: V) -> Result<V::Value, D::Error> {
                let visitor = self.wrap(visitor);
                self.inner.$method($($argument,)* visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Pruning<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// The visitor of the node at `node`: hands out pruning accessors for its entries and elements.
struct Wrap<'p, V> {
    visitor: V,
    pass: &'p Pass<'p>,
    node: NodePath,
}

macro_rules! forward_visit {
    ($($method:ident($type:ty);)*) => {
        $(
            fn $method<E: de::Error>(self, value: $type) -> Result<V::Value, E> {
                self.visitor.$method(value)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        self.visitor.expecting(formatter)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(Pruning {
            inner,
            pass: self.pass,
            node: self.node,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(Pruning {
            inner,
            pass: self.pass,
            node: self.node,
        })
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, inner: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_seq(Elements {
            inner,
            pass: self.pass,
            node: self.node,
            next: 0,
        })
    }

    fn visit_map<A: de::MapAccess<'de>>(self, inner: A) -> Result<V::Value, A::Error> {
        let mut entries = Entries {
            inner,
            pass: self.pass,
            node: self.node,
            next: 0,
            current: 0,
            awaiting_value: false,
        };
        let result = self.visitor.visit_map(&mut entries);
        if result.is_err() {
            // A visitor that rejects a key it has read (a duplicate field) fails between key and
            // value: the entry is to blame, not the whole mapping.
            if entries.awaiting_value {
                entries.pass.blame(child(&entries.node, entries.current));
            }
        }
        result
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, inner: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(inner)
    }
}

/// The elements of a sequence, without the hidden ones.
struct Elements<'p, A> {
    inner: A,
    pass: &'p Pass<'p>,
    node: NodePath,
    next: usize,
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Elements<'_, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        loop {
            let index = self.next;
            self.next += 1;
            if !self.pass.is_hidden(&self.node, index) {
                let element = child(&self.node, index);
                let seed = Seed {
                    seed,
                    pass: self.pass,
                    node: element.clone(),
                };
                return self.inner.next_element_seed(seed).inspect_err(|_| {
                    self.pass.blame(element);
                });
            }
            if self.inner.next_element::<IgnoredAny>()?.is_none() {
                return Ok(None);
            }
        }
    }
}

/// The entries of a mapping, without the hidden ones.
struct Entries<'p, A> {
    inner: A,
    pass: &'p Pass<'p>,
    node: NodePath,
    next: usize,
    /// The entry whose key was handed out last.
    current: usize,
    /// Whether the value of `current` has not been asked for yet.
    awaiting_value: bool,
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Entries<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            let index = self.next;
            self.next += 1;
            if !self.pass.is_hidden(&self.node, index) {
                let key = self.inner.next_key_seed(seed).inspect_err(|_| {
                    self.pass.blame(child(&self.node, index));
                })?;
                self.current = index;
                self.awaiting_value = key.is_some();
                return Ok(key);
            }
            if self.inner.next_key::<IgnoredAny>()?.is_none() {
                return Ok(None);
            }
            self.inner.next_value::<IgnoredAny>()?;
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.awaiting_value = false;
        let entry = child(&self.node, self.current);
        let seed = Seed {
            seed,
            pass: self.pass,
            node: entry.clone(),
        };
        self.inner.next_value_seed(seed).inspect_err(|_| {
            self.pass.blame(entry);
        })
    }
}

/// Deserializes an entry's value or an element through a pruning deserializer.
struct Seed<'p, S> {
    seed: S,
    pass: &'p Pass<'p>,
    node: NodePath,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Pruning {
            inner,
            pass: self.pass,
            node: self.node,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        name: String,
        #[serde(default)]
        ports: Vec<u16>,
        #[serde(default)]
        labels: BTreeMap<String, String>,
    }

    /// Every failed pass's message and blamed node, hiding each blamed node in turn, and what the
    /// last pass read when it succeeded.
    fn passes(text: &str) -> (Vec<(String, Option<NodePath>)>, Option<Doc>) {
        let mut hidden = BTreeSet::new();
        let mut seen = Vec::new();
        loop {
            let deserializer = serde_yaml::Deserializer::from_str(text);
            match deserialize::<_, Doc>(deserializer, &hidden) {
                Ok(doc) => return (seen, Some(doc)),
                Err((error, node)) => {
                    let message = error.to_string();
                    let message = message.split(" at line").next().unwrap().to_string();
                    seen.push((message, node.clone()));
                    if !node.is_some_and(|node| hidden.insert(node)) {
                        return (seen, None);
                    }
                }
            }
        }
    }

    #[test]
    fn each_pass_blames_the_innermost_node_and_gets_past_it() {
        let text = "name: a\nextra: 1\nports: [80, 99999, 443, -1]\nlabels: {a: b, c: [1]}\n";
        let (seen, doc) = passes(text);
        let nodes: Vec<Option<NodePath>> = seen.iter().map(|(_, node)| node.clone()).collect();
        assert_eq!(
            nodes,
            [
                Some(vec![1]),
                Some(vec![2, 1]),
                Some(vec![2, 3]),
                Some(vec![3, 1])
            ],
            "{seen:?}"
        );
        let expected = Doc {
            name: "a".into(),
            ports: vec![80, 443],
            labels: BTreeMap::from([("a".into(), "b".into())]),
        };
        assert_eq!(
            doc,
            Some(expected),
            "the last pass reads around the hidden nodes"
        );
    }

    #[test]
    fn a_duplicate_key_blames_its_entry() {
        let (seen, doc) = passes("name: a\nname: b\n");
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].0.contains("duplicate field `name`"), "{seen:?}");
        assert_eq!(seen[0].1, Some(vec![1]));
        assert_eq!(doc.map(|doc| doc.name), Some("a".to_string()));
    }

    #[test]
    fn a_missing_field_after_hiding_blames_the_parent() {
        let (seen, doc) = passes("name: [not, text]\n");
        assert_eq!(seen[0].1, Some(vec![0]));
        assert!(seen[1].0.contains("missing field `name`"), "{seen:?}");
        assert_eq!(seen[1].1, None, "the root cannot be hidden");
        assert_eq!(doc, None);
    }
}
