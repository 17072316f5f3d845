//! Checks of each definition's shape (QEMU's `expr.py` rules), producing a
//! typed definition with type names not yet resolved.

use std::fmt;

use crate::model::{Builtin, Cond, Feature, Loc, Pragma};
use crate::names::{
    LOWER_OR_DASH, UNDERSCORE, UPPER, builtin, c_name_is, c_name_starts_with, is_camel,
    is_cond_symbol, stem_classes,
};
use crate::syntax::{Node, Value};

/// A failed check: the message, and help text if any. The caller adds the
/// location (QEMU reports shape errors at the definition).
pub(crate) type Fail = (String, Option<String>);

fn fail<T>(msg: impl Into<String>) -> Result<T, Fail> {
    Err((msg.into(), None))
}

/// A type as written: a name or a one-element array.
#[derive(Clone, Debug)]
pub(crate) enum RawType {
    Name(String),
    Array(String),
    /// A built-in type, or an array of one (`true`): the commonest
    /// references, recognised here so that no name is copied for them.
    Builtin(Builtin, bool),
}

impl RawType {
    fn new(name: &str, array: bool) -> RawType {
        match builtin(name) {
            Some(b) => RawType::Builtin(b, array),
            None if array => RawType::Array(name.to_owned()),
            None => RawType::Name(name.to_owned()),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct RawMember {
    pub(crate) name: String,
    pub(crate) ty: RawType,
    pub(crate) optional: bool,
    pub(crate) cond: Option<Cond>,
    pub(crate) features: Vec<Feature>,
}

#[derive(Clone, Debug)]
pub(crate) struct RawBranch {
    pub(crate) name: String,
    pub(crate) ty: RawType,
    pub(crate) cond: Option<Cond>,
}

#[derive(Clone, Debug)]
pub(crate) struct RawEnumValue {
    pub(crate) name: String,
    pub(crate) cond: Option<Cond>,
    pub(crate) features: Vec<Feature>,
}

/// Inline members or a type name (for `data` and `base`).
#[derive(Clone, Debug)]
pub(crate) enum Data {
    Members(Vec<RawMember>),
    Named(String),
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Enum {
        values: Vec<RawEnumValue>,
        prefix: Option<String>,
    },
    Struct {
        base: Option<String>,
        members: Vec<RawMember>,
    },
    Union {
        base: Data,
        discriminator: String,
        branches: Vec<RawBranch>,
    },
    /// A union of the pre-7.0 form without base and discriminator.
    SimpleUnion {
        branches: Vec<RawBranch>,
    },
    Alternate {
        branches: Vec<RawBranch>,
    },
    Command {
        data: Option<Data>,
        boxed: bool,
        returns: Option<RawType>,
        gen_code: bool,
        success_response: bool,
        allow_oob: bool,
        allow_preconfig: bool,
        coroutine: bool,
    },
    Event {
        data: Option<Data>,
        boxed: bool,
    },
}

/// A definition whose shape has been checked.
#[derive(Clone, Debug)]
pub(crate) struct Def {
    pub(crate) meta: &'static str,
    pub(crate) name: String,
    pub(crate) loc: Loc,
    pub(crate) cond: Option<Cond>,
    pub(crate) features: Vec<Feature>,
    pub(crate) kind: Kind,
}

const METAS: [&str; 6] = ["enum", "struct", "union", "alternate", "command", "event"];

/// What a message is about, like `'data' member 'foo'`: `what`, `sep`,
/// then the quoted name. Formatted only when a message needs it, which is
/// rarely, rather than for every member checked.
struct Named<'a> {
    what: &'a dyn fmt::Display,
    sep: &'static str,
    name: &'a str,
}

impl<'a> Named<'a> {
    fn new(what: &'a dyn fmt::Display, sep: &'static str, name: &'a str) -> Named<'a> {
        Named { what, sep, name }
    }
}

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{} '{}'", self.what, self.sep, self.name)
    }
}

/// The meta-type and name of a definition, before any other check, so that
/// errors can say which definition they are in. Errors here have no context.
pub(crate) fn meta_and_name<'n>(expr: &'n Node) -> Result<(&'static str, &'n str), Fail> {
    let mut found = None;
    let mut count = 0;
    for m in METAS {
        if expr.get(m).is_some() {
            found = Some(m);
            count += 1;
        }
    }
    let (Some(meta), 1) = (found, count) else {
        return fail(
            "expression must have exactly one key 'enum', 'struct', 'union', 'alternate', \
             'command', 'event'",
        );
    };
    match expr.get(meta).and_then(Node::as_str) {
        Some(name) => Ok((meta, name)),
        None => fail(format!("'{meta}' requires a string name")),
    }
}

