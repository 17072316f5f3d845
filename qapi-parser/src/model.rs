//! The checked schema model: the generator's input.
//!
//! Every node keeps the QAPI (wire) spelling of its names and the [`Loc`] it
//! was defined at. Names of implicit types follow QEMU's conventions
//! (`q_obj_send-key-arg`, `KeyValueKind`, `q_obj_int-wrapper`, `intList`), so
//! a model dumped here lines up with QEMU's own `query-qmp-schema` and test
//! dumps.

use std::sync::Arc;

#[cfg(feature = "serde")]
use serde::Serialize;

use crate::doc::Doc;

/// A position in a schema file: the path as the schema named it, 1-based line
/// and column (tabs advance to the next multiple of 8, as QEMU counts).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Loc {
    /// File path as given on the command line, or joined onto the including
    /// file's directory for included files.
    pub file: Arc<str>,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A compile-time condition (`'if'`): which configuration a definition needs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum Cond {
    /// A configuration symbol such as `CONFIG_VNC` or `TARGET_I386`.
    Name(String),
    /// All of the conditions hold.
    All(Vec<Cond>),
    /// At least one of the conditions holds.
    Any(Vec<Cond>),
    /// The condition does not hold.
    Not(Box<Cond>),
}

impl Cond {
    /// Evaluates the condition with `is_set` deciding each symbol.
    pub fn eval(&self, is_set: &dyn Fn(&str) -> bool) -> bool {
        match self {
            Cond::Name(n) => is_set(n),
            Cond::All(cs) => cs.iter().all(|c| c.eval(is_set)),
            Cond::Any(cs) => cs.iter().any(|c| c.eval(is_set)),
            Cond::Not(c) => !c.eval(is_set),
        }
    }
}

impl std::fmt::Display for Cond {
    /// Renders the condition as a C-like expression, e.g.
    /// `CONFIG_VNC && !CONFIG_SPICE`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn join(f: &mut std::fmt::Formatter<'_>, cs: &[Cond], op: &str) -> std::fmt::Result {
            f.write_str("(")?;
            for (i, c) in cs.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str(")")
        }
        match self {
            Cond::Name(n) => f.write_str(n),
            Cond::All(cs) => join(f, cs, "&&"),
            Cond::Any(cs) => join(f, cs, "||"),
            Cond::Not(c) => write!(f, "!{c}"),
        }
    }
}

/// A feature flag of a definition or member (`deprecated`, `unstable`, or a
/// custom name).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Feature {
    /// The feature's name.
    pub name: String,
    /// Condition under which the feature exists.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub cond: Option<Cond>,
    /// Where the feature is named.
    pub loc: Loc,
}

impl Feature {
    /// Whether this is one of the features QEMU treats specially.
    pub fn is_special(&self) -> bool {
        matches!(self.name.as_str(), "deprecated" | "unstable")
    }
}

/// A built-in type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Builtin {
    /// `str`: a JSON string.
    Str,
    /// `number`: a JSON number (double).
    Number,
    /// `int`: a signed 64-bit integer.
    Int,
    /// `int8`.
    Int8,
    /// `int16`.
    Int16,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `uint8`.
    Uint8,
    /// `uint16`.
    Uint16,
    /// `uint32`.
    Uint32,
    /// `uint64`.
    Uint64,
    /// `size`: an unsigned 64-bit byte count.
    Size,
    /// `bool`.
    Bool,
    /// `null`: JSON null.
    Null,
    /// `any`: any JSON value.
    Any,
}

impl Builtin {
    /// All built-in types, in QEMU's order.
    pub const ALL: [Builtin; 15] = [
        Builtin::Str,
        Builtin::Number,
        Builtin::Int,
        Builtin::Int8,
        Builtin::Int16,
        Builtin::Int32,
        Builtin::Int64,
        Builtin::Uint8,
        Builtin::Uint16,
        Builtin::Uint32,
        Builtin::Uint64,
        Builtin::Size,
        Builtin::Bool,
        Builtin::Null,
        Builtin::Any,
    ];

