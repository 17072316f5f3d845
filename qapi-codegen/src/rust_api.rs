//! The Rust API the bindings give, as text, and what changes for Rust code
//! between two sets of releases.
//!
//! [`items`] reads the generated code (with `syn`, as the compiler would
//! see it) and lists one line per public item: types, fields, variants,
//! constructors and setters, trait methods with their signatures, command
//! outputs. [`diff`] compares two such listings and says what breaks a
//! caller: removed items and changed signatures. Adding a release must
//! never rename anything; [`renamed`] compares the naming tables.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use quote::ToTokens;

use crate::naming::Name;
use crate::{Release, apis, rust};

/// Tokens as compact text: `Vec<KeyValue>`, `impl Into<String>`.
fn text(t: &impl ToTokens) -> String {
    let s = t.to_token_stream().to_string();
    let mut out = String::with_capacity(s.len());
    for (i, part) in s.split(' ').enumerate() {
        let glue = matches!(part, "<" | ">" | "::" | "," | ")" | "(" | "]" | ">," | ":")
            || out.ends_with(['<', '(', '[', '&'])
            || out.ends_with("::");
        if i > 0 && !glue {
            out.push(' ');
        }
        out.push_str(part);
        if part == "," || part == ":" {
            out.push(' ');
        }
    }
    out.replace("  ", " ")
}

fn is_pub(v: &syn::Visibility) -> bool {
    matches!(v, syn::Visibility::Public(_))
}

fn signature(sig: &syn::Signature) -> String {
    let args: Vec<String> = sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            syn::FnArg::Typed(p) => Some(format!("{}: {}", text(&p.pat), text(&p.ty))),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    let out = match &sig.output {
        syn::ReturnType::Default => String::new(),
        syn::ReturnType::Type(_, t) => format!(" -> {}", text(t)),
    };
    format!("{}({}){out}", sig.ident, args.join(", "))
}

