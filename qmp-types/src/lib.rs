//! Typed definitions of the QEMU Machine Protocol (QMP), the QEMU guest agent
//! and qemu-storage-daemon.
//!
//! Generated at build time from the QAPI schemas of every supported QEMU
//! release (see `schema/` in the repository): one build speaks to all of
//! them.
//!
//! - Every QAPI command is a type implementing [`Command`]: its arguments
//!   are the type's fields, its reply [`Command::Output`], and
//!   [`Command::RELEASES`] tells which releases have it.
//! - A transport implements [`Execute`]; the extension traits
//!   `qmp::QmpCommands`, `qga::GuestAgentCommands` and
//!   `qmp::StorageDaemonCommands` then give it one method per command:
//!   `client.send_key(keys, Some(100))`.
//! - Events decode into `qmp::Event`, whole messages into
//!   [`EventMessage`].
//!
//! Enums, unions and events are `#[non_exhaustive]` and keep what this build
//! does not know (`Unknown`), so a newer QEMU does not break decoding.
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
