//! `ci`: everything a change must pass, in the order that fails fastest.
//!
//! Formatting, lints, docs, the fuzz crates, then the test suite. The tests
//! run against real QEMU 7.2, 10.0 and 11.1; if they are missing or fail
//! `ci/check-qemu.sh`, `ci` installs them when it runs as root (as on CI)
//! and otherwise stops, naming the command that does.

use std::path::{Path, PathBuf};
use std::process::Command;

use qemu_test_support::Release;

use crate::r#gen::root;

pub(crate) const USAGE: &str = "\
usage: cargo xtask ci [--no-lint]

Checks formatting (the workspace and the fuzz crates), clippy and rustdoc
with -D warnings, type-checks the fuzz crates, then runs every test suite
(--no-fail-fast: all failures are reported). QEMU 7.2, 10.0 and 11.1 must
be installed and working; as root, ci installs them first (ci/install-qemu.sh).

  --no-lint   only the QEMU check and the test suite
";

/// The fuzz crates: cargo projects of their own, outside the workspace.
pub(crate) const FUZZ_MANIFESTS: [&str; 2] =
    ["qapi-parser/fuzz/Cargo.toml", "qmp-client/fuzz/Cargo.toml"];

/// Runs `cmd` in the workspace root, announcing it as `what`.
pub(crate) fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: {what}");
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

/// The cargo that runs xtask.
pub(crate) fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Every QEMU program the tests start, in every release.
pub(crate) fn qemu_programs() -> Vec<PathBuf> {
    Release::ALL
        .iter()
        .flat_map(|r| Release::PROGRAMS.map(|p| r.program(p)))
        .collect()
}

/// Makes sure the QEMU programs the tests start are there and work
/// (`ci/check-qemu.sh`), and libvirt too (`ci/install-libvirt.sh --check`:
/// qmp-libvirt links against it and its tests start private daemons),
/// installing them if not and we may.
pub(crate) fn ensure_prerequisites() -> Result<(), String> {
    ensure_qemu()?;
    ensure_libvirt()
}

fn ensure_libvirt() -> Result<(), String> {
    let script = root().join("ci/install-libvirt.sh");
    let check = Command::new("bash")
        .arg(&script)
        .arg("--check")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if check.status.success() {
        return Ok(());
    }
    let report = String::from_utf8_lossy(&check.stderr).into_owned();
    if !is_root() {
        return Err(format!(
            "{report}qmp-libvirt and its tests need libvirt; install it with: \
             sudo bash ci/install-libvirt.sh"
        ));
    }
    eprint!("{report}");
    run(
        "installing libvirt (ci/install-libvirt.sh)",
        Command::new("bash").arg(&script),
    )
}

fn ensure_qemu() -> Result<(), String> {
    let Err(report) = qemu_test_support::check_programs(&qemu_programs()) else {
        return Ok(());
    };
    if !is_root() {
        return Err(format!(
            "{report}the tests need working QEMU 7.2, 10.0 and 11.1; \
             install them with: sudo ci/install-qemu.sh"
        ));
    }
    eprint!("{report}");
    // The script proves what it installed before it succeeds.
    run(
        "installing QEMU 7.2, 10.0 and 11.1 (ci/install-qemu.sh)",
        Command::new("bash").arg("ci/install-qemu.sh"),
    )
}

/// `cargo check` of a fuzz crate, on the stable toolchain.
///
/// Running a fuzz target needs nightly and `cargo fuzz`; type-checking it
/// does not. libfuzzer-sys's build script compiles libFuzzer's C++ sources
/// unless `CUSTOM_LIBFUZZER_PATH` names a prebuilt library; a check links
/// nothing, so a path that does not exist spares the C++ compiler (and
/// about 25 s on a 2-core machine). The crate shares the workspace's target directory and, mirrored
/// here, its dev profile (dependencies at opt-level 1), so the dependencies
/// clippy has checked are reused. A missing lock file (they are not
/// committed) starts as a copy of the workspace's, for the same versions.
fn check_fuzz_crate(manifest: &str) -> Result<(), String> {
    let root = root();
    let lock = Path::new(manifest).with_file_name("Cargo.lock");
    if !root.join(&lock).exists() {
        std::fs::copy(root.join("Cargo.lock"), root.join(&lock))
            .map_err(|e| format!("{}: {e}", lock.display()))?;
    }
    let mut cmd = cargo();
    cmd.args(["check", "--manifest-path", manifest, "--target-dir"])
        .arg(root.join("target"))
        .args(["--config", r#"profile.dev.package."*".opt-level=1"#])
        .env(
            "CUSTOM_LIBFUZZER_PATH",
            root.join("target/no-libfuzzer/libfuzzer.a"),
        );
    for member in ["qapi-parser", "qapi-codegen", "qmp-types", "qmp-client"] {
        cmd.args([
            "--config",
            &format!("profile.dev.package.{member}.opt-level=0"),
        ]);
    }
    run(&format!("cargo check --manifest-path {manifest}"), &mut cmd)
}

/// Runs formatting, lint, doc and test checks over the workspace and the
/// fuzz crates.
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
        for manifest in FUZZ_MANIFESTS {
            run(
                &format!("cargo fmt --check --manifest-path {manifest}"),
                cargo().args(["fmt", "--check", "--manifest-path", manifest]),
            )?;
        }
        run(
            "cargo clippy",
            cargo().args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ]),
        )?;
        run(
            "cargo doc",
            cargo()
                .args(["doc", "--workspace", "--no-deps", "--all-features"])
                .env("RUSTDOCFLAGS", "-D warnings"),
        )?;
        for manifest in FUZZ_MANIFESTS {
            check_fuzz_crate(manifest)?;
        }
    }
    // The rest runs whatever fails before it, so one run reports every
    // failure.
    let results = [
        run(
            "cargo test",
            // `qmp --libvirt` is a feature of the CLI; its tests need it.
            cargo().args([
                "test",
                "--workspace",
                "--no-fail-fast",
                "--features",
                "qmp-cli/libvirt",
            ]),
        ),
        crate::package::package(&[]),
        crate::package::features(&[]),
    ];
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every fuzz crate in the repository is formatted and checked by `ci`.
    #[test]
    fn fuzz_manifests_are_all_the_fuzz_crates() {
        let mut found: Vec<String> = std::fs::read_dir(root())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|crate_dir| root().join(crate_dir).join("fuzz/Cargo.toml").is_file())
            .map(|crate_dir| format!("{crate_dir}/fuzz/Cargo.toml"))
            .collect();
        found.sort();
        assert_eq!(found, FUZZ_MANIFESTS);
    }

    #[test]
    fn qemu_programs_are_every_release_of_each_program() {
        let programs = qemu_programs();
        assert_eq!(programs.len(), 9);
        for name in Release::PROGRAMS {
            assert_eq!(
                programs.iter().filter(|p| p.ends_with(name)).count(),
                3,
                "{name}: {programs:?}"
            );
        }
    }
}
