//! Generates typed Rust bindings from checked QAPI schemas.
//!
//! The input is one or more releases of a schema (`qapi_parser`'s model,
//! plus the [`facts`] kept beside it); [`merge`] folds the releases into
//! one model that knows which release has what, and [`rust`] turns that
//! into Rust source: structs, enums, unions, alternates, one type per
//! command implementing `qmp_types::Command`, an `Event` enum and an
//! extension trait with one method per command. [`api`] lists and diffs
//! releases for humans.
//!
//! Architecture invariant: this crate produces source text only. It does
//! not depend on `qmp-types`; the code it writes does.
#![warn(missing_docs)]

pub mod api;
pub mod facts;
mod json;
pub mod merge;
pub mod naming;
pub mod rust;
#[cfg(feature = "pretty")]
pub mod rust_api;

pub use merge::Release;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use facts::Facts;
use merge::{Api, Input};
use rust::{Config, Protocol, Subset};

/// Which parts of `qmp-types` to generate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bindings {
    /// Whether the crate enables its `unstable` feature.
    pub unstable: bool,
    /// QMP: every type, command and event of `qemu-system-*`.
    pub qmp: bool,
    /// QMP, when `qmp` is off: only the definitions of these schema modules
    /// (`ui`, `run-state`, ...; see [`qmp_modules`]) and the types they use.
    pub qmp_modules: BTreeSet<String>,
    /// The guest agent's.
    pub guest_agent: bool,
    /// The storage daemon's commands (and, without `qmp`, only the QMP
    /// types and events it has).
    pub storage_daemon: bool,
}

/// The releases in `schema_dir`: its subdirectories named `X.Y`, oldest
/// first.
///
/// # Errors
/// If the directory cannot be read.
pub fn releases(schema_dir: &Path) -> Result<Vec<(Release, String)>, String> {
    let entries =
        std::fs::read_dir(schema_dir).map_err(|e| format!("{}: {e}", schema_dir.display()))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(r) = Release::parse(&name)
            && entry.path().is_dir()
            && !name.contains(|c: char| !c.is_ascii_digit() && c != '.')
        {
            out.push((r, name));
        }
    }
    out.sort();
    Ok(out)
}