fn walk(items: &[syn::Item], path: &str, out: &mut BTreeSet<String>) {
    for item in items {
        match item {
            syn::Item::Struct(s) if is_pub(&s.vis) => {
                let name = format!("{path}::{}", s.ident);
                out.insert(format!("struct {name}"));
                for (i, f) in s.fields.iter().enumerate() {
                    match &f.ident {
                        Some(id) => out.insert(format!("field {name}.{id}: {}", text(&f.ty))),
                        None => out.insert(format!("field {name}.{i}: {}", text(&f.ty))),
                    };
                }
            }
            syn::Item::Enum(e) if is_pub(&e.vis) => {
                let name = format!("{path}::{}", e.ident);
                out.insert(format!("enum {name}"));
                for v in &e.variants {
                    let fields = match &v.fields {
                        syn::Fields::Unit => String::new(),
                        fields => text(fields),
                    };
                    out.insert(format!("variant {name}::{}{fields}", v.ident));
                }
            }
            syn::Item::Mod(m) if is_pub(&m.vis) => {
                if let Some((_, inner)) = &m.content {
                    walk(inner, &format!("{path}::{}", m.ident), out);
                }
            }
            syn::Item::Trait(t) if is_pub(&t.vis) => {
                let name = format!("{path}::{}", t.ident);
                out.insert(format!("trait {name}"));
                for i in &t.items {
                    if let syn::TraitItem::Fn(f) = i {
                        out.insert(format!("method {name}::{}", signature(&f.sig)));
                    }
                }
            }
            syn::Item::Const(c) if is_pub(&c.vis) => {
                out.insert(format!("const {path}::{}", c.ident));
            }
            syn::Item::Impl(i) => {
                let self_ty = text(&i.self_ty);
                let name = format!("{path}::{self_ty}");
                match &i.trait_ {
                    None => {
                        for item in &i.items {
                            if let syn::ImplItem::Fn(f) = item
                                && is_pub(&f.vis)
                            {
                                out.insert(format!("fn {name}::{}", signature(&f.sig)));
                            }
                        }
                    }
                    Some((_, tr, _)) => {
                        let tr = text(tr);
                        if tr.ends_with("Command") {
                            for item in &i.items {
                                if let syn::ImplItem::Type(t) = item
                                    && t.ident == "Output"
                                {
                                    out.insert(format!("output {name}: {}", text(&t.ty)));
                                }
                            }
                        } else if tr.starts_with("From") {
                            out.insert(format!("impl {tr} for {name}"));
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

/// The Rust items of the bindings of `releases` of `schema_dir` (every
/// release if empty), one line each.
///
/// # Errors
/// A schema that does not parse, or generated code that does not (a bug).
pub fn items(schema_dir: &Path, releases: &[Release]) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    for (api, config) in apis(schema_dir, releases)? {
        let code = rust::generate(&api, &config);
        let file = syn::parse_file(&code).map_err(|e| format!("generated code: {e}"))?;
        walk(&file.items, &config.module, &mut out);
    }
    Ok(out)
}

/// The naming table of `releases` (see [`rust::names`]).
///
/// # Errors
/// A schema that does not parse.
pub fn names(schema_dir: &Path, releases: &[Release]) -> Result<Vec<Name>, String> {
    crate::names(schema_dir, releases)
}

/// Wire names whose Rust name differs between two naming tables, each as
/// `scope: wire: old -> new`.
pub fn renamed(old: &[Name], new: &[Name]) -> Vec<String> {
    let before: BTreeMap<(&str, &str), &str> = old
        .iter()
        .filter(|n| !n.wire.is_empty())
        .map(|n| ((n.scope.as_str(), n.wire.as_str()), n.rust.as_str()))
        .collect();
    new.iter()
        .filter_map(|n| {
            let was = before.get(&(n.scope.as_str(), n.wire.as_str()))?;
            (*was != n.rust).then(|| format!("{}: `{}`: {was} -> {}", n.scope, n.wire, n.rust))
        })
        .collect()
}

/// The item a listing line is about, without its type or signature:
/// `field qmp::X.y`, `method qmp::QmpCommands::send_key`.
fn key(line: &str) -> &str {
    let cut = line
        .find(['(', ':'])
        .map(|i| {
            // `::` is a path, not the `: type` separator.
            let mut i = i;
            while line[i..].starts_with("::") {
                match line[i + 2..].find(['(', ':']) {
                    Some(j) => i = i + 2 + j,
                    None => return line.len(),
                }
            }
            i
        })
        .unwrap_or(line.len());
    &line[..cut]
}

/// What changes for Rust code from the bindings of `old` to those of `new`:
/// removed items and changed signatures (these break callers), renamed
/// items (never expected), and added items.
pub fn diff(
    old_name: &str,
    old: &BTreeSet<String>,
    new_name: &str,
    new: &BTreeSet<String>,
    renames: &[String],
) -> String {
    let old_keys: BTreeMap<&str, &str> = old.iter().map(|l| (key(l), l.as_str())).collect();
    let new_keys: BTreeMap<&str, &str> = new.iter().map(|l| (key(l), l.as_str())).collect();
    let mut removed = Vec::new();
    let mut changed = Vec::new();
    let mut added = Vec::new();
    for (k, l) in &old_keys {
        match new_keys.get(k) {
            None => removed.push(format!("- {l}")),
            Some(n) if n != l => changed.push(format!("- {l}\n+ {n}")),
            Some(_) => {}
        }
    }
    for (k, l) in &new_keys {
        if !old_keys.contains_key(k) {
            added.push(format!("+ {l}"));
        }
    }
    let mut s = format!("Rust API: bindings of QEMU {old_name} -> {new_name}\n");
    let section = |s: &mut String, title: &str, lines: &[String]| {
        let _ = writeln!(s, "\n{title} ({}):", lines.len());
        for l in lines {
            let _ = writeln!(s, "{l}");
        }
    };
    section(&mut s, "Renamed (breaks callers; must stay empty)", renames);
    section(&mut s, "Removed (breaks callers)", &removed);
    section(
        &mut s,
        "Changed signatures and types (breaks callers of these)",
        &changed,
    );
    section(&mut s, "Added", &added);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_strip_types_and_signatures() {
        assert_eq!(key("field qmp::X.y: Vec<u8>"), "field qmp::X.y");
        assert_eq!(
            key("method qmp::QmpCommands::send_key(keys: Vec<KeyValue>)"),
            "method qmp::QmpCommands::send_key"
        );
        assert_eq!(
            key("struct qmp::commands::SendKey"),
            "struct qmp::commands::SendKey"
        );
        assert_eq!(key("variant qmp::E::A(u8)"), "variant qmp::E::A");
    }

    #[test]
    fn diff_sorts_breaks_from_additions() {
        let old: BTreeSet<String> = ["struct qmp::A", "field qmp::A.x: u8", "enum qmp::B"]
            .map(String::from)
            .into();
        let new: BTreeSet<String> = ["struct qmp::A", "field qmp::A.x: u16", "struct qmp::C"]
            .map(String::from)
            .into();
        let d = diff("1.0", &old, "2.0", &new, &[]);
        assert!(
            d.contains("Removed (breaks callers) (1):\n- enum qmp::B\n"),
            "{d}"
        );
        assert!(
            d.contains("- field qmp::A.x: u8\n+ field qmp::A.x: u16\n"),
            "{d}"
        );
        assert!(d.contains("Added (1):\n+ struct qmp::C\n"), "{d}");
    }
}
