//! Building the model from checked definitions and checking it as a whole:
//! implicit types, type resolution, member clashes, unions, alternates,
//! commands and events (QEMU's `schema.py` rules).

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use crate::hash::{NameHasher, NameMap};
use std::sync::Arc;

use crate::doc::Doc;
use crate::expr::{Data, Def, Kind, RawBranch, RawMember, RawType};
use crate::model::{
    AlternateBranch, AlternateType, Builtin, Command, Cond, Entity, EnumType, EnumValue, Event,
    Feature, Info, Loc, Member, ObjectType, Pragma, Schema, TypeRef, Variant, Variants,
};
use crate::names::c_char;

/// A semantic error: location, message, the definition it is in.
pub(crate) struct SemError {
    pub(crate) loc: Loc,
    pub(crate) message: String,
    pub(crate) context: Option<String>,
}

type Res<T> = Result<T, SemError>;

/// The meta-type and name of the definition an entity comes from (for
/// implicit types, the definition that needs them), for error context.
type Defn = (&'static str, Arc<str>);

const QTYPE_VALUES: [&str; 7] = [
    "none", "qnull", "qnum", "qstring", "qdict", "qlist", "qbool",
];
const MAX_FEATURES: usize = 64;

/// An object type while the schema is being checked.
struct Obj {
    info: Info,
    base: Option<String>,
    /// Shared, so that checking the object can hold on to them while it
    /// updates the object, without a deep copy.
    members: Arc<[RawMember]>,
    /// Discriminator and branches, for unions.
    branches: Option<(String, Arc<[RawBranch]>)>,
    /// The members of the object and its base, once checked.
    state: ObjState,
    /// The members defined by this object itself, once checked.
    own: Vec<Member>,
    variants: Option<Variants>,
}

#[derive(Clone, Copy, PartialEq)]
enum ObjState {
    Unchecked,
    Checking,
    Done,
}

enum Ent {
    Enum(EnumType),
    Obj(Obj),
    Alternate {
        info: Info,
        branches: Vec<RawBranch>,
        resolved: Vec<AlternateBranch>,
    },
    Command {
        info: Info,
        args: Option<String>,
        boxed: bool,
        returns: Option<RawType>,
        flags: [bool; 5],
        resolved_returns: Option<TypeRef>,
    },
    Event {
        info: Info,
        args: Option<String>,
        boxed: bool,
    },
}

impl Ent {
    fn info(&self) -> &Info {
        match self {
            Ent::Enum(e) => &e.info,
            Ent::Obj(o) => &o.info,
            Ent::Alternate { info, .. } | Ent::Command { info, .. } | Ent::Event { info, .. } => {
                info
            }
        }
    }

    /// QEMU's description of a type, as used in messages: `enum type 'Foo'`.
    fn describe(&self) -> String {
        let meta = match self {
            Ent::Enum(_) => "enum",
            Ent::Obj(o) if o.branches.is_some() => "union",
            Ent::Obj(_) => "struct",
            Ent::Alternate { .. } => "alternate",
            Ent::Command { .. } => "command",
            Ent::Event { .. } => "event",
        };
        if matches!(self, Ent::Command { .. } | Ent::Event { .. }) {
            format!("{meta} '{}'", self.info().name)
        } else {
            format!("{meta} type '{}'", self.info().name)
        }
    }
}

/// What a member is, for clash messages (QEMU's `describe`).
#[derive(Clone)]
struct Seen {
    role: &'static str,
    name: String,
    defined_in: Arc<str>,
}

impl Seen {
    fn describe(&self, defn: &str) -> String {
        let mut role = self.role.to_owned();
        let mut meta = "type";
        let mut defined_in: &str = &self.defined_in;
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
            format!("{role} '{}'", self.name)
        } else {
            format!("{role} '{}' of {meta} '{defined_in}'", self.name)
        }
    }
}