/// The naming rules a pragma relaxes for one definition: its own name
/// (`command-name-exceptions`) and its members' (`member-name-exceptions`).
/// Nothing else in these checks depends on pragmas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Relax {
    pub(crate) name: bool,
    pub(crate) members: bool,
}

impl Relax {
    /// Both rules relaxed.
    pub(crate) const ALL: Relax = Relax {
        name: true,
        members: true,
    };

    /// What `pragma` relaxes for the definition `name`.
    pub(crate) fn for_def(pragma: &Pragma, name: &str) -> Relax {
        Relax {
            name: pragma.command_name_exceptions.iter().any(|n| n == name),
            members: pragma.member_name_exceptions.iter().any(|n| n == name),
        }
    }

    /// Whether every relaxation in `self` is in `granted`.
    pub(crate) fn within(self, granted: Relax) -> bool {
        (!self.name || granted.name) && (!self.members || granted.members)
    }
}

/// Checks one definition. `loc` is where it starts; it is also the location
/// of its members, features and conditions (QEMU reports them there).
/// `relax` is what the pragmas relax for it; also returned is what of that
/// the definition needed to pass: it passes, giving the same definition,
/// under any pragmas that relax at least that, and fails under any others.
pub(crate) fn check_def(
    expr: &Node,
    meta: &'static str,
    name: &str,
    loc: &Loc,
    relax: Relax,
) -> Result<(Def, Relax), Fail> {
    let name_relaxed = check_defn_name(name, meta, relax)?;
    let ck = Ck {
        loc,
        relax,
        members_relaxed: std::cell::Cell::new(false),
    };
    let kind = match meta {
        "enum" => {
            check_keys(
                expr,
                &meta,
                &["enum", "data"],
                &["if", "features", "prefix"],
            )?;
            ck.enum_(expr)?
        }
        "union" => {
            let base = expr.get("base");
            let disc = expr.get("discriminator");
            if base.is_none() && disc.is_none() {
                // Pre-7.0 simple union: every branch wraps its type in a
                // 'data' member. QEMU 7.0 dropped the form; accept it for
                // older schemas.
                check_keys(expr, &meta, &["union", "data"], &["if", "features"])?;
                ck.simple_union(expr)?
            } else {
                check_keys(
                    expr,
                    &meta,
                    &["union", "base", "discriminator", "data"],
                    &["if", "features"],
                )?;
                ck.union(expr)?
            }
        }
        "alternate" => {
            check_keys(expr, &meta, &["alternate", "data"], &["if", "features"])?;
            ck.alternate(expr)?
        }
        "struct" => {
            check_keys(
                expr,
                &meta,
                &["struct", "data"],
                &["base", "if", "features"],
            )?;
            let members = match ck.implicit(expr.get("data"), &"'data'")? {
                Some(Data::Members(m)) => m,
                _ => return fail("'data' should be an object or type name"),
            };
            let base = check_type_name(expr.get("base"), &"'base'")?;
            Kind::Struct { base, members }
        }
        "command" => {
            check_keys(
                expr,
                &meta,
                &["command"],
                &[
                    "data",
                    "returns",
                    "boxed",
                    "if",
                    "features",
                    "gen",
                    "success-response",
                    "allow-oob",
                    "allow-preconfig",
                    "coroutine",
                ],
            )?;
            let boxed = flag(expr, "boxed")?;
            let data = ck.args(expr, boxed)?;
            let returns = check_type_name_or_array(expr.get("returns"), &"'returns'")?;
            Kind::Command {
                data,
                boxed,
                returns,
                gen_code: !off(expr, "gen"),
                success_response: !off(expr, "success-response"),
                allow_oob: flag(expr, "allow-oob")?,
                allow_preconfig: flag(expr, "allow-preconfig")?,
                coroutine: flag(expr, "coroutine")?,
            }
        }
        _ => {
            check_keys(
                expr,
                &meta,
                &["event"],
                &["data", "boxed", "if", "features"],
            )?;
            let boxed = flag(expr, "boxed")?;
            let data = ck.args(expr, boxed)?;
            Kind::Event { data, boxed }
        }
    };
    let cond = ck.cond(expr.get("if"), &meta)?;
    let features = ck.features(expr.get("features"))?;
    check_flags(expr)?;
    let def = Def {
        meta,
        name: name.to_owned(),
        loc: loc.clone(),
        cond,
        features,
        kind,
    };
    let needed = Relax {
        name: name_relaxed,
        members: ck.members_relaxed.get(),
    };
    Ok((def, needed))
}

