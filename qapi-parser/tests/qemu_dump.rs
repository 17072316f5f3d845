//! The model agrees with QEMU's own: for every valid case of QEMU's schema
//! test suite, our model printed in the format of QEMU's test dump (`.out`)
//! equals QEMU's dump. That covers implicit types and their names, bases,
//! branches (including those QEMU adds for enum values without one),
//! conditions, features, flags and definition order.
//!
//! QEMU's dump also lists array types and include directives, which the
//! model represents differently (arrays as type references), and docs in a
//! format of its own; those lines are left out of the comparison.

use std::fmt::Write as _;
use std::path::Path;

use qapi_parser::model::{Cond, Entity, Feature, Schema};

/// QEMU prints conditions as the Python repr of its normalized form.
fn cond(c: &Cond) -> String {
    fn list(cs: &[Cond]) -> String {
        cs.iter().map(cond).collect::<Vec<_>>().join(", ")
    }
    match c {
        Cond::Name(n) => format!("'{n}'"),
        Cond::All(cs) => format!("{{'all': [{}]}}", list(cs)),
        Cond::Any(cs) => format!("{{'any': [{}]}}", list(cs)),
        Cond::Not(c) => format!("{{'not': {}}}", cond(c)),
    }
}

fn cond_line(out: &mut String, c: &Option<Cond>, indent: &str) {
    if let Some(c) = c {
        // A bare name is printed without quotes at the top level.
        let text = match c {
            Cond::Name(n) => n.clone(),
            other => cond(other),
        };
        let _ = writeln!(out, "{indent}if {text}");
    }
}

fn features(out: &mut String, fs: &[Feature], indent: &str) {
    for f in fs {
        let _ = writeln!(out, "{indent}feature {}", f.name);
        cond_line(out, &f.cond, &format!("{indent}    "));
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// The module QEMU files an entity under: its file relative to the root
/// file's directory.
fn module(file: &str, root_dir: &Path) -> String {
    if file == "<built-in>" {
        return "./builtin".to_owned();
    }
    let p = Path::new(file);
    let rel = p.strip_prefix(root_dir).unwrap_or(p);
    // Normalize `a/../b` the way os.path.relpath does.
    let mut parts: Vec<String> = Vec::new();
    for c in rel.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    parts.join("/")
}

fn dump(schema: &Schema, root_dir: &Path) -> String {
    // Group by module in the order modules first appear, as QEMU's visitor.
    let mut modules: Vec<String> = vec!["./builtin".to_owned()];
    for f in &schema.files {
        modules.push(module(f, root_dir));
    }
    let mut out = String::new();
    for m in &modules {
        let _ = writeln!(out, "module {m}");
        for e in &schema.entities {
            if module(&e.info().loc.file, root_dir) != *m {
                continue;
            }
            entity(&mut out, e);
        }
    }
    out
}

fn entity(out: &mut String, e: &Entity) {
    let info = e.info();
    match e {
        Entity::Enum(en) => {
            let _ = writeln!(out, "enum {}", info.name);
            if let Some(p) = &en.prefix {
                let _ = writeln!(out, "    prefix {p}");
            }
            for v in &en.values {
                let _ = writeln!(out, "    member {}", v.name);
                cond_line(out, &v.cond, "        ");
                features(out, &v.features, "        ");
            }
        }
        Entity::Struct(o) | Entity::Union(o) => {
            let _ = writeln!(out, "object {}", info.name);
            if let Some(b) = &o.base {
                let _ = writeln!(out, "    base {b}");
            }
            for m in &o.members {
                let _ = writeln!(
                    out,
                    "    member {}: {} optional={}",
                    m.name,
                    m.ty.name(),
                    py_bool(m.optional)
                );
                cond_line(out, &m.cond, "        ");
                features(out, &m.features, "        ");
            }
            if let Some(v) = &o.variants {
                let _ = writeln!(out, "    tag {}", v.discriminator);
                for b in &v.variants {
                    let _ = writeln!(out, "    case {}: {}", b.name, b.ty);
                    cond_line(out, &b.cond, "        ");
                }
            }
        }
        Entity::Alternate(a) => {
            let _ = writeln!(out, "alternate {}", info.name);
            let _ = writeln!(out, "    tag type");
            for b in &a.branches {
                let _ = writeln!(out, "    case {}: {}", b.name, b.ty.name());
                cond_line(out, &b.cond, "        ");
            }
        }
        Entity::Command(c) => {
            let ret = c.returns.as_ref().map_or("None".to_owned(), |r| r.name());
            let _ = writeln!(
                out,
                "command {} {} -> {ret}",
                info.name,
                c.args.as_deref().unwrap_or("None")
            );
            let _ = write!(
                out,
                "    gen={} success_response={} boxed={} oob={} preconfig={}",
                py_bool(c.gen_code),
                py_bool(c.success_response),
                py_bool(c.boxed),
                py_bool(c.allow_oob),
                py_bool(c.allow_preconfig)
            );
            if c.coroutine {
                out.push_str(" coroutine=True");
            }
            out.push('\n');
        }
        Entity::Event(ev) => {
            let _ = writeln!(
                out,
                "event {} {}",
                info.name,
                ev.args.as_deref().unwrap_or("None")
            );
            let _ = writeln!(out, "    boxed={}", py_bool(ev.boxed));
        }
    }
    cond_line(out, &info.cond, "    ");
    features(out, &info.features, "    ");
}

/// QEMU's dump without what the model represents differently.
fn comparable(qemu: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in qemu.lines() {
        if line.starts_with("doc ") {
            break;
        }
        if !line.starts_with(' ') {
            skipping = line.starts_with("array ") || line.starts_with("include ");
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn model_matches_qemus_dump() {
    let dir = qemu_test_support::shared().join("qapi-tests");
    let mut outs: Vec<_> = std::fs::read_dir(&dir)
        .expect("qapi-tests readable")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "out"))
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
        .collect();
    outs.sort();
    assert!(
        outs.len() >= 5,
        "expected QEMU's dumps, found {}",
        outs.len()
    );
    let mut failures = Vec::new();
    for out_path in &outs {
        let json = out_path.with_extension("json");
        let name = json
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let schema = match qapi_parser::parse_file(&json) {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{name}: rejected:\n{e}"));
                continue;
            }
        };
        let ours = dump(&schema, &dir);
        let theirs = comparable(&std::fs::read_to_string(out_path).expect(".out readable"));
        if ours != theirs {
            let first = ours
                .lines()
                .zip(theirs.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(ours.lines().count().min(theirs.lines().count()));
            let ctx = |s: &str| {
                s.lines()
                    .skip(first.saturating_sub(3))
                    .take(8)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            failures.push(format!(
                "{name}: dumps differ at line {}\n--- ours\n{}\n--- QEMU\n{}",
                first + 1,
                ctx(&ours),
                ctx(&theirs)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
