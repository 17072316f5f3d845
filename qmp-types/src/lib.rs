//! Typed definitions of the QEMU Machine Protocol (QMP), the QEMU guest agent
//! and qemu-storage-daemon.
//!
//! Generated at build time from the QAPI schemas of every supported QEMU
//! release (see `schema/` in the repository): one build speaks to all of
//! them.
//!
//! - Every QAPI command is a type implementing [`Command`], in
//!   `qmp::commands` (`qga::commands`): its arguments are the type's
//!   fields, its reply [`Command::Output`], and [`Command::RELEASES`] tells
//!   which releases have it.
//! - A transport implements [`Execute`] for one [`Protocol`] ([`Qmp`] or
//!   [`GuestAgent`]); the extension traits `qmp::QmpCommands`,
//!   `qga::GuestAgentCommands` and `qmp::StorageDaemonCommands` then give
//!   it one method per command of its protocol:
//!   `client.send_key(keys, Some(100))`. A QMP connection has no
//!   `guest_ping`; the compiler says so.
//! - Events decode into `qmp::Event`, whole messages into
//!   [`EventMessage`]; `qmp::EventName` names them for subscriptions.
//!
//! Enums, unions, alternates and events are `#[non_exhaustive]` and keep
//! what this build does not know (`Unknown`), so a newer QEMU does not
//! break decoding.
//!
//! # Names
//!
//! Every Rust name is a function of the QAPI name and the kind of
//! definition alone, so importing a new QEMU release never renames an
//! item: types keep QEMU's names (`KeyValue`), commands are `CamelCase` in
//! `qmp::commands` (`send-key` is `commands::SendKey`, method `send_key`),
//! events are variants of `qmp::Event` with their data in `qmp::events`
//! (`DEVICE_DELETED` is `Event::DeviceDeleted(events::DeviceDeleted)`),
//! enum values are `CamelCase` (`shift_r` is `ShiftR`). The few fixed
//! exceptions: a value starting with a digit gets `Digit` (`QKeyCode::Digit1`,
//! searchable as `1`), the value `unknown` is `UnknownValue` beside the
//! catch-all `Unknown`, a type named like a prelude item gets `Qapi`
//! (`QapiString`), and a union with base members keeps its branches in a
//! `…Branch` enum. `cargo xtask gen --diff OLD NEW` lists what changes for
//! Rust code between releases before you upgrade.
//!
//! # Signature policy: which form breaks when
//!
//! Each command can be called two ways:
//!
//! - **The method**, `client.send_key(keys, Some(100))`: required members
//!   positionally, then every optional member as an `Option`, in the
//!   schema's order, for every command. It is short, but QEMU adds an
//!   optional member to some command in most releases, and that adds an
//!   argument to its method: code using it fails to compile against the
//!   bindings of a newer release, and the compiler shows where.
//! - **The command struct**, `commands::SendKey::new(keys).with_hold_time(100)`
//!   passed to `execute`: `new` takes the required members, one `with_*`
//!   setter per optional member, and the struct is `#[non_exhaustive]`. A
//!   new optional member adds a setter and changes nothing else, so this
//!   form survives upgrades; only a new *required* member (which QEMU's
//!   compatibility policy rules out for stable commands) breaks it. Use it
//!   for code that must keep compiling across QEMU upgrades, and for
//!   commands with many optional members, where a row of `None`s reads
//!   badly.
//!
//! Both forms take strings as `impl Into<String>` (`"usb-kbd"` or a
//! `String`) and lists as any iterator of what converts into the element
//! (`[QKeyCode::Ctrl, QKeyCode::Alt]` for `send_key`'s keys). Setters take
//! `impl Into<T>`. Optional arguments of methods stay plain `Option<T>`, so
//! that `None` needs no annotation. Members keep QEMU's units: `send_key`'s
//! `hold_time` is in milliseconds, as QEMU documents.
//!
//! ```no_run
//! # async fn f(client: &impl qmp_types::Execute<Protocol = qmp_types::Qmp, Error = std::io::Error>) -> std::io::Result<()> {
//! use qmp_types::Execute as _;
//! use qmp_types::qmp::commands::{DeviceAdd, SendKey};
//! use qmp_types::qmp::{QKeyCode, QmpCommands as _};
//!
//! // Short, breaks when QEMU adds an optional member to send-key:
//! client.send_key([QKeyCode::Ctrl, QKeyCode::Alt, QKeyCode::F2], Some(100)).await?;
//! // Survives upgrades:
//! client.execute(SendKey::new([QKeyCode::Ctrl]).with_hold_time(100)).await?;
//! // device_add's properties, without serde_json:
//! client
//!     .execute(DeviceAdd::new("usb-kbd").with_id("kbd0").with_property("bus", "usb.0"))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! - `qmp` (default): module `qmp`, with every definition of QMP.
//! - One feature per schema module of QMP (`ui`, `run-state`, `qom`,
//!   `qdev`, `block-core`, `migration`, ...: the file names of QEMU's
//!   `qapi/` directory, listed in `Cargo.toml`). Without `qmp`, module
//!   `qmp` then holds the definitions of the enabled modules and every type
//!   they use, whatever its module. Most programs use a handful of modules,
//!   and a clean build of this crate takes a fraction of the time
//!   everything takes:
//!
//!   ```toml
//!   qmp-types = { version = "0.1", default-features = false, features = ["ui", "run-state"] }
//!   ```
//!
//!   Names do not depend on the selection: an item is called the same in
//!   every build that has it. QEMU sometimes moves a definition to another
//!   module; a feature follows the newest supported release.
//! - `guest-agent`: module `qga`.
//! - `storage-daemon`: `qmp::StorageDaemonCommands`; without `qmp` or a
//!   module feature, module `qmp` only has what the storage daemon has.
//! - `unstable`: members and commands QEMU marks unstable.
#![warn(missing_docs)]

