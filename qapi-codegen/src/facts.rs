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
use serde::ser::{Serialize, SerializeStruct, Serializer};
use serde_json::{Map, Value};

/// The facts of one schema of one release.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    /// The "generated, do not edit" notice.
    pub generated: String,
    /// Facts by definition name, sorted.
    pub definitions: BTreeMap<String, DefFacts>,
}

/// The facts of one definition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DefFacts {
    /// The schema module (file stem) that defines it, e.g. `ui`.
    pub module: Option<String>,
    /// The release that introduced it, e.g. `1.3`.
    pub since: Option<String>,
    /// Member (or enum value) name to the release that introduced it, where
    /// the documentation says.
    pub members: BTreeMap<String, String>,
    /// Example exchanges, each a list of messages.
    pub examples: Vec<Vec<Message>>,
}

/// One example message as QEMU's documentation writes it.
#[derive(Clone, Debug, PartialEq)]
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
        let Value::Object(mut top) = serde_json::from_str(text)? else {
            return Err(shape("the file", "an object"));
        };
        let generated = match top.remove("_generated") {
            None => String::new(),
            Some(v) => string(v, "`_generated`")?,
        };
        let mut definitions = BTreeMap::new();
        for (name, def) in object(top.remove("definitions"), "`definitions`")? {
            let what = format!("definition `{name}`");
            let mut def = object(Some(def), &what)?;
            let module = def.remove("module").map(|v| string(v, &what)).transpose()?;
            let since = def.remove("since").map(|v| string(v, &what)).transpose()?;
            let mut members = BTreeMap::new();
            for (m, v) in object(def.remove("members"), &what)? {
                members.insert(m, string(v, &what)?);
            }
            let mut examples = Vec::new();
            for ex in array(def.remove("examples"), &what)? {
                let mut messages = Vec::new();
                for m in array(Some(ex), &what)? {
                    let mut m = object(Some(m), &what)?;
                    let mut field = |k: &str| match m.remove(k) {
                        Some(v) => string(v, &what),
                        None => Err(shape(&what, &format!("`{k}` in each example message"))),
                    };
                    messages.push(Message {
                        dir: field("dir")?,
                        json: field("json")?,
                    });
                }
                examples.push(messages);
            }
            let facts = DefFacts {
                module,
                since,
                members,
                examples,
            };
            definitions.insert(name, facts);
        }
        Ok(Facts {
            generated,
            definitions,
        })
    }

    /// Renders the facts as pretty, deterministic JSON ending in a newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("facts serialize");
        s.push('\n');
        s
    }
}

// The facts files are read and written by hand rather than through serde's
// derive: the bindings' build script reads them, and the derive would put
// syn and serde_derive on the critical path of every user's clean build.

fn shape(what: &str, expected: &str) -> serde_json::Error {
    <serde_json::Error as serde::de::Error>::custom(format_args!("{what}: expected {expected}"))
}

fn string(v: Value, what: &str) -> Result<String, serde_json::Error> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(shape(what, "a string")),
    }
}

/// An object member; absent is empty.
fn object(v: Option<Value>, what: &str) -> Result<Map<String, Value>, serde_json::Error> {
    match v {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(shape(what, "an object")),
    }
}

/// An array member; absent is empty.
fn array(v: Option<Value>, what: &str) -> Result<Vec<Value>, serde_json::Error> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(shape(what, "an array")),
    }
}

impl Serialize for Facts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Facts", 2)?;
        st.serialize_field("_generated", &self.generated)?;
        st.serialize_field("definitions", &self.definitions)?;
        st.end()
    }
}

impl Serialize for DefFacts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("DefFacts", 4)?;
        if let Some(m) = &self.module {
            st.serialize_field("module", m)?;
        }
        if let Some(v) = &self.since {
            st.serialize_field("since", v)?;
        }
        if !self.members.is_empty() {
            st.serialize_field("members", &self.members)?;
        }
        if !self.examples.is_empty() {
            st.serialize_field("examples", &self.examples)?;
        }
        st.end()
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Message", 2)?;
        st.serialize_field("dir", &self.dir)?;
        st.serialize_field("json", &self.json)?;
        st.end()
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

    /// Every facts file `xtask import` wrote reads back to the same text:
    /// the hand-written reader and writer agree with each other and with
    /// the files' layout.
    #[test]
    fn facts_files_round_trip() {
        let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../qmp-types/schema");
        let mut seen = 0;
        for release in std::fs::read_dir(&schema).expect("qmp-types/schema") {
            let release = release.expect("schema entry").path();
            for protocol in ["qmp", "qga"] {
                let path = release.join(format!("{protocol}.facts.json"));
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let facts = Facts::from_json(&text).expect("facts parse");
                assert!(!facts.definitions.is_empty(), "{}", path.display());
                assert_eq!(facts.to_json(), text, "{}", path.display());
                seen += 1;
            }
        }
        assert!(
            seen >= 6,
            "found {seen} facts files under {}",
            schema.display()
        );
    }

    #[test]
    fn malformed_facts_name_the_problem() {
        let err = Facts::from_json(r#"{"definitions": {"x": {"since": 1}}}"#).unwrap_err();
        assert_eq!(err.to_string(), "definition `x`: expected a string");
        let err = Facts::from_json(r#"{"definitions": {"x": {"examples": [[{"dir": "->"}]]}}}"#)
            .unwrap_err();
        assert!(err.to_string().contains("`json`"), "{err}");
    }
}