/// Checks a definition's name; whether it passed only thanks to `relax`.
fn check_defn_name(name: &str, meta: &str, relax: Relax) -> Result<bool, Fail> {
    match meta {
        "event" => check_name_upper(name, &meta).map(|()| false),
        "command" => check_name_lower(name, &meta, false, relax.name),
        _ => {
            let (stem, _) = valid_stem(name, &meta)?;
            if !is_camel(stem) {
                return fail(format!("name of {meta} must use CamelCase"));
            }
            // 'Kind' was reserved too while simple unions existed; their
            // implicit enums now clash as ordinary redefinitions instead.
            if name.ends_with("List") {
                return fail(format!("{meta} name should not end in 'List'"));
            }
            Ok(false)
        }
    }
}

/// The stem of a valid name, and the classes of its characters (see
/// [`stem_classes`]).
fn valid_stem<'a>(name: &'a str, source: &dyn fmt::Display) -> Result<(&'a str, u8), Fail> {
    match stem_classes(name) {
        Some(s) => Ok(s),
        None => fail(format!("{source} has an invalid name")),
    }
}

fn check_name_upper(name: &str, source: &dyn fmt::Display) -> Result<(), Fail> {
    let (_, classes) = valid_stem(name, source)?;
    if classes & LOWER_OR_DASH != 0 {
        return fail(format!("name of {source} must not use lowercase or '-'"));
    }
    Ok(())
}

/// Checks a lower-case name; whether it passed only thanks to a permit.
fn check_name_lower(
    name: &str,
    source: &dyn fmt::Display,
    permit_upper: bool,
    permit_underscore: bool,
) -> Result<bool, Fail> {
    let (_, classes) = valid_stem(name, source)?;
    let upper = classes & UPPER != 0;
    let underscore = classes & UNDERSCORE != 0;
    if (!permit_upper && upper) || (!permit_underscore && underscore) {
        return fail(format!("name of {source} must not use uppercase or '_'"));
    }
    Ok(upper || underscore)
}

fn quoted_sorted(keys: &[&str]) -> String {
    let mut keys = keys.to_vec();
    keys.sort_unstable();
    keys.iter()
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_keys(
    value: &Node,
    source: &dyn fmt::Display,
    required: &[&str],
    optional: &[&str],
) -> Result<(), Fail> {
    let dict = value.as_dict().unwrap_or(&[]);
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| !dict.iter().any(|(k, _)| k == r))
        .collect();
    if !missing.is_empty() {
        let s = if missing.len() > 1 { "s" } else { "" };
        return fail(format!(
            "{source} misses key{s} {}",
            quoted_sorted(&missing)
        ));
    }
    let unknown: Vec<&str> = dict
        .iter()
        .map(|(k, _)| k.as_ref())
        .filter(|k| !required.contains(k) && !optional.contains(k))
        .collect();
    if !unknown.is_empty() {
        let s = if unknown.len() > 1 { "s" } else { "" };
        let allowed: Vec<&str> = required.iter().chain(optional).copied().collect();
        return Err((
            format!("{source} has unknown key{s} {}", quoted_sorted(&unknown)),
            Some(format!("Valid keys are {}.", quoted_sorted(&allowed))),
        ));
    }
    Ok(())
}

fn flag(expr: &Node, key: &str) -> Result<bool, Fail> {
    Ok(matches!(
        expr.get(key).map(|n| &n.value),
        Some(Value::Bool(true))
    ))
}

/// Whether a flag that may only be `false` is given (and so turned off).
fn off(expr: &Node, key: &str) -> bool {
    matches!(expr.get(key).map(|n| &n.value), Some(Value::Bool(false)))
}

