//! Generates the protocol modules from `../schema` (see `qapi-codegen`).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let schema = manifest.join("schema");
    println!("cargo:rerun-if-changed={}", schema.display());
    println!("cargo:rerun-if-changed=build.rs");
    let on = |f: &str| std::env::var_os(format!("CARGO_FEATURE_{f}")).is_some();
    let which = qapi_codegen::Bindings {
        qmp: on("QMP"),
        guest_agent: on("GUEST_AGENT"),
        storage_daemon: on("STORAGE_DAEMON"),
        unstable: on("UNSTABLE"),
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    let files = qapi_codegen::bindings(&schema, which).unwrap_or_else(|e| panic!("{e}"));
    for (name, text) in files {
        std::fs::write(out.join(name), text).expect("OUT_DIR is writable");
    }
}
