//! `qmp schema-diff`: what the connected QEMU has that the bindings lack,
//! and the reverse.
//!
//! QEMU's side is its `query-qmp-schema`. Introspection numbers its type
//! names (`"123"`), so types cannot be matched by name; everything is
//! matched from the commands and events down, by the names that survive:
//! command and event names, argument names, enum values.
//!
//! The bindings' side is the generated code of `qmp-types` alone, never
//! the schema files it was generated from: the command list is its
//! `__qmp_commands!` listing (wire name and type of every command), each
//! command's [`Command::RELEASES`] and [`Command::CONDITION`]. What a
//! command's type knows is found by asking it: an argument object built
//! from QEMU's introspection (every member, each with a value of its
//! QEMU type) is decoded into the generated type and encoded again; the
//! members that survive the round trip are the ones the bindings know (a
//! generated type ignores members it does not know), and an enum value the
//! bindings do not know decodes into the type's `Unknown` variant. An event
//! is known if the generated `Event` does not decode it as
//! `Event::Unknown`, and its data members are known if they survive the
//! same round trip; `EventName::ALL` lists the bindings' events.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use qmp_types::{Command, Release};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// What one generated command type says about a QEMU argument object.
struct Probe {
    /// The members the generated type kept.
    kept: BTreeSet<String>,
    /// How many enum values in it the generated type did not know.
    unknown_values: usize,
}

/// One command of the bindings.
struct Known {
    releases: qmp_types::Releases,
    condition: Option<&'static str>,
    /// Decodes an argument object into the command's type and reports
    /// what survived, or the decoding error.
    probe: fn(&Value) -> Result<Probe, String>,
}

fn probe<C: Command + DeserializeOwned + Serialize + std::fmt::Debug>(
    args: &Value,
) -> Result<Probe, String> {
    let cmd: C = serde_json::from_value(args.clone()).map_err(|e| e.to_string())?;
    let kept = match serde_json::to_value(&cmd).map_err(|e| e.to_string())? {
        Value::Object(m) => m.into_iter().map(|(k, _)| k).collect(),
        _ => BTreeSet::new(),
    };
    // The generated enums keep a value they do not know as
    // `Unknown(UnknownValue("..."))`, unions a branch they do not know as
    // `Unknown(UnknownBranch { .. })`; their Debug form shows it.
    let debug = format!("{cmd:?}");
    let unknown_values =
        debug.matches("UnknownValue(").count() + debug.matches("UnknownBranch {").count();
    Ok(Probe {
        kept,
        unknown_values,
    })
}

// Deprecated commands are listed too: the generated types carry
// `#[deprecated]`, and naming them here is no use of them.
macro_rules! known_commands {
    ($(($wire:literal, $ty:path)),* $(,)?) => {
        /// Every QMP command of the bindings, by wire name.
        #[allow(deprecated)]
        fn known_commands() -> BTreeMap<&'static str, Known> {
            let mut map = BTreeMap::new();
            $(map.insert($wire, Known {
                releases: <$ty as Command>::RELEASES,
                condition: <$ty as Command>::CONDITION,
                probe: probe::<$ty>,
            });)*
            map
        }
    };
}
qmp_types::__qmp_commands!(known_commands);

/// The differences, as printed (`--json`: this object).
#[derive(Debug, Default, Serialize)]
pub(crate) struct Diff {
    /// The connected QEMU's version, `major.minor.micro`.
    pub qemu: String,
    /// The newest release the bindings were generated from.
    pub bindings: String,
    /// Commands this QEMU has that the bindings lack.
    pub qemu_only_commands: Vec<String>,
    /// Events this QEMU has that the bindings lack.
    pub qemu_only_events: Vec<String>,
    /// Data members (`EVENT.member`) of known events that this QEMU sends
    /// and the bindings lack.
    pub qemu_only_event_members: Vec<String>,
    /// Arguments (`command.argument`) this QEMU takes that the bindings lack.
    pub qemu_only_arguments: Vec<String>,
    /// Enum values (`command.argument=value`) this QEMU accepts that the
    /// bindings lack.
    pub qemu_only_values: Vec<String>,
    /// Commands the bindings have that this QEMU lacks, each with why if
    /// the bindings know (`removed in X.Y`, `only with CONDITION`).
    pub bindings_only_commands: Vec<String>,
    /// Events the bindings have that this QEMU lacks, each with why if the
    /// bindings know (`removed in X.Y`); a QEMU built without a feature
    /// also lacks its events.
    pub bindings_only_events: Vec<String>,
    /// Arguments (`command.argument`) the bindings require that this QEMU
    /// lacks.
    pub bindings_only_arguments: Vec<String>,
    /// Commands whose arguments could not be compared, with why.
    pub not_compared: Vec<String>,
}

