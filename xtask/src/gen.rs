//! `gen`: refresh and check the committed generated outputs.

/// The QEMU releases `schema/` holds.
pub(crate) const RELEASES: [&str; 3] = ["7.2", "10.0", "10.2"];

pub(crate) fn run(_args: &[String]) -> Result<(), String> {
    Err("not yet".into())
}

/// The workspace root.
pub(crate) fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}