fn check_flags(expr: &Node) -> Result<(), Fail> {
    for key in ["gen", "success-response"] {
        if let Some(v) = expr.get(key)
            && v.value != Value::Bool(false)
        {
            return fail(format!("flag '{key}' may only use false value"));
        }
    }
    for key in ["boxed", "allow-oob", "allow-preconfig", "coroutine"] {
        if let Some(v) = expr.get(key)
            && v.value != Value::Bool(true)
        {
            return fail(format!("flag '{key}' may only use true value"));
        }
    }
    if expr.get("allow-oob").is_some() && expr.get("coroutine").is_some() {
        return fail("flags 'allow-oob' and 'coroutine' are incompatible");
    }
    Ok(())
}

fn check_type_name(
    value: Option<&Node>,
    source: &dyn fmt::Display,
) -> Result<Option<String>, Fail> {
    match value {
        None => Ok(None),
        Some(v) => match v.as_str() {
            Some(s) => Ok(Some(s.to_owned())),
            None => fail(format!("{source} should be a type name")),
        },
    }
}

fn check_type_name_or_array(
    value: Option<&Node>,
    source: &dyn fmt::Display,
) -> Result<Option<RawType>, Fail> {
    let Some(v) = value else { return Ok(None) };
    match &v.value {
        Value::Str(s) => Ok(Some(RawType::new(s, false))),
        Value::List(items) => match &items[..] {
            [
                Node {
                    value: Value::Str(s),
                    ..
                },
            ] => Ok(Some(RawType::new(s, true))),
            _ => fail(format!(
                "{source}: array type must contain single type name"
            )),
        },
        _ => fail(format!("{source} should be a type name or array")),
    }
}

/// Normalizes `'name': 'type'` to `{'type': 'type'}` (QEMU's
/// normalize_members) by viewing either form through one accessor.
fn member_type_node<'n, 'a>(arg: &'n Node<'a>) -> Option<&'n Node<'a>> {
    match &arg.value {
        Value::Dict(_) => arg.get("type"),
        _ => Some(arg),
    }
}

fn keys_of_member(
    arg: &Node,
    source: &dyn fmt::Display,
    required: &[&str],
    optional: &[&str],
) -> Result<(), Fail> {
    if arg.as_dict().is_some() {
        check_keys(arg, source, required, optional)
    } else {
        Ok(())
    }
}

struct Ck<'a> {
    loc: &'a Loc,
    relax: Relax,
    /// Set when a member name passed only thanks to `relax.members`.
    members_relaxed: std::cell::Cell<bool>,
}

