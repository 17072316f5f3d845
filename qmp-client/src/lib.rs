//! An async ([tokio]) client for the QEMU Machine Protocol (QMP), the QEMU
//! guest agent and `qemu-storage-daemon`.
//!
//! - [`Client`] speaks QMP over a Unix socket, TCP or any byte stream. It
//!   negotiates capabilities (out-of-band execution when offered), matches
//!   replies to requests by `id` so that any number of tasks can share one
//!   connection, keeps at most eight in-band commands in flight, and hands
//!   events to any number of bounded [`Events`] streams.
//!   With a [`Reconnect`] policy ([`Builder::reconnect`]) it survives QEMU
//!   restarting on the same socket: commands in flight fail, later ones
//!   wait for the new connection, event streams go on after an
//!   [`EventError::Reconnecting`] marker.
//! - [`Listener`] ([`Builder::listen_unix`]) is listen mode: QEMU, started
//!   with `-qmp unix:PATH,server=off`, connects to the client.
//! - [`Launcher`] starts QEMU with a private monitor socket (in listen
//!   mode) and returns a [`Qemu`] that kills it when dropped.
//! - [`GuestAgent`] talks to `qemu-ga`, one command at a time, with
//!   `guest-sync-delimited` resynchronisation.
//!
//! Commands are the typed [`qmp_types::Command`]s, or raw JSON with
//! [`Client::execute_raw`]. Every failure is an [`Error`]; a malformed or
//! mistyped reply fails only its own command.
//!
//! # Features
//!
//! None is on by default; each costs compile time only where it is asked for.
//!
//! - `fd-passing`: [`Client::execute_with_fds`] and
//!   [`Client::execute_raw_with_fds`] pass file descriptors to QEMU
//!   (`SCM_RIGHTS` on a Unix socket), through rustix.
//! - `fd-helpers` (implies `fd-passing`): the typed [`Client::getfd`] and
//!   [`Client::add_fd`], with `qmp-types`' `misc` module.
//!
//! # Examples
//!
//! ```no_run
//! use qmp_client::{Client, RawEvent};
//! use qmp_types::qmp::commands::Stop;
//! use qmp_types::qmp::{QKeyCode, QmpCommands as _};
//!
//! # async fn f() -> Result<(), qmp_client::Error> {
//! let qmp = Client::builder()
//!     .timeout(Some(std::time::Duration::from_secs(5)))
//!     .connect_unix("/run/qemu/vm1.qmp")
//!     .await?;
//! println!("connected to QEMU {}", qmp.version());
//!
//! // One method per command (qmp_types::qmp::QmpCommands): Ctrl+Alt+F2,
//! // held for 100 ms.
//! qmp.send_key([QKeyCode::Ctrl, QKeyCode::Alt, QKeyCode::F2], Some(100)).await?;
//!
//! // Stop the guest and wait for the STOP event it causes.
//! let (_, event) = qmp.execute_and_wait(Stop::new(), &["STOP"], |_: &RawEvent| true).await?;
//! println!("stopped at {:?}", event.timestamp);
//! assert!(!qmp.query_status().await?.running);
//!
//! // Anything else, untyped.
//! let status = qmp.execute_raw("query-status", serde_json::json!({})).await?;
//! assert_eq!(status["running"], false);
//! # Ok(()) }
//! ```
#![warn(missing_docs, unreachable_pub)]

mod agent;
mod client;
mod de;
mod error;
mod event;
mod fds;
mod launcher;
mod listen;
mod reconnect;
mod typed;
mod wire;

#[doc(inline)]
pub use crate::agent::GuestAgent;
#[doc(inline)]
pub use crate::client::{Builder, Client, Greeting, Schema, Version, VersionTriple};
#[doc(inline)]
pub use crate::error::Error;
#[doc(inline)]
pub use crate::event::{EventError, Events, RawEvent};
#[doc(inline)]
pub use crate::launcher::{Launcher, Qemu};
#[doc(inline)]
pub use crate::listen::Listener;
#[doc(inline)]
pub use crate::reconnect::Reconnect;

/// The top-level README's code runs as doc tests against real QEMU.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeTour;

/// This crate's README (file descriptor passing, reconnecting, listen
/// mode) runs as doc tests against real QEMU.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ClientReadme;

/// Entry points for the fuzz targets; not part of the API.
#[doc(hidden)]
pub mod __private {
    /// Feeds `data` through the wire decoder (framing and classification).
    /// Never panics.
    pub fn fuzz_decode(data: &[u8]) -> usize {
        crate::wire::fuzz_decode(data)
    }
}
