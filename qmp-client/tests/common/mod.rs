//! Helpers and hand-written command fixtures shared by the integration
//! tests. The fixtures stand in for the generated `qmp-types` definitions.
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

/// Generates `mod NAME { fn qemu_7_2(); fn qemu_10_0(); }` for each
/// `async fn NAME(Release)`.
#[macro_export]
macro_rules! both_releases {
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
        }
    )*};
}

// ---- Test fixtures: hand-written commands until qmp-types is generated. ----

macro_rules! ga_command {
    ($ty:ident, $name:literal, $out:ty) => {
        impl Command for $ty {
            type Protocol = qmp_types::GuestAgent;
            const NAME: &'static str = $name;
            type Output = $out;
        }
    };
}

macro_rules! command {
    ($ty:ident, $name:literal, $out:ty $(, $konst:ident: $kty:ty = $val:expr)*) => {
        impl Command for $ty {
            type Protocol = qmp_types::Qmp;
            const NAME: &'static str = $name;
            $(const $konst: $kty = $val;)*
            type Output = $out;
        }
    };
}

#[derive(Serialize)]
pub struct QueryStatus {}
#[derive(Debug, Deserialize, PartialEq)]
pub struct StatusInfo {
    pub status: String,
    pub running: bool,
}
command!(QueryStatus, "query-status", StatusInfo);

/// `query-status` decoded with the wrong type, to provoke a decode error.
#[derive(Serialize)]
pub struct QueryStatusWrongType {}
#[derive(Debug, Deserialize)]
pub struct WrongStatusInfo {
    pub running: bool,
    pub status: u32,
}
command!(QueryStatusWrongType, "query-status", WrongStatusInfo);

#[derive(Serialize)]
pub struct Stop {}
command!(Stop, "stop", Empty);

#[derive(Serialize)]
pub struct Cont {}
command!(Cont, "cont", Empty);

#[derive(Serialize)]
pub struct QueryVersion {}
#[derive(Debug, Deserialize, PartialEq)]
pub struct VersionInfo {
    pub qemu: VersionTriple,
    pub package: String,
}
#[derive(Debug, Deserialize, PartialEq)]
pub struct VersionTriple {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
}
command!(QueryVersion, "query-version", VersionInfo);

#[derive(Serialize)]
pub struct QomList {
    pub path: String,
}
#[derive(Debug, Deserialize)]
pub struct ObjectPropertyInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
}
command!(QomList, "qom-list", Vec<ObjectPropertyInfo>);

#[derive(Serialize)]
pub struct HumanMonitorCommand {
    #[serde(rename = "command-line")]
    pub command_line: String,
}
command!(HumanMonitorCommand, "human-monitor-command", String);

#[derive(Serialize)]
pub struct QueryQmpSchema {}
#[derive(Debug, Deserialize)]
pub struct SchemaInfo {
    pub name: String,
    #[serde(rename = "meta-type")]
    pub meta_type: String,
    #[serde(rename = "allow-oob", default)]
    pub allow_oob: bool,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}
command!(QueryQmpSchema, "query-qmp-schema", Vec<SchemaInfo>);

#[derive(Serialize)]
pub struct QueryYank {}
command!(QueryYank, "query-yank", Vec<serde_json::Value>, ALLOW_OOB: bool = true);

#[derive(Serialize)]
pub struct MigratePause {}
command!(MigratePause, "migrate-pause", Empty, ALLOW_OOB: bool = true);

#[derive(Serialize)]
pub struct NoSuchCommand {}
command!(NoSuchCommand, "x-no-such-command", Empty);

#[derive(Serialize)]
pub struct BlockdevAddNull {
    pub driver: &'static str,
    #[serde(rename = "node-name")]
    pub node_name: String,
}
command!(BlockdevAddNull, "blockdev-add", Empty);

#[derive(Serialize)]
pub struct QueryNamedBlockNodes {}
#[derive(Debug, Deserialize)]
pub struct BlockDeviceInfo {
    #[serde(rename = "node-name")]
    pub node_name: String,
    pub drv: String,
}
command!(
    QueryNamedBlockNodes,
    "query-named-block-nodes",
    Vec<BlockDeviceInfo>
);

/// A command that QEMU never answers (like the agent's `guest-shutdown`).
#[derive(Serialize)]
pub struct FireAndForget {}
command!(FireAndForget, "x-fire-and-forget", Empty, SUCCESS_RESPONSE: bool = false);

// Guest agent fixtures.

#[derive(Serialize)]
pub struct GuestPing {}
ga_command!(GuestPing, "guest-ping", Empty);

#[derive(Serialize)]
pub struct GuestInfo {}
#[derive(Debug, Deserialize)]
pub struct GuestAgentInfo {
    pub version: String,
    pub supported_commands: Vec<GuestAgentCommandInfo>,
}
#[derive(Debug, Deserialize)]
pub struct GuestAgentCommandInfo {
    pub name: String,
    pub enabled: bool,
}
ga_command!(GuestInfo, "guest-info", GuestAgentInfo);

#[derive(Serialize)]
pub struct GuestGetTime {}
ga_command!(GuestGetTime, "guest-get-time", i64);

#[derive(Serialize)]
pub struct GuestFileOpen {
    pub path: String,
    pub mode: &'static str,
}
ga_command!(GuestFileOpen, "guest-file-open", i64);

#[derive(Serialize)]
pub struct GuestFileRead {
    pub handle: i64,
    pub count: i64,
}
#[derive(Debug, Deserialize)]
pub struct GuestFileReadResult {
    pub count: i64,
    #[serde(rename = "buf-b64")]
    pub buf_b64: String,
    pub eof: bool,
}
ga_command!(GuestFileRead, "guest-file-read", GuestFileReadResult);

#[derive(Serialize)]
pub struct GuestFileClose {
    pub handle: i64,
}
ga_command!(GuestFileClose, "guest-file-close", Empty);

/// Typed events, deserialized from the full event message the way the
/// generated `Event` enum will be.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "event")]
pub enum TestEvent {
    #[serde(rename = "STOP")]
    Stop { timestamp: Timestamp },
    #[serde(rename = "RESUME")]
    Resume { timestamp: Timestamp },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize, PartialEq)]
pub struct Timestamp {
    pub seconds: i64,
    pub microseconds: i64,
}
