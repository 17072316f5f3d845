//! One release's QMP schema, and the checks QEMU's input visitor makes.
//!
//! QEMU checks a command's arguments while it decodes them: members in
//! schema order (base members, then own members, then the members of the
//! union branch the discriminator selects), each value against its type,
//! and, once an object's known members are done, whatever is left over is
//! unexpected. The first problem ends the check. The messages below are
//! QEMU 10.0's, checked against a real one by `tests/qemu_errors.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use qapi_parser::model::{Builtin, Entity, Schema, TypeRef};
use qmp_types::Release;
use serde_json::{Map, Value};

use crate::Error;

/// A release's schema, parsed once per process.
pub(crate) struct ReleaseSchema {
    pub(crate) release: Release,
    model: Schema,
    /// `query-qmp-schema`'s reply, built on first use.
    introspection: OnceLock<Value>,
}

impl std::fmt::Debug for ReleaseSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReleaseSchema({})", self.release)
    }
}

/// Parses `release`'s schema, or returns the copy parsed earlier.
pub(crate) fn load(release: Release) -> Result<Arc<ReleaseSchema>, Error> {
    static CACHE: OnceLock<Mutex<HashMap<Release, Arc<ReleaseSchema>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = cache.get(&release) {
        return Ok(s.clone());
    }
    let text = qmp_types::schema_source::qmp(release).ok_or(Error::UnknownRelease {
        release,
        known: qmp_types::schema_source::RELEASES.to_vec(),
    })?;
    let root = format!("qmp-{release}.json");
    let model = qapi_parser::parse_with(&root, &Default::default(), &mut |_| Ok(text.to_owned()))
        .map_err(|e| Error::Schema {
        release,
        message: e.to_string(),
    })?;
    let schema = Arc::new(ReleaseSchema {
        release,
        model,
        introspection: OnceLock::new(),
    });
    cache.insert(release, schema.clone());
    Ok(schema)
}

/// A command of the release, as the fake needs it.
pub(crate) struct CommandInfo<'a> {
    pub(crate) args: Option<&'a str>,
    pub(crate) returns: Option<&'a TypeRef>,
    pub(crate) allow_oob: bool,
}

