//! `query-qmp-schema` of a release, built from its schema as QEMU builds
//! its own: commands and events by name, the types they reach under
//! numbers (`"0"`, `"1"`, ...), built-in types under their JSON names
//! (`int`, `str`, ...), arrays as `[ELEMENT]`.
//!
//! The numbering is the fake's own (QEMU's depends on its generator's
//! walk): programs that read introspection follow the names, never the
//! numbers, which change between QEMU builds too.

use std::collections::HashMap;

use qapi_parser::model::{Entity, JsonType, Schema, TypeRef};
use serde_json::{Map, Value, json};

/// The `SchemaInfo` list of `schema`: commands, then events, then every
/// type they use.
pub(crate) fn introspect(schema: &Schema) -> Vec<Value> {
    let mut walk = Walk {
        schema,
        names: HashMap::new(),
        types: Vec::new(),
    };
    let mut entries = Vec::new();
    for c in schema.commands() {
        let mut e = Map::new();
        e.insert("name".into(), json!(c.info.name));
        e.insert("meta-type".into(), json!("command"));
        e.insert(
            "arg-type".into(),
            json!(walk.object_or_empty(c.args.as_deref())),
        );
        let ret = match &c.returns {
            Some(t) => walk.type_name(t),
            None => walk.object_or_empty(None),
        };
        e.insert("ret-type".into(), json!(ret));
        if c.allow_oob {
            e.insert("allow-oob".into(), json!(true));
        }
        entries.push(Value::Object(e));
    }
    for ev in schema.events() {
        let arg = walk.object_or_empty(ev.args.as_deref());
        entries.push(json!({"name": ev.info.name, "meta-type": "event", "arg-type": arg}));
    }
    entries.append(&mut walk.types);
    entries
}

struct Walk<'a> {
    schema: &'a Schema,
    /// QAPI type name (or `[int]`, `int`) to its introspection name.
    names: HashMap<String, String>,
    types: Vec<Value>,
}

impl Walk<'_> {
    fn object_or_empty(&mut self, name: Option<&str>) -> String {
        self.named(name.unwrap_or("q_empty"))
    }

    fn type_name(&mut self, ty: &TypeRef) -> String {
        match ty {
            TypeRef::Builtin(b) => {
                let (name, json_type) = match b.json_type() {
                    JsonType::String => ("str", "string"),
                    JsonType::Int => ("int", "int"),
                    JsonType::Number => ("number", "number"),
                    JsonType::Boolean => ("bool", "boolean"),
                    JsonType::Null => ("null", "null"),
                    _ => ("any", "value"),
                };
                if !self.names.contains_key(name) {
                    self.names.insert(name.into(), name.into());
                    self.types.push(
                        json!({"name": name, "meta-type": "builtin", "json-type": json_type}),
                    );
                }
                name.to_owned()
            }
            TypeRef::Array(elem) => {
                let elem = self.type_name(elem);
                let name = format!("[{elem}]");
                if !self.names.contains_key(&name) {
                    self.names.insert(name.clone(), name.clone());
                    self.types
                        .push(json!({"name": name, "meta-type": "array", "element-type": elem}));
                }
                name
            }
            TypeRef::Enum(n) | TypeRef::Object(n) | TypeRef::Alternate(n) => self.named(n),
        }
    }

    /// The number of the named type, giving it one (and its entry) on
    /// first use. The number is taken before the members are walked, so
    /// that recursive types end.
    fn named(&mut self, qapi: &str) -> String {
        if let Some(n) = self.names.get(qapi) {
            return n.clone();
        }
        let number = self.names.len().to_string();
        self.names.insert(qapi.to_owned(), number.clone());
        let entry = match self.schema.get(qapi) {
            Some(Entity::Enum(e)) => {
                let values: Vec<&str> = e.values.iter().map(|v| v.name.as_str()).collect();
                let members: Vec<Value> = values.iter().map(|v| json!({ "name": v })).collect();
                json!({"name": number, "meta-type": "enum", "values": values, "members": members})
            }
            Some(Entity::Alternate(a)) => {
                let members: Vec<Value> = a
                    .branches
                    .iter()
                    .map(|b| json!({ "type": self.type_name(&b.ty) }))
                    .collect();
                json!({"name": number, "meta-type": "alternate", "members": members})
            }
            Some(Entity::Struct(_) | Entity::Union(_)) => {
                let schema = self.schema;
                let mut members = Vec::new();
                for m in schema.all_members(qapi) {
                    let mut e = Map::new();
                    e.insert("name".into(), json!(m.name));
                    e.insert("type".into(), json!(self.type_name(&m.ty)));
                    if m.optional {
                        e.insert("default".into(), Value::Null);
                    }
                    members.push(Value::Object(e));
                }
                let mut e = Map::new();
                e.insert("name".into(), json!(number));
                e.insert("meta-type".into(), json!("object"));
                e.insert("members".into(), Value::Array(members));
                if let Some(v) = schema.object(qapi).and_then(|o| o.variants.as_ref()) {
                    e.insert("tag".into(), json!(v.discriminator));
                    let variants: Vec<Value> = v
                        .variants
                        .iter()
                        .map(|b| json!({ "case": b.name, "type": self.named(&b.ty) }))
                        .collect();
                    e.insert("variants".into(), Value::Array(variants));
                }
                Value::Object(e)
            }
            // Not a type of this schema: an empty object keeps the list
            // consistent.
            _ => json!({"name": number, "meta-type": "object", "members": []}),
        };
        self.types.push(entry);
        number
    }
}
