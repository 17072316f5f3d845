//! Generates the protocol modules from `schema/` (see `qapi-codegen`).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let schema = manifest.join("schema");
    println!("cargo:rerun-if-changed={}", schema.display());
    println!("cargo:rerun-if-changed=build.rs");
    let on = |f: &str| {
        let var = f.to_ascii_uppercase().replace('-', "_");
        std::env::var_os(format!("CARGO_FEATURE_{var}")).is_some()
    };
    // A cargo feature per QMP schema module (`ui`, `run-state`, ...).
    // `cargo xtask gen` writes the list into Cargo.toml's features and into
    // `schema/modules.txt`, from `qapi_codegen::qmp_modules`, and keeps
    // both fresh; reading the list is cheaper than reading every release's
    // facts, a tenth of this script's unoptimised run.
    let listed = std::fs::read_to_string(schema.join("modules.txt"))
        .unwrap_or_else(|e| panic!("qmp-types/schema/modules.txt: {e}"));
    let modules: Vec<&str> = listed
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let which = qapi_codegen::Bindings {
        qmp: on("qmp"),
        qmp_modules: modules
            .into_iter()
            .filter(|m| on(m))
            .map(str::to_owned)
            .collect(),
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
