//! Folding several releases of a schema into one model.
//!
//! One build of the bindings covers every supported release, so the
//! generator works on a merged model, built by these rules:
//!
//! - A definition exists if any release has it; it remembers the first and
//!   last release that have it.
//! - Where a definition's shape differs between releases, the newest
//!   release's shape wins (its kind, member types, return type, features,
//!   conditions). Members, enum values and union branches that only older
//!   releases have are kept after the newest ones, so that talking to an
//!   older QEMU loses nothing.
//! - A member is required only if every release that has the definition
//!   requires it; everywhere else it is optional, so a reply from any
//!   supported release decodes.
//! - Facts (`Since`, module, examples) come from the newest release that
//!   states them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use qapi_parser::model::{Entity, Member, ObjectType, Schema, TypeRef};

use crate::facts::{Facts, Message};

/// A QEMU release, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl Release {
    /// Parses `X.Y` (a `.Z` suffix is ignored).
    pub fn parse(s: &str) -> Option<Release> {
        let mut parts = s.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(Release { major, minor })
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// One release of a schema, as read from `schema/`.
#[derive(Debug)]
pub struct Input {
    /// The release.
    pub release: Release,
    /// Its checked model.
    pub schema: Schema,
    /// Its facts.
    pub facts: Facts,
}

/// The first and last release (of those merged) that have something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The oldest merged release that has it.
    pub first: Release,
    /// The newest merged release that has it.
    pub last: Release,
}

/// A definition of the merged model.
#[derive(Clone, Debug)]
pub struct Def {
    /// The newest shape, with older members, values and branches appended
    /// and optionality merged.
    pub entity: Entity,
    /// Releases that have it.
    pub span: Span,
    /// Its `Since`, if the documentation states one.
    pub since: Option<String>,
    /// The schema module that defines it (in the newest release).
    pub module: Option<String>,
    /// Releases that have each member (by wire name), enum value or union
    /// branch.
    pub parts: HashMap<String, Span>,
    /// `Since` of members and values, where stated.
    pub part_since: BTreeMap<String, String>,
    /// Members whose QAPI type differs between releases: each type the
    /// member had and the releases that have it, newest type first.
    pub member_types: BTreeMap<String, Vec<(String, Span)>>,
    /// Example exchanges of the newest release that has any.
    pub examples: Vec<Vec<Message>>,
}

/// Several releases of one schema, merged.
#[derive(Debug)]
pub struct Api {
    /// The merged releases, oldest first.
    pub releases: Vec<Release>,
    /// Definitions: the newest release's in its order, then those only
    /// older releases have.
    pub defs: Vec<Def>,
    index: HashMap<String, usize>,
}

impl Api {
    /// Merges `inputs` (any order) by the rules in the module docs.
    pub fn merge(mut inputs: Vec<Input>) -> Api {
        inputs.sort_by_key(|i| i.release);
        let releases: Vec<Release> = inputs.iter().map(|i| i.release).collect();
        // Names in order of appearance, newest release first.
        let mut order: Vec<&str> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for input in inputs.iter().rev() {
            for e in &input.schema.entities {
                if e.info().loc.file.is_empty() && e.name() == "QType" {
                    continue;
                }
                if seen.insert(e.name()) {
                    order.push(e.name());
                }
            }
        }
        let mut defs = Vec::new();
        for name in order {
            // (input, entity), newest first.
            let versions: Vec<(&Input, &Entity)> = inputs
                .iter()
                .rev()
                .filter_map(|i| i.schema.get(name).map(|e| (i, e)))
                .collect();
            defs.push(merge_def(&versions));
        }
        Api::new(releases, defs)
    }

    /// An API of `defs`, indexed by name.
    fn new(releases: Vec<Release>, defs: Vec<Def>) -> Api {
        let index = defs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.entity.name().to_owned(), i))
            .collect();
        Api {
            releases,
            defs,
            index,
        }
    }

    /// Keeps the definitions that the newest release having them places in
    /// one of `modules`, and every definition they use (members, bases,
    /// branches, arguments, replies), whatever its module: what a build with
    /// only those modules' cargo features compiles.
    pub fn select_modules(&self, modules: &BTreeSet<String>) -> Api {
        let mut keep: HashSet<String> = HashSet::new();
        let mut todo: Vec<String> = self
            .defs
            .iter()
            .filter(|d| d.module.as_ref().is_some_and(|m| modules.contains(m)))
            .map(|d| d.entity.name().to_owned())
            .collect();
        while let Some(name) = todo.pop() {
            let Some(def) = self.get(&name) else { continue };
            let uses = uses(&def.entity);
            if keep.insert(name) {
                todo.extend(uses.into_iter().filter(|u| !keep.contains(u)));
            }
        }
        let defs: Vec<Def> = self
            .defs
            .iter()
            .filter(|d| keep.contains(d.entity.name()))
            .cloned()
            .collect();
        Api::new(self.releases.clone(), defs)
    }

    /// The oldest merged release.
    pub fn oldest(&self) -> Release {
        self.releases[0]
    }

    /// The newest merged release.
    pub fn newest(&self) -> Release {
        *self.releases.last().expect("at least one release")
    }

    /// The first merged release after `r`, if any.
    pub fn after(&self, r: Release) -> Option<Release> {
        self.releases.iter().copied().find(|x| *x > r)
    }

    /// Looks a definition up by QAPI name.
    pub fn get(&self, name: &str) -> Option<&Def> {
        self.index.get(name).map(|&i| &self.defs[i])
    }

    /// Looks an object type up by QAPI name.
    pub fn object(&self, name: &str) -> Option<&ObjectType> {
        match &self.get(name)?.entity {
            Entity::Struct(o) | Entity::Union(o) => Some(o),
            _ => None,
        }
    }

    /// All members of an object type, its bases' first.
    pub fn all_members(&self, name: &str) -> Vec<&Member> {
        let mut chain = Vec::new();
        let mut cur = self.object(name);
        while let Some(o) = cur {
            if chain.len() > 64 {
                break;
            }
            chain.push(o);
            cur = o.base.as_deref().and_then(|b| self.object(b));
        }
        chain.iter().rev().flat_map(|o| o.members.iter()).collect()
    }
}

