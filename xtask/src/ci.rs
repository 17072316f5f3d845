//! `ci`: everything a change must pass, in the order that fails fastest.
//!
//! Formatting, lints, docs, then the test suite. The tests run against real
//! QEMU 7.2 and 10.0; if they are missing, `ci` installs them when it runs
//! as root (as on CI) and otherwise stops, naming the command that does.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) const USAGE: &str = "\
usage: cargo xtask ci [--no-lint]

Checks formatting, clippy and rustdoc with -D warnings, then runs the test
suite. QEMU 7.2 and 10.0 must be installed; as root, ci installs them first
(ci/install-qemu.sh).

  --no-lint   only the test suite
";

/// The QEMU binaries the tests start, by release.
const QEMU_BINARIES: [&str; 6] = [
    "/usr/bin/qemu-system-x86_64",
    "/usr/bin/qemu-storage-daemon",
    "/usr/sbin/qemu-ga",
    "/opt/qemu-10.0/bin/qemu-system-x86_64",
    "/opt/qemu-10.0/bin/qemu-storage-daemon",
    "/opt/qemu-10.0/bin/qemu-ga",
];

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask ci: {what}");
    let status = cmd
        .current_dir(root())
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what}: failed ({status})"))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs the test prerequisites if they are missing and we may.
pub(crate) fn ensure_prerequisites() -> Result<(), String> {
    let missing: Vec<&str> = QEMU_BINARIES
        .iter()
        .copied()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        return Err(format!(
            "the tests need QEMU 7.2 and 10.0; missing: {}\n\
             install them with: sudo ci/install-qemu.sh",
            missing.join(", ")
        ));
    }
    run(
        "installing QEMU 7.2 and 10.0 (ci/install-qemu.sh)",
        Command::new("bash").arg("ci/install-qemu.sh"),
    )
}

/// Runs formatting, lint, doc and test checks over the workspace.
pub(crate) fn ci(args: &[String]) -> Result<(), String> {
    let mut quick = false;
    for arg in args {
        match arg.as_str() {
            "--no-lint" => quick = true,
            other => return Err(format!("ci: unknown argument '{other}'\n{USAGE}")),
        }
    }
    ensure_prerequisites()?;
    if !quick {
        run(
            "cargo fmt --check",
            cargo().args(["fmt", "--all", "--check"]),
        )?;
        run(
            "cargo clippy",
            cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        )?;
        run(
            "cargo doc",
            cargo()
                .args(["doc", "--workspace", "--no-deps"])
                .env("RUSTDOCFLAGS", "-D warnings"),
        )?;
    }
    run("cargo test", cargo().args(["test", "--workspace"]))
}