/// Compares `schema` (the `SchemaInfo` list of `query-qmp-schema`) of QEMU
/// `version` with the bindings.
pub(crate) fn diff(schema: &[Value], version: &str) -> Diff {
    let idx = Introspection::new(schema);
    let known = known_commands();
    let newest = known
        .values()
        .map(|k| k.releases.last)
        .filter(|r| *r != qmp_types::Releases::UNKNOWN.last)
        .max()
        .unwrap_or(Release::new(0, 0));
    let mut d = Diff {
        qemu: version.to_owned(),
        bindings: format!("{}.{}", newest.major, newest.minor),
        ..Diff::default()
    };
    for (name, arg_type) in &idx.commands {
        let Some(k) = known.get(name.as_str()) else {
            d.qemu_only_commands.push(format!(
                "{name}{}",
                unstable(idx.entries.get(name.as_str()).copied())
            ));
            continue;
        };
        idx.compare_arguments(name, arg_type.as_deref(), k, &mut d);
    }
    for (name, k) in &known {
        if idx.commands.contains_key(*name) {
            continue;
        }
        let why = match (k.releases.removed, k.condition) {
            (Some(r), _) => format!(" (removed in {}.{})", r.major, r.minor),
            (None, Some(c)) => format!(" (only with {c})"),
            (None, None) => String::new(),
        };
        d.bindings_only_commands.push(format!("{name}{why}"));
    }
    for (name, arg_type) in &idx.events {
        let data = arg_type.as_deref().map(|t| idx.sample(t, 0));
        let mut msg = json!({
            "event": name,
            "timestamp": {"seconds": 0, "microseconds": 0},
        });
        if let Some(data) = data {
            msg["data"] = data;
        }
        // A decoding error means the bindings know the event (an unknown
        // one is kept verbatim) and disagree about its data.
        match serde_json::from_value::<qmp_types::qmp::Event>(msg.clone()) {
            Ok(qmp_types::qmp::Event::Unknown { .. }) => d.qemu_only_events.push(name.clone()),
            Ok(event) => {
                // Members the generated data type dropped are unknown to it.
                let kept = serde_json::to_value(&event).unwrap_or_default();
                let kept = kept.get("data").and_then(Value::as_object);
                let sent = msg.get("data").and_then(Value::as_object);
                for member in sent.into_iter().flat_map(|m| m.keys()) {
                    if !kept.is_some_and(|k| k.contains_key(member)) {
                        d.qemu_only_event_members.push(format!("{name}.{member}"));
                    }
                }
            }
            Err(_) => {}
        }
    }
    for event in qmp_types::qmp::EventName::ALL {
        if idx.events.contains_key(event.as_str()) {
            continue;
        }
        let why = match event.releases().removed {
            Some(r) => format!(" (removed in {}.{})", r.major, r.minor),
            None => String::new(),
        };
        d.bindings_only_events.push(format!("{event}{why}"));
    }
    d
}

/// QEMU's introspection, indexed by (numbered) type name.
struct Introspection<'a> {
    entries: HashMap<&'a str, &'a Value>,
    /// Command name → its argument type, if it takes arguments.
    commands: BTreeMap<String, Option<String>>,
    /// Event name → its data type, if it has data.
    events: BTreeMap<String, Option<String>>,
}

/// How deep [`Introspection::sample`] fills optional members; below it,
/// only required ones (recursive types such as block node options would
/// otherwise never end).
const SAMPLE_DEPTH: usize = 4;

/// Below this depth [`Introspection::sample`] gives up (`null`): a type
/// can require itself (through an alternate, say), and the decoding of a
/// member that deep says nothing about a command's own arguments.
const SAMPLE_LIMIT: usize = 12;

impl<'a> Introspection<'a> {
    fn new(schema: &'a [Value]) -> Self {
        let mut entries = HashMap::new();
        let mut commands = BTreeMap::new();
        let mut events = BTreeMap::new();
        for e in schema {
            let Some(name) = e.get("name").and_then(Value::as_str) else {
                continue;
            };
            entries.insert(name, e);
            let arg = |e: &Value| e.get("arg-type").and_then(Value::as_str).map(str::to_owned);
            match e.get("meta-type").and_then(Value::as_str) {
                Some("command") => {
                    commands.insert(name.to_owned(), arg(e));
                }
                Some("event") => {
                    events.insert(name.to_owned(), arg(e));
                }
                _ => {}
            }
        }
        // An argument type without members is as good as none.
        let entries_ref = &entries;
        let empty = |t: &Option<String>| {
            t.as_deref().is_some_and(|t| {
                entries_ref.get(t).is_some_and(|e| {
                    e.get("members")
                        .and_then(Value::as_array)
                        .is_some_and(Vec::is_empty)
                        && e.get("variants").is_none()
                })
            })
        };
        for t in commands.values_mut().chain(events.values_mut()) {
            if empty(t) {
                *t = None;
            }
        }
        Introspection {
            entries,
            commands,
            events,
        }
    }

