//! What the integration tests of several crates share: where the real QEMU
//! releases are, and the workspace root.
//!
//! The tests run against QEMU 7.2 (Debian 12's packages) and 10.0 (unpacked
//! under `/opt/qemu-10.0` by `ci/install-qemu.sh`). A missing binary is a
//! test failure that names the command installing it, never a skip.

use std::path::{Path, PathBuf};

/// A QEMU release the tests run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// QEMU 7.2, Debian 12's packages.
    V7_2,
    /// QEMU 10.0, from bookworm-backports.
    V10_0,
}

impl Release {
    /// Both releases, oldest first.
    pub const ALL: [Release; 2] = [Release::V7_2, Release::V10_0];

    /// `(major, minor)`.
    pub fn major_minor(self) -> (u32, u32) {
        match self {
            Release::V7_2 => (7, 2),
            Release::V10_0 => (10, 0),
        }
    }

    /// The directory of the release's binaries: `QEMU_7_2_BIN_DIR` /
    /// `QEMU_10_0_BIN_DIR`, or where `ci/install-qemu.sh` puts them.
    fn dir(self) -> PathBuf {
        let (var, default) = match self {
            Release::V7_2 => ("QEMU_7_2_BIN_DIR", "/usr/bin"),
            Release::V10_0 => ("QEMU_10_0_BIN_DIR", "/opt/qemu-10.0/bin"),
        };
        std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
    }

    /// The path of the release's program `name` (looked up in its `bin`
    /// and `sbin` directories).
    ///
    /// # Panics
    /// If it is missing, with the command that installs it.
    pub fn bin(self, name: &str) -> PathBuf {
        let dir = self.dir();
        for c in [dir.join(name), dir.join("../sbin").join(name)] {
            if c.is_file() {
                return c;
            }
        }
        panic!(
            "{name} not found for QEMU {self:?} (looked in {}): install it with \
             `sudo ci/install-qemu.sh`, or point QEMU_7_2_BIN_DIR / QEMU_10_0_BIN_DIR at it",
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
