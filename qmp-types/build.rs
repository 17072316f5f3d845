//! Generates the protocol modules from `schema/` (see `qapi-codegen`).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let schema = manifest.join("schema");
    println!("cargo:rerun-if-changed={}", schema.display());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.toml");
    let on = |f: &str| {
        let var = f.to_ascii_uppercase().replace('-', "_");
        std::env::var_os(format!("CARGO_FEATURE_{var}")).is_some()
    };
    // A cargo feature per QMP schema module (`ui`, `run-state`, ...).
    // `cargo xtask gen` writes them into Cargo.toml between two marker
    // lines, from `qapi_codegen::qmp_modules`, and keeps them fresh; they
    // are read from there rather than from every release's facts, which
    // an unoptimised build script takes a tenth of its run to read.
    let manifest_text = std::fs::read_to_string(manifest.join("Cargo.toml"))
        .unwrap_or_else(|e| panic!("qmp-types/Cargo.toml: {e}"));
    let modules = module_features(&manifest_text);
    assert!(
        !modules.is_empty(),
        "qmp-types/Cargo.toml: no module features between the BEGIN/END module features lines"
    );
    let which = qapi_codegen::Bindings {
        qmp: on("qmp"),
        qmp_modules: modules.into_iter().filter(|m| on(m)).collect(),
        guest_agent: on("guest-agent"),
        storage_daemon: on("storage-daemon"),
        unstable: on("unstable"),
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    let files = qapi_codegen::bindings(&schema, which).unwrap_or_else(|e| panic!("{e}"));
    println!("cargo::rustc-check-cfg=cfg(qmp_bindings)");
    if files.iter().any(|(name, _)| name == "qmp.rs") {
        // Module `qmp` exists with `qmp`, `storage-daemon` or any module
        // feature: one cfg instead of a list of ~45 features in lib.rs.
        println!("cargo::rustc-cfg=qmp_bindings");
    }
    for (name, text) in files {
        std::fs::write(out.join(name), text).expect("OUT_DIR is writable");
    }
}

/// The features listed between `# BEGIN module features` and
/// `# END module features` in the manifest, one `name = []` a line.
fn module_features(manifest: &str) -> Vec<String> {
    manifest
        .lines()
        .skip_while(|l| *l != "# BEGIN module features")
        .skip(1)
        .take_while(|l| *l != "# END module features")
        .filter_map(|l| l.split_once(" = ").map(|(name, _)| name.trim().to_owned()))
        .collect()
}
