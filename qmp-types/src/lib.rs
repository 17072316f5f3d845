//! Typed definitions of the QEMU Machine Protocol (QMP), the QEMU guest agent
//! and qemu-storage-daemon.
//!
//! Every QAPI command is a type implementing [`Command`]: its arguments are
//! the type's fields, its reply is [`Command::Output`]. A transport such as
//! `qmp-client` sends any `Command` and decodes its reply.
#![warn(missing_docs)]

mod command;

pub use command::{Command, Empty, Protocol, Release};
