//! Building the model from checked definitions and checking it as a whole:
//! implicit types, type resolution, member clashes, unions, alternates,
//! commands and events (QEMU's `schema.py` rules).

use std::collections::HashMap;

use crate::hash::{NameIndex, NameSet};

use crate::doc::Doc;
use crate::expr::{Data, Def, Kind, RawBranch, RawMember, RawType};
use crate::model::{
    AlternateBranch, AlternateType, Builtin, Command, Cond, Entity, EnumType, EnumValue, Event,
    Feature, Info, Loc, Member, ObjectType, Pragma, Schema, TypeRef, Variant, Variants,
};
use crate::names::{builtin, c_char};

/// A semantic error: location, message, the definition it is in.
pub(crate) struct SemError {
    pub(crate) loc: Loc,
    pub(crate) message: String,
    pub(crate) context: Option<String>,
}

type Res<T> = Result<T, SemError>;

/// The meta-type and name of the definition an entity comes from (for
/// implicit types, the definition that needs them), for error context.
type Defn<'a> = (&'static str, &'a str);

const QTYPE_VALUES: [&str; 7] = [
    "none", "qnull", "qnum", "qstring", "qdict", "qlist", "qbool",
];
const MAX_FEATURES: usize = 64;

#[derive(Clone, Copy, PartialEq)]
enum ObjState {
    Unchecked,
    Checking,
    /// Checked: its members, and its bases', are the model's.
    Done,
}

/// What checking an entity still needs, beside the entity itself. The
/// builder holds each entity in the model's own form from the start, so
/// that finishing moves no entity and checking fills the model in place.
enum Pending {
    /// Nothing: enums and events.
    Nothing,
    /// An object type.
    Obj {
        /// The members as written, until checking moves each one into the
        /// model's `members` (moved, not copied: the names and types
        /// become the model's). A member joins the model's when it has
        /// been resolved and checked for clashes, so that later clash
        /// checks can name it from there.
        members: Vec<RawMember>,
        /// A union's discriminator and branches, until checking takes
        /// them.
        branches: Option<(String, Vec<RawBranch>)>,
        state: ObjState,
    },
    /// An alternate's branches as written, until checking moves them to
    /// the model's, one by one.
    Alternate(Vec<RawBranch>),
    /// A command's return type as written, until checking resolves it.
    Command(Option<RawType>),
}

/// QEMU's description of a type, as used in messages: `enum type 'Foo'`.
fn describe(ent: &Entity) -> String {
    let meta = ent.meta();
    if matches!(ent, Entity::Command(_) | Entity::Event(_)) {
        format!("{meta} '{}'", ent.name())
    } else {
        format!("{meta} type '{}'", ent.name())
    }
}

/// The entity as an object type, if it is one.
fn object(ent: &Entity) -> Option<&ObjectType> {
    match ent {
        Entity::Struct(o) | Entity::Union(o) => Some(o),
        _ => None,
    }
}

/// [`object`], to change.
fn object_mut(ent: &mut Entity) -> Option<&mut ObjectType> {
    match ent {
        Entity::Struct(o) | Entity::Union(o) => Some(o),
        _ => None,
    }
}

/// An object type entity, struct or union, not yet checked.
fn object_ent(
    info: Info,
    base: Option<String>,
    members: Vec<RawMember>,
    branches: Option<(String, Vec<RawBranch>)>,
) -> (Entity, Pending) {
    let union = branches.is_some();
    let obj = ObjectType {
        info,
        base,
        members: Vec::new(),
        variants: None,
    };
    let pending = Pending::Obj {
        members,
        branches,
        state: ObjState::Unchecked,
    };
    // Checking a union always gives it its variants; a struct has none.
    if union {
        (Entity::Union(obj), pending)
    } else {
        (Entity::Struct(obj), pending)
    }
}

/// A member (or alternate branch) already seen by a clash check: the
/// entity that defines it and its position among that entity's checked
/// members (or branches). Names are read from there when a message needs
/// them, so that seeing a member copies no string; the hash of its C name
/// spares most name comparisons.
#[derive(Clone, Copy)]
struct Seen {
    owner: usize,
    at: usize,
    hash: u64,
}

/// What a member is, for clash messages (QEMU's `describe`).
fn describe_seen(role: &str, name: &str, defined_in: &str, defn: &str) -> String {
    let mut role = role.to_owned();
    let mut meta = "type";
    let mut defined_in = defined_in;
    if let Some(rest) = defined_in.strip_prefix("q_obj_") {
        if let Some(cmd) = rest.strip_suffix("-arg") {
            role = "parameter".to_owned();
            meta = "command";
            defined_in = cmd;
        } else if let Some(u) = rest.strip_suffix("-base") {
            role = format!("base {role}");
            defined_in = u;
        } else {
            defined_in = rest;
        }
    }
    if defined_in == defn {
        format!("{role} '{name}'")
    } else {
        format!("{role} '{name}' of {meta} '{defined_in}'")
    }
}

/// A hash of `c_name(name)` (FNV-1a over its characters): names whose C
/// names are equal hash equal.
fn c_name_hash(name: &str) -> u64 {
    c_name_hash_folded(name, false)
}