    /// The schema spelling, e.g. `uint32`.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Str => "str",
            Builtin::Number => "number",
            Builtin::Int => "int",
            Builtin::Int8 => "int8",
            Builtin::Int16 => "int16",
            Builtin::Int32 => "int32",
            Builtin::Int64 => "int64",
            Builtin::Uint8 => "uint8",
            Builtin::Uint16 => "uint16",
            Builtin::Uint32 => "uint32",
            Builtin::Uint64 => "uint64",
            Builtin::Size => "size",
            Builtin::Bool => "bool",
            Builtin::Null => "null",
            Builtin::Any => "any",
        }
    }

    /// Looks a built-in type up by its schema spelling.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The JSON type QEMU's alternate rules assign to the type.
    pub fn json_type(self) -> JsonType {
        match self {
            Builtin::Str => JsonType::String,
            Builtin::Number => JsonType::Number,
            Builtin::Bool => JsonType::Boolean,
            Builtin::Null => JsonType::Null,
            Builtin::Any => JsonType::Value,
            _ => JsonType::Int,
        }
    }
}

/// The JSON type of values of a type, as used to tell alternate branches
/// apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum JsonType {
    /// A string (also enums).
    String,
    /// An integer.
    Int,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// `null`.
    Null,
    /// An object.
    Object,
    /// An array.
    Array,
    /// Any JSON value.
    Value,
}

/// A reference to a type, resolved to what it names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "kind", content = "name", rename_all = "lowercase")
)]
pub enum TypeRef {
    /// A built-in type.
    Builtin(Builtin),
    /// An enum type (including the built-in `QType`).
    Enum(String),
    /// A struct or union type (including implicit ones).
    Object(String),
    /// An alternate type.
    Alternate(String),
    /// An array of the element type.
    Array(Box<TypeRef>),
}

impl TypeRef {
    /// The QAPI name of the referenced type (`intList` for `['int']`).
    pub fn name(&self) -> String {
        match self {
            TypeRef::Builtin(b) => b.name().to_owned(),
            TypeRef::Enum(n) | TypeRef::Object(n) | TypeRef::Alternate(n) => n.clone(),
            TypeRef::Array(e) => format!("{}List", e.name()),
        }
    }

    /// The JSON type of the referenced type's values.
    pub fn json_type(&self) -> JsonType {
        match self {
            TypeRef::Builtin(b) => b.json_type(),
            TypeRef::Enum(_) => JsonType::String,
            TypeRef::Object(_) => JsonType::Object,
            TypeRef::Alternate(_) => JsonType::Value,
            TypeRef::Array(_) => JsonType::Array,
        }
    }
}

/// The definition-level facts every named entity carries.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Info {
    /// The QAPI name, e.g. `send-key`, `KeyValue`, `STOP`.
    pub name: String,
    /// Where it is defined (for implicit types: the defining entity).
    pub loc: Loc,
    /// Condition under which it exists.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub cond: Option<Cond>,
    /// Its features.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub features: Vec<Feature>,
    /// Its documentation comment.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub doc: Option<Doc>,
    /// Whether QEMU created it rather than the schema naming it.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "std::ops::Not::not"))]
    pub implicit: bool,
}

impl Info {
    /// Whether the definition has the named feature.
    pub fn has_feature(&self, name: &str) -> bool {
        self.features.iter().any(|f| f.name == name)
    }
}

/// An enum value.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct EnumValue {
    /// The value's wire name.
    pub name: String,
    /// Condition under which it exists.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub cond: Option<Cond>,
    /// Its features.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub features: Vec<Feature>,
    /// Where it is named.
    pub loc: Loc,
}

/// An enum type.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct EnumType {
    /// Name, location, condition, features, doc.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub info: Info,
    /// The values in definition order.
    pub values: Vec<EnumValue>,
    /// The C prefix override (`'prefix'`), kept as metadata.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub prefix: Option<String>,
}

