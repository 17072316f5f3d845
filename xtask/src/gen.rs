//! `gen`: refresh and check the committed generated outputs.
//!
//! The outputs are the API listing of each release (`schema/X.Y/API.txt`),
//! the generator's snapshots (`qapi-codegen/tests/fixtures/*.rs`), the
//! parser's grammar module (`qapi-parser/src/grammar.rs`, from `qapi.pest`)
//! and the module features of `qmp-types/Cargo.toml`.
//! `--emit DIR` writes the code `qmp-types` compiles, for review;
//! `--diff OLD NEW` prints what changed between two releases.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use qapi_codegen::Release;

pub(crate) const USAGE: &str = "\
usage: cargo xtask gen [--check | --emit DIR [--qemu-docs QEMU_SRC] | --diff OLD NEW]

Without options, rewrites the stale generated files: the API listing of each
release (schema/X.Y/API.txt) and the generator's snapshots.

  --check                  fail, naming them, if any generated file is stale
  --emit DIR               write the code qmp-types compiles to DIR
  --qemu-docs QEMU_SRC     with --emit: carry QEMU's own descriptions, read
                           from a QEMU source tree (DIR outside the repository)
  --diff OLD NEW           print the API changes between two releases: QAPI's,
                           then Rust's (renamed, removed, changed and added
                           items of the bindings up to OLD against up to NEW)
";

/// The QEMU releases `schema/` holds.
pub(crate) const RELEASES: [&str; 3] = ["7.2", "10.0", "10.2"];

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// `cargo xtask gen [--check] [--emit DIR] [--diff OLD NEW]`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    match args {
        [] => refresh(&root(), false).map(|_| ()),
        [flag] if flag == "--check" => refresh(&root(), true).map(|_| ()),
        [flag, dir] if flag == "--emit" => emit(Path::new(dir), None),
        [flag, dir, docs_flag, src] if flag == "--emit" && docs_flag == "--qemu-docs" => {
            emit(Path::new(dir), Some(Path::new(src)))
        }
        [flag, old, new] if flag == "--diff" => {
            print!("{}", diff(&root().join("schema"), old, new)?);
            Ok(())
        }
        _ => Err(format!("gen: unexpected arguments {args:?}\n{USAGE}")),
    }
}

/// The facts of a release's QMP and guest agent schemas.
fn release_facts(schema_dir: &Path, release: &str) -> Result<BTreeSet<String>, String> {
    let mut facts = BTreeSet::new();
    for (stem, prefix) in [("qmp", ""), ("qga", "qga ")] {
        let path = schema_dir.join(release).join(format!("{stem}.json"));
        let schema = qapi_parser::parse_file(&path).map_err(|e| e.to_string())?;
        facts.extend(qapi_codegen::api::facts(&schema, prefix));
    }
    Ok(facts)
}

/// The API changes from release `old` to `new`: QAPI's, then what they
/// mean for Rust code (the bindings of every release up to `old` against
/// those up to `new`, as a user upgrading sees them).
pub(crate) fn diff(schema_dir: &Path, old: &str, new: &str) -> Result<String, String> {
    let a = release_facts(schema_dir, old)?;
    let b = release_facts(schema_dir, new)?;
    let mut out = qapi_codegen::api::diff(old, &a, new, &b);
    out.push('\n');
    out.push_str(&rust_diff(schema_dir, old, new)?);
    Ok(out)
}

/// The supported releases up to `last`.
fn releases_up_to(schema_dir: &Path, last: &str) -> Result<Vec<Release>, String> {
    let last = Release::parse(last).ok_or_else(|| format!("{last}: not a release (X.Y)"))?;
    let all = qapi_codegen::releases(schema_dir)?;
    if !all.iter().any(|(r, _)| *r == last) {
        return Err(format!(
            "{last}: no such release under {}",
            schema_dir.display()
        ));
    }
    Ok(all
        .into_iter()
        .map(|(r, _)| r)
        .filter(|r| *r <= last)
        .collect())
}