impl Ck<'_> {
    fn cond(&self, value: Option<&Node>, source: &dyn fmt::Display) -> Result<Option<Cond>, Fail> {
        match value {
            None => Ok(None),
            Some(v) => self.cond_node(v, source).map(Some),
        }
    }

    fn cond_node(&self, v: &Node, source: &dyn fmt::Display) -> Result<Cond, Fail> {
        match &v.value {
            Value::Str(s) => {
                if let Some(c) = legacy_cond(s) {
                    return Ok(c);
                }
                if !is_cond_symbol(s) {
                    return fail(format!(
                        "'if' condition '{s}' of {source} is not a valid identifier"
                    ));
                }
                Ok(Cond::Name(s.to_string()))
            }
            Value::Dict(d) => {
                check_keys(
                    v,
                    &format!("'if' condition of {source}"),
                    &[],
                    &["all", "any", "not"],
                )?;
                let [(key, operand)] = &d[..] else {
                    return fail(format!("'if' condition of {source} has conflicting keys"));
                };
                if key == "not" {
                    return Ok(Cond::Not(Box::new(self.cond_node(operand, source)?)));
                }
                let Value::List(ops) = &operand.value else {
                    return fail(format!("'{key}' condition of {source} must be an array"));
                };
                if ops.is_empty() {
                    return fail(format!("'if' condition [] of {source} is useless"));
                }
                let ops = ops
                    .iter()
                    .map(|o| self.cond_node(o, source))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if key == "all" {
                    Cond::All(ops)
                } else {
                    Cond::Any(ops)
                })
            }
            _ => fail(format!(
                "'if' condition of {source} must be a string or an object"
            )),
        }
    }

    fn features(&self, value: Option<&Node>) -> Result<Vec<Feature>, Fail> {
        let Some(v) = value else {
            return Ok(Vec::new());
        };
        let Value::List(items) = &v.value else {
            return fail("'features' must be an array");
        };
        let mut out = Vec::new();
        for f in items {
            let source = "'features' member";
            let (name_node, cond_node) = match &f.value {
                Value::Dict(_) => {
                    check_keys(f, &source, &["name"], &["if"])?;
                    (f.get("name"), f.get("if"))
                }
                _ => (Some(f), None),
            };
            let Some(name) = name_node.and_then(Node::as_str) else {
                return fail(format!("{source} requires a string name"));
            };
            let source = Named::new(&source, "", name);
            check_name_lower(name, &source, false, false)?;
            let cond = self.cond(cond_node, &source)?;
            out.push(Feature {
                name: name.to_owned(),
                cond,
                loc: self.loc.clone(),
            });
        }
        Ok(out)
    }

    fn enum_(&self, expr: &Node) -> Result<Kind, Fail> {
        let Some(Value::List(items)) = expr.get("data").map(|d| &d.value) else {
            return fail("'data' must be an array");
        };
        let prefix = match expr.get("prefix") {
            None => None,
            Some(p) => match p.as_str() {
                Some(s) => Some(s.to_owned()),
                None => return fail("'prefix' must be a string"),
            },
        };
        let permissive = self.relax.members;
        let mut values = Vec::with_capacity(items.len());
        for m in items {
            let source = "'data' member";
            let (name_node, dict) = match &m.value {
                Value::Dict(_) => {
                    check_keys(m, &source, &["name"], &["if", "features"])?;
                    (m.get("name"), Some(m))
                }
                _ => (Some(m), None),
            };
            let Some(vname) = name_node.and_then(Node::as_str) else {
                return fail(format!("{source} requires a string name"));
            };
            let source = Named::new(&source, "", vname);
            // Enum values may start with a digit: check the rest as if it
            // started with a letter.
            let checked: std::borrow::Cow<'_, str> =
                if vname.starts_with(|c: char| c.is_ascii_digit()) {
                    format!("d{vname}").into()
                } else {
                    vname.into()
                };
            if check_name_lower(&checked, &source, permissive, permissive)? {
                self.members_relaxed.set(true);
            }
            let cond = self.cond(dict.and_then(|d| d.get("if")), &source)?;
            let features = self.features(dict.and_then(|d| d.get("features")))?;
            values.push(RawEnumValue {
                name: vname.to_owned(),
                cond,
                features,
            });
        }
        Ok(Kind::Enum { values, prefix })
    }

    /// `data` or `base` given as inline members or a type name.
    fn implicit(
        &self,
        value: Option<&Node>,
        source: &dyn fmt::Display,
    ) -> Result<Option<Data>, Fail> {
        let Some(v) = value else { return Ok(None) };
        let dict = match &v.value {
            Value::Str(s) => return Ok(Some(Data::Named(s.to_string()))),
            Value::Dict(d) => d,
            _ => return fail(format!("{source} should be an object or type name")),
        };
        let permissive = self.relax.members;
        let mut members = Vec::with_capacity(dict.len());
        for (key, arg) in dict {
            let key_source = Named::new(source, " member", key);
            let (name, optional) = match key.strip_prefix('*') {
                Some(n) => (n, true),
                None => (key.as_ref(), false),
            };
            if check_name_lower(name, &key_source, permissive, permissive)? {
                self.members_relaxed.set(true);
            }
            if c_name_is(name, "u") || c_name_starts_with(name, "has_") {
                return fail(format!("{key_source} uses reserved name"));
            }
            keys_of_member(arg, &key_source, &["type"], &["if", "features"])?;
            let cond = self.cond(arg.get("if"), &key_source)?;
            let features = self.features(arg.get("features"))?;
            let ty = check_type_name_or_array(member_type_node(arg), &key_source)?;
            let Some(ty) = ty else {
                return fail(format!("{key_source} misses key 'type'"));
            };
            members.push(RawMember {
                name: name.to_owned(),
                ty,
                optional,
                cond,
                features,
            });
        }
        Ok(Some(Data::Members(members)))
    }

    fn args(&self, expr: &Node, boxed: bool) -> Result<Option<Data>, Fail> {
        let data = expr.get("data");
        if boxed {
            if data.is_none() {
                return fail("'boxed': true requires 'data'");
            }
            return Ok(check_type_name(data, &"'data'")?.map(Data::Named));
        }
        self.implicit(data, &"'data'")
    }

    fn branches(
        &self,
        expr: &Node,
        check_names: bool,
        allow_array: bool,
    ) -> Result<Vec<RawBranch>, Fail> {
        let Some(Value::Dict(d)) = expr.get("data").map(|d| &d.value) else {
            return fail("'data' must be an object");
        };
        let mut out = Vec::new();
        for (key, value) in d {
            let source = Named::new(&"'data' member", "", key);
            if check_names {
                check_name_lower(key, &source, false, false)?;
            }
            keys_of_member(value, &source, &["type"], &["if"])?;
            let cond = self.cond(value.get("if"), &source)?;
            let ty = if allow_array {
                check_type_name_or_array(member_type_node(value), &source)?
            } else {
                check_type_name(member_type_node(value), &source)?.map(RawType::Name)
            };
            let Some(ty) = ty else {
                return fail(format!("{source} misses key 'type'"));
            };
            out.push(RawBranch {
                name: key.to_string(),
                ty,
                cond,
            });
        }
        Ok(out)
    }

    fn union(&self, expr: &Node) -> Result<Kind, Fail> {
        let base = match self.implicit(expr.get("base"), &"'base'")? {
            Some(b) => b,
            None => return fail("'base' should be an object or type name"),
        };
        let Some(discriminator) = expr.get("discriminator").and_then(Node::as_str) else {
            return fail("'discriminator' requires a string name");
        };
        let branches = self.branches(expr, false, false)?;
        Ok(Kind::Union {
            base,
            discriminator: discriminator.to_owned(),
            branches,
        })
    }

    fn simple_union(&self, expr: &Node) -> Result<Kind, Fail> {
        let branches = self.branches(expr, true, true)?;
        Ok(Kind::SimpleUnion { branches })
    }

    fn alternate(&self, expr: &Node) -> Result<Kind, Fail> {
        if let Some(Value::Dict(d)) = expr.get("data").map(|d| &d.value)
            && d.is_empty()
        {
            return fail("'data' must not be empty");
        }
        let branches = self.branches(expr, true, true)?;
        Ok(Kind::Alternate { branches })
    }
}

