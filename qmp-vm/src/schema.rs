//! What a connected QEMU's `query-qmp-schema` says: checking command
//! arguments before they are sent, turning `key=value` words into JSON,
//! the key names of `send-key`, and names to complete in the shell.
//!
//! Introspection hides the names of types (they read `"123"`), so
//! everything here starts from a command's name and follows its
//! `arg-type`.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::Error;
use crate::suggest::{close_matches, did_you_mean};

/// An index of one QEMU's schema.
#[derive(Debug)]
pub struct SchemaIndex {
    entries: HashMap<String, Value>,
    commands: BTreeSet<String>,
    events: BTreeSet<String>,
}

/// What the members of an object type allow, variants included.
struct Members<'a> {
    /// `(name, type, required)`.
    list: Vec<(&'a str, &'a str, bool)>,
}

impl SchemaIndex {
    /// Indexes `entries`, the `SchemaInfo` objects of `query-qmp-schema`.
    pub fn new(entries: &[Value]) -> SchemaIndex {
        let mut map = HashMap::new();
        let mut commands = BTreeSet::new();
        let mut events = BTreeSet::new();
        for e in entries {
            let Some(name) = e.get("name").and_then(Value::as_str) else {
                continue;
            };
            match e.get("meta-type").and_then(Value::as_str) {
                Some("command") => {
                    commands.insert(name.to_owned());
                }
                Some("event") => {
                    events.insert(name.to_owned());
                }
                _ => {}
            }
            // Commands, events and types share one namespace in QAPI.
            map.insert(name.to_owned(), e.clone());
        }
        SchemaIndex {
            entries: map,
            commands,
            events,
        }
    }

    /// Every command's wire name, sorted.
    pub fn commands(&self) -> impl Iterator<Item = &str> {
        self.commands.iter().map(String::as_str)
    }

    /// Every event's name, sorted.
    pub fn events(&self) -> impl Iterator<Item = &str> {
        self.events.iter().map(String::as_str)
    }

    /// Whether the QEMU has `command`.
    pub fn has_command(&self, command: &str) -> bool {
        self.commands.contains(command)
    }

    fn entry(&self, ty: &str) -> Option<&Value> {
        self.entries.get(ty)
    }

    fn meta(&self, ty: &str) -> Option<&str> {
        self.entry(ty)?.get("meta-type")?.as_str()
    }

    /// The argument type of `command`.
    fn arg_type(&self, command: &str) -> Option<&str> {
        self.entry(command)?.get("arg-type")?.as_str()
    }

    /// The values of an enum type.
    fn enum_values(&self, ty: &str) -> Vec<&str> {
        let Some(e) = self.entry(ty) else {
            return Vec::new();
        };
        if let Some(values) = e.get("values").and_then(Value::as_array) {
            return values.iter().filter_map(Value::as_str).collect();
        }
        e.get("members")
            .and_then(Value::as_array)
            .map(|m| {
                m.iter()
                    .filter_map(|m| m.get("name").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The members of object type `ty`; with `tag_value`, those of the
    /// matching variant too, else those of every variant (as optional).
    fn members(&self, ty: &str, tag_value: Option<&str>) -> Members<'_> {
        let mut list = Vec::new();
        let Some(e) = self.entry(ty) else {
            return Members { list };
        };
        for m in e
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(n), Some(t)) = (
                m.get("name").and_then(Value::as_str),
                m.get("type").and_then(Value::as_str),
            ) {
                list.push((n, t, m.get("default").is_none()));
            }
        }
        for v in e
            .get("variants")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let case = v.get("case").and_then(Value::as_str);
            let Some(vt) = v.get("type").and_then(Value::as_str) else {
                continue;
            };
            match tag_value {
                Some(tag) if Some(tag) == case => list.extend(self.members(vt, None).list),
                Some(_) => {}
                None => list.extend(
                    self.members(vt, None)
                        .list
                        .into_iter()
                        .map(|(n, t, _)| (n, t, false)),
                ),
            }
        }
        list.dedup_by(|a, b| a.0 == b.0);
        Members { list }
    }