/// The Rust-level section of [`diff`].
fn rust_diff(schema_dir: &Path, old: &str, new: &str) -> Result<String, String> {
    use qapi_codegen::rust_api;
    let (ro, rn) = (
        releases_up_to(schema_dir, old)?,
        releases_up_to(schema_dir, new)?,
    );
    let a = rust_api::items(schema_dir, &ro)?;
    let b = rust_api::items(schema_dir, &rn)?;
    let renamed = rust_api::renamed(
        &rust_api::names(schema_dir, &ro)?,
        &rust_api::names(schema_dir, &rn)?,
    );
    let label = |rs: &[Release]| {
        rs.iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(rust_api::diff(&label(&ro), &a, &label(&rn), &b, &renamed))
}

/// Every generated file: path and wanted contents.
fn outputs(root: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let schema_dir = root.join("schema");
    let mut out = Vec::new();
    for release in RELEASES {
        let facts = release_facts(&schema_dir, release)?;
        out.push((
            schema_dir.join(release).join("API.txt"),
            qapi_codegen::api::listing(release, &facts),
        ));
    }
    out.push((
        root.join("qapi-parser/src/grammar.rs"),
        grammar(&root.join("qapi-parser/src/qapi.pest"))?,
    ));
    let manifest = root.join("qmp-types/Cargo.toml");
    let modules = qapi_codegen::qmp_modules(&schema_dir)?;
    out.push((manifest.clone(), module_features(&manifest, &modules)?));
    // The same list for the build script, which would otherwise read
    // every release's facts to learn it (a tenth of its unoptimised run);
    // `cargo package` rewrites Cargo.toml without the marker lines.
    let list: String = modules.iter().map(|m| format!("{m}\n")).collect();
    out.push((
        schema_dir.join("modules.txt"),
        format!("# The QMP schema modules of every release, one a line: written by `cargo xtask gen`.\n{list}"),
    ));
    for fixture in qapi_codegen::fixtures() {
        out.push((
            fixture.with_extension("rs"),
            qapi_codegen::fixture(&fixture)?,
        ));
    }
    Ok(out)
}

/// `qmp-types/Cargo.toml` with one feature per QMP schema module between
/// its `BEGIN`/`END module features` lines (the build script reads the
/// same list).
fn module_features(manifest: &Path, modules: &BTreeSet<String>) -> Result<String, String> {
    const BEGIN: &str = "# BEGIN module features\n";
    const END: &str = "# END module features\n";
    let text =
        std::fs::read_to_string(manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
        return Err(format!(
            "{}: no `{BEGIN}`/`{END}` lines",
            manifest.display()
        ));
    };
    let list: String = modules.iter().map(|m| format!("{m} = []\n")).collect();
    Ok(format!("{}{BEGIN}{list}{}", &text[..b], &text[e..]))
}

/// The pest parser of `qapi.pest`, as `pest_derive` would expand it.
///
/// qapi-parser includes this file instead of deriving the parser: the
/// derive macro and its dependencies (pest_meta, pest_generator, and pest's
/// stack guard with a C toolchain) would otherwise be compiled in every
/// build of `qmp-types`, whose build script runs the parser.
fn grammar(pest_file: &Path) -> Result<String, String> {
    let text =
        std::fs::read_to_string(pest_file).map_err(|e| format!("{}: {e}", pest_file.display()))?;
    let input = quote::quote! {
        #[grammar_inline = #text]
        struct Grammar;
    };
    let tokens = pest_generator::derive_parser(input, false);
    qapi_codegen::rust::pretty(&format!(
        "// Generated by `cargo xtask gen` from qapi.pest with pest_generator; do not edit.\n\n{tokens}"
    ))
}

/// Rewrites stale outputs, or with `check` fails naming them. Returns the
/// stale paths.
pub(crate) fn refresh(root: &Path, check: bool) -> Result<Vec<PathBuf>, String> {
    // A release that brings two wire names the naming rules map alike is
    // refused here, where releases enter (`import`, then `gen`), rather
    // than in every user's build script.
    let names = qapi_codegen::names(&root.join("schema"), &[])?;
    let clashes = qapi_codegen::naming::clashes(&names);
    if !clashes.is_empty() {
        return Err(format!("names clash:\n{}", clashes.join("\n")));
    }
    let mut stale = Vec::new();
    for (path, text) in outputs(root)? {
        if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        if !check {
            std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
            eprintln!("updated {}", path.display());
        }
        stale.push(path);
    }
    if check && !stale.is_empty() {
        let list: Vec<String> = stale.iter().map(|p| p.display().to_string()).collect();
        return Err(format!(
            "stale generated files (run `cargo xtask gen`):\n{}",
            list.join("\n")
        ));
    }
    Ok(stale)
}

/// Writes the code `qmp-types` compiles with every protocol to `dir`,
/// formatted by rustfmt. With `qemu_docs` (a QEMU source tree), the docs
/// carry QEMU's own prose, for reading locally; since that prose must never
/// be committed, `dir` must then lie outside the repository.
fn emit(dir: &Path, qemu_docs: Option<&Path>) -> Result<(), String> {
    let local_docs = match qemu_docs {
        Some(src) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let abs = dir
                .canonicalize()
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            let repo = root().canonicalize().map_err(|e| e.to_string())?;
            if abs.starts_with(&repo) {
                return Err(format!(
                    "{}: output with QEMU's documentation must not go inside the repository; \
                     choose a directory outside {}",
                    dir.display(),
                    repo.display()
                ));
            }
            Some(qapi_codegen::LocalDocs::from_qemu_source(src)?)
        }
        None => None,
    };
    let which = qapi_codegen::Bindings {
        qmp: true,
        guest_agent: true,
        storage_daemon: true,
        ..Default::default()
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, text) in
        qapi_codegen::bindings_with_docs(&root().join("schema"), which, local_docs.as_ref())?
    {
        let path = dir.join(name);
        let text = qapi_codegen::rust::pretty(&text)?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        // prettyplease turns doc attributes into comments; rustfmt then
        // lays the code out like the rest of the repository.
        let status = std::process::Command::new("rustfmt")
            .args(["--edition", "2024"])
            .arg(&path)
            .status()
            .map_err(|e| format!("rustfmt: {e} (install it: rustup component add rustfmt)"))?;
        if !status.success() {
            return Err(format!("rustfmt failed on {}", path.display()));
        }
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_outputs_are_fresh() {
        refresh(&root(), true).unwrap();
    }

    #[test]
    fn generation_is_deterministic() {
        let which = qapi_codegen::Bindings {
            qmp: true,
            guest_agent: true,
            storage_daemon: true,
            ..Default::default()
        };
        let a = qapi_codegen::bindings(&root().join("schema"), which.clone()).unwrap();
        let b = qapi_codegen::bindings(&root().join("schema"), which).unwrap();
        assert!(a == b, "two runs differ");
    }

    #[test]
    fn local_docs_carry_qemu_prose_and_stay_out_of_the_repository() {
        let src = qemu_test_support::shared().join("qemu/10.2");
        let inside = root().join("target/local-docs-test");
        let err = emit(&inside, Some(&src)).expect_err("refused inside the repository");
        assert!(err.contains("must not go inside the repository"), "{err}");

        let docs = qapi_codegen::LocalDocs::from_qemu_source(&src).unwrap();
        let which = qapi_codegen::Bindings {
            qmp: true,
            ..Default::default()
        };
        let files =
            qapi_codegen::bindings_with_docs(&root().join("schema"), which.clone(), Some(&docs))
                .unwrap();
        let qmp = &files.iter().find(|(n, _)| n == "qmp.rs").unwrap().1;
        // QEMU's description of send-key's 'hold-time' member, which the
        // committed schema/ does not carry.
        let text = &docs.qmp["send-key"].member("hold-time").unwrap().text;
        let first = text.lines().next().unwrap().trim();
        assert!(qmp.contains(first), "prose {first:?} missing");
        let plain = qapi_codegen::bindings(&root().join("schema"), which).unwrap();
        assert!(
            !plain[0].1.contains(first),
            "prose leaked into the normal build"
        );
    }

    #[test]
    fn diff_lists_known_changes() {
        let d = diff(&root().join("schema"), "7.2", "10.2").unwrap();
        for line in [
            // A command added in 10.0.
            "+ command blockdev-set-active\n",
            // A member 7.2 had and 10.2 dropped.
            "- struct StatusInfo member singlestep: bool\n",
        ] {
            assert!(d.contains(line), "no {line:?} in:\n{d}");
        }
        assert!(d.contains("Added enum values ("), "{d}");
        // The Rust section: 10.0's command, and what 10.x changed for
        // callers of methods (a new optional member).
        for line in [
            "Rust API: bindings of QEMU 7.2 -> 7.2, 10.0, 10.2\n",
            "Renamed (breaks callers; must stay empty) (0):\n",
            "+ struct qmp::commands::BlockdevSetActive\n",
            "+ method qmp::QmpCommands::blockdev_set_active(",
        ] {
            assert!(d.contains(line), "no {line:?} in:\n{d}");
        }
        assert!(d.contains("Changed signatures and types"), "{d}");
    }

    /// A member whose type changed between releases says what each
    /// release takes: guest-exec's capture-output was a bool in 7.2.
    #[test]
    fn changed_member_types_are_documented() {
        let which = qapi_codegen::Bindings {
            guest_agent: true,
            ..Default::default()
        };
        let files = qapi_codegen::bindings(&root().join("schema"), which).unwrap();
        let (_, qga) = files.iter().find(|(n, _)| n == "qga.rs").unwrap();
        let want = "Member `capture-output`, optional; QAPI type `GuestExecCaptureOutput` in \
                    QEMU 10.0 to 10.2 of the supported releases, `bool` only in QEMU 7.2";
        assert!(
            qga.contains(want),
            "no {want:?} in the guest agent's bindings"
        );
    }

    /// Importing a release renames nothing and removes nothing: every Rust
    /// item of the bindings of the older releases is still there, under
    /// the same name, when the newest is added.
    #[test]
    fn adding_a_release_renames_nothing() {
        use qapi_codegen::rust_api;
        let schema = root().join("schema");
        let all: Vec<Release> = qapi_codegen::releases(&schema)
            .unwrap()
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        let older = &all[..all.len() - 1];
        assert!(!older.is_empty());
        let renamed = rust_api::renamed(
            &rust_api::names(&schema, older).unwrap(),
            &rust_api::names(&schema, &all).unwrap(),
        );
        assert!(renamed.is_empty(), "{}", renamed.join("\n"));
        let before = rust_api::items(&schema, older).unwrap();
        let after = rust_api::items(&schema, &all).unwrap();
        let d = rust_api::diff("older", &before, "all", &after, &renamed);
        assert!(
            d.contains("Removed (breaks callers) (0):"),
            "adding the newest release removed items:\n{d}"
        );
        assert!(before.len() > 5_000, "{} items", before.len());
    }
}