/// A member of a struct, union base, command or event.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Member {
    /// The wire name, without the `*` of optional members.
    pub name: String,
    /// The member's type.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub ty: TypeRef,
    /// Whether the member may be absent.
    pub optional: bool,
    /// Condition under which it exists.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub cond: Option<Cond>,
    /// Its features.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub features: Vec<Feature>,
    /// Where it is defined.
    pub loc: Loc,
}

/// One branch of a union.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Variant {
    /// The discriminator value selecting this branch.
    pub name: String,
    /// The branch's object type, whose members join the union's.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub ty: String,
    /// Condition under which it exists.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub cond: Option<Cond>,
    /// Where it is defined.
    pub loc: Loc,
}

/// The branches of a union.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Variants {
    /// The base member whose value selects the branch.
    pub discriminator: String,
    /// The discriminator's enum type.
    pub tag_type: String,
    /// Explicit branches; discriminator values without one carry no extra
    /// members.
    pub variants: Vec<Variant>,
}

/// A struct or union (an object type).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct ObjectType {
    /// Name, location, condition, features, doc.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub info: Info,
    /// The named base type, if any (for unions with an inline base, the
    /// implicit `q_obj_NAME-base`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub base: Option<String>,
    /// Members defined here (not those of the base).
    pub members: Vec<Member>,
    /// The branches, for unions.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub variants: Option<Variants>,
}

/// One branch of an alternate.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct AlternateBranch {
    /// The branch name.
    pub name: String,
    /// Its type.
    #[cfg_attr(feature = "serde", serde(rename = "type"))]
    pub ty: TypeRef,
    /// Condition under which it exists.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub cond: Option<Cond>,
    /// Where it is defined.
    pub loc: Loc,
}

/// An alternate: a value that is one of several types, told apart by JSON
/// type.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct AlternateType {
    /// Name, location, condition, features, doc.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub info: Info,
    /// The branches.
    pub branches: Vec<AlternateBranch>,
}

/// A command.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Command {
    /// Name, location, condition, features, doc.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub info: Info,
    /// The argument type: a named or implicit (`q_obj_NAME-arg`) object.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub args: Option<String>,
    /// Whether the arguments are passed as one (`boxed`) value.
    pub boxed: bool,
    /// The return type.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub returns: Option<TypeRef>,
    /// Whether QEMU generates marshalling code (`gen`).
    pub gen_code: bool,
    /// Whether QEMU sends a reply (`success-response`).
    pub success_response: bool,
    /// Whether the command may run out of band.
    pub allow_oob: bool,
    /// Whether the command is allowed in the preconfig state.
    pub allow_preconfig: bool,
    /// Whether the command runs in a coroutine.
    pub coroutine: bool,
}

/// An event.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Event {
    /// Name, location, condition, features, doc.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub info: Info,
    /// The payload type: a named or implicit (`q_obj_NAME-arg`) object.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub args: Option<String>,
    /// Whether the payload is one (`boxed`) value.
    pub boxed: bool,
}

/// A named definition of the schema.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "meta", rename_all = "lowercase"))]
pub enum Entity {
    /// An enum type.
    Enum(EnumType),
    /// A struct (object type without branches).
    Struct(ObjectType),
    /// A union (object type with branches).
    Union(ObjectType),
    /// An alternate type.
    Alternate(AlternateType),
    /// A command.
    Command(Command),
    /// An event.
    Event(Event),
}

impl Entity {
    /// The shared facts of the entity.
    pub fn info(&self) -> &Info {
        match self {
            Entity::Enum(e) => &e.info,
            Entity::Struct(o) | Entity::Union(o) => &o.info,
            Entity::Alternate(a) => &a.info,
            Entity::Command(c) => &c.info,
            Entity::Event(e) => &e.info,
        }
    }

    /// The entity's QAPI name.
    pub fn name(&self) -> &str {
        &self.info().name
    }

