//! VM automation on the QEMU Machine Protocol: the library behind the
//! `qmp` command line (package `qmp-cli`).
//!
//! - [`Vm`] wraps a [`qmp_client::Client`]: [`Vm::keys`] presses keys
//!   together (a chord) by `QKeyCode` name or alias, [`Vm::key_sequence`]
//!   presses chords in turn ([`parse_chords`] reads them from the words
//!   of `qmp keys`), [`Vm::type_text`] types text on a US layout, [`Vm::screendump`] writes PNG or PPM, and there are run
//!   control, hot-plug ([`Vm::device_del`] waits for `DEVICE_DELETED`),
//!   QOM helpers, [`Vm::exec`], which checks arguments against the
//!   connected QEMU's schema before sending, and [`Vm::hmp`], which runs
//!   a human monitor command (`info mtree`, `qemu-io`…) and returns its
//!   text.
//! - [`Agent`] wraps a [`qmp_client::GuestAgent`]: ping, info, reading
//!   files, fsfreeze, network interfaces, shutdown, running programs.
//! - [`SchemaIndex`] answers questions about the connected QEMU's
//!   `query-qmp-schema`, and [`close_matches`] makes the "did you mean"
//!   lists of this crate's errors.
//!
//! The helpers run the generated commands of `qmp-types`
//! (`qmp::QmpCommands`, `qga::GuestAgentCommands`) and hand back its types
//! where QEMU's reply is more than a string: [`Vm::status`] gives a
//! `StatusInfo` whose `status` is a `RunState`, [`Agent::info`] a
//! `GuestAgentInfo`. [`Vm::exec`] passes commands through as raw JSON,
//! so every command of the connected QEMU works, known to this build or
//! not.
//!
//! # Examples
//!
//! ```no_run
//! # async fn f() -> qmp_vm::Result<()> {
//! let client = qmp_client::Client::connect_unix("/run/user/1000/qmp/vm1.sock").await?;
//! let vm = qmp_vm::Vm::new(client);
//! vm.keys(&["ctrl", "alt", "f2"], None).await?;
//! vm.type_text("root\n", None).await?;
//! vm.pause().await?;
//! assert_eq!(vm.status().await?.status, qmp_types::qmp::RunState::Paused);
//! vm.screendump("paused.png", &qmp_vm::Screendump::default()).await?;
//! vm.resume().await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs, unreachable_pub)]

mod agent;
mod error;
mod image;
mod keys;
mod schema;
mod suggest;
mod vm;

#[doc(inline)]
pub use crate::agent::{Agent, ExecOutput};
#[doc(inline)]
pub use crate::error::{Error, Result};
#[doc(inline)]
pub use crate::image::{ImageFormat, Rgb};
#[doc(inline)]
pub use crate::keys::{KeyNames, parse_chords, split_chord, text_chords, us_chord};
#[doc(inline)]
pub use crate::schema::SchemaIndex;
#[doc(inline)]
pub use crate::suggest::close_matches;
#[doc(inline)]
pub use crate::vm::{DEVICE_DEL_TIMEOUT, QomNode, QomProperty, Screendump, TYPE_HOLD, Vm};

/// The README's example runs as a doc test against real QEMU.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