/// [`c_name_hash`], of the lowercased C name with `fold_case`. A plain
/// loop over bytes, mapped through a table: a UTF-8 continuation byte adds
/// nothing (0) and a leading byte stands for its character, which
/// `c_char` maps to `_`.
fn c_name_hash_folded(name: &str, fold_case: bool) -> u64 {
    let table = if fold_case { &C_BYTE_FOLDED } else { &C_BYTE };
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for &b in name.as_bytes() {
        let c = table[usize::from(b)];
        if c != 0 {
            h = (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

/// What each byte of a name adds to its C name, for [`c_name_hash`]:
/// itself, `_`, or nothing (0) for a UTF-8 continuation byte.
const C_BYTE: [u8; 256] = c_byte_table(false);
/// [`C_BYTE`], lowercased.
const C_BYTE_FOLDED: [u8; 256] = c_byte_table(true);

const fn c_byte_table(fold_case: bool) -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = if b & 0xc0 == 0x80 {
            0
        } else if b.is_ascii_alphanumeric() {
            if fold_case { b.to_ascii_lowercase() } else { b }
        } else {
            b'_'
        };
        i += 1;
    }
    table
}

pub(crate) struct Builder<'p> {
    pragma: &'p Pragma,
    /// The model's entities, filled in as they are checked.
    ents: Vec<Entity>,
    /// What checking each entity still needs.
    pending: Vec<Pending>,
    /// Entities by name.
    index: NameIndex,
    /// Feature names seen so far, for QEMU's limit on distinct features.
    feature_names: NameSet<String>,
    /// The entity of the definition each entity comes from, for the
    /// context of errors: itself, or for an implicit type, the definition
    /// that needs it.
    defn_of: Vec<usize>,
}

fn builtin_loc() -> Loc {
    Loc {
        file: "<built-in>".into(),
        line: 0,
        col: 0,
    }
}

impl<'p> Builder<'p> {
    /// A builder for about `defs` definitions (a capacity hint: the
    /// tables are sized once rather than grown step by step).
    pub(crate) fn new(pragma: &'p Pragma, defs: usize) -> Builder<'p> {
        // Implicit types add about a fifth to the definitions.
        let cap = defs + defs / 4 + 2;
        let mut b = Builder {
            pragma,
            ents: Vec::with_capacity(cap),
            pending: Vec::with_capacity(cap),
            index: NameIndex::with_capacity(cap),
            feature_names: ["deprecated", "unstable"]
                .map(String::from)
                .into_iter()
                .collect(),
            defn_of: Vec::with_capacity(cap),
        };
        let loc = builtin_loc();
        let empty = object_ent(implicit_info("q_empty", &loc, None), None, Vec::new(), None);
        b.push(empty);
        let qtype = EnumType {
            info: Info {
                name: "QType".to_owned(),
                loc: loc.clone(),
                cond: None,
                features: Vec::new(),
                doc: None,
                implicit: true,
            },
            values: QTYPE_VALUES
                .iter()
                .map(|v| EnumValue {
                    name: (*v).to_owned(),
                    cond: None,
                    features: Vec::new(),
                    loc: loc.clone(),
                })
                .collect(),
            prefix: None,
        };
        b.push((Entity::Enum(qtype), Pending::Nothing));
        b
    }

    /// Adds `ent`, as its own definition, and returns its index.
    // Inlined, so that the entity (hundreds of bytes) is written into the
    // vector directly rather than copied through the call.
    #[inline]
    fn push(&mut self, (ent, pending): (Entity, Pending)) -> usize {
        let i = self.ents.len();
        self.index.insert(ent.name(), i);
        self.ents.push(ent);
        self.pending.push(pending);
        self.defn_of.push(i);
        i
    }

    /// The index of the entity named `name`.
    fn find(&self, name: &str) -> Option<usize> {
        self.index.get(name, |i| self.ents[i].name())
    }

    /// The name of entity `i`.
    pub(crate) fn name(&self, i: usize) -> &str {
        self.ents[i].name()
    }

    /// The meta-type of entity `i`.
    pub(crate) fn meta(&self, i: usize) -> &'static str {
        self.ents[i].meta()
    }

    /// The doc comment of entity `i`.
    pub(crate) fn doc(&self, i: usize) -> Option<&Doc> {
        self.ents[i].info().doc.as_ref()
    }

    /// The definition entity `i` comes from.
    fn defn(&self, i: usize) -> Defn<'_> {
        let d = &self.ents[self.defn_of[i]];
        (d.meta(), d.name())
    }

    /// Where entity `i` is defined.
    pub(crate) fn loc(&self, i: usize) -> &Loc {
        &self.ents[i].info().loc
    }

    fn err(&self, loc: &Loc, defn: Defn, message: impl Into<String>) -> SemError {
        SemError {
            loc: loc.clone(),
            message: message.into(),
            context: Some(format!("In {} '{}':", defn.0, defn.1)),
        }
    }

    /// An error at entity `i`, in the definition it comes from.
    fn err_at(&self, i: usize, message: impl Into<String>) -> SemError {
        self.err(&self.ents[i].info().loc, self.defn(i), message)
    }

    /// Adds a definition, with its doc comment, and the implicit types it
    /// needs (QEMU's `_def_exprs`), rejecting redefinitions. Returns the
    /// definition's entity index.
    pub(crate) fn define(&mut self, def: Def, doc: Option<Doc>) -> Res<usize> {
        self.count_features(&def, (def.meta, &def.name))?;
        let first = self.ents.len();
        let Def {
            meta,
            name: def_name,
            loc,
            cond,
            features,
            kind,
        } = def;
        let info = Info {
            name: def_name,
            loc: loc.clone(),
            cond: cond.clone(),
            features,
            doc,
            implicit: false,
        };
        // Borrowed from the definition's Info until that moves into its
        // entity, after the implicit types are defined.
        let name: &str = &info.name;
        let defn: Defn = (meta, name);
        let ent = match kind {
            Kind::Enum { values, prefix } => (
                Entity::Enum(EnumType {
                    info,
                    values: values
                        .into_iter()
                        .map(|v| EnumValue {
                            name: v.name,
                            cond: v.cond,
                            features: v.features,
                            loc: loc.clone(),
                        })
                        .collect(),
                    prefix,
                }),
                Pending::Nothing,
            ),
            Kind::Struct { base, members } => object_ent(info, base, members, None),
            Kind::Union {
                base,
                discriminator,
                branches,
            } => {
                let base = match base {
                    Data::Named(n) => Some(n),
                    Data::Members(m) => self.implicit_object(name, "base", &loc, &cond, m, defn)?,
                };
                object_ent(info, base, Vec::new(), Some((discriminator, branches)))
            }
            Kind::SimpleUnion { branches } => {
                // Desugar as QEMU did before 7.0: an implicit enum NAMEKind
                // of the branch names, a 'type' member of that enum, and one
                // wrapper object with a single 'data' member per branch.
                let kind_name = format!("{}Kind", name);
                let kind = EnumType {
                    info: implicit_info(&kind_name, &loc, cond.clone()),
                    values: branches
                        .iter()
                        .map(|b| EnumValue {
                            name: b.name.clone(),
                            cond: b.cond.clone(),
                            features: Vec::new(),
                            loc: loc.clone(),
                        })
                        .collect(),
                    prefix: None,
                };
                self.define_ent((Entity::Enum(kind), Pending::Nothing), Some(defn))?;
                let mut wrapped = Vec::new();
                for b in branches {
                    let type_name = match &b.ty {
                        RawType::Name(n) => n.clone(),
                        RawType::Array(n) => format!("{n}List"),
                        RawType::Builtin(t, false) => t.name().to_owned(),
                        RawType::Builtin(t, true) => format!("{}List", t.name()),
                    };
                    let data = RawMember {
                        name: "data".to_owned(),
                        ty: b.ty.clone(),
                        optional: false,
                        cond: None,
                        features: Vec::new(),
                    };
                    let wrapper =
                        self.implicit_object(&type_name, "wrapper", &loc, &None, vec![data], defn)?;
                    wrapped.push(RawBranch {
                        name: b.name,
                        ty: RawType::Name(wrapper.unwrap_or_default()),
                        cond: b.cond,
                    });
                }
                let tag = RawMember {
                    name: "type".to_owned(),
                    ty: RawType::Name(kind_name),
                    optional: false,
                    cond: None,
                    features: Vec::new(),
                };
                object_ent(info, None, vec![tag], Some(("type".to_owned(), wrapped)))
            }
            Kind::Alternate { branches } => (
                Entity::Alternate(AlternateType {
                    info,
                    branches: Vec::new(),
                }),
                Pending::Alternate(branches),
            ),
            Kind::Command {
                data,
                boxed,
                returns,
                gen_code,
                success_response,
                allow_oob,
                allow_preconfig,
                coroutine,
            } => {
                let args = self.args(name, data, &loc, &cond, defn)?;
                (
                    Entity::Command(Command {
                        info,
                        args,
                        boxed,
                        returns: None,
                        gen_code,
                        success_response,
                        allow_oob,
                        allow_preconfig,
                        coroutine,
                    }),
                    Pending::Command(returns),
                )
            }
            Kind::Event { data, boxed } => {
                let args = self.args(name, data, &loc, &cond, defn)?;
                (Entity::Event(Event { info, args, boxed }), Pending::Nothing)
            }
        };
        let i = self.define_ent(ent, None)?;
        // Implicit types report errors in the definition that needs them.
        for d in &mut self.defn_of[first..] {
            *d = i;
        }
        Ok(i)
    }

    fn count_features(&mut self, def: &Def, defn: Defn) -> Res<()> {
        let mut over = self.note_features(&def.features);
        match &def.kind {
            Kind::Enum { values, .. } => {
                for v in values {
                    over |= self.note_features(&v.features);
                }
            }
            Kind::Struct { members: m, .. }
            | Kind::Union {
                base: Data::Members(m),
                ..
            }
            | Kind::Command {
                data: Some(Data::Members(m)),
                ..
            }
            | Kind::Event {
                data: Some(Data::Members(m)),
                ..
            } => {
                for m in m {
                    over |= self.note_features(&m.features);
                }
            }
            _ => {}
        }
        if over {
            return Err(self.err(
                &def.loc,
                defn,
                format!("Maximum of {MAX_FEATURES} schema features is permitted"),
            ));
        }
        Ok(())
    }

    /// Records feature names; whether that made too many. (Which feature
    /// goes over the limit does not matter: the message names none.)
    fn note_features(&mut self, features: &[Feature]) -> bool {
        let mut over = false;
        for f in features {
            // Nearly every feature is one seen before: look before copying.
            if !self.feature_names.contains(f.name.as_str()) {
                self.feature_names.insert(f.name.clone());
                over |= self.feature_names.len() > MAX_FEATURES;
            }
        }
        over
    }

    fn args(
        &mut self,
        name: &str,
        data: Option<Data>,
        loc: &Loc,
        cond: &Option<Cond>,
        defn: Defn,
    ) -> Res<Option<String>> {
        match data {
            None => Ok(None),
            Some(Data::Named(n)) => Ok(Some(n)),
            Some(Data::Members(m)) => self.implicit_object(name, "arg", loc, cond, m, defn),
        }
    }

    /// Defines `q_obj_NAME-ROLE` unless it has no members (QEMU then uses
    /// no type at all) or already exists (a duplicate, flagged later).
    fn implicit_object(
        &mut self,
        name: &str,
        role: &str,
        loc: &Loc,
        cond: &Option<Cond>,
        members: Vec<RawMember>,
        defn: Defn,
    ) -> Res<Option<String>> {
        if members.is_empty() {
            return Ok(None);
        }
        // Built by hand: `format!` costs several times as much, and every
        // command with arguments needs one of these.
        let mut implicit = String::with_capacity(7 + name.len() + role.len());
        implicit.push_str("q_obj_");
        implicit.push_str(name);
        implicit.push('-');
        implicit.push_str(role);
        let name = implicit;
        if self.find(&name).is_none() {
            let obj = object_ent(implicit_info(&name, loc, cond.clone()), None, members, None);
            self.define_ent(obj, Some(defn))?;
        }
        Ok(Some(name))
    }

    /// Adds an entity of the definition `defn`, or (`None`) of its own
    /// definition, unless its name is taken.
    #[inline]
    fn define_ent(&mut self, ent: (Entity, Pending), defn: Option<Defn>) -> Res<usize> {
        let name = ent.0.name();
        let defn = defn.unwrap_or((ent.0.meta(), name));
        if builtin(name).is_some() {
            let loc = &ent.0.info().loc;
            return Err(self.err(
                loc,
                defn,
                format!("built-in type '{name}' is already defined"),
            ));
        }
        if let Some(i) = self.find(name) {
            let other = &self.ents[i];
            let msg = if other.info().loc.line == 0 {
                format!("{} is already defined", describe(other))
            } else {
                format!(
                    "'{name}' is already defined\n{}: previous definition",
                    other.info().loc
                )
            };
            return Err(self.err(&ent.0.info().loc, defn, msg));
        }
        Ok(self.push(ent))
    }

    fn lookup(&self, name: &str) -> Option<TypeRef> {
        self.lookup_owned(name.to_owned()).ok()
    }

    /// What `name` refers to, as a type; the name is moved into the
    /// reference rather than copied. On failure, the name back.
    fn lookup_owned(&self, name: String) -> Result<TypeRef, String> {
        if let Some(b) = builtin(&name) {
            return Ok(TypeRef::Builtin(b));
        }
        if let Some(elem) = name.strip_suffix("List")
            && let Some(e) = self.lookup(elem)
        {
            return Ok(TypeRef::Array(Box::new(e)));
        }
        match self.find(&name).map(|i| &self.ents[i]) {
            Some(Entity::Enum(_)) => Ok(TypeRef::Enum(name)),
            Some(Entity::Struct(_) | Entity::Union(_)) => Ok(TypeRef::Object(name)),
            Some(Entity::Alternate(_)) => Ok(TypeRef::Alternate(name)),
            _ => Err(name),
        }
    }

    /// The index of the object type `name` resolves to, if it resolves to
    /// one: what `lookup` would find, without building the reference.
    fn object_index(&self, name: &str) -> Option<usize> {
        if builtin(name).is_some() {
            return None;
        }
        if let Some(elem) = name.strip_suffix("List")
            && self.lookup(elem).is_some()
        {
            return None;
        }
        let i = self.find(name)?;
        object(&self.ents[i]).is_some().then_some(i)
    }

    fn describe_type(&self, t: &TypeRef) -> String {
        match t {
            TypeRef::Builtin(b) => format!("built-in type '{}'", b.name()),
            TypeRef::Array(e) => format!("array type ['{}']", e.name()),
            TypeRef::Enum(n) | TypeRef::Object(n) | TypeRef::Alternate(n) => self
                .find(n)
                .map_or_else(|| format!("type '{n}'"), |i| describe(&self.ents[i])),
        }
    }

    /// Resolves a type reference of entity `i`; `what` describes the
    /// reference for the error message, and is only called on error.
    fn resolve(&self, raw: RawType, i: usize, what: impl FnOnce() -> String) -> Res<TypeRef> {
        let (name, array) = match raw {
            RawType::Name(n) => (n, false),
            RawType::Array(n) => (n, true),
            RawType::Builtin(b, false) => return Ok(TypeRef::Builtin(b)),
            RawType::Builtin(b, true) => return Ok(TypeRef::Array(Box::new(TypeRef::Builtin(b)))),
        };
        match self.lookup_owned(name) {
            Ok(t) if array => Ok(TypeRef::Array(Box::new(t))),
            Ok(t) => Ok(t),
            Err(name) => {
                let defn = self.defn(i);
                let loc = &self.ents[i].info().loc;
                let what = if array { defn.0.to_owned() } else { what() };
                Err(self.err(loc, defn, format!("{what} uses unknown type '{name}'")))
            }
        }
    }

    /// Checks every entity in definition order (QEMU's `QAPISchema.check`).
    pub(crate) fn check(&mut self) -> Res<()> {
        for i in 0..self.ents.len() {
            self.check_features(i)?;
            match &self.ents[i] {
                Entity::Enum(_) => self.check_enum(i)?,
                Entity::Struct(_) | Entity::Union(_) => self.check_object(i)?,
                Entity::Alternate(_) => self.check_alternate(i)?,
                Entity::Command(_) => self.check_command(i)?,
                Entity::Event(_) => self.check_event(i)?,
            }
        }
        Ok(())
    }

    fn check_features(&self, i: usize) -> Res<()> {
        let ent = &self.ents[i];
        let info = ent.info();
        if info.features.is_empty() {
            return Ok(());
        }
        let defn = self.defn(i);
        let names: Vec<&str> = info.features.iter().map(|f| f.name.as_str()).collect();
        if let Some((later, prev)) = first_collision(&names, false) {
            return Err(self.err(
                &info.loc,
                defn,
                format!("feature '{later}' collides with feature '{prev}'"),
            ));
        }
        for f in &info.features {
            if f.is_special() && !matches!(ent, Entity::Command(_) | Entity::Event(_)) {
                return Err(self.err(
                    &info.loc,
                    defn,
                    format!("feature '{}' is not supported for types", f.name),
                ));
            }
        }
        Ok(())
    }

    fn check_enum(&self, i: usize) -> Res<()> {
        let Entity::Enum(e) = &self.ents[i] else {
            return Ok(());
        };
        let names: Vec<&str> = e.values.iter().map(|v| v.name.as_str()).collect();
        if let Some((later, prev)) = first_collision(&names, true) {
            return Err(self.err(
                &e.info.loc,
                self.defn(i),
                format!("value '{later}' collides with value '{prev}'"),
            ));
        }
        Ok(())
    }

    /// Checks an object type and everything its C struct contains, as QEMU
    /// does, so that a base cycle is reported where it starts.
    fn check_object(&mut self, i: usize) -> Res<()> {
        let Pending::Obj {
            members,
            branches,
            state,
        } = &mut self.pending[i]
        else {
            return Ok(());
        };
        match *state {
            ObjState::Done => return Ok(()),
            ObjState::Checking => {
                let msg = format!("object {} contains itself", self.name(i));
                return Err(self.err_at(i, msg));
            }
            ObjState::Unchecked => {}
        }
        *state = ObjState::Checking;
        // Taken, not copied: each member moves into the model once checked.
        let raw_members = std::mem::take(members);
        let branches = branches.take();
        let Some(o) = object_mut(&mut self.ents[i]) else {
            return Ok(());
        };
        o.members.reserve_exact(raw_members.len());
        let has_base = o.base.is_some();
        let loc = self.ents[i].info().loc.clone();
        // Sized for most objects with their bases, rather than grown.
        let mut seen: Vec<Seen> = Vec::with_capacity(16.max(raw_members.len()));
        let mut base_index = None;
        if has_base {
            let bi = self.base_index(i)?;
            if let Entity::Union(_) = &self.ents[bi] {
                let d = describe(&self.ents[bi]);
                return Err(self.err_at(i, format!("'base' requires a struct type, {d} isn't")));
            }
            self.check_object(bi)?;
            self.clash_chain(&mut seen, bi, 0, i, false)?;
            base_index = Some(bi);
        }
        for (at, m) in raw_members.into_iter().enumerate() {
            let RawMember {
                name: member,
                ty,
                optional,
                cond,
                features,
            } = m;
            let ty = self.resolve(ty, i, || {
                describe_seen("member", &member, self.name(i), self.defn(i).1)
            })?;
            let s = Seen {
                owner: i,
                at,
                hash: c_name_hash(&member),
            };
            self.clash(&mut seen, s, &member, i, true)?;
            if let Some(o) = object_mut(&mut self.ents[i]) {
                o.members.push(Member {
                    name: member,
                    ty,
                    optional,
                    cond,
                    features,
                    loc: loc.clone(),
                });
            }
        }
        let mut variants = None;
        if let Some((tag, raw_branches)) = branches {
            let own = object(&self.ents[i]).map_or(&[][..], |o| &o.members);
            let tag_member = own
                .iter()
                .find(|m| m.name == tag)
                .or_else(|| self.chain_find(base_index?, 0, &|m: &Member| m.name == tag))
                .map(|m| TagMember {
                    enum_type: match &m.ty {
                        TypeRef::Enum(e) => Some(e.clone()),
                        _ => None,
                    },
                    optional: m.optional,
                    conditional: m.cond.is_some(),
                });
            variants = Some(self.check_branches(i, &tag, raw_branches, tag_member, seen)?);
        }
        if let Some(o) = object_mut(&mut self.ents[i]) {
            o.variants = variants;
        }
        if let Pending::Obj { state, .. } = &mut self.pending[i] {
            *state = ObjState::Done;
        }
        Ok(())
    }

    /// The index of the base of object `i`, which must be an object type.
    fn base_index(&self, i: usize) -> Res<usize> {
        let base = object(&self.ents[i])
            .and_then(|o| o.base.as_deref())
            .unwrap_or_default();
        if let Some(bi) = self.object_index(base) {
            return Ok(bi);
        }
        let what = match &self.lookup(base) {
            Some(t) => format!(
                "'base' requires a struct type, {} isn't",
                self.describe_type(t)
            ),
            None => format!("'base' uses unknown type '{base}'"),
        };
        Err(self.err_at(i, what))
    }

    /// The name of a member (or branch) seen by a clash check.
    fn seen_name(&self, s: &Seen) -> &str {
        match &self.ents[s.owner] {
            Entity::Struct(o) | Entity::Union(o) => &o.members[s.at].name,
            Entity::Alternate(a) => &a.branches[s.at].name,
            _ => "",
        }
    }

    /// What a member (or branch) of entity `owner` is called in messages.
    fn role(&self, owner: usize) -> &'static str {
        match &self.ents[owner] {
            Entity::Alternate(_) => "branch",
            _ => "member",
        }
    }

    /// Checks the members of checked object `c` and of its bases, the
    /// base's first, for clashes with those seen (QEMU's `check_clash` of
    /// a base or branch type). `depth` bounds the walk, although a checked
    /// object's base chain has no cycle.
    fn clash_chain(
        &self,
        seen: &mut Vec<Seen>,
        c: usize,
        depth: usize,
        ctx: usize,
        by_defn: bool,
    ) -> Res<()> {
        let Some(o) = object(&self.ents[c]) else {
            return Ok(());
        };
        if depth + 1 < self.ents.len()
            && let Some(b) = &o.base
            && let Some(bi) = self.find(b)
        {
            self.clash_chain(seen, bi, depth + 1, ctx, by_defn)?;
        }
        for (at, m) in o.members.iter().enumerate() {
            let s = Seen {
                owner: c,
                at,
                hash: c_name_hash(&m.name),
            };
            self.clash(seen, s, &m.name, ctx, by_defn)?;
        }
        Ok(())
    }

    /// The first member of checked object `c` and of its bases, the
    /// base's first, that `pred` accepts. `depth` bounds the walk, as in
    /// [`Builder::clash_chain`].
    fn chain_find(
        &self,
        c: usize,
        depth: usize,
        pred: &dyn Fn(&Member) -> bool,
    ) -> Option<&Member> {
        let o = object(&self.ents[c])?;
        if depth + 1 < self.ents.len()
            && let Some(b) = &o.base
            && let Some(bi) = self.find(b)
            && let Some(m) = self.chain_find(bi, depth + 1, pred)
        {
            return Some(m);
        }
        o.members.iter().find(|m| pred(m))
    }

    /// Records `s`, named `name`, as seen, unless its C name clashes with
    /// one seen before. A clash is reported at entity `ctx`; members are
    /// described relative to the name of its definition (`by_defn`) or
    /// its own.
    fn clash(
        &self,
        seen: &mut Vec<Seen>,
        s: Seen,
        name: &str,
        ctx: usize,
        by_defn: bool,
    ) -> Res<()> {
        for p in seen.iter() {
            if p.hash == s.hash && c_name_eq(self.seen_name(p), name) {
                let defn_name = if by_defn {
                    self.defn(ctx).1
                } else {
                    self.name(ctx)
                };
                let msg = format!(
                    "{} collides with {}",
                    describe_seen(self.role(s.owner), name, self.name(s.owner), defn_name),
                    describe_seen(
                        self.role(p.owner),
                        self.seen_name(p),
                        self.name(p.owner),
                        defn_name
                    )
                );
                return Err(self.err_at(ctx, msg));
            }
        }
        seen.push(s);
        Ok(())
    }

    fn check_branches(
        &mut self,
        i: usize,
        tag: &str,
        raw: Vec<RawBranch>,
        tag_member: Option<TagMember>,
        mut seen: Vec<Seen>,
    ) -> Res<Variants> {
        let loc = self.ents[i].info().loc.clone();
        let tag_seen = seen
            .iter()
            .find(|p| c_name_eq(self.seen_name(p), tag))
            .copied();
        let (Some(tag_seen), Some(tag_member)) = (tag_seen, tag_member) else {
            return Err(self.err_at(
                i,
                format!("discriminator '{tag}' is not a member of 'base'"),
            ));
        };
        let defined_in = self.name(tag_seen.owner);
        let base_desc = if defined_in.starts_with("q_obj_") || defined_in == self.defn(i).1 {
            "'base'".to_owned()
        } else {
            format!("base type '{defined_in}'")
        };
        let Some(tag_type) = tag_member.enum_type else {
            return Err(self.err_at(
                i,
                format!("discriminator member '{tag}' of {base_desc} must be of enum type"),
            ));
        };
        if tag_member.optional {
            return Err(self.err_at(
                i,
                format!("discriminator member '{tag}' of {base_desc} must not be optional"),
            ));
        }
        if tag_member.conditional {
            return Err(self.err_at(
                i,
                format!("discriminator member '{tag}' of {base_desc} must not be conditional"),
            ));
        }
        let tag_enum = self.find(&tag_type);
        fn values(ents: &[Entity], tag_enum: Option<usize>) -> &[EnumValue] {
            match tag_enum.map(|t| &ents[t]) {
                Some(Entity::Enum(e)) => &e.values,
                _ => &[],
            }
        }
        let mut variants = Vec::with_capacity(raw.len());
        for b in raw {
            let RawBranch { name, ty, cond } = b;
            let ty = self.resolve(ty, i, || format!("branch '{name}'"))?;
            if !values(&self.ents, tag_enum).iter().any(|v| v.name == name) {
                return Err(self.err_at(
                    i,
                    format!("branch '{name}' is not a value of enum type '{tag_type}'"),
                ));
            }
            let obj = match ty {
                TypeRef::Object(obj) => obj,
                other => {
                    let d = self.describe_type(&other);
                    return Err(self.err_at(i, format!("branch '{name}' cannot use {d}")));
                }
            };
            variants.push(Variant {
                name,
                ty: obj,
                cond,
                loc: loc.clone(),
            });
        }
        // Values without an explicit branch get the empty object, as in
        // QEMU, so that every discriminator value has a variant.
        for v in values(&self.ents, tag_enum) {
            if !variants.iter().any(|x| x.name == v.name) {
                variants.push(Variant {
                    name: v.name.clone(),
                    ty: "q_empty".to_owned(),
                    cond: v.cond.clone(),
                    loc: loc.clone(),
                });
            }
        }
        if variants.is_empty() {
            return Err(self.err_at(i, "union has no branches"));
        }
        // Each branch's members, and those of its own branches, must not
        // clash with the union's.
        let union_len = seen.len();
        for v in &variants {
            let Some(vi) = self.find(&v.ty) else {
                continue;
            };
            self.check_object(vi)?;
            seen.truncate(union_len);
            self.clash_chain(&mut seen, vi, 0, i, true)?;
            let Some(o) = object(&self.ents[vi]) else {
                continue;
            };
            let Some(inner) = &o.variants else { continue };
            let branch_len = seen.len();
            for x in &inner.variants {
                let Some(ii) = self.find(&x.ty) else {
                    continue;
                };
                seen.truncate(branch_len);
                self.clash_chain(&mut seen, ii, 0, i, true)?;
            }
        }
        Ok(Variants {
            discriminator: tag.to_owned(),
            tag_type,
            variants,
        })
    }

    fn check_alternate(&mut self, i: usize) -> Res<()> {
        let Pending::Alternate(branches) = &mut self.pending[i] else {
            return Ok(());
        };
        // Taken, not copied: each branch moves into the model once checked.
        let branches = std::mem::take(branches);
        if let Entity::Alternate(a) = &mut self.ents[i] {
            a.branches.reserve_exact(branches.len());
        }
        let loc = self.ents[i].info().loc.clone();
        let mut seen: Vec<Seen> = Vec::new();
        let mut types_seen: HashMap<&'static str, String> = HashMap::new();
        for (at, b) in branches.into_iter().enumerate() {
            let RawBranch { name, ty, cond } = b;
            let what = || format!("branch '{name}'");
            let ty = self.resolve(ty, i, what)?;
            let s = Seen {
                owner: i,
                at,
                hash: c_name_hash(&name),
            };
            self.clash(&mut seen, s, &name, i, true)?;
            let qtype = match &ty {
                TypeRef::Builtin(Builtin::Str) | TypeRef::Enum(_) => Some("qstring"),
                TypeRef::Builtin(Builtin::Bool) => Some("qbool"),
                TypeRef::Builtin(Builtin::Null) => Some("qnull"),
                TypeRef::Builtin(Builtin::Any) | TypeRef::Alternate(_) => None,
                TypeRef::Builtin(_) => Some("qnum"),
                TypeRef::Object(_) => Some("qdict"),
                TypeRef::Array(_) => Some("qlist"),
            };
            let Some(qtype) = qtype else {
                let d = self.describe_type(&ty);
                return Err(self.err_at(i, format!("{} cannot use {d}", what())));
            };
            let mut conflicting = vec![qtype];
            if qtype == "qstring" {
                if let TypeRef::Enum(e) = &ty {
                    if let Some(Entity::Enum(et)) = self.find(e).map(|x| &self.ents[x]) {
                        for v in &et.values {
                            if v.name == "on" || v.name == "off" {
                                conflicting.push("qbool");
                            }
                            if v.name.starts_with(|c: char| "-+0123456789.".contains(c)) {
                                conflicting.push("qnum");
                            }
                        }
                    }
                } else {
                    conflicting.push("qnum");
                    conflicting.push("qbool");
                }
            }
            for qt in conflicting {
                if let Some(prev) = types_seen.get(qt) {
                    return Err(self.err_at(
                        i,
                        format!("{} can't be distinguished from '{prev}'", what()),
                    ));
                }
                types_seen.insert(qt, name.clone());
            }
            if let Entity::Alternate(a) = &mut self.ents[i] {
                a.branches.push(AlternateBranch {
                    name,
                    ty,
                    cond,
                    loc: loc.clone(),
                });
            }
        }
        Ok(())
    }

    /// Checks the argument type of command or event `i`.
    fn check_args(&mut self, i: usize, boxed: bool, role: &str) -> Res<()> {
        let (Entity::Command(Command { args, .. }) | Entity::Event(Event { args, .. })) =
            &self.ents[i]
        else {
            return Ok(());
        };
        let Some(a) = args.as_deref() else {
            return Ok(());
        };
        let what = || format!("{role}'s 'data'");
        let ai = match self.object_index(a) {
            Some(ai) => ai,
            None => {
                let t = self.resolve(RawType::Name(a.to_owned()), i, what)?;
                let d = self.describe_type(&t);
                return Err(self.err_at(i, format!("{} cannot take {d}", what())));
            }
        };
        if let Entity::Union(_) = &self.ents[ai]
            && !boxed
        {
            let d = describe(&self.ents[ai]);
            return Err(self.err_at(
                i,
                format!("{} can take {d} only with 'boxed': true", what()),
            ));
        }
        self.check_object(ai)?;
        if object(&self.ents[ai]).is_some()
            && !boxed
            && self
                .chain_find(ai, 0, &|m: &Member| m.cond.is_some())
                .is_some()
        {
            let msg = if role == "command" {
                "conditional command arguments require 'boxed': true".to_owned()
            } else {
                "event's 'data' members may have 'if' conditions only with 'boxed': true".to_owned()
            };
            return Err(self.err_at(i, msg));
        }
        Ok(())
    }

    fn check_command(&mut self, i: usize) -> Res<()> {
        let Entity::Command(c) = &self.ents[i] else {
            return Ok(());
        };
        let boxed = c.boxed;
        // Taken: the model gets the resolved type.
        let returns = match &mut self.pending[i] {
            Pending::Command(returns) => returns.take(),
            _ => None,
        };
        self.check_args(i, boxed, "command")?;
        let Some(ret) = returns else { return Ok(()) };
        let t = self.resolve(ret, i, || "command's 'returns'".to_owned())?;
        let name = &self.ents[i].info().name;
        if !self
            .pragma
            .command_returns_exceptions
            .iter()
            .any(|n| n == name)
        {
            let elem = match &t {
                TypeRef::Array(e) => e.as_ref(),
                other => other,
            };
            if !matches!(elem, TypeRef::Object(_)) {
                let d = self.describe_type(&t);
                return Err(self.err_at(i, format!("command's 'returns' cannot take {d}")));
            }
        }
        if let Entity::Command(c) = &mut self.ents[i] {
            c.returns = Some(t);
        }
        Ok(())
    }

    fn check_event(&mut self, i: usize) -> Res<()> {
        let Entity::Event(e) = &self.ents[i] else {
            return Ok(());
        };
        let boxed = e.boxed;
        self.check_args(i, boxed, "event")
    }

    /// The members a definition's documentation may describe, and the
    /// definition's and its members' features, for the doc checks of
    /// entity `i`. Only after [`Builder::check`], which moves members and
    /// branches to where this reads them.
    /// Features come with the definition's location, where QEMU reports
    /// them. Fills `members` and `features` (buffers the caller reuses
    /// from one definition to the next) and says whether the definition
    /// is a command that returns something.
    pub(crate) fn doc_subjects<'a>(
        &'a self,
        i: usize,
        members: &mut Vec<&'a str>,
        features: &mut Vec<(&'a str, &'a Loc)>,
    ) -> bool {
        members.clear();
        features.clear();
        let info = self.ents[i].info();
        let loc = &info.loc;
        for f in &info.features {
            features.push((f.name.as_str(), loc));
        }
        let mut has_returns = false;
        fn obj_members<'a>(
            o: &'a ObjectType,
            loc: &'a Loc,
            members: &mut Vec<&'a str>,
            features: &mut Vec<(&'a str, &'a Loc)>,
        ) {
            members.reserve(o.members.len());
            for m in &o.members {
                members.push(m.name.as_str());
                for f in &m.features {
                    features.push((f.name.as_str(), loc));
                }
            }
        }
        match &self.ents[i] {
            Entity::Enum(e) => {
                members.reserve(e.values.len());
                for v in &e.values {
                    members.push(v.name.as_str());
                    for f in &v.features {
                        features.push((f.name.as_str(), loc));
                    }
                }
            }
            Entity::Struct(o) | Entity::Union(o) => {
                obj_members(o, loc, members, features);
                if let Some(b) = o.base.as_ref().filter(|b| b.starts_with("q_obj_"))
                    && let Some(bo) = self.find(b).and_then(|x| object(&self.ents[x]))
                {
                    obj_members(bo, loc, members, features);
                }
            }
            Entity::Alternate(a) => members.extend(a.branches.iter().map(|b| b.name.as_str())),
            Entity::Command(c) => {
                has_returns = c.returns.is_some();
                if let Some(ao) = self.implicit_args(&c.args) {
                    obj_members(ao, loc, members, features);
                }
            }
            Entity::Event(e) => {
                if let Some(ao) = self.implicit_args(&e.args) {
                    obj_members(ao, loc, members, features);
                }
            }
        }
        has_returns
    }

    /// The implicit argument type of a command or event. Only its members
    /// belong to the definition's documentation; a named type documents its
    /// own.
    fn implicit_args(&self, args: &Option<String>) -> Option<&ObjectType> {
        let implicit = args.as_ref().filter(|a| a.starts_with("q_obj_"))?;
        object(&self.ents[self.find(implicit)?])
    }

    /// The checked model.
    pub(crate) fn finish(self, pragma: Pragma, free_docs: Vec<Doc>, files: Vec<String>) -> Schema {
        Schema {
            pragma,
            entities: self.ents,
            free_docs,
            files,
            // Entities keep their builder positions.
            index: self.index,
        }
    }
}

