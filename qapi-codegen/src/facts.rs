//! Facts about definitions that QAPI syntax cannot hold.
//!
//! `cargo xtask import` keeps, next to the definitions of a release, what
//! the documentation comments state as facts: the release that introduced
//! each definition, member and enum value (`Since`), the schema module that
//! defines it (for links to QEMU's reference), and the JSON of the example
//! messages. Descriptions are never kept.

use std::collections::BTreeMap;

use qapi_parser::doc::{Direction, Doc};
use qapi_parser::model::Schema;
use serde::{Deserialize, Serialize};

/// The facts of one schema of one release.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The "generated, do not edit" notice.
    #[serde(rename = "_generated", default)]
    pub generated: String,
    /// Facts by definition name, sorted.
    pub definitions: BTreeMap<String, DefFacts>,
}

/// The facts of one definition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DefFacts {
    /// The schema module (file stem) that defines it, e.g. `ui`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The release that introduced it, e.g. `1.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Member (or enum value) name to the release that introduced it, where
    /// the documentation says.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub members: BTreeMap<String, String>,
    /// Example exchanges, each a list of messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<Vec<Message>>,
}

/// One example message as QEMU's documentation writes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `->` (client to QEMU) or `<-` (QEMU to client).
    pub dir: String,
    /// The message text, verbatim (not necessarily valid JSON).
    pub json: String,
}

impl Facts {
    /// Collects the facts of `schema`'s documentation comments.
    pub fn collect(schema: &Schema, generated: &str) -> Facts {
        let mut definitions = BTreeMap::new();
        for entity in &schema.entities {
            let info = entity.info();
            if info.implicit {
                continue;
            }
            let module = std::path::Path::new(&*info.loc.file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .filter(|s| !s.is_empty());
            let mut facts = DefFacts {
                module,
                ..DefFacts::default()
            };
            if let Some(doc) = &info.doc {
                collect_doc(doc, &mut facts);
            }
            definitions.insert(info.name.clone(), facts);
        }
        Facts {
            generated: generated.to_owned(),
            definitions,
        }
    }

    /// Reads facts written by [`Facts::to_json`].
    ///
    /// # Errors
    /// The JSON error, if `text` is not such a file.
    pub fn from_json(text: &str) -> Result<Facts, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Renders the facts as pretty, deterministic JSON ending in a newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("facts serialize");
        s.push('\n');
        s
    }
}

fn collect_doc(doc: &Doc, facts: &mut DefFacts) {
    facts.since = doc.since().and_then(version_in);
    for m in &doc.members {
        if let Some(v) = since_in(&m.text) {
            facts.members.insert(m.name.trim().to_owned(), v);
        }
    }
    for ex in &doc.examples {
        let messages: Vec<Message> = ex
            .messages
            .iter()
            .map(|m| Message {
                dir: match m.direction {
                    Direction::Send => "->",
                    Direction::Receive => "<-",
                }
                .to_owned(),
                json: m.json.clone(),
            })
            .collect();
        if !messages.is_empty() {
            facts.examples.push(messages);
        }
    }
}

/// The leading `X.Y` (or `X.Y.Z`) of `s`, reduced to `X.Y`.
pub fn version_in(s: &str) -> Option<String> {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let v = s[..end].trim_end_matches('.');
    let mut parts = v.split('.');
    let major = parts.next().filter(|p| !p.is_empty())?;
    let minor = parts.next().filter(|p| !p.is_empty())?;
    Some(format!("{major}.{minor}"))
}

/// The version of the first "since X.Y" in a member description.
fn since_in(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find("since") {
        let rest = &text[from + at + 5..];
        let rest = rest.trim_start_matches([':', ' ', '\n']);
        let rest = rest.strip_prefix("qemu ").unwrap_or(rest);
        if let Some(v) = version_in(rest) {
            return Some(v);
        }
        from += at + 5;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version_in("1.3").as_deref(), Some("1.3"));
        assert_eq!(version_in("2.12.0").as_deref(), Some("2.12"));
        assert_eq!(version_in(" 8.0."), Some("8.0".to_owned()));
        assert_eq!(version_in("soon"), None);
        assert_eq!(version_in("7"), None);
        assert_eq!(since_in("Foo (since 2.12)").as_deref(), Some("2.12"));
        assert_eq!(since_in("Bar. (Since: 8.1)").as_deref(), Some("8.1"));
        assert_eq!(since_in("since when? (since 9.0)").as_deref(), Some("9.0"));
        assert_eq!(since_in("nothing"), None);
    }
}