/// The names of the definitions `entity` refers to.
fn uses(entity: &Entity) -> Vec<String> {
    fn type_name(t: &TypeRef, out: &mut Vec<String>) {
        match t {
            TypeRef::Builtin(_) => {}
            TypeRef::Enum(n) | TypeRef::Object(n) | TypeRef::Alternate(n) => out.push(n.clone()),
            TypeRef::Array(e) => type_name(e, out),
        }
    }
    let mut out = Vec::new();
    match entity {
        Entity::Enum(_) => {}
        Entity::Struct(o) | Entity::Union(o) => {
            out.extend(o.base.iter().cloned());
            for m in &o.members {
                type_name(&m.ty, &mut out);
            }
            if let Some(v) = &o.variants {
                out.push(v.tag_type.clone());
                out.extend(v.variants.iter().map(|b| b.ty.clone()));
            }
        }
        Entity::Alternate(a) => {
            for b in &a.branches {
                type_name(&b.ty, &mut out);
            }
        }
        Entity::Command(c) => {
            out.extend(c.args.iter().cloned());
            if let Some(r) = &c.returns {
                type_name(r, &mut out);
            }
        }
        Entity::Event(e) => out.extend(e.args.iter().cloned()),
    }
    out
}

fn span_of(releases: &[Release]) -> Span {
    Span {
        first: *releases.iter().min().expect("present somewhere"),
        last: *releases.iter().max().expect("present somewhere"),
    }
}

/// Merges the versions of one definition, newest first.
fn merge_def(versions: &[(&Input, &Entity)]) -> Def {
    let (newest_input, newest) = versions[0];
    let mut entity = newest.clone();
    let present: Vec<Release> = versions.iter().map(|(i, _)| i.release).collect();
    let mut parts: HashMap<String, Vec<Release>> = HashMap::new();
    // Member name to (QAPI type, releases), in the order met (newest first).
    let mut types: BTreeMap<String, Vec<(String, Vec<Release>)>> = BTreeMap::new();
    match &mut entity {
        Entity::Struct(o) | Entity::Union(o) => {
            let newest_all: Vec<String> = newest_input
                .schema
                .all_members(newest.name())
                .iter()
                .map(|m| m.name.clone())
                .collect();
            for (input, e) in versions {
                let (Entity::Struct(old) | Entity::Union(old)) = e else {
                    continue;
                };
                for m in &old.members {
                    parts.entry(m.name.clone()).or_default().push(input.release);
                    let ty = crate::api::type_text(&m.ty);
                    let seen = types.entry(m.name.clone()).or_default();
                    match seen.iter_mut().find(|(t, _)| *t == ty) {
                        Some((_, rs)) => rs.push(input.release),
                        None => seen.push((ty, vec![input.release])),
                    }
                    if !newest_all.contains(&m.name) && !o.members.iter().any(|x| x.name == m.name)
                    {
                        o.members.push(m.clone());
                    }
                }
                if let (Some(new_vs), Some(old_vs)) = (&mut o.variants, &old.variants) {
                    for v in &old_vs.variants {
                        parts.entry(v.name.clone()).or_default().push(input.release);
                        if !new_vs.variants.iter().any(|x| x.name == v.name) {
                            new_vs.variants.push(v.clone());
                        }
                    }
                }
            }
            // Required only where every release that has the type requires it.
            for m in &mut o.members {
                let required_everywhere = versions.iter().all(|(input, e)| {
                    input
                        .schema
                        .all_members(e.name())
                        .iter()
                        .any(|x| x.name == m.name && !x.optional)
                });
                m.optional = !required_everywhere;
            }
        }
        Entity::Enum(en) => {
            for (input, e) in versions {
                let Entity::Enum(old) = e else { continue };
                for v in &old.values {
                    parts.entry(v.name.clone()).or_default().push(input.release);
                    if !en.values.iter().any(|x| x.name == v.name) {
                        en.values.push(v.clone());
                    }
                }
            }
        }
        Entity::Alternate(a) => {
            for (input, e) in versions {
                if let Entity::Alternate(old) = e {
                    for b in &old.branches {
                        parts.entry(b.name.clone()).or_default().push(input.release);
                    }
                }
            }
            let _ = a;
        }
        Entity::Command(_) | Entity::Event(_) => {}
    }
    let name = newest.name();
    let facts: Vec<_> = versions
        .iter()
        .filter_map(|(i, _)| i.facts.definitions.get(name))
        .collect();
    let since = facts.iter().find_map(|f| f.since.clone());
    let module = facts.iter().find_map(|f| f.module.clone());
    let mut part_since = BTreeMap::new();
    for f in facts.iter().rev() {
        part_since.extend(f.members.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let examples = facts
        .iter()
        .find(|f| !f.examples.is_empty())
        .map(|f| f.examples.clone())
        .unwrap_or_default();
    Def {
        entity,
        span: span_of(&present),
        since,
        module,
        parts: parts.into_iter().map(|(k, v)| (k, span_of(&v))).collect(),
        part_since,
        member_types: types
            .into_iter()
            .filter(|(_, ts)| ts.len() > 1)
            .map(|(m, ts)| (m, ts.into_iter().map(|(t, rs)| (t, span_of(&rs))).collect()))
            .collect(),
        examples,
    }
}