extern crate self as qmp_types;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
mod command;
mod decode;
mod value;

pub use command::{Command, Empty, Execute, GuestAgent, Protocol, Qmp, Release, Releases};
pub use decode::{DecodeError, decode};
pub use value::{EventMessage, Timestamp, UnknownBranch, UnknownValue};

/// The QAPI schema text the bindings were generated from, one file per
/// release (feature `schema-source`).
///
/// For tools that hold messages against what one particular release
/// accepts, such as a fake QEMU for tests: parse the text with
/// `qemu-qapi-parser`. The text is the `qmp.json` of `schema/<release>/`
/// in the repository (definitions only, QAPI syntax, includes resolved).
#[cfg(feature = "schema-source")]
pub mod schema_source {
    use crate::Release;

    /// The releases whose schema this build carries, oldest first.
    pub const RELEASES: [Release; 3] =
        [Release::new(7, 2), Release::new(10, 0), Release::new(10, 2)];

    /// The QMP schema of `release` (`qemu-system-*`'s monitor), or `None`
    /// if this build has no schema for that release.
    ///
    /// ```
    /// use qmp_types::{Release, schema_source};
    /// let text = schema_source::qmp(Release::new(10, 0)).unwrap();
    /// assert!(text.contains("'command': 'query-status'"));
    /// assert!(schema_source::qmp(Release::new(9, 0)).is_none());
    /// ```
    pub fn qmp(release: Release) -> Option<&'static str> {
        Some(match (release.major, release.minor) {
            (7, 2) => include_str!("../schema/7.2/qmp.json"),
            (10, 0) => include_str!("../schema/10.0/qmp.json"),
            (10, 2) => include_str!("../schema/10.2/qmp.json"),
            _ => return None,
        })
    }
}

/// The QEMU Machine Protocol: types, commands ([`QmpCommands`](qmp::QmpCommands))
/// and events ([`Event`](qmp::Event)).
#[cfg(qmp_bindings)]
// Generated from QEMU's schema: names follow QEMU's (acronyms, shared
// prefixes), unions hold branches of very different sizes, and deprecated
// items are still used by the generated code itself.
#[allow(
    deprecated,
    clippy::upper_case_acronyms,
    clippy::enum_variant_names,
    clippy::large_enum_variant
)]
pub mod qmp {
    include!(concat!(env!("OUT_DIR"), "/qmp.rs"));
}

/// The QEMU guest agent: types and commands
/// ([`GuestAgentCommands`](qga::GuestAgentCommands)).
#[cfg(feature = "guest-agent")]
// See `qmp`.
#[allow(
    deprecated,
    clippy::upper_case_acronyms,
    clippy::enum_variant_names,
    clippy::large_enum_variant
)]
pub mod qga {
    include!(concat!(env!("OUT_DIR"), "/qga.rs"));
}