    /// Checks `args` against `command`'s argument type.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownCommand`] with close matches, or
    /// [`Error::InvalidArguments`] naming the first argument that is
    /// unknown (with close matches), missing, or of the wrong type.
    pub fn check_arguments(&self, command: &str, args: &Value) -> Result<(), Error> {
        let Some(ty) = self.arg_type(command) else {
            return Err(self.unknown_command(command));
        };
        let args = if args.is_null() {
            &Value::Object(Map::new())
        } else {
            args
        };
        self.check(args, ty, "")
            .map_err(|problem| Error::InvalidArguments {
                command: command.to_owned(),
                problem,
            })
    }

    /// [`Error::UnknownCommand`] for `name`, with close matches.
    pub fn unknown_command(&self, name: &str) -> Error {
        Error::UnknownCommand {
            name: name.to_owned(),
            suggestions: close_matches(name, self.commands()),
        }
    }

    fn check(&self, value: &Value, ty: &str, path: &str) -> Result<(), String> {
        let Some(entry) = self.entry(ty) else {
            return Ok(()); // unknown to us: leave it to QEMU
        };
        let shown = || {
            if path.is_empty() {
                "the arguments".to_owned()
            } else {
                format!("argument `{path}`")
            }
        };
        match entry.get("meta-type").and_then(Value::as_str) {
            Some("builtin") => {
                let json = entry
                    .get("json-type")
                    .and_then(Value::as_str)
                    .unwrap_or("value");
                let ok = match json {
                    "string" => value.is_string(),
                    "int" => value.is_i64() || value.is_u64(),
                    "number" => value.is_number(),
                    "boolean" => value.is_boolean(),
                    "null" => value.is_null(),
                    _ => true,
                };
                if ok {
                    Ok(())
                } else {
                    Err(format!(
                        "{} must be {}, not {value}",
                        shown(),
                        article(json)
                    ))
                }
            }
            Some("enum") => {
                let values = self.enum_values(ty);
                match value.as_str() {
                    Some(s) if values.contains(&s) => Ok(()),
                    Some(s) => Err(format!(
                        "{}: unknown value `{s}`{}",
                        shown(),
                        did_you_mean(&close_matches(s, values.iter().copied()))
                    )),
                    None => Err(format!(
                        "{} must be one of {}, not {value}",
                        shown(),
                        values.join(", ")
                    )),
                }
            }
            Some("array") => {
                let Some(items) = value.as_array() else {
                    return Err(format!("{} must be an array, not {value}", shown()));
                };
                let elem = entry
                    .get("element-type")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                for (i, item) in items.iter().enumerate() {
                    self.check(item, elem, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            Some("object") => {
                let Some(obj) = value.as_object() else {
                    return Err(format!("{} must be an object, not {value}", shown()));
                };
                let tag = entry
                    .get("tag")
                    .and_then(Value::as_str)
                    .and_then(|t| obj.get(t))
                    .and_then(Value::as_str);
                let members = self.members(ty, tag);
                let join = |name: &str| {
                    if path.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{path}.{name}")
                    }
                };
                for (name, v) in obj {
                    match members.list.iter().find(|m| m.0 == name) {
                        Some((_, mty, _)) => self.check(v, mty, &join(name))?,
                        None => {
                            return Err(format!(
                                "unknown argument `{}`{}",
                                join(name),
                                did_you_mean(&close_matches(
                                    name,
                                    members.list.iter().map(|m| m.0)
                                ))
                            ));
                        }
                    }
                }
                for (name, _, required) in &members.list {
                    if *required && !obj.contains_key(*name) {
                        return Err(format!("missing argument `{}`", join(name)));
                    }
                }
                Ok(())
            }
            Some("alternate") => {
                let alts: Vec<&str> = entry
                    .get("members")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.get("type").and_then(Value::as_str))
                    .collect();
                let mut kind_error = None;
                for alt in &alts {
                    match self.check(value, alt, path) {
                        Ok(()) => return Ok(()),
                        Err(e) if self.same_kind(value, alt) => kind_error = Some(e),
                        Err(_) => {}
                    }
                }
                Err(kind_error
                    .unwrap_or_else(|| format!("{} has the wrong type: {value}", shown())))
            }
            _ => Ok(()),
        }
    }

    /// Whether `value` is the kind of JSON that type `ty` takes.
    fn same_kind(&self, value: &Value, ty: &str) -> bool {
        match self.meta(ty) {
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("enum") => value.is_string(),
            Some("builtin") => {
                let json = self
                    .entry(ty)
                    .and_then(|e| e.get("json-type"))
                    .and_then(Value::as_str);
                matches!(
                    (json, value),
                    (Some("string"), Value::String(_))
                        | (Some("int" | "number"), Value::Number(_))
                        | (Some("boolean"), Value::Bool(_))
                )
            }
            _ => false,
        }
    }

    /// The type of the member at dotted `path` below object type `ty`.
    fn member_type(&self, ty: &str, path: &[&str]) -> Option<&str> {
        let (first, rest) = path.split_first()?;
        let members = self.members(ty, None);
        let (_, mty, _) = members.list.into_iter().find(|m| m.0 == *first)?;
        if rest.is_empty() {
            Some(mty)
        } else {
            self.member_type(mty, rest)
        }
    }

    /// Turns words into the arguments of `command`: `key=value`, or
    /// `--key value` and `--key=value` as MAQET writes them, mixed freely.
    /// A dotted key (`a.b=1`) builds nested objects. Values become JSON as
    /// the schema types them: strings stay strings, numbers and booleans
    /// are parsed, and objects, arrays and alternates take JSON text when
    /// it parses. A boolean `--key` with no value (the next word also
    /// starts with `--`, or there is none) is `true`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArguments`] for a word without `=`, a `--key` with
    /// no value that is not a boolean, or a key that clashes with
    /// another.
    pub fn parse_key_values(&self, command: &str, words: &[String]) -> Result<Value, Error> {
        let ty = self.arg_type(command).map(str::to_owned);
        self.key_values_for(command, ty.as_deref(), words)
    }

    fn key_values_for(
        &self,
        command: &str,
        ty: Option<&str>,
        words: &[String],
    ) -> Result<Value, Error> {
        let invalid = |problem: String| Error::InvalidArguments {
            command: command.to_owned(),
            problem,
        };
        let mut root = Map::new();
        let mut words = words.iter().map(String::as_str).peekable();
        while let Some(word) = words.next() {
            let (key, raw) = if let Some(option) = word.strip_prefix("--") {
                match option.split_once('=') {
                    Some(pair) => pair,
                    None => {
                        let path: Vec<&str> = option.split('.').collect();
                        let boolean = ty
                            .and_then(|t| self.member_type(t, &path))
                            .is_some_and(|t| self.json_type(t) == Some("boolean"));
                        match words.next_if(|next| !next.starts_with("--")) {
                            Some(value) => (option, value),
                            None if boolean => (option, "true"),
                            None => {
                                return Err(invalid(format!("`--{option}` needs a value")));
                            }
                        }
                    }
                }
            } else {
                word.split_once('=').ok_or_else(|| {
                    invalid(format!("expected key=value or --key value, got `{word}`"))
                })?
            };
            if key.is_empty() {
                return Err(invalid(format!("no argument name in `{word}`")));
            }
            let path: Vec<&str> = key.split('.').collect();
            let mty = ty.and_then(|t| self.member_type(t, &path));
            let value = self.typed_value(mty, raw);
            let mut obj = &mut root;
            for (i, part) in path.iter().enumerate() {
                if i + 1 == path.len() {
                    if obj.insert((*part).to_owned(), value.clone()).is_some() {
                        return Err(invalid(format!("argument `{key}` given twice")));
                    }
                } else {
                    let slot = obj
                        .entry((*part).to_owned())
                        .or_insert_with(|| Value::Object(Map::new()));
                    obj = slot.as_object_mut().ok_or_else(|| {
                        invalid(format!(
                            "argument `{}` is both a value and an object",
                            path[..=i].join(".")
                        ))
                    })?;
                }
            }
        }
        Ok(Value::Object(root))
    }

    /// The JSON type of builtin type `ty` (`string`, `int`, `boolean`…).
    fn json_type(&self, ty: &str) -> Option<&str> {
        self.entry(ty)?.get("json-type")?.as_str()
    }

    fn typed_value(&self, ty: Option<&str>, raw: &str) -> Value {
        let json = || serde_json::from_str::<Value>(raw).ok();
        let string = || Value::String(raw.to_owned());
        let Some(ty) = ty else {
            return json().unwrap_or_else(string);
        };
        match self.meta(ty) {
            Some("enum") => string(),
            Some("builtin") => {
                match self
                    .entry(ty)
                    .and_then(|e| e.get("json-type"))
                    .and_then(Value::as_str)
                {
                    Some("string") => string(),
                    _ => json().unwrap_or_else(string),
                }
            }
            _ => json().unwrap_or_else(string),
        }
    }

    /// The `QKeyCode` values that `send-key` accepts, found by following
    /// its `keys` argument to the `qcode` branch of `KeyValue`.
    ///
    /// # Errors
    ///
    /// [`Error::Schema`] if this QEMU has no `send-key` of that shape.
    pub fn key_codes(&self) -> Result<Vec<String>, Error> {
        let missing = || Error::Schema("this QEMU's send-key takes no QKeyCode names".into());
        let args = self.arg_type("send-key").ok_or_else(missing)?;
        let keys = self.member_type(args, &["keys"]).ok_or_else(missing)?;
        let key_value = self
            .entry(keys)
            .and_then(|e| e.get("element-type"))
            .and_then(Value::as_str)
            .ok_or_else(missing)?;
        let qcode = self
            .entry(key_value)
            .and_then(|e| e.get("variants"))
            .and_then(Value::as_array)
            .and_then(|vs| {
                vs.iter()
                    .find(|v| v.get("case").and_then(Value::as_str) == Some("qcode"))
            })
            .and_then(|v| v.get("type"))
            .and_then(Value::as_str)
            .ok_or_else(missing)?;
        let code = self.member_type(qcode, &["data"]).ok_or_else(missing)?;
        let values = self.enum_values(code);
        if values.is_empty() {
            return Err(missing());
        }
        Ok(values.into_iter().map(str::to_owned).collect())
    }

    /// The names of `command`'s arguments (those of every variant too).
    pub fn argument_names(&self, command: &str) -> Vec<String> {
        self.arg_type(command)
            .map(|ty| self.names_of(ty))
            .unwrap_or_default()
    }

    fn names_of(&self, ty: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .members(ty, None)
            .list
            .iter()
            .map(|m| m.0.to_owned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The values argument `arg` (dotted) of `command` can take, when it
    /// is an enum or a boolean.
    pub fn argument_values(&self, command: &str, arg: &str) -> Vec<String> {
        let path: Vec<&str> = arg.split('.').collect();
        let Some(ty) = self
            .arg_type(command)
            .and_then(|t| self.member_type(t, &path))
        else {
            return Vec::new();
        };
        self.values_of(ty)
    }

    fn values_of(&self, ty: &str) -> Vec<String> {
        match self.meta(ty) {
            Some("enum") => self
                .enum_values(ty)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            Some("builtin")
                if self
                    .entry(ty)
                    .and_then(|e| e.get("json-type"))
                    .and_then(Value::as_str)
                    == Some("boolean") =>
            {
                vec!["false".into(), "true".into()]
            }
            _ => Vec::new(),
        }
    }

    /// The type of the `data` of transaction action `action`.
    fn action_data_type(&self, action: &str) -> Option<&str> {
        let actions = self.member_type(self.arg_type("transaction")?, &["actions"])?;
        let elem = self.entry(actions)?.get("element-type")?.as_str()?;
        let variant = self
            .entry(elem)?
            .get("variants")?
            .as_array()?
            .iter()
            .find(|v| v.get("case").and_then(Value::as_str) == Some(action))?
            .get("type")?
            .as_str()?;
        self.member_type(variant, &["data"])
    }

    /// The action names `transaction` accepts.
    pub fn transaction_actions(&self) -> Vec<String> {
        let Some(elem) = self
            .arg_type("transaction")
            .and_then(|t| self.member_type(t, &["actions"]))
            .and_then(|a| self.entry(a))
            .and_then(|e| e.get("element-type"))
            .and_then(Value::as_str)
        else {
            return Vec::new();
        };
        let mut names: Vec<String> = self
            .entry(elem)
            .and_then(|e| e.get("variants"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.get("case").and_then(Value::as_str).map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    /// One transaction action, `{"type": action, "data": {…}}`, from
    /// `key=value` words.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArguments`] for an unknown action or bad words.
    pub fn transaction_action(&self, action: &str, words: &[String]) -> Result<Value, Error> {
        let Some(ty) = self.action_data_type(action) else {
            let actions = self.transaction_actions();
            return Err(Error::InvalidArguments {
                command: "transaction".into(),
                problem: format!(
                    "unknown action `{action}`{}",
                    did_you_mean(&close_matches(action, actions.iter().map(String::as_str)))
                ),
            });
        };
        let ty = ty.to_owned();
        let data = self.key_values_for("transaction", Some(&ty), words)?;
        Ok(serde_json::json!({ "type": action, "data": data }))
    }

    /// Argument names of transaction action `action`.
    pub fn action_argument_names(&self, action: &str) -> Vec<String> {
        self.action_data_type(action)
            .map(|t| self.names_of(t))
            .unwrap_or_default()
    }

    /// Values of argument `arg` of transaction action `action`.
    pub fn action_argument_values(&self, action: &str, arg: &str) -> Vec<String> {
        let path: Vec<&str> = arg.split('.').collect();
        self.action_data_type(action)
            .and_then(|t| self.member_type(t, &path))
            .map(|t| self.values_of(t))
            .unwrap_or_default()
    }
}

fn article(json_type: &str) -> &'static str {
    match json_type {
        "string" => "a string",
        "int" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        "null" => "null",
        _ => "a value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A small schema in introspection form, written for these tests.
    fn index() -> SchemaIndex {
        let entries = json!([
            {"name": "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "0"},
            {"name": "qom-get", "meta-type": "command", "arg-type": "1", "ret-type": "any"},
            {"name": "send-key", "meta-type": "command", "arg-type": "2", "ret-type": "0"},
            {"name": "blockdev-add", "meta-type": "command", "arg-type": "6", "ret-type": "0"},
            {"name": "STOP", "meta-type": "event", "arg-type": "0"},
            {"name": "0", "meta-type": "object", "members": []},
            {"name": "1", "meta-type": "object", "members": [
                {"name": "path", "type": "str"}, {"name": "property", "type": "str"}]},
            {"name": "2", "meta-type": "object", "members": [
                {"name": "keys", "type": "[3]"}, {"name": "hold-time", "type": "int", "default": null}]},
            {"name": "[3]", "meta-type": "array", "element-type": "3"},
            {"name": "3", "meta-type": "object", "tag": "type",
             "members": [{"name": "type", "type": "7"}],
             "variants": [{"case": "number", "type": "8"}, {"case": "qcode", "type": "4"}]},
            {"name": "4", "meta-type": "object", "members": [{"name": "data", "type": "5"}]},
            {"name": "5", "meta-type": "enum", "values": ["shift", "a", "ret"]},
            {"name": "6", "meta-type": "object", "tag": "driver",
             "members": [{"name": "driver", "type": "9"}, {"name": "node-name", "type": "str", "default": null},
                         {"name": "read-only", "type": "bool", "default": null}],
             "variants": [{"case": "file", "type": "10"}]},
            {"name": "7", "meta-type": "enum", "values": ["number", "qcode"]},
            {"name": "8", "meta-type": "object", "members": [{"name": "data", "type": "int"}]},
            {"name": "9", "meta-type": "enum", "values": ["file", "null-co"]},
            {"name": "10", "meta-type": "object", "members": [
                {"name": "filename", "type": "str"}, {"name": "size", "type": "11", "default": null}]},
            {"name": "11", "meta-type": "alternate", "members": [{"type": "int"}, {"type": "str"}]},
            {"name": "str", "meta-type": "builtin", "json-type": "string"},
            {"name": "int", "meta-type": "builtin", "json-type": "int"},
            {"name": "bool", "meta-type": "builtin", "json-type": "boolean"},
            {"name": "any", "meta-type": "builtin", "json-type": "value"}
        ]);
        SchemaIndex::new(entries.as_array().unwrap())
    }

    fn check(command: &str, args: Value, expect: &str) {
        let got = match index().check_arguments(command, &args) {
            Ok(()) => "ok".to_owned(),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn arguments() {
        check("query-status", json!({}), "ok");
        check("query-status", json!(null), "ok");
        check(
            "query-status",
            json!({"x": 1}),
            "query-status: unknown argument `x`",
        );
        check("qom-get", json!({"path": "/", "property": "type"}), "ok");
        check(
            "qom-get",
            json!({"pth": "/", "property": "type"}),
            "qom-get: unknown argument `pth`; did you mean `path`?",
        );
        check(
            "qom-get",
            json!({"path": "/"}),
            "qom-get: missing argument `property`",
        );
        check(
            "qom-get",
            json!({"path": 1, "property": "x"}),
            "qom-get: argument `path` must be a string, not 1",
        );
        check(
            "send-key",
            json!({"keys": [{"type": "qcode", "data": "a"}]}),
            "ok",
        );
        check(
            "send-key",
            json!({"keys": [{"type": "number", "data": 30}]}),
            "ok",
        );
        check(
            "send-key",
            json!({"keys": [{"type": "qcode", "data": "ahift"}]}),
            "send-key: argument `keys[0].data`: unknown value `ahift`; did you mean `shift`?",
        );
        check(
            "send-key",
            json!({"keys": [{"type": "qcode", "data": "a"}], "hold_time": 5}),
            "send-key: unknown argument `hold_time`; did you mean `hold-time`?",
        );
        check(
            "blockdev-add",
            json!({"driver": "file", "filename": "/x", "size": "1G"}),
            "ok",
        );
        check(
            "blockdev-add",
            json!({"driver": "file", "filename": "/x", "size": 5}),
            "ok",
        );
        check(
            "blockdev-add",
            json!({"driver": "file", "filename": "/x", "size": true}),
            "blockdev-add: argument `size` has the wrong type: true",
        );
        check("blockdev-add", json!({"driver": "null-co"}), "ok");
        check(
            "blockdev-add",
            json!({"driver": "null-co", "filename": "/x"}),
            "blockdev-add: unknown argument `filename`",
        );
        check(
            "query-stat",
            json!({}),
            "unknown command `query-stat`; did you mean `query-status`?",
        );
    }

    #[test]
    fn key_values() {
        let idx = index();
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            idx.parse_key_values("qom-get", &words(&["path=/", "property=123"]))
                .unwrap(),
            json!({"path": "/", "property": "123"})
        );
        assert_eq!(
            idx.parse_key_values(
                "blockdev-add",
                &words(&["driver=file", "read-only=true", "size=5"])
            )
            .unwrap(),
            json!({"driver": "file", "read-only": true, "size": 5})
        );
        assert_eq!(
            idx.parse_key_values("blockdev-add", &words(&["a.b=1", "a.c=x"]))
                .unwrap(),
            json!({"a": {"b": 1, "c": "x"}})
        );
        assert!(idx.parse_key_values("qom-get", &words(&["path"])).is_err());
        assert!(
            idx.parse_key_values("qom-get", &words(&["path=/", "path=/"]))
                .is_err()
        );
    }

    /// The words of `command` as JSON text, or the error.
    fn parsed(command: &str, w: &[&str]) -> String {
        let words: Vec<String> = w.iter().map(|s| s.to_string()).collect();
        let idx = index();
        match idx.parse_key_values(command, &words) {
            Ok(v) => match idx.check_arguments(command, &v) {
                Ok(()) => v.to_string(),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn option_words() {
        // MAQET's `--name value`, `--name=value`, mixed with key=value.
        let qom = r#"{"path":"/","property":"type"}"#;
        assert_eq!(
            parsed("qom-get", &["--path", "/", "--property", "type"]),
            qom
        );
        assert_eq!(parsed("qom-get", &["--path=/", "--property=type"]), qom);
        assert_eq!(parsed("qom-get", &["path=/", "--property", "type"]), qom);
        // Values take the schema's types, as with key=value.
        assert_eq!(
            parsed(
                "blockdev-add",
                &["--driver", "file", "--filename", "/x", "--size", "5"]
            ),
            r#"{"driver":"file","filename":"/x","size":5}"#
        );
        assert_eq!(
            parsed("qom-get", &["--path", "/", "--property", "123"]),
            r#"{"path":"/","property":"123"}"#
        );
        // A boolean without a value is true; a value starting with one
        // `-` is a value.
        assert_eq!(
            parsed("blockdev-add", &["--driver", "null-co", "--read-only"]),
            r#"{"driver":"null-co","read-only":true}"#
        );
        assert_eq!(
            parsed("blockdev-add", &["--read-only", "--driver", "null-co"]),
            r#"{"driver":"null-co","read-only":true}"#
        );
        assert_eq!(
            parsed(
                "blockdev-add",
                &["--driver", "null-co", "--read-only", "false"]
            ),
            r#"{"driver":"null-co","read-only":false}"#
        );
        assert_eq!(
            parsed("blockdev-add", &["--driver", "file", "--filename", "-x"]),
            r#"{"driver":"file","filename":"-x"}"#
        );
        // Checked like key=value: did you mean, missing, twice.
        assert_eq!(
            parsed("qom-get", &["--pth", "/", "--property", "type"]),
            "qom-get: unknown argument `pth`; did you mean `path`?"
        );
        assert_eq!(
            parsed("qom-get", &["--path", "/"]),
            "qom-get: missing argument `property`"
        );
        assert_eq!(
            parsed("qom-get", &["--path", "/", "path=/"]),
            "qom-get: argument `path` given twice"
        );
        assert_eq!(
            parsed("qom-get", &["--path", "--property", "type"]),
            "qom-get: `--path` needs a value"
        );
        assert_eq!(
            parsed("qom-get", &["--property"]),
            "qom-get: `--property` needs a value"
        );
        assert_eq!(
            parsed("qom-get", &["--=x"]),
            "qom-get: no argument name in `--=x`"
        );
        assert_eq!(
            parsed("qom-get", &["path"]),
            "qom-get: expected key=value or --key value, got `path`"
        );
    }

    #[test]
    fn completion_data() {
        let idx = index();
        assert_eq!(idx.key_codes().unwrap(), ["shift", "a", "ret"]);
        assert_eq!(idx.argument_names("send-key"), ["hold-time", "keys"]);
        assert_eq!(
            idx.argument_names("blockdev-add"),
            ["driver", "filename", "node-name", "read-only", "size"]
        );
        assert_eq!(
            idx.argument_values("blockdev-add", "driver"),
            ["file", "null-co"]
        );
        assert_eq!(
            idx.argument_values("blockdev-add", "read-only"),
            ["false", "true"]
        );
        assert_eq!(idx.commands().count(), 4);
        assert_eq!(idx.events().collect::<Vec<_>>(), ["STOP"]);
    }
}