/// What the branch checks need of a union's discriminator member.
struct TagMember {
    /// The member's type, if an enum.
    enum_type: Option<String>,
    optional: bool,
    conditional: bool,
}

/// The first name in `names` whose C name (lowercased, with `fold_case`)
/// equals that of an earlier one, and that earlier one. Compares hashes of
/// the mapped names first, so that no mapped name is built.
fn first_collision<'a>(names: &[&'a str], fold_case: bool) -> Option<(&'a str, &'a str)> {
    let map = move |c: char| {
        let c = c_char(c);
        if fold_case { c.to_ascii_lowercase() } else { c }
    };
    let mut hashes: Vec<u64> = Vec::with_capacity(names.len());
    for name in names {
        hashes.push(c_name_hash_folded(name, fold_case));
    }
    // Nearly always there is no collision, and enums can have well over
    // a hundred values: sorted hashes show in n log n that no two are
    // equal, before any pairwise search.
    if names.len() > 8 {
        let mut sorted = hashes.clone();
        sorted.sort_unstable();
        if sorted.windows(2).all(|w| w[0] != w[1]) {
            return None;
        }
    }
    for (i, &h) in hashes.iter().enumerate() {
        for (j, &prev) in hashes[..i].iter().enumerate() {
            if prev == h && names[i].chars().map(map).eq(names[j].chars().map(map)) {
                return Some((names[i], names[j]));
            }
        }
    }
    None
}