    /// Member `name` of object type `ty`, or of one of its union branches.
    fn member(&self, ty: Option<&str>, name: &str) -> Option<&'a Value> {
        let ty = ty?;
        let own = self
            .list(ty, "members")
            .iter()
            .find(|m| m.get("name").and_then(Value::as_str) == Some(name));
        own.or_else(|| {
            self.list(ty, "variants")
                .iter()
                .filter_map(|v| v.get("type")?.as_str())
                .find_map(|b| self.member(Some(b), name))
        })
    }

    fn meta(&self, ty: &str) -> Option<&str> {
        self.entries.get(ty)?.get("meta-type")?.as_str()
    }

    fn list(&self, ty: &str, key: &str) -> &'a [Value] {
        self.entries
            .get(ty)
            .and_then(|e| e.get(key))
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    fn enum_values(&self, ty: &str) -> Vec<&'a str> {
        let values = self.list(ty, "values");
        if !values.is_empty() {
            return values.iter().filter_map(Value::as_str).collect();
        }
        self.list(ty, "members")
            .iter()
            .filter_map(|m| m.get("name").and_then(Value::as_str))
            .collect()
    }

    /// A value of type `ty` as QEMU would accept it: every member (optional
    /// ones too, down to [`SAMPLE_DEPTH`]), each enum its first value, each
    /// union its first branch, arrays empty.
    fn sample(&self, ty: &str, depth: usize) -> Value {
        let Some(e) = self.entries.get(ty) else {
            return Value::Null;
        };
        if depth > SAMPLE_LIMIT {
            return Value::Null;
        }
        match self.meta(ty) {
            Some("builtin") => match e.get("json-type").and_then(Value::as_str) {
                Some("string") => json!(""),
                Some("int" | "number") => json!(0),
                Some("boolean") => json!(false),
                Some("null") => Value::Null,
                _ => json!({}),
            },
            Some("enum") => self
                .enum_values(ty)
                .first()
                .map_or(Value::Null, |v| json!(v)),
            Some("array") => json!([]),
            // A builtin branch if there is one (a node name rather than a
            // whole node definition), else the first.
            Some("alternate") => {
                let branches: Vec<&str> = self
                    .list(ty, "members")
                    .iter()
                    .filter_map(|m| m.get("type")?.as_str())
                    .collect();
                branches
                    .iter()
                    .find(|t| self.meta(t) == Some("builtin"))
                    .or(branches.first())
                    .map_or(Value::Null, |t| self.sample(t, depth + 1))
            }
            Some("object") => Value::Object(self.sample_object(ty, depth)),
            _ => Value::Null,
        }
    }

    /// [`sample`](Self::sample) of object type `ty`.
    fn sample_object(&self, ty: &str, depth: usize) -> Map<String, Value> {
        self.sample_union(ty, depth, None)
    }

    /// [`sample_object`](Self::sample_object), where a union's tag takes
    /// `tag_value` (and the sample that value's branch) if given, else the
    /// first value of its enum.
    fn sample_union(&self, ty: &str, depth: usize, tag_value: Option<&str>) -> Map<String, Value> {
        let mut out = Map::new();
        if depth > SAMPLE_LIMIT {
            return out;
        }
        let tag = self
            .entries
            .get(ty)
            .and_then(|e| e.get("tag"))
            .and_then(Value::as_str);
        for m in self.list(ty, "members") {
            let (Some(name), Some(mty)) = (
                m.get("name").and_then(Value::as_str),
                m.get("type").and_then(Value::as_str),
            ) else {
                continue;
            };
            let optional = m.get("default").is_some();
            if optional && depth >= SAMPLE_DEPTH && Some(name) != tag {
                continue;
            }
            let value = match tag_value {
                Some(v) if Some(name) == tag => json!(v),
                _ => self.sample(mty, depth + 1),
            };
            out.insert(name.to_owned(), value);
        }
        // A union: the branch of the tag's value (its first).
        if let Some(tag_value) = tag.and_then(|t| out.get(t)).and_then(Value::as_str) {
            let branch = self.list(ty, "variants").iter().find_map(|v| {
                (v.get("case")?.as_str()? == tag_value).then(|| v.get("type")?.as_str())?
            });
            if let Some(b) = branch {
                out.extend(self.sample_object(b, depth));
            }
        }
        out
    }

    /// Compares the arguments of `command` (argument type `arg_type`)
    /// with what the bindings' type `k` keeps of them.
    fn compare_arguments(&self, command: &str, arg_type: Option<&str>, k: &Known, d: &mut Diff) {
        let args = match arg_type {
            Some(t) if self.meta(t) == Some("object") => Value::Object(self.sample_object(t, 0)),
            // Boxed arguments of a union or alternate type: the sample of
            // its first branch.
            Some(t) => self.sample(t, 0),
            None => json!({}),
        };
        let probe = match (k.probe)(&args) {
            Ok(p) => p,
            Err(e) => {
                // The bindings require a member this QEMU does not have.
                if let Some(member) = missing_field(&e) {
                    d.bindings_only_arguments
                        .push(format!("{command}.{member}"));
                } else {
                    d.not_compared.push(format!("{command}: {e}"));
                }
                return;
            }
        };
        let Value::Object(sent) = &args else {
            return;
        };
        for name in sent.keys() {
            if !probe.kept.contains(name) {
                let member = self.member(arg_type, name);
                d.qemu_only_arguments
                    .push(format!("{command}.{name}{}", unstable(member)));
            }
        }
        // Every value of each enum argument the bindings know, one at a
        // time: a value the bindings lack decodes as `Unknown`.
        let Some(t) = arg_type else { return };
        for m in self.list(t, "members") {
            let (Some(name), Some(mty)) = (
                m.get("name").and_then(Value::as_str),
                m.get("type").and_then(Value::as_str),
            ) else {
                continue;
            };
            if self.meta(mty) != Some("enum") || !probe.kept.contains(name) {
                continue;
            }
            // A union's tag brings its branch's members along.
            let is_tag = self
                .entries
                .get(t)
                .and_then(|e| e.get("tag"))
                .and_then(Value::as_str)
                == Some(name);
            // Each value's count of unknown values in the whole object; the
            // fewest is that of a value the bindings know (the sample's
            // own first value may be one they lack), more means unknown.
            let counts: Vec<(&str, usize)> = self
                .enum_values(mty)
                .into_iter()
                .filter_map(|value| {
                    let with = if is_tag {
                        self.sample_union(t, 0, Some(value))
                    } else {
                        let mut with = sent.clone();
                        with.insert(name.to_owned(), json!(value));
                        with
                    };
                    let p = (k.probe)(&Value::Object(with)).ok()?;
                    Some((value, p.unknown_values))
                })
                .collect();
            let fewest = counts.iter().map(|c| c.1).min().unwrap_or(0);
            for (value, count) in counts {
                if count > fewest {
                    d.qemu_only_values.push(format!("{command}.{name}={value}"));
                }
            }
        }
    }
}

