//! TOML tables as templates see them: JSON values, with the place of each key kept for errors.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};
use toml::Spanned;

/// A TOML table whose values remember where they were written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Fields(pub BTreeMap<String, Spanned<toml::Value>>);

impl Fields {
    pub fn get(&self, key: &str) -> Option<&Spanned<toml::Value>> {
        self.0.get(key)
    }

    /// The table as JSON, for templates.
    pub fn to_json(&self) -> Map<String, Value> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), toml_to_json(v.get_ref())))
            .collect()
    }
}

/// TOML to JSON: dates and times become their TOML text (`2026-12-10`).
pub fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}
