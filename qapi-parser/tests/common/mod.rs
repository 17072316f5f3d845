//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The reference material beside the checkout (`../shared`), or the
/// directory named by `QEMU_SDK_SHARED`. Panics with the fix if missing.
pub(crate) fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("QEMU_SDK_SHARED").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")),
        PathBuf::from,
    );
    assert!(
        dir.join("qemu").is_dir() && dir.join("qapi-tests").is_dir(),
        "reference schemas not found at {}: check out the project beside `shared/` \
         (as CI does) or set QEMU_SDK_SHARED to its path",
        dir.display()
    );
    dir
}