/// The schema modules of QMP over every release in `schema_dir`, from the
/// facts files alone (no schema is parsed): the cargo features of
/// `qmp-types` that select them.
///
/// # Errors
/// If a facts file is missing or does not parse.
pub fn qmp_modules(schema_dir: &Path) -> Result<BTreeSet<String>, String> {
    let mut out = BTreeSet::new();
    for (_, dir) in releases(schema_dir)? {
        let path = schema_dir.join(&dir).join("qmp.facts.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let facts = Facts::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        out.extend(facts.definitions.into_values().filter_map(|d| d.module));
    }
    Ok(out)
}

/// Reads `schema_dir/<release>/<stem>.json` (and its facts, if any) for
/// every release.
///
/// # Errors
/// The first file that is missing or does not parse.
pub fn load(schema_dir: &Path, stem: &str, facts_stem: &str) -> Result<Vec<Input>, String> {
    let mut inputs = Vec::new();
    for (release, dir) in releases(schema_dir)? {
        let path = schema_dir.join(&dir).join(format!("{stem}.json"));
        let schema = qapi_parser::parse_file(&path).map_err(|e| e.to_string())?;
        let facts_path = schema_dir
            .join(&dir)
            .join(format!("{facts_stem}.facts.json"));
        let facts = match std::fs::read_to_string(&facts_path) {
            Ok(text) => {
                Facts::from_json(&text).map_err(|e| format!("{}: {e}", facts_path.display()))?
            }
            Err(_) => Facts::default(),
        };
        inputs.push(Input {
            release,
            schema,
            facts,
        });
    }
    Ok(inputs)
}

/// Generates the modules of `qmp-types` from `schema_dir`: file names
/// (`qmp.rs`, `qga.rs`) and contents, each with a header naming its source.
///
/// # Errors
/// A schema that is missing or does not parse.
pub fn bindings(schema_dir: &Path, which: Bindings) -> Result<Vec<(String, String)>, String> {
    bindings_with_docs(schema_dir, which, None)
}

/// QEMU's documentation, by definition name, for [`bindings_with_docs`].
#[derive(Clone, Debug, Default)]
pub struct LocalDocs {
    /// QMP definitions' docs.
    pub qmp: HashMap<String, qapi_parser::doc::Doc>,
    /// Guest agent definitions' docs.
    pub qga: HashMap<String, qapi_parser::doc::Doc>,
}

impl LocalDocs {
    /// Reads the docs of a QEMU source tree (`qapi/` and `qga/`).
    ///
    /// # Errors
    /// A schema that is missing or does not parse.
    pub fn from_qemu_source(src: &Path) -> Result<LocalDocs, String> {
        let docs = |rel: &str| -> Result<HashMap<String, qapi_parser::doc::Doc>, String> {
            let schema = qapi_parser::parse_file(src.join(rel)).map_err(|e| e.to_string())?;
            Ok(schema
                .entities
                .iter()
                .filter_map(|e| Some((e.name().to_owned(), e.info().doc.clone()?)))
                .collect())
        };
        Ok(LocalDocs {
            qmp: docs("qapi/qapi-schema.json")?,
            qga: docs("qga/qapi-schema.json")?,
        })
    }
}

/// Like [`bindings`], with QEMU's own documentation text in the rustdoc
/// when `local_docs` is given: for reading on one's own machine. QEMU's
/// prose is GPL-licensed and must not be committed or shipped.
///
/// # Errors
/// A schema that is missing or does not parse.
pub fn bindings_with_docs(
    schema_dir: &Path,
    which: Bindings,
    local_docs: Option<&LocalDocs>,
) -> Result<Vec<(String, String)>, String> {
    let mut files = Vec::new();
    let header = |what: &str, inputs: &[Input]| {
        let list: Vec<String> = inputs.iter().map(|i| i.release.to_string()).collect();
        format!(
            "// Generated by qapi-codegen from schema/ ({what}, QEMU {}); do not edit.\n\n",
            list.join(", ")
        )
    };
    let qmp = which.qmp || !which.qmp_modules.is_empty();
    if qmp || which.storage_daemon {
        // The storage daemon's schema is parsed only when its trait is
        // wanted: a build script runs unoptimised in a user's debug build.
        let sd_inputs = if which.storage_daemon {
            load(schema_dir, "storage-daemon", "qmp")?
        } else {
            Vec::new()
        };
        let mut sd_commands: BTreeSet<String> = sd_inputs
            .iter()
            .flat_map(|i| i.schema.commands().map(|c| c.info.name.clone()))
            .collect();
        let inputs = if qmp {
            load(schema_dir, "qmp", "qmp")?
        } else {
            sd_inputs
        };
        let text = header("QMP", &inputs);
        let api = Api::merge(inputs);
        let selected = (qmp && !which.qmp).then(|| api.select_modules(&which.qmp_modules));
        if let Some(s) = &selected {
            sd_commands.retain(|c| s.get(c).is_some());
        }
        let mut subsets = Vec::new();
        if which.storage_daemon {
            subsets.push(Subset {
                trait_name: "StorageDaemonCommands".into(),
                const_name: "STORAGE_DAEMON_COMMANDS".into(),
                what: "qemu-storage-daemon".into(),
                commands: sd_commands,
            });
        }
        let mut config = qmp_config(qmp, subsets, which.unstable);
        config.local_docs = local_docs.map(|d| d.qmp.clone());
        let code = match &selected {
            Some(s) => rust::generate_selected(&api, s, &config),
            None => rust::generate(&api, &config),
        };
        files.push(("qmp.rs".into(), text + &code));
    }
    if which.guest_agent {
        let inputs = load(schema_dir, "qga", "qga")?;
        let text = header("guest agent", &inputs);
        let api = Api::merge(inputs);
        let mut config = qga_config(which.unstable);
        config.local_docs = local_docs.map(|d| d.qga.clone());
        files.push(("qga.rs".into(), text + &rust::generate(&api, &config)));
    }
    Ok(files)
}

/// The configuration of module `qmp`: with its command trait if `qmp`
/// (else only the storage daemon's), and `subsets`.
fn qmp_config(qmp: bool, subsets: Vec<Subset>, unstable: bool) -> Config {
    Config {
        protocol: Protocol::Qmp,
        krate: "::qmp_types".into(),
        commands_trait: qmp.then(|| "QmpCommands".into()),
        subsets,
        unstable_feature: Some("unstable".into()),
        commands_macro: Some("__qmp_commands".into()),
        module: "qmp".into(),
        unstable_enabled: unstable,
        local_docs: None,
    }
}

/// The configuration of module `qga`.
fn qga_config(unstable: bool) -> Config {
    Config {
        protocol: Protocol::GuestAgent,
        krate: "::qmp_types".into(),
        commands_trait: Some("GuestAgentCommands".into()),
        subsets: Vec::new(),
        unstable_feature: Some("unstable".into()),
        commands_macro: Some("__qga_commands".into()),
        module: "qga".into(),
        unstable_enabled: unstable,
        local_docs: None,
    }
}

/// The merged QMP and guest-agent APIs of the given releases of
/// `schema_dir` (every release if `only` is empty), each with the
/// configuration `qmp-types` generates it with (every feature on).
///
/// # Errors
/// A schema that is missing or does not parse.
pub fn apis(schema_dir: &Path, only: &[Release]) -> Result<Vec<(Api, Config)>, String> {
    let keep = |mut inputs: Vec<Input>| {
        inputs.retain(|i| only.is_empty() || only.contains(&i.release));
        inputs
    };
    let sd = keep(load(schema_dir, "storage-daemon", "qmp")?);
    let sd_commands: BTreeSet<String> = sd
        .iter()
        .flat_map(|i| i.schema.commands().map(|c| c.info.name.clone()))
        .collect();
    let subsets = vec![Subset {
        trait_name: "StorageDaemonCommands".into(),
        const_name: "STORAGE_DAEMON_COMMANDS".into(),
        what: "qemu-storage-daemon".into(),
        commands: sd_commands,
    }];
    let qmp = Api::merge(keep(load(schema_dir, "qmp", "qmp")?));
    let qga = Api::merge(keep(load(schema_dir, "qga", "qga")?));
    Ok(vec![
        (qmp, qmp_config(true, subsets, true)),
        (qga, qga_config(true)),
    ])
}

/// Every Rust name the bindings give (see [`rust::names`]) for the given
/// releases of `schema_dir` (every release if `only` is empty).
///
/// # Errors
/// A schema that is missing or does not parse.
pub fn names(schema_dir: &Path, only: &[Release]) -> Result<Vec<naming::Name>, String> {
    let mut out = Vec::new();
    for (api, config) in apis(schema_dir, only)? {
        out.extend(rust::names(&api, &config));
    }
    Ok(out)
}

/// Generates the snapshot of a fixture schema (one release, no facts) for
/// the generator's own tests: the code `rust::generate` writes for it, with
/// a header naming the fixture.
///
/// # Errors
/// If the fixture does not parse.
#[cfg(feature = "pretty")]
pub fn fixture(path: &Path) -> Result<String, String> {
    let schema = qapi_parser::parse_file(path).map_err(|e| e.to_string())?;
    let api = Api::merge(vec![Input {
        release: Release {
            major: 10,
            minor: 2,
        },
        schema,
        facts: Facts::default(),
    }]);
    let config = Config {
        protocol: Protocol::Qmp,
        krate: "::qmp_types".into(),
        commands_trait: Some("FixtureCommands".into()),
        subsets: Vec::new(),
        unstable_feature: Some("unstable".into()),
        commands_macro: None,
        module: String::new(),
        unstable_enabled: false,
        local_docs: None,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    rust::pretty(&format!(
        "// Generated by qapi-codegen from {name}; do not edit (UPDATE_EXPECT=1 or\n// cargo xtask gen rewrites it).\n\n{}",
        rust::generate(&api, &config)
    ))
}

/// The fixture schemas of the snapshot tests, sorted: `tests/fixtures/*.json`.
pub fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}
