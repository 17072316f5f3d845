//! Helpers shared by the integration tests, and the few hand-written
//! commands a test needs because the schema deliberately lacks them.
//! Everything QEMU defines comes from the generated `qmp-types`.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use qmp_client::{Launcher, Qemu};
use qmp_types::{Command, Empty};
use serde::{Deserialize, Serialize};

pub use qemu_test_support::Release;

/// Runs a test body with a hard limit, so that no test can hang.
pub async fn timed<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("test timed out");
}

/// A monitor-only QEMU: no machine, starts in milliseconds.
pub async fn monitor_only(rel: Release) -> Qemu {
    Launcher::new(rel.bin("qemu-system-x86_64"))
        .args(["-machine", "none", "-nodefaults", "-display", "none"])
        .launch()
        .await
        .expect("launch monitor-only QEMU")
}

/// A QEMU with a small PC machine, so that `stop` and `cont` have
/// something to stop.
pub async fn with_machine(rel: Release) -> Qemu {
    Launcher::new(rel.bin("qemu-system-x86_64"))
        .args([
            "-machine",
            "pc",
            "-accel",
            "tcg",
            "-nodefaults",
            "-display",
            "none",
            "-m",
            "64",
        ])
        .launch()
        .await
        .expect("launch QEMU with a machine")
}

/// Generates `mod NAME { fn qemu_7_2(); fn qemu_10_0(); fn qemu_11_1(); }`
/// for each `async fn NAME(Release)`: one test per release, so that the test
/// harness runs them in parallel and a failure names its release.
#[macro_export]
macro_rules! every_release {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::common::{Release, timed};
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn qemu_7_2() {
                timed(super::$name(Release::V7_2)).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn qemu_10_0() {
                timed(super::$name(Release::V10_0)).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn qemu_11_1() {
                timed(super::$name(Release::V11_1)).await
            }
        }
    )*};
}

// ---- Commands the schema does not have, on purpose. ----

/// `query-status` decoded into a deliberately wrong reply type, to provoke
/// a decode error: the generated `StatusInfo` accepts any `status` (an
/// unknown run state is kept, not refused), so only a wrong type fails.
#[derive(Serialize)]
pub struct QueryStatusWrongType {}
#[derive(Debug, Deserialize)]
pub struct WrongStatusInfo {
    pub running: bool,
    pub status: u32,
}
impl Command for QueryStatusWrongType {
    type Protocol = qmp_types::Qmp;
    const NAME: &'static str = "query-status";
    type Output = WrongStatusInfo;
}

/// A command no QEMU has, so that the typed `execute` path must refuse it
/// (or, unchecked, QEMU must).
#[derive(Serialize)]
pub struct NoSuchCommand {}
impl Command for NoSuchCommand {
    type Protocol = qmp_types::Qmp;
    const NAME: &'static str = "x-no-such-command";
    type Output = Empty;
}

/// A QMP command that QEMU never answers. QMP's schema has none (only the
/// guest agent's `guest-shutdown` and friends lack a success response), but
/// the client's no-response path is protocol-independent and is tested here.
#[derive(Serialize)]
pub struct FireAndForget {}
impl Command for FireAndForget {
    type Protocol = qmp_types::Qmp;
    const NAME: &'static str = "x-fire-and-forget";
    const SUCCESS_RESPONSE: bool = false;
    type Output = Empty;
}