impl ReleaseSchema {
    /// The command named `name`, if the release has it.
    pub(crate) fn command(&self, name: &str) -> Option<CommandInfo<'_>> {
        match self.model.get(name)? {
            Entity::Command(c) => Some(CommandInfo {
                args: c.args.as_deref(),
                returns: c.returns.as_ref(),
                allow_oob: c.allow_oob,
            }),
            _ => None,
        }
    }

    /// What `query-qmp-schema` answers.
    pub(crate) fn introspection(&self) -> &Value {
        self.introspection
            .get_or_init(|| Value::Array(crate::introspect::introspect(&self.model)))
    }

    /// Every command name, in definition order.
    pub(crate) fn command_names(&self) -> impl Iterator<Item = &str> {
        self.model.commands().map(|c| c.info.name.as_str())
    }

    /// The type of the event `name`'s data: `Ok(None)` for an event
    /// without data, `Err` if the release has no such event.
    pub(crate) fn event_args(&self, name: &str) -> Result<Option<&str>, ()> {
        match self.model.get(name) {
            Some(Entity::Event(e)) => Ok(e.args.as_deref()),
            _ => Err(()),
        }
    }

    /// Checks a command's `arguments` (or an event's `data`) against the
    /// object type `args` (`None`: no members at all), as QEMU does.
    /// `Err` holds QEMU's message.
    pub(crate) fn check_members(
        &self,
        args: Option<&str>,
        value: &Map<String, Value>,
    ) -> Result<(), String> {
        match args {
            Some(ty) => self.check_object(ty, value, ""),
            None => match value.keys().next() {
                Some(k) => Err(format!("Parameter '{k}' is unexpected")),
                None => Ok(()),
            },
        }
    }

    /// Checks `value` against `ty` at `path` (QEMU's full name of the
    /// value, `keys[0].data`). `bare` is the name QEMU puts in enum and
    /// range messages: the member's own name, or `null` in a list.
    pub(crate) fn check_value(
        &self,
        ty: &TypeRef,
        value: &Value,
        path: &str,
        bare: &str,
    ) -> Result<(), String> {
        let wrong = |expected: &str| {
            Err(format!(
                "Invalid parameter type for '{path}', expected: {expected}"
            ))
        };
        match ty {
            TypeRef::Builtin(b) => check_builtin(*b, value, path, bare),
            TypeRef::Enum(name) => {
                let Some(s) = value.as_str() else {
                    return wrong("string");
                };
                match self.model.get(name) {
                    Some(Entity::Enum(e)) if e.values.iter().any(|v| v.name == s) => Ok(()),
                    _ => Err(format!("Parameter '{bare}' does not accept value '{s}'")),
                }
            }
            TypeRef::Object(name) => match value {
                Value::Object(m) => self.check_object(name, m, path),
                _ => wrong("object"),
            },
            TypeRef::Array(elem) => match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check_value(elem, item, &format!("{path}[{i}]"), "null")?;
                    }
                    Ok(())
                }
                _ => wrong("array"),
            },
            TypeRef::Alternate(name) => {
                let Some(Entity::Alternate(alt)) = self.model.get(name) else {
                    return wrong(name);
                };
                let branch = alt.branches.iter().find(|b| fits_json_type(&b.ty, value));
                match branch {
                    Some(b) => self.check_value(&b.ty, value, path, bare),
                    None => wrong(name),
                }
            }
        }
    }

    /// Checks an object's members against the object type `name`.
    fn check_object(
        &self,
        name: &str,
        value: &Map<String, Value>,
        path: &str,
    ) -> Result<(), String> {
        let mut seen = HashSet::new();
        self.check_object_members(name, value, path, &mut seen)?;
        match value.keys().find(|k| !seen.contains(k.as_str())) {
            Some(k) => Err(format!("Parameter '{}' is unexpected", join(path, k))),
            None => Ok(()),
        }
    }

    /// Checks the members `name` knows (with its base and selected branch),
    /// noting them in `seen`; leaves the leftovers to the caller.
    fn check_object_members<'v>(
        &self,
        name: &str,
        value: &'v Map<String, Value>,
        path: &str,
        seen: &mut HashSet<&'v str>,
    ) -> Result<(), String> {
        for member in self.model.all_members(name) {
            let full = join(path, &member.name);
            match value.get_key_value(member.name.as_str()) {
                Some((k, v)) => {
                    seen.insert(k.as_str());
                    self.check_value(&member.ty, v, &full, &member.name)?;
                }
                None if member.optional => {}
                None => return Err(format!("Parameter '{full}' is missing")),
            }
        }
        let Some(variants) = self.model.object(name).and_then(|o| o.variants.as_ref()) else {
            return Ok(());
        };
        // The discriminator is a required enum member of the base, checked
        // above; its value names the branch.
        let Some(tag) = value.get(&variants.discriminator).and_then(Value::as_str) else {
            return Ok(());
        };
        match variants.variants.iter().find(|v| v.name == tag) {
            Some(branch) => self.check_object_members(&branch.ty, value, path, seen),
            None => Ok(()),
        }
    }
}

/// `path.name`, or `name` at the top.
fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// Whether an alternate branch of type `ty` takes `value` (QEMU picks the
/// branch by the value's JSON type).
fn fits_json_type(ty: &TypeRef, value: &Value) -> bool {
    use qapi_parser::model::JsonType as J;
    matches!(
        (ty.json_type(), value),
        (J::String, Value::String(_))
            | (J::Int | J::Number, Value::Number(_))
            | (J::Boolean, Value::Bool(_))
            | (J::Null, Value::Null)
            | (J::Object, Value::Object(_))
            | (J::Array, Value::Array(_))
            | (J::Value, _)
    )
}