    /// The meta-type as QEMU spells it (`enum`, `struct`, ...).
    pub fn meta(&self) -> &'static str {
        match self {
            Entity::Enum(_) => "enum",
            Entity::Struct(_) => "struct",
            Entity::Union(_) => "union",
            Entity::Alternate(_) => "alternate",
            Entity::Command(_) => "command",
            Entity::Event(_) => "event",
        }
    }
}

/// Pragmas in effect (the last value set wins, as in QEMU).
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Pragma {
    /// Whether every definition must be documented.
    pub doc_required: bool,
    /// Commands whose names may break the naming rules.
    pub command_name_exceptions: Vec<String>,
    /// Commands that may return a non-object type.
    pub command_returns_exceptions: Vec<String>,
    /// Definitions whose members need no documentation.
    pub documentation_exceptions: Vec<String>,
    /// Types whose member names may break the naming rules.
    pub member_name_exceptions: Vec<String>,
}

/// Entity counts, as QEMU's checker reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Counts {
    /// Commands.
    pub commands: usize,
    /// Events.
    pub events: usize,
    /// Named object types without branches (implicit types excluded).
    pub structs: usize,
    /// Named object types with branches.
    pub unions: usize,
    /// Alternates.
    pub alternates: usize,
    /// Enums (the built-in `QType` excluded).
    pub enums: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} commands, {} events, {} structs, {} unions, {} alternates, {} enums",
            self.commands, self.events, self.structs, self.unions, self.alternates, self.enums
        )
    }
}

/// A checked schema: every definition, with implicit types, in definition
/// order.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Schema {
    /// Pragmas in effect at the end of parsing.
    pub pragma: Pragma,
    /// All entities, built-in `QType` first, then in definition order with
    /// implicit types just before the definition that needs them.
    pub entities: Vec<Entity>,
    /// Free-form documentation blocks, in order.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub free_docs: Vec<Doc>,
    /// Files read, root first.
    pub files: Vec<String>,
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(crate) index: crate::hash::NameIndex,
}

impl Schema {
    /// Looks an entity up by its QAPI name.
    pub fn get(&self, name: &str) -> Option<&Entity> {
        let i = self
            .index
            .get(name, |i| self.entities.get(i).map_or("", Entity::name))?;
        self.entities.get(i)
    }

    /// Looks an object type (struct or union) up by name.
    pub fn object(&self, name: &str) -> Option<&ObjectType> {
        match self.get(name)? {
            Entity::Struct(o) | Entity::Union(o) => Some(o),
            _ => None,
        }
    }

    /// All members of an object type: its base's (recursively), then its own.
    /// Branch members are not included.
    pub fn all_members(&self, name: &str) -> Vec<&Member> {
        let mut out = Vec::new();
        let mut chain = Vec::new();
        let mut cur = self.object(name);
        while let Some(o) = cur {
            chain.push(o);
            if chain.len() > self.entities.len() {
                break;
            }
            cur = o.base.as_deref().and_then(|b| self.object(b));
        }
        for o in chain.iter().rev() {
            out.extend(o.members.iter());
        }
        out
    }

    /// Commands in definition order.
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.entities.iter().filter_map(|e| match e {
            Entity::Command(c) => Some(c),
            _ => None,
        })
    }

    /// Events in definition order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.entities.iter().filter_map(|e| match e {
            Entity::Event(c) => Some(c),
            _ => None,
        })
    }

    /// Counts entities the way QEMU's checker does.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for e in &self.entities {
            let info = e.info();
            match e {
                Entity::Command(_) => c.commands += 1,
                Entity::Event(_) => c.events += 1,
                Entity::Struct(_) if !info.implicit => c.structs += 1,
                Entity::Union(_) if !info.implicit => c.unions += 1,
                Entity::Alternate(_) => c.alternates += 1,
                Entity::Enum(_) if !info.implicit => c.enums += 1,
                _ => {}
            }
        }
        c
    }
}