/// ` (unstable)` if introspection marks the command or member so: the
/// bindings have such a thing only when built with qmp-types' `unstable`
/// feature (this `qmp` is not), so it is listed as lacking either way.
fn unstable(entry: Option<&Value>) -> &'static str {
    let marked = entry
        .and_then(|e| e.get("features"))
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|f| f == "unstable"));
    if marked { " (unstable)" } else { "" }
}

/// The member named by serde's `missing field `NAME`` message.
fn missing_field(error: &str) -> Option<&str> {
    let rest = error.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// The diff for people.
pub(crate) fn render(d: &Diff) -> String {
    let mut out = format!(
        "QEMU {} against the bindings (generated from QEMU up to {}):\n",
        d.qemu, d.bindings
    );
    let mut section = |title: &str, items: &[String]| {
        out.push_str(&format!("\n{title} ({}):\n", items.len()));
        if items.is_empty() {
            out.push_str("  (none)\n");
        }
        for i in items {
            out.push_str(&format!("  {i}\n"));
        }
    };
    section(
        "Commands this QEMU has that the bindings lack",
        &d.qemu_only_commands,
    );
    section(
        "Events this QEMU has that the bindings lack",
        &d.qemu_only_events,
    );
    section(
        "Event data members this QEMU sends that the bindings lack",
        &d.qemu_only_event_members,
    );
    section(
        "Arguments this QEMU takes that the bindings lack",
        &d.qemu_only_arguments,
    );
    section(
        "Enum values of arguments this QEMU accepts that the bindings lack",
        &d.qemu_only_values,
    );
    section(
        "Commands the bindings have that this QEMU lacks",
        &d.bindings_only_commands,
    );
    section(
        "Events the bindings have that this QEMU lacks",
        &d.bindings_only_events,
    );
    section(
        "Arguments the bindings require that this QEMU lacks",
        &d.bindings_only_arguments,
    );
    if !d.not_compared.is_empty() {
        section(
            "Commands whose arguments could not be compared",
            &d.not_compared,
        );
    }
    out
}
