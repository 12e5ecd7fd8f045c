//! Reads a kind's spec, one flat mapping, into two parts: its container fields through the
//! derived `Deserialize` of `ContainerFields`, which every kind running a container shares, and
//! the kind's own fields (a Deployment's health, rollout, dependsOn) through the kind. Problems
//! read exactly as for a derived `deny_unknown_fields` struct of all the fields: an unknown field
//! lists every field of the kind, at the key's own line and column, and a duplicate names itself.
//!
//! `#[serde(flatten)]` cannot do this: it buffers the mapping before reading it, which loses
//! every error's line, column and field path, reads `1.10` as a number and cannot refuse unknown
//! fields. Here the mapping is read once, as written: the container's derived visitor asks for
//! the next key, and the kind's own entries are read in passing.

use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Unexpected, Visitor};
use serde::Deserialize;

use super::container::ContainerFields;

/// A kind whose spec is the container fields plus fields of its own.
pub trait KindSpec: Default {
    /// The name errors give the spec (`struct DeploymentSpec`).
    const NAME: &'static str;
    /// The fields that are the kind's own rather than the container's.
    const OWN_FIELDS: &'static [&'static str];

    /// Reads the value of `field`, one of [`KindSpec::OWN_FIELDS`], from `map`.
    fn read_own<'de, A: MapAccess<'de>>(
        &mut self,
        field: &'static str,
        map: &mut A,
    ) -> Result<(), A::Error>;

    fn container_mut(&mut self) -> &mut ContainerFields;

    /// Every field of the spec, in the order an unknown field's error lists them: the
    /// container's, then the kind's own (see [`kind_fields`]).
    fn fields() -> &'static [&'static str];
}

/// Every container field, then `own`, listed once in `cell`: a kind's [`KindSpec::fields`], so
/// that a field added to `ContainerFields` is a field of every kind without a list to keep.
pub fn kind_fields(
    cell: &'static OnceLock<Vec<&'static str>>,
    own: &'static [&'static str],
) -> &'static [&'static str] {
    cell.get_or_init(|| container_fields().iter().chain(own).copied().collect())
}

/// The fields of `ContainerFields`, as its derived `Deserialize` names them: read once from the
/// list it hands the deserializer, so a kind that takes every container field follows the struct.
pub fn container_fields() -> &'static [&'static str] {
    static FIELDS: OnceLock<&'static [&'static str]> = OnceLock::new();
    FIELDS.get_or_init(|| {
        let mut fields: &'static [&'static str] = &[];
        // The probe answers every request with an error once it has the list.
        let _ = ContainerFields::deserialize(FieldsProbe(&mut fields));
        fields
    })
}

/// A deserializer that only records the fields a struct asks it for.
struct FieldsProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldsProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("only a struct's fields are read"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("only a struct's fields are read"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// Deserializes a spec of kind `K`.
pub fn deserialize<'de, D: Deserializer<'de>, K: KindSpec>(deserializer: D) -> Result<K, D::Error> {
    deserializer.deserialize_struct(K::NAME, K::fields(), SpecVisitor(PhantomData))
}

struct SpecVisitor<K>(PhantomData<K>);

impl<'de, K: KindSpec> Visitor<'de> for SpecVisitor<K> {
    type Value = K;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "struct {}", K::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<K, A::Error> {
        let mut split = Split {
            map,
            spec: K::default(),
            own_read: Vec::new(),
        };
        let container =
            ContainerFields::deserialize(de::value::MapAccessDeserializer::new(&mut split))?;
        let mut spec = split.spec;
        *spec.container_mut() = container;
        Ok(spec)
    }
}

/// The spec's mapping as the container fields see it: the kind's own entries are read into
/// `spec` as they come and left out.
struct Split<A, K> {
    map: A,
    spec: K,
    /// The own fields read so far, to refuse one written twice.
    own_read: Vec<&'static str>,
}

impl<'de, A: MapAccess<'de>, K: KindSpec> MapAccess<'de> for Split<A, K> {
    type Error = A::Error;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        while let Some(field) = self.map.next_key_seed(FieldName(K::fields()))? {
            if !K::OWN_FIELDS.contains(&field) {
                return seed
                    .deserialize(BorrowedStrDeserializer::new(field))
                    .map(Some);
            }
            // Refused between key and value, as a derived struct does.
            if self.own_read.contains(&field) {
                return Err(de::Error::duplicate_field(field));
            }
            self.own_read.push(field);
            self.spec.read_own(field, &mut self.map)?;
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// A key of the spec, one of its fields: the parser reports an unknown one at the key.
struct FieldName(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<&'static str, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for FieldName {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<&'static str, E> {
        self.0
            .iter()
            .find(|field| **field == name)
            .copied()
            .ok_or_else(|| E::unknown_field(name, self.0))
    }

    fn visit_bytes<E: de::Error>(self, name: &[u8]) -> Result<&'static str, E> {
        self.visit_str(&String::from_utf8_lossy(name))
    }

    fn visit_u64<E: de::Error>(self, index: u64) -> Result<&'static str, E> {
        usize::try_from(index)
            .ok()
            .and_then(|index| self.0.get(index))
            .copied()
            .ok_or_else(|| {
                let expected = format!("field index 0 <= i < {}", self.0.len());
                E::invalid_value(Unexpected::Unsigned(index), &expected.as_str())
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::DeploymentSpec;

    /// The fields a derived `deny_unknown_fields` struct lists for an unknown one.
    fn derived_fields<T: de::DeserializeOwned>() -> Vec<String> {
        let error = serde_yaml::from_str::<T>("not-a-field: 1\n")
            .err()
            .expect("an unknown field is refused")
            .to_string();
        let list = error
            .split("expected one of ")
            .nth(1)
            .expect("the error lists the fields");
        let list = list.split(" at line").next().unwrap_or(list);
        list.split(", ")
            .map(|field| field.trim_matches('`').to_string())
            .collect()
    }

    #[test]
    fn a_deployment_lists_every_container_field_then_its_own() {
        let container = derived_fields::<ContainerFields>();
        let listed = DeploymentSpec::fields();
        assert_eq!(
            listed.len(),
            container.len() + DeploymentSpec::OWN_FIELDS.len()
        );
        assert!(container
            .iter()
            .zip(listed)
            .all(|(derived, read)| derived == read));
        assert!(listed.ends_with(DeploymentSpec::OWN_FIELDS));
    }

    #[test]
    fn own_and_container_fields_are_read_from_one_mapping() {
        let spec: DeploymentSpec = serde_yaml::from_str(
            "image: nginx\ndependsOn: [db]\nenv:\n  VERSION: 1.10\ndrainTimeout: 5s\n",
        )
        .unwrap();
        assert_eq!(spec.container.image.unwrap().as_str(), "nginx");
        assert_eq!(spec.container.env.0["VERSION"].0, "1.10");
        assert_eq!(spec.depends_on[0].as_str(), "db");
        assert_eq!(spec.drain_timeout.to_string(), "5s");
        let error = serde_yaml::from_str::<DeploymentSpec>("dependsOn: []\ndependsOn: [db]\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("duplicate field `dependsOn`"), "{error}");
        let error = serde_yaml::from_str::<DeploymentSpec>("image: nginx\nrestart: always\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("unknown field `restart`, expected one of `image`, `build`")
                && error.ends_with("at line 2 column 1"),
            "{error}"
        );
    }
}