fn check_builtin(b: Builtin, value: &Value, path: &str, bare: &str) -> Result<(), String> {
    let wrong = |expected: &str| {
        Err(format!(
            "Invalid parameter type for '{path}', expected: {expected}"
        ))
    };
    // QEMU reads every unsigned type as a uint64 first (taking negative
    // int64 values too, as they wrap), then checks the narrower range.
    let as_u64 = || -> Result<u64, String> {
        match value {
            Value::Number(n) => n
                .as_u64()
                .or_else(|| n.as_i64().map(|i| i as u64))
                .ok_or_else(|| format!("Parameter '{path}' expects uint64")),
            _ => Err(format!("Parameter '{path}' expects uint64")),
        }
    };
    let as_i64 = || {
        value
            .as_i64()
            .ok_or_else(|| format!("Invalid parameter type for '{path}', expected: integer"))
    };
    let range = |ok: bool, c_type: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("Parameter '{bare}' expects {c_type}"))
        }
    };
    match b {
        Builtin::Str => match value {
            Value::String(_) => Ok(()),
            _ => wrong("string"),
        },
        Builtin::Number => match value {
            Value::Number(_) => Ok(()),
            _ => wrong("number"),
        },
        Builtin::Bool => match value {
            Value::Bool(_) => Ok(()),
            _ => wrong("boolean"),
        },
        Builtin::Null => match value {
            Value::Null => Ok(()),
            _ => wrong("null"),
        },
        Builtin::Any => Ok(()),
        Builtin::Int | Builtin::Int64 => as_i64().map(drop),
        Builtin::Int8 => as_i64().and_then(|i| range(i8::try_from(i).is_ok(), "int8_t")),
        Builtin::Int16 => as_i64().and_then(|i| range(i16::try_from(i).is_ok(), "int16_t")),
        Builtin::Int32 => as_i64().and_then(|i| range(i32::try_from(i).is_ok(), "int32_t")),
        Builtin::Uint64 | Builtin::Size => as_u64().map(drop),
        Builtin::Uint8 => as_u64().and_then(|u| range(u8::try_from(u).is_ok(), "uint8_t")),
        Builtin::Uint16 => as_u64().and_then(|u| range(u16::try_from(u).is_ok(), "uint16_t")),
        Builtin::Uint32 => as_u64().and_then(|u| range(u32::try_from(u).is_ok(), "uint32_t")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Checks `args` of `command` in 10.0 and compares the outcome.
    fn check(command: &str, args: Value, expect: Result<(), &str>) {
        let s = load(Release::new(10, 0)).unwrap();
        let info = s.command(command).unwrap();
        let got = s.check_members(info.args, args.as_object().unwrap());
        assert_eq!(
            got.as_ref().map(|_| ()).map_err(String::as_str),
            expect,
            "{command} {args}"
        );
    }

    #[test]
    fn arguments_are_checked_as_qemu_does() {
        check("query-status", json!({}), Ok(()));
        check(
            "query-status",
            json!({"x": 1}),
            Err("Parameter 'x' is unexpected"),
        );
        check(
            "human-monitor-command",
            json!({}),
            Err("Parameter 'command-line' is missing"),
        );
        check(
            "human-monitor-command",
            json!({"command-line": 5}),
            Err("Invalid parameter type for 'command-line', expected: string"),
        );
        check(
            "send-key",
            json!({"keys": [{"type": "qcode", "data": "bogus"}]}),
            Err("Parameter 'data' does not accept value 'bogus'"),
        );
        check(
            "send-key",
            json!({"keys": [{"type": "qcode"}]}),
            Err("Parameter 'keys[0].data' is missing"),
        );
        check(
            "send-key",
            json!({"keys": [{"type": "qcode", "data": "a", "zz": 1}]}),
            Err("Parameter 'keys[0].zz' is unexpected"),
        );
        check(
            "send-key",
            json!({"keys": [{"type": "number", "data": "a"}]}),
            Err("Invalid parameter type for 'keys[0].data', expected: integer"),
        );
        check(
            "qmp_capabilities",
            json!({"enable": ["bogus"]}),
            Err("Parameter 'null' does not accept value 'bogus'"),
        );
        check(
            "blockdev-add",
            json!({"driver": "qcow2", "node-name": "a", "file": null}),
            Err("Invalid parameter type for 'file', expected: BlockdevRef"),
        );
        check(
            "blockdev-add",
            json!({"driver": "qcow2", "file": {"driver": "file"}, "zz": 1}),
            Err("Parameter 'file.filename' is missing"),
        );
        check(
            "blockdev-add",
            json!({"driver": "qcow2", "node-name": "a", "file": {"driver": "file", "filename": "/x"}, "zz": 1}),
            Err("Parameter 'zz' is unexpected"),
        );
        check(
            "blockdev-add",
            json!({"driver": "nope", "node-name": "a"}),
            Err("Parameter 'driver' does not accept value 'nope'"),
        );
        check(
            "migrate-set-parameters",
            json!({"max-bandwidth": -1}),
            Ok(()),
        );
        check(
            "migrate-set-parameters",
            json!({"multifd-channels": 300}),
            Err("Parameter 'multifd-channels' expects uint8_t"),
        );
        check(
            "migrate-set-parameters",
            json!({"multifd-channels": "x"}),
            Err("Parameter 'multifd-channels' expects uint64"),
        );
        check("migrate-set-parameters", json!({"tls-creds": null}), Ok(()));
        check(
            "migrate-set-parameters",
            json!({"tls-creds": 5}),
            Err("Invalid parameter type for 'tls-creds', expected: StrOrNull"),
        );
        check(
            "input-send-event",
            json!({"events": [{"type": "abs", "data": {"axis": "x", "value": "y"}}]}),
            Err("Invalid parameter type for 'events[0].data.value', expected: integer"),
        );
    }
}
