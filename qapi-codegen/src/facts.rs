//! Facts about definitions that QAPI syntax cannot hold.
//!
//! `cargo xtask import` keeps, next to the definitions of a release, what
//! the documentation comments state as facts: the release that introduced
//! each definition, member and enum value (`Since`), the schema module that
//! defines it (for links to QEMU's reference), and the JSON of the example
//! messages. Descriptions are never kept.

use std::collections::BTreeMap;

use crate::json::{self, Value};
use qapi_parser::doc::{Direction, Doc};
use qapi_parser::model::Schema;

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
    /// Where the text is not JSON (line and column), or which definition
    /// does not have the expected shape.
    pub fn from_json(text: &str) -> Result<Facts, String> {
        let Value::Object(top) = json::parse(text).map_err(|e| e.to_string())? else {
            return Err(shape("the file", "an object"));
        };
        let mut generated = String::new();
        let mut definitions = BTreeMap::new();
        for (key, v) in top {
            match key.as_str() {
                "_generated" => generated = string(v, "`_generated`")?,
                "definitions" => {
                    for (name, def) in object(v, "`definitions`")? {
                        let what = format!("definition `{name}`");
                        let facts = def_facts(def, &what)?;
                        definitions.insert(name, facts);
                    }
                }
                _ => {}
            }
        }
        Ok(Facts {
            generated,
            definitions,
        })
    }

    /// Renders the facts as pretty, deterministic JSON ending in a newline.
    pub fn to_json(&self) -> String {
        let s = |v: &str| Value::String(v.to_owned());
        let mut defs = Vec::new();
        for (name, d) in &self.definitions {
            let mut members = Vec::new();
            if let Some(m) = &d.module {
                members.push(("module".to_owned(), s(m)));
            }
            if let Some(v) = &d.since {
                members.push(("since".to_owned(), s(v)));
            }
            if !d.members.is_empty() {
                let since = d.members.iter().map(|(k, v)| (k.clone(), s(v))).collect();
                members.push(("members".to_owned(), Value::Object(since)));
            }
            if !d.examples.is_empty() {
                let examples = d
                    .examples
                    .iter()
                    .map(|ex| {
                        let messages = ex.iter().map(|m| {
                            Value::Object(vec![
                                ("dir".to_owned(), s(&m.dir)),
                                ("json".to_owned(), s(&m.json)),
                            ])
                        });
                        Value::Array(messages.collect())
                    })
                    .collect();
                members.push(("examples".to_owned(), Value::Array(examples)));
            }
            defs.push((name.clone(), Value::Object(members)));
        }
        let top = Value::Object(vec![
            ("_generated".to_owned(), s(&self.generated)),
            ("definitions".to_owned(), Value::Object(defs)),
        ]);
        let mut out = String::new();
        json::write_pretty(&top, &mut out);
        out.push('\n');
        out
    }
}

// The facts files are read and written by hand (`crate::json`) rather
// than through serde: the bindings' build script reads them, and serde
// would be compiled a second time for it in every user's clean build.

fn def_facts(def: Value, what: &str) -> Result<DefFacts, String> {
    let mut facts = DefFacts::default();
    for (key, v) in object(def, what)? {
        match key.as_str() {
            "module" => facts.module = Some(string(v, what)?),
            "since" => facts.since = Some(string(v, what)?),
            "members" => {
                for (m, v) in object(v, what)? {
                    facts.members.insert(m, string(v, what)?);
                }
            }
            "examples" => {
                for ex in array(v, what)? {
                    let mut messages = Vec::new();
                    for m in array(ex, what)? {
                        let (mut dir, mut json) = (None, None);
                        for (k, v) in object(m, what)? {
                            match k.as_str() {
                                "dir" => dir = Some(string(v, what)?),
                                "json" => json = Some(string(v, what)?),
                                _ => {}
                            }
                        }
                        let field = |v: Option<String>, k: &str| {
                            v.ok_or_else(|| shape(what, &format!("`{k}` in each example message")))
                        };
                        messages.push(Message {
                            dir: field(dir, "dir")?,
                            json: field(json, "json")?,
                        });
                    }
                    facts.examples.push(messages);
                }
            }
            _ => {}
        }
    }
    Ok(facts)
}

fn shape(what: &str, expected: &str) -> String {
    format!("{what}: expected {expected}")
}

fn string(v: Value, what: &str) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s),
        _ => Err(shape(what, "a string")),
    }
}

fn object(v: Value, what: &str) -> Result<Vec<(String, Value)>, String> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(shape(what, "an object")),
    }
}

fn array(v: Value, what: &str) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(shape(what, "an array")),
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
