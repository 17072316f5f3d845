//! What the tests, benches, examples and `xtask` share: where the real QEMU
//! releases are, where the reference material (`../shared`) is, and the
//! workspace root. Nothing else in the workspace decides these paths.
//!
//! The tests run against QEMU 7.2 (Debian 12's packages), 10.0 (unpacked
//! under `/opt/qemu-10.0` by `ci/install-qemu.sh`) and 11.1 (Debian
//! unstable's, unpacked with its own libraries under `/opt/qemu-11.1` by
//! `ci/install-qemu-11.sh`, which `ci/install-qemu.sh` runs). A missing binary or
//! missing reference material is a failure that names the fix, never a
//! skip. [`libvirt`] starts private libvirt daemons.

use std::path::{Path, PathBuf};

pub mod libvirt;

/// A QEMU release the tests run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// QEMU 7.2, Debian 12's packages.
    V7_2,
    /// QEMU 10.0, from bookworm-backports.
    V10_0,
    /// QEMU 11.1, from Debian unstable: newer than every release the
    /// bindings are generated from.
    V11_1,
}

impl Release {
    /// Every release, oldest first.
    pub const ALL: [Release; 3] = [Release::V7_2, Release::V10_0, Release::V11_1];

    /// The programs the tests start, installed for each release.
    pub const PROGRAMS: [&'static str; 3] =
        ["qemu-system-x86_64", "qemu-storage-daemon", "qemu-ga"];

    /// `(major, minor)`.
    pub fn major_minor(self) -> (u32, u32) {
        match self {
            Release::V7_2 => (7, 2),
            Release::V10_0 => (10, 0),
            Release::V11_1 => (11, 1),
        }
    }

    /// The directory of the release's binaries: `QEMU_7_2_BIN_DIR` /
    /// `QEMU_10_0_BIN_DIR` / `QEMU_11_1_BIN_DIR`, or where
    /// `ci/install-qemu.sh` puts them.
    fn dir(self) -> PathBuf {
        let (var, default) = match self {
            Release::V7_2 => ("QEMU_7_2_BIN_DIR", "/usr/bin"),
            Release::V10_0 => ("QEMU_10_0_BIN_DIR", "/opt/qemu-10.0/bin"),
            Release::V11_1 => ("QEMU_11_1_BIN_DIR", "/opt/qemu-11.1/bin"),
        };
        std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
    }

    /// Where the release's program `name` is (its `bin` directory, or the
    /// `sbin` beside it), or where it belongs if it is missing.
    pub fn program(self, name: &str) -> PathBuf {
        let dir = self.dir();
        let candidates = [dir.join(name), dir.join("../sbin").join(name)];
        candidates
            .iter()
            .find(|c| c.is_file())
            .unwrap_or(&candidates[0])
            .clone()
    }

    /// The path of the release's program `name` (looked up in its `bin`
    /// and `sbin` directories).
    ///
    /// # Panics
    /// If it is missing, with the command that installs it.
    pub fn bin(self, name: &str) -> PathBuf {
        let path = self.program(name);
        if path.is_file() {
            return path;
        }
        let dir = self.dir();
        let (major, minor) = self.major_minor();
        panic!(
            "{name} of QEMU {major}.{minor} not found at {}: run `sudo bash ci/install-qemu.sh`, \
             or point QEMU_{major}_{minor}_BIN_DIR at a directory holding it",
            dir.display()
        );
    }

    /// The release's `qemu-system-x86_64`.
    pub fn qemu(self) -> PathBuf {
        self.bin("qemu-system-x86_64")
    }
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|e| panic!("workspace root: {e}"))
}

/// The reference material beside the workspace (`../shared`: QEMU's
/// schemas and schema test suite), or the directory `QEMU_SDK_SHARED`
/// names.
///
/// # Panics
/// If it is missing, naming where it was looked for and how to provide it.
pub fn shared() -> PathBuf {
    let dir = std::env::var_os("QEMU_SDK_SHARED")
        .map_or_else(|| workspace().join("../shared"), PathBuf::from);
    assert!(
        dir.join("qemu").is_dir() && dir.join("qapi-tests").is_dir(),
        "reference material (qemu/ and qapi-tests/) not found in {}: check the project \
         out beside `shared/` (as CI does) or set QEMU_SDK_SHARED to its path",
        dir.display()
    );
    dir
}

/// Runs `ci/check-qemu.sh` on `programs`: proves each one runs (the system
/// emulators load their modules and quit over QMP, the storage daemon
/// answers QMP, the guest agent starts). Returns the script's report: on
/// success its `ok` lines, on failure what failed, why and the fix.
pub fn check_programs(programs: &[PathBuf]) -> Result<String, String> {
    let script = workspace().join("ci/check-qemu.sh");
    let out = std::process::Command::new("bash")
        .arg(&script)
        .args(programs)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() {
        Ok(stdout.into_owned())
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// The binary of example `name` of package `package` at `manifest_dir`
/// (pass `env!("CARGO_PKG_NAME")` and `env!("CARGO_MANIFEST_DIR")`), built next to the calling test's binary
/// (`target/<profile>/examples/NAME`). Fails, naming the command that
/// builds it, if it is missing or older than its source: `cargo test
/// --test X` alone does not build examples.
pub fn example_binary(package: &str, manifest_dir: &str, name: &str) -> PathBuf {
    let fix = format!(
        "run `cargo test -p {package}`, which builds the examples, or `cargo build -p {package} \
         --examples` first"
    );
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/TEST-HASH -> target/debug/examples/NAME
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in target/<profile>/deps")
        .join("examples")
        .join(name);
    assert!(
        path.is_file(),
        "example `{name}` not built (looked for {}): {fix}",
        path.display()
    );
    let source = Path::new(manifest_dir)
        .join("examples")
        .join(format!("{name}.rs"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).unwrap();
    assert!(
        modified(&path) >= modified(&source),
        "example `{name}` is older than {}: {fix}",
        source.display()
    );
    path
}
