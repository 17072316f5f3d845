//! Every example message in the documentation of every supported release
//! (kept in `schema/<release>/*.facts.json`) decodes into the generated
//! types and encodes back to the same JSON.
//!
//! `->` messages decode into the named command's type, `<-` replies into
//! the preceding command's `Output`, errors into an error object, events
//! into `Event` (with `EventMessage` when they carry a timestamp).
//! Examples QEMU gets wrong are listed, each with its reason, in
//! `tests/example-exceptions.txt`; the test fails on a failure not listed
//! there and on a listed entry that no longer fails.

// Deprecated commands have examples too.
#![allow(deprecated)]

use std::collections::BTreeMap;
use std::path::Path;

use qmp_types::EventMessage;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Decodes `v` as `T` and encodes it again; the re-encoded value.
fn round_trip<T: DeserializeOwned + serde::Serialize>(v: &Value) -> Result<Value, String> {
    let t: T = qmp_types::decode(v).map_err(|e| e.to_string())?;
    serde_json::to_value(&t).map_err(|e| e.to_string())
}

macro_rules! dispatch {
    ($(($wire:literal, $ty:path)),* $(,)?) => {
        pub(crate) fn args(name: &str, v: &serde_json::Value) -> Option<Result<serde_json::Value, String>> {
            match name {
                $($wire => Some(crate::round_trip::<$ty>(v)),)*
                _ => None,
            }
        }

        pub(crate) fn reply(name: &str, v: &serde_json::Value) -> Option<Result<serde_json::Value, String>> {
            match name {
                $($wire => Some(crate::round_trip::<<$ty as qmp_types::Command>::Output>(v)),)*
                _ => None,
            }
        }
    };
}

mod qmp {
    qmp_types::__qmp_commands!(dispatch);
}

mod qga {
    qmp_types::__qga_commands!(dispatch);
}

/// QEMU's error reply body.
#[derive(serde::Serialize, serde::Deserialize)]
struct ErrorBody {
    class: qmp_types::qmp::QapiErrorClass,
    desc: String,
}

/// JSON equality, numbers compared by value (an integer sent where QEMU
/// takes a `number` comes back as a float).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn compare(orig: &Value, result: Result<Value, String>) -> Result<(), String> {
    let again = result?;
    if same(orig, &again) {
        Ok(())
    } else {
        Err(format!("re-encoded differently: {again}"))
    }
}

/// Checks one message; `last` is the command of the exchange so far.
fn check(proto: &str, dir: &str, text: &str, last: &mut Option<String>) -> Result<(), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let obj = v.as_object().ok_or("not an object")?;
    type RoundTrip = fn(&str, &Value) -> Option<Result<Value, String>>;
    let (args, reply): (RoundTrip, RoundTrip) = match proto {
        "qmp" => (qmp::args, qmp::reply),
        _ => (qga::args, qga::reply),
    };
    if dir == "->" {
        let name = obj
            .get("execute")
            .or_else(|| obj.get("exec-oob"))
            .and_then(Value::as_str)
            .ok_or("a request without `execute`")?;
        *last = Some(name.to_owned());
        let a = obj
            .get("arguments")
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default()));
        let result = args(name, &a).ok_or_else(|| format!("unknown command `{name}`"))?;
        return compare(&a, result);
    }
    if let Some(r) = obj.get("return") {
        let name = last.as_deref().ok_or("a reply without a command")?;
        let result = reply(name, r).ok_or_else(|| format!("unknown command `{name}`"))?;
        return compare(r, result);
    }
    if let Some(e) = obj.get("error") {
        return compare(e, round_trip::<ErrorBody>(e));
    }
    if obj.contains_key("event") {
        return if obj.contains_key("timestamp") {
            compare(&v, round_trip::<EventMessage<qmp_types::qmp::Event>>(&v))
        } else {
            compare(&v, round_trip::<qmp_types::qmp::Event>(&v))
        };
    }
    Err("neither a request, a reply nor an event".into())
}

#[derive(serde::Deserialize)]
struct Facts {
    definitions: BTreeMap<String, Def>,
}

#[derive(serde::Deserialize)]
struct Def {
    #[serde(default)]
    examples: Vec<Vec<Message>>,
}

#[derive(serde::Deserialize)]
struct Message {
    dir: String,
    json: String,
}

#[test]
fn every_documented_example_round_trips() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let exceptions_path = root.join("qmp-types/tests/example-exceptions.txt");
    let exceptions_text = std::fs::read_to_string(&exceptions_path).unwrap_or_default();
    // key -> (reason, used)
    let mut exceptions: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for line in exceptions_text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, reason) = line.split_once(": ").unwrap_or((line, ""));
        assert!(
            !reason.trim().is_empty(),
            "exception without a reason: {line}"
        );
        exceptions.insert(key.to_owned(), (reason.to_owned(), false));
    }
    let mut passed = 0;
    let mut listed = 0;
    let mut failures = Vec::new();
    for release in ["7.2", "10.0", "10.2"] {
        for proto in ["qmp", "qga"] {
            let path = root.join(format!("schema/{release}/{proto}.facts.json"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let facts: Facts = serde_json::from_str(&text).unwrap();
            for (name, def) in &facts.definitions {
                for (i, ex) in def.examples.iter().enumerate() {
                    let mut last = None;
                    for (j, m) in ex.iter().enumerate() {
                        let key = format!("{release} {proto} {name} {}.{}", i + 1, j + 1);
                        let any = format!("* {proto} {name} {}.{}", i + 1, j + 1);
                        let result = check(proto, &m.dir, &m.json, &mut last);
                        let exact = exceptions.contains_key(&key);
                        // A `*` entry covers every release and may pass in some.
                        let hit = if exact {
                            exceptions.get_mut(&key)
                        } else {
                            exceptions.get_mut(&any)
                        };
                        match (result, hit) {
                            (Ok(()), Some(_)) if exact => {
                                failures.push(format!("{key}: listed as an exception but passes"));
                            }
                            (Ok(()), _) => passed += 1,
                            (Err(_), Some(e)) => {
                                e.1 = true;
                                listed += 1;
                            }
                            (Err(err), None) => failures.push(format!("{key}: {err}")),
                        }
                    }
                }
            }
        }
    }
    for (key, (_, used)) in &exceptions {
        if !used {
            failures.push(format!("{key}: listed as an exception but passes"));
        }
    }
    eprintln!("{passed} example messages round-trip; {listed} listed exceptions");
    assert!(
        failures.is_empty(),
        "{} example messages misbehave (fix the generator, or list QEMU's own \
         mistakes in {} with a reason):\n{}",
        failures.len(),
        exceptions_path.display(),
        failures.join("\n")
    );
    assert!(passed > 500, "only {passed} examples passed");
}