pub(crate) struct Builder<'p> {
    pragma: &'p Pragma,
    ents: Vec<Ent>,
    index: NameMap<String, usize>,
    /// Feature names seen so far, for QEMU's limit on distinct features.
    feature_names: HashSet<String, BuildHasherDefault<NameHasher>>,
    /// Where each definition came from, for the context of errors.
    defn_of: Vec<Defn>,
    /// Each entity's name, shared by the messages that may need it.
    names: Vec<Arc<str>>,
}

fn builtin_loc() -> Loc {
    Loc {
        file: "<built-in>".into(),
        line: 0,
        col: 0,
    }
}

impl<'p> Builder<'p> {
    pub(crate) fn new(pragma: &'p Pragma) -> Builder<'p> {
        let mut b = Builder {
            pragma,
            ents: Vec::new(),
            index: NameMap::default(),
            feature_names: ["deprecated", "unstable"]
                .map(String::from)
                .into_iter()
                .collect(),
            defn_of: Vec::new(),
            names: Vec::new(),
        };
        let loc = builtin_loc();
        let empty = Obj {
            info: implicit_info("q_empty", &loc, None),
            base: None,
            members: Arc::from([]),
            branches: None,
            state: ObjState::Unchecked,
            own: Vec::new(),
            variants: None,
        };
        b.push(Ent::Obj(empty), ("struct", "q_empty".into()));
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
        b.push(Ent::Enum(qtype), ("enum", "QType".into()));
        b
    }

    fn push(&mut self, ent: Ent, defn: Defn) {
        self.index.insert(ent.info().name.clone(), self.ents.len());
        self.names.push(ent.info().name.as_str().into());
        self.ents.push(ent);
        self.defn_of.push(defn);
    }

    fn err(&self, loc: &Loc, defn: &Defn, message: impl Into<String>) -> SemError {
        SemError {
            loc: loc.clone(),
            message: message.into(),
            context: Some(format!("In {} '{}':", defn.0, defn.1)),
        }
    }

    /// Adds a definition and the implicit types it needs (QEMU's
    /// `_def_exprs`), rejecting redefinitions.
    pub(crate) fn define(&mut self, def: Def) -> Res<()> {
        let defn: Defn = (def.meta, def.name.as_str().into());
        self.count_features(&def, &defn)?;
        let Def {
            name: def_name,
            loc,
            cond,
            features,
            kind,
            ..
        } = def;
        let name: &str = &defn.1;
        let info = Info {
            name: def_name,
            loc: loc.clone(),
            cond: cond.clone(),
            features,
            // Attached after the doc checks, by `set_doc`.
            doc: None,
            implicit: false,
        };
        let ent = match kind {
            Kind::Enum { values, prefix } => Ent::Enum(EnumType {
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
            Kind::Struct { base, members } => Ent::Obj(Obj::new(info, base, members, None)),
            Kind::Union {
                base,
                discriminator,
                branches,
            } => {
                let base = match base {
                    Data::Named(n) => Some(n),
                    Data::Members(m) => {
                        self.implicit_object(name, "base", &loc, &cond, m, &defn)?
                    }
                };
                Ent::Obj(Obj::new(
                    info,
                    base,
                    Vec::new(),
                    Some((discriminator, branches)),
                ))
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
                self.define_ent(Ent::Enum(kind), &defn)?;
                let mut wrapped = Vec::new();
                for b in branches {
                    let type_name = match &b.ty {
                        RawType::Name(n) => n.clone(),
                        RawType::Array(n) => format!("{n}List"),
                    };
                    let data = RawMember {
                        name: "data".to_owned(),
                        ty: b.ty.clone(),
                        optional: false,
                        cond: None,
                        features: Vec::new(),
                    };
                    let wrapper = self.implicit_object(
                        &type_name,
                        "wrapper",
                        &loc,
                        &None,
                        vec![data],
                        &defn,
                    )?;
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
                Ent::Obj(Obj::new(
                    info,
                    None,
                    vec![tag],
                    Some(("type".to_owned(), wrapped)),
                ))
            }
            Kind::Alternate { branches } => Ent::Alternate {
                info,
                branches,
                resolved: Vec::new(),
            },
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
                let args = self.args(name, data, &loc, &cond, &defn)?;
                Ent::Command {
                    info,
                    args,
                    boxed,
                    returns,
                    flags: [
                        gen_code,
                        success_response,
                        allow_oob,
                        allow_preconfig,
                        coroutine,
                    ],
                    resolved_returns: None,
                }
            }
            Kind::Event { data, boxed } => {
                let args = self.args(name, data, &loc, &cond, &defn)?;
                Ent::Event { info, args, boxed }
            }
        };
        self.define_ent(ent, &defn)
    }

    fn count_features(&mut self, def: &Def, defn: &Defn) -> Res<()> {
        let mut all: Vec<&Feature> = def.features.iter().collect();
        match &def.kind {
            Kind::Enum { values, .. } => all.extend(values.iter().flat_map(|v| &v.features)),
            Kind::Struct { members, .. } => all.extend(members.iter().flat_map(|m| &m.features)),
            Kind::Union {
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
            } => all.extend(m.iter().flat_map(|m| &m.features)),
            _ => {}
        }
        for f in all {
            if self.feature_names.insert(f.name.clone()) && self.feature_names.len() > MAX_FEATURES
            {
                return Err(self.err(
                    &def.loc,
                    defn,
                    format!("Maximum of {MAX_FEATURES} schema features is permitted"),
                ));
            }
        }
        Ok(())
    }

    fn args(
        &mut self,
        name: &str,
        data: Option<Data>,
        loc: &Loc,
        cond: &Option<Cond>,
        defn: &Defn,
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
        defn: &Defn,
    ) -> Res<Option<String>> {
        if members.is_empty() {
            return Ok(None);
        }
        let name = format!("q_obj_{name}-{role}");
        if !self.index.contains_key(&name) {
            let obj = Obj::new(implicit_info(&name, loc, cond.clone()), None, members, None);
            self.define_ent(Ent::Obj(obj), defn)?;
        }
        Ok(Some(name))
    }

    fn define_ent(&mut self, ent: Ent, defn: &Defn) -> Res<()> {
        let name = ent.info().name.clone();
        if Builtin::from_name(&name).is_some() {
            let loc = ent.info().loc.clone();
            return Err(self.err(
                &loc,
                defn,
                format!("built-in type '{name}' is already defined"),
            ));
        }
        if let Some(&i) = self.index.get(&name) {
            let other = &self.ents[i];
            let loc = ent.info().loc.clone();
            let msg = if other.info().loc.line == 0 {
                format!("{} is already defined", other.describe())
            } else {
                format!(
                    "'{name}' is already defined\n{}: previous definition",
                    other.info().loc
                )
            };
            return Err(self.err(&loc, defn, msg));
        }
        self.push(ent, defn.clone());
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<TypeRef> {
        if let Some(b) = Builtin::from_name(name) {
            return Some(TypeRef::Builtin(b));
        }
        if let Some(elem) = name.strip_suffix("List")
            && let Some(e) = self.lookup(elem)
        {
            return Some(TypeRef::Array(Box::new(e)));
        }
        let i = *self.index.get(name)?;
        match &self.ents[i] {
            Ent::Enum(_) => Some(TypeRef::Enum(name.to_owned())),
            Ent::Obj(_) => Some(TypeRef::Object(name.to_owned())),
            Ent::Alternate { .. } => Some(TypeRef::Alternate(name.to_owned())),
            _ => None,
        }
    }

    fn describe_type(&self, t: &TypeRef) -> String {
        match t {
            TypeRef::Builtin(b) => format!("built-in type '{}'", b.name()),
            TypeRef::Array(e) => format!("array type ['{}']", e.name()),
            TypeRef::Enum(n) | TypeRef::Object(n) | TypeRef::Alternate(n) => self
                .index
                .get(n)
                .map_or_else(|| format!("type '{n}'"), |&i| self.ents[i].describe()),
        }
    }

    /// Resolves a type reference of entity `i`; `what` describes the
    /// reference for the error message, and is only called on error.
    fn resolve(&self, raw: &RawType, i: usize, what: impl FnOnce() -> String) -> Res<TypeRef> {
        let (name, array) = match raw {
            RawType::Name(n) => (n, false),
            RawType::Array(n) => (n, true),
        };
        let defn = &self.defn_of[i];
        let loc = &self.ents[i].info().loc;
        let Some(t) = self.lookup(name) else {
            let what = if array { defn.0.to_owned() } else { what() };
            return Err(self.err(loc, defn, format!("{what} uses unknown type '{name}'")));
        };
        Ok(if array {
            TypeRef::Array(Box::new(t))
        } else {
            t
        })
    }

    /// Checks every entity in definition order (QEMU's `QAPISchema.check`).
    pub(crate) fn check(&mut self) -> Res<()> {
        for i in 0..self.ents.len() {
            self.check_features(i)?;
            match &self.ents[i] {
                Ent::Enum(_) => self.check_enum(i)?,
                Ent::Obj(_) => self.check_object(i)?,
                Ent::Alternate { .. } => self.check_alternate(i)?,
                Ent::Command { .. } => self.check_command(i)?,
                Ent::Event { .. } => self.check_event(i)?,
            }
        }
        Ok(())
    }

    fn check_features(&self, i: usize) -> Res<()> {
        let ent = &self.ents[i];
        let info = ent.info();
        let defn = &self.defn_of[i];
        let names: Vec<&str> = info.features.iter().map(|f| f.name.as_str()).collect();
        if let Some((later, prev)) = first_collision(&names, false) {
            return Err(self.err(
                &info.loc,
                defn,
                format!("feature '{later}' collides with feature '{prev}'"),
            ));
        }
        for f in &info.features {
            if f.is_special() && !matches!(ent, Ent::Command { .. } | Ent::Event { .. }) {
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
        let Ent::Enum(e) = &self.ents[i] else {
            return Ok(());
        };
        let names: Vec<&str> = e.values.iter().map(|v| v.name.as_str()).collect();
        if let Some((later, prev)) = first_collision(&names, true) {
            return Err(self.err(
                &e.info.loc,
                &self.defn_of[i],
                format!("value '{later}' collides with value '{prev}'"),
            ));
        }
        Ok(())
    }

    /// Checks an object type and everything its C struct contains, as QEMU
    /// does, so that a base cycle is reported where it starts.
    fn check_object(&mut self, i: usize) -> Res<()> {
        let (state, base_name, raw_members, branches) = match &self.ents[i] {
            Ent::Obj(o) => (
                o.state,
                o.base.clone(),
                o.members.clone(),
                o.branches.clone(),
            ),
            _ => return Ok(()),
        };
        let defn = self.defn_of[i].clone();
        let loc = self.ents[i].info().loc.clone();
        let name = self.names[i].clone();
        match state {
            ObjState::Done => return Ok(()),
            ObjState::Checking => {
                return Err(self.err(&loc, &defn, format!("object {name} contains itself")));
            }
            ObjState::Unchecked => {}
        }
        if let Ent::Obj(o) = &mut self.ents[i] {
            o.state = ObjState::Checking;
        }
        let mut seen: Vec<Seen> = Vec::new();
        let mut base_index = None;
        if let Some(base) = &base_name {
            let t = self.lookup(base);
            let bi = match &t {
                Some(TypeRef::Object(n)) => self.index[n],
                _ => {
                    let what = match &t {
                        Some(t) => format!(
                            "'base' requires a struct type, {} isn't",
                            self.describe_type(t)
                        ),
                        None => format!("'base' uses unknown type '{base}'"),
                    };
                    return Err(self.err(&loc, &defn, what));
                }
            };
            if let Ent::Obj(b) = &self.ents[bi]
                && b.branches.is_some()
            {
                let d = self.ents[bi].describe();
                return Err(self.err(
                    &loc,
                    &defn,
                    format!("'base' requires a struct type, {d} isn't"),
                ));
            }
            self.check_object(bi)?;
            for s in self.chain_seen(bi) {
                self.clash(&mut seen, s, &loc, &defn, &name)?;
            }
            base_index = Some(bi);
        }
        let mut own: Vec<Member> = Vec::with_capacity(raw_members.len());
        for m in raw_members.iter() {
            let what = || {
                Seen {
                    role: "member",
                    name: m.name.clone(),
                    defined_in: name.clone(),
                }
                .describe(&defn.1)
            };
            let ty = self.resolve(&m.ty, i, what)?;
            let s = Seen {
                role: "member",
                name: m.name.clone(),
                defined_in: name.clone(),
            };
            self.clash(&mut seen, s, &loc, &defn, &defn.1)?;
            own.push(Member {
                name: m.name.clone(),
                ty,
                optional: m.optional,
                cond: m.cond.clone(),
                features: m.features.clone(),
                loc: loc.clone(),
            });
        }
        let mut variants = None;
        if let Some((tag, raw_branches)) = branches {
            let tag_member = own
                .iter()
                .find(|m| m.name == tag)
                .or_else(|| {
                    let bi = base_index?;
                    self.chain_members(bi)
                        .map(|(m, _)| m)
                        .find(|m| m.name == tag)
                })
                .cloned();
            variants = Some(self.check_branches(i, &tag, &raw_branches, tag_member, seen)?);
        }
        if let Ent::Obj(o) = &mut self.ents[i] {
            o.own = own;
            o.variants = variants;
            o.state = ObjState::Done;
        }
        Ok(())
    }

    /// What [`Builder::chain_members`] yields, for clash checks.
    fn chain_seen(&self, i: usize) -> Vec<Seen> {
        self.chain_members(i)
            .map(|(m, owner)| Seen {
                role: "member",
                name: m.name.clone(),
                defined_in: self.names[owner].clone(),
            })
            .collect()
    }

    /// The members of checked object `i` and of its bases, the base's
    /// first, each with the entity that defines it.
    fn chain_members(&self, i: usize) -> impl Iterator<Item = (&Member, usize)> {
        let mut chain = Vec::new();
        let mut cur = Some(i);
        // Bounded, although a checked object's base chain has no cycle.
        while let Some(c) = cur.filter(|_| chain.len() < self.ents.len()) {
            let Ent::Obj(o) = &self.ents[c] else { break };
            chain.push((c, o));
            cur = o.base.as_ref().and_then(|b| self.index.get(b).copied());
        }
        chain
            .into_iter()
            .rev()
            .flat_map(|(c, o)| o.own.iter().map(move |m| (m, c)))
    }

    fn clash(
        &self,
        seen: &mut Vec<Seen>,
        s: Seen,
        loc: &Loc,
        defn: &Defn,
        defn_name: &str,
    ) -> Res<()> {
        if let Some(prev) = seen.iter().find(|p| c_name_eq(&p.name, &s.name)) {
            let msg = format!(
                "{} collides with {}",
                s.describe(defn_name),
                prev.describe(defn_name)
            );
            return Err(self.err(loc, defn, msg));
        }
        seen.push(s);
        Ok(())
    }

    fn check_branches(
        &mut self,
        i: usize,
        tag: &str,
        raw: &[RawBranch],
        tag_member: Option<Member>,
        mut seen: Vec<Seen>,
    ) -> Res<Variants> {
        let defn = self.defn_of[i].clone();
        let loc = self.ents[i].info().loc.clone();
        let tag_seen = seen.iter().find(|p| c_name_eq(&p.name, tag)).cloned();
        let (Some(tag_seen), Some(tag_member)) = (tag_seen, tag_member) else {
            return Err(self.err(
                &loc,
                &defn,
                format!("discriminator '{tag}' is not a member of 'base'"),
            ));
        };
        let base_desc =
            if tag_seen.defined_in.starts_with("q_obj_") || tag_seen.defined_in == defn.1 {
                "'base'".to_owned()
            } else {
                format!("base type '{}'", tag_seen.defined_in)
            };
        let TypeRef::Enum(tag_type) = &tag_member.ty else {
            return Err(self.err(
                &loc,
                &defn,
                format!("discriminator member '{tag}' of {base_desc} must be of enum type"),
            ));
        };
        if tag_member.optional {
            return Err(self.err(
                &loc,
                &defn,
                format!("discriminator member '{tag}' of {base_desc} must not be optional"),
            ));
        }
        if tag_member.cond.is_some() {
            return Err(self.err(
                &loc,
                &defn,
                format!("discriminator member '{tag}' of {base_desc} must not be conditional"),
            ));
        }
        let tag_enum = self.index.get(tag_type).copied();
        fn values(ents: &[Ent], tag_enum: Option<usize>) -> &[EnumValue] {
            match tag_enum.map(|t| &ents[t]) {
                Some(Ent::Enum(e)) => &e.values,
                _ => &[],
            }
        }
        let enum_desc = format!("enum type '{tag_type}'");
        let mut variants = Vec::new();
        for b in raw {
            let what = format!("branch '{}'", b.name);
            let ty = self.resolve(&b.ty, i, || what.clone())?;
            if !values(&self.ents, tag_enum)
                .iter()
                .any(|v| v.name == b.name)
            {
                return Err(self.err(
                    &loc,
                    &defn,
                    format!("branch '{}' is not a value of {enum_desc}", b.name),
                ));
            }
            let TypeRef::Object(obj) = &ty else {
                let d = self.describe_type(&ty);
                return Err(self.err(&loc, &defn, format!("{what} cannot use {d}")));
            };
            variants.push(Variant {
                name: b.name.clone(),
                ty: obj.clone(),
                cond: b.cond.clone(),
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
            return Err(self.err(&loc, &defn, "union has no branches"));
        }
        // Each branch's members, and those of its own branches, must not
        // clash with the union's.
        let union_len = seen.len();
        for v in &variants {
            let vi = self.index[&v.ty];
            self.check_object(vi)?;
            seen.truncate(union_len);
            for s in self.chain_seen(vi) {
                self.clash(&mut seen, s, &loc, &defn, &defn.1)?;
            }
            let inner: Vec<usize> = match &self.ents[vi] {
                Ent::Obj(o) => o
                    .variants
                    .iter()
                    .flat_map(|vs| &vs.variants)
                    .filter_map(|x| self.index.get(&x.ty).copied())
                    .collect(),
                _ => Vec::new(),
            };
            let branch_len = seen.len();
            for ii in inner {
                seen.truncate(branch_len);
                for s in self.chain_seen(ii) {
                    self.clash(&mut seen, s, &loc, &defn, &defn.1)?;
                }
            }
        }
        Ok(Variants {
            discriminator: tag.to_owned(),
            tag_type: tag_type.clone(),
            variants,
        })
    }

    fn check_alternate(&mut self, i: usize) -> Res<()> {
        let Ent::Alternate { branches, .. } = &self.ents[i] else {
            return Ok(());
        };
        let branches = branches.clone();
        let defn = self.defn_of[i].clone();
        let loc = self.ents[i].info().loc.clone();
        let mut seen: Vec<Seen> = Vec::new();
        let mut types_seen: HashMap<&'static str, String> = HashMap::new();
        let mut resolved = Vec::new();
        for b in &branches {
            let what = format!("branch '{}'", b.name);
            let ty = self.resolve(&b.ty, i, || what.clone())?;
            let s = Seen {
                role: "branch",
                name: b.name.clone(),
                defined_in: defn.1.clone(),
            };
            self.clash(&mut seen, s, &loc, &defn, &defn.1)?;
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
                return Err(self.err(&loc, &defn, format!("{what} cannot use {d}")));
            };
            let mut conflicting = vec![qtype];
            if qtype == "qstring" {
                if let TypeRef::Enum(e) = &ty {
                    if let Some(Ent::Enum(et)) = self.index.get(e).map(|&x| &self.ents[x]) {
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
                    return Err(self.err(
                        &loc,
                        &defn,
                        format!("{what} can't be distinguished from '{prev}'"),
                    ));
                }
                types_seen.insert(qt, b.name.clone());
            }
            resolved.push(AlternateBranch {
                name: b.name.clone(),
                ty,
                cond: b.cond.clone(),
                loc: loc.clone(),
            });
        }
        if let Ent::Alternate { resolved: r, .. } = &mut self.ents[i] {
            *r = resolved;
        }
        Ok(())
    }

    /// Checks the argument type of a command or event.
    fn check_args(&mut self, i: usize, args: &Option<String>, boxed: bool, role: &str) -> Res<()> {
        let Some(a) = args else { return Ok(()) };
        let defn = self.defn_of[i].clone();
        let loc = self.ents[i].info().loc.clone();
        let what = format!("{role}'s 'data'");
        let t = self.resolve(&RawType::Name(a.clone()), i, || what.clone())?;
        let TypeRef::Object(name) = &t else {
            let d = self.describe_type(&t);
            return Err(self.err(&loc, &defn, format!("{what} cannot take {d}")));
        };
        let ai = self.index[name];
        if let Ent::Obj(o) = &self.ents[ai]
            && o.branches.is_some()
            && !boxed
        {
            let d = self.ents[ai].describe();
            return Err(self.err(
                &loc,
                &defn,
                format!("{what} can take {d} only with 'boxed': true"),
            ));
        }
        self.check_object(ai)?;
        if matches!(self.ents[ai], Ent::Obj(_))
            && !boxed
            && self.chain_members(ai).any(|(m, _)| m.cond.is_some())
        {
            let msg = if role == "command" {
                "conditional command arguments require 'boxed': true".to_owned()
            } else {
                "event's 'data' members may have 'if' conditions only with 'boxed': true".to_owned()
            };
            return Err(self.err(&loc, &defn, msg));
        }
        Ok(())
    }

    fn check_command(&mut self, i: usize) -> Res<()> {
        let Ent::Command {
            args,
            boxed,
            returns,
            ..
        } = &self.ents[i]
        else {
            return Ok(());
        };
        let (args, boxed, returns) = (args.clone(), *boxed, returns.clone());
        self.check_args(i, &args, boxed, "command")?;
        let Some(ret) = returns else { return Ok(()) };
        let t = self.resolve(&ret, i, || "command's 'returns'".to_owned())?;
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
                return Err(self.err(
                    &self.ents[i].info().loc,
                    &self.defn_of[i],
                    format!("command's 'returns' cannot take {d}"),
                ));
            }
        }
        if let Ent::Command {
            resolved_returns, ..
        } = &mut self.ents[i]
        {
            *resolved_returns = Some(t);
        }
        Ok(())
    }

    fn check_event(&mut self, i: usize) -> Res<()> {
        let Ent::Event { args, boxed, .. } = &self.ents[i] else {
            return Ok(());
        };
        let (args, boxed) = (args.clone(), *boxed);
        self.check_args(i, &args, boxed, "event")
    }

    /// The members a definition's documentation may describe, and the
    /// definition's and its members' features, for the doc checks.
    pub(crate) fn doc_subjects(&self, name: &str) -> Option<(Vec<&str>, Vec<&str>, bool)> {
        let i = *self.index.get(name)?;
        let mut members = Vec::new();
        let mut features: Vec<&str> = self.ents[i]
            .info()
            .features
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        let mut has_returns = false;
        fn obj_members<'a>(o: &'a Obj, members: &mut Vec<&'a str>, features: &mut Vec<&'a str>) {
            for m in o.members.iter() {
                members.push(m.name.as_str());
                features.extend(m.features.iter().map(|f| f.name.as_str()));
            }
        }
        match &self.ents[i] {
            Ent::Enum(e) => {
                for v in &e.values {
                    members.push(v.name.as_str());
                    features.extend(v.features.iter().map(|f| f.name.as_str()));
                }
            }
            Ent::Obj(o) => {
                obj_members(o, &mut members, &mut features);
                if let Some(b) = o.base.as_ref().filter(|b| b.starts_with("q_obj_"))
                    && let Some(Ent::Obj(bo)) = self.index.get(b).map(|&x| &self.ents[x])
                {
                    obj_members(bo, &mut members, &mut features);
                }
            }
            Ent::Alternate { branches, .. } => {
                members.extend(branches.iter().map(|b| b.name.as_str()))
            }
            Ent::Command { args, returns, .. } => {
                has_returns = returns.is_some();
                if let Some(ao) = self.implicit_args(args) {
                    obj_members(ao, &mut members, &mut features);
                }
            }
            Ent::Event { args, .. } => {
                if let Some(ao) = self.implicit_args(args) {
                    obj_members(ao, &mut members, &mut features);
                }
            }
        }
        Some((members, features, has_returns))
    }

    /// The implicit argument type of a command or event. Only its members
    /// belong to the definition's documentation; a named type documents its
    /// own.
    fn implicit_args(&self, args: &Option<String>) -> Option<&Obj> {
        let implicit = args.as_ref().filter(|a| a.starts_with("q_obj_"))?;
        match self.index.get(implicit).map(|&x| &self.ents[x]) {
            Some(Ent::Obj(o)) => Some(o),
            _ => None,
        }
    }

    /// Attaches a doc to a definition after checking.
    pub(crate) fn set_doc(&mut self, name: &str, doc: Doc) {
        if let Some(&i) = self.index.get(name) {
            match &mut self.ents[i] {
                Ent::Enum(e) => e.info.doc = Some(doc),
                Ent::Obj(o) => o.info.doc = Some(doc),
                Ent::Alternate { info, .. }
                | Ent::Command { info, .. }
                | Ent::Event { info, .. } => info.doc = Some(doc),
            }
        }
    }

    /// The checked model.
    pub(crate) fn finish(self, pragma: Pragma, free_docs: Vec<Doc>, files: Vec<String>) -> Schema {
        let mut entities = Vec::with_capacity(self.ents.len());
        for ent in self.ents {
            entities.push(match ent {
                Ent::Enum(e) => Entity::Enum(e),
                Ent::Obj(o) => {
                    let obj = ObjectType {
                        members: o.own,
                        info: o.info,
                        base: o.base,
                        variants: o.variants,
                    };
                    if obj.variants.is_some() {
                        Entity::Union(obj)
                    } else {
                        Entity::Struct(obj)
                    }
                }
                Ent::Alternate { info, resolved, .. } => Entity::Alternate(AlternateType {
                    info,
                    branches: resolved,
                }),
                Ent::Command {
                    info,
                    args,
                    boxed,
                    flags,
                    resolved_returns,
                    ..
                } => Entity::Command(Command {
                    info,
                    args,
                    boxed,
                    returns: resolved_returns,
                    gen_code: flags[0],
                    success_response: flags[1],
                    allow_oob: flags[2],
                    allow_preconfig: flags[3],
                    coroutine: flags[4],
                }),
                Ent::Event { info, args, boxed } => Entity::Event(Event { info, args, boxed }),
            });
        }
        Schema {
            pragma,
            entities,
            free_docs,
            files,
            // Entities keep their builder positions.
            index: self.index,
        }
    }
}

impl Obj {
    fn new(
        info: Info,
        base: Option<String>,
        members: Vec<RawMember>,
        branches: Option<(String, Vec<RawBranch>)>,
    ) -> Obj {
        Obj {
            info,
            base,
            members: members.into(),
            branches: branches.map(|(tag, b)| (tag, b.into())),
            state: ObjState::Unchecked,
            own: Vec::new(),
            variants: None,
        }
    }
}

/// The first name in `names` whose C name (lowercased, with `fold_case`)
/// equals that of an earlier one, and that earlier one. Compares hashes of
/// the mapped names first, so that no mapped name is built.
fn first_collision<'a>(names: &[&'a str], fold_case: bool) -> Option<(&'a str, &'a str)> {
    let map = move |c: char| {
        let c = c_char(c);
        if fold_case { c.to_ascii_lowercase() } else { c }
    };
    let hash = |name: &str| {
        // FNV-1a over the mapped characters.
        name.chars()
            .map(map)
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, c| {
                (h ^ u64::from(c)).wrapping_mul(0x100_0000_01b3)
            })
    };
    let hashes: Vec<u64> = names.iter().map(|n| hash(n)).collect();
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