/// Parses a condition in the C preprocessor form of releases before 6.2
/// (`defined(CONFIG_VNC) || !defined(TARGET_S390X)`) into the model's
/// structured form. `None` unless the whole string is such an expression.
fn legacy_cond(text: &str) -> Option<Cond> {
    let mut p = CondParser { rest: text };
    let c = p.or()?;
    p.rest.trim().is_empty().then_some(c)
}

struct CondParser<'a> {
    rest: &'a str,
}

impl CondParser<'_> {
    fn eat(&mut self, tok: &str) -> bool {
        let t = self.rest.trim_start();
        match t.strip_prefix(tok) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    fn or(&mut self) -> Option<Cond> {
        let mut ops = vec![self.and()?];
        while self.eat("||") {
            ops.push(self.and()?);
        }
        Some(if ops.len() == 1 {
            ops.pop()?
        } else {
            Cond::Any(ops)
        })
    }

    fn and(&mut self) -> Option<Cond> {
        let mut ops = vec![self.unary()?];
        while self.eat("&&") {
            ops.push(self.unary()?);
        }
        Some(if ops.len() == 1 {
            ops.pop()?
        } else {
            Cond::All(ops)
        })
    }

    fn unary(&mut self) -> Option<Cond> {
        if self.eat("!") {
            return Some(Cond::Not(Box::new(self.unary()?)));
        }
        if self.eat("defined") {
            if !self.eat("(") {
                return None;
            }
            let t = self.rest.trim_start();
            let end = t.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            let name = &t[..end];
            self.rest = &t[end..];
            if !is_cond_symbol(name) || !self.eat(")") {
                return None;
            }
            return Some(Cond::Name(name.to_owned()));
        }
        if self.eat("(") {
            let c = self.or()?;
            return self.eat(")").then_some(c);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(c: Option<Cond>) -> String {
        c.map_or("-".to_owned(), |c| c.to_string())
    }

    #[test]
    fn legacy_conditions() {
        let cases = [
            ("defined(CONFIG_VNC)", "CONFIG_VNC"),
            ("defined(A) || defined(B)", "(A || B)"),
            ("defined(A) && !defined(B)", "(A && !B)"),
            ("defined(A) || defined(B) && defined(C)", "(A || (B && C))"),
            (
                "(defined(A) || defined(B)) && defined(C)",
                "((A || B) && C)",
            ),
            ("CONFIG_VNC", "-"),
            ("defined(a)", "-"),
            ("defined(A) junk", "-"),
            ("", "-"),
        ];
        for (text, want) in cases {
            assert_eq!(show(legacy_cond(text)), want, "{text}");
        }
    }
}