/// Whether two names have the same C name (see [`c_char`]), without
/// building either.
fn c_name_eq(a: &str, b: &str) -> bool {
    a.chars().map(c_char).eq(b.chars().map(c_char))
}

fn implicit_info(name: &str, loc: &Loc, cond: Option<Cond>) -> Info {
    Info {
        name: name.to_owned(),
        loc: loc.clone(),
        cond,
        features: Vec::new(),
        doc: None,
        implicit: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_c_names_hash_equal() {
        let pairs = [
            ("a-b", "a_b"),
            ("a.b", "a-b"),
            ("é", "_"),
            ("x-é-y", "x___y"),
        ];
        for (a, b) in pairs {
            assert!(c_name_eq(a, b), "{a} {b}");
            assert_eq!(c_name_hash(a), c_name_hash(b), "{a} {b}");
        }
        assert_ne!(c_name_hash("ab"), c_name_hash("ba"));
        assert_eq!(
            c_name_hash_folded("Ab-c", true),
            c_name_hash_folded("aB_C", true)
        );
        assert_eq!(
            first_collision(&["a", "B-c", "b_C"], true),
            Some(("b_C", "B-c"))
        );
        assert_eq!(first_collision(&["a", "B-c", "b_C"], false), None);
        let many: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
        let mut names: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(first_collision(&names, true), None);
        names.push("V3");
        names.push("v.2");
        assert_eq!(first_collision(&names, true), Some(("V3", "v3")));
    }
}
