//! The error type of the automation API.

use std::time::Duration;

use crate::suggest::did_you_mean;

/// Why an automation call failed.
///
/// Match on the variants you act on and keep a catch-all arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The QMP connection or QEMU itself failed; [`qmp_client::Error::Qmp`]
    /// carries QEMU's error class and message.
    #[error(transparent)]
    Client(#[from] qmp_client::Error),
    /// A key name is neither a `QKeyCode` value of this QEMU nor an alias.
    #[error("unknown key `{name}`{}", did_you_mean(suggestions))]
    UnknownKey {
        /// The name as given.
        name: String,
        /// Close matches.
        suggestions: Vec<String>,
    },
    /// A list of key words is malformed (see
    /// [`parse_chords`](crate::parse_chords)); the message says what to
    /// write instead.
    #[error("{0}")]
    KeyList(String),
    /// The US layout has no key for a character of the text to type.
    #[error(
        "cannot type {ch:?} (U+{:04X}) at position {position} with a US keyboard layout",
        u32::from(*ch)
    )]
    Untypable {
        /// The character.
        ch: char,
        /// Its position in the text, in characters from 0.
        position: usize,
    },
    /// This QEMU has no such command; nothing was sent.
    #[error("unknown command `{name}`{}", did_you_mean(suggestions))]
    UnknownCommand {
        /// The name as given.
        name: String,
        /// Close matches.
        suggestions: Vec<String>,
    },
    /// The arguments do not fit the command's schema; nothing was sent.
    #[error("{command}: {problem}")]
    InvalidArguments {
        /// The command.
        command: String,
        /// What is wrong, naming the argument.
        problem: String,
    },
    /// `device_del` was accepted but no `DEVICE_DELETED` arrived in time.
    #[error(
        "device `{id}` was not removed within {after:?}: removing it may need the guest's \
         cooperation (e.g. ACPI PCI hot-plug in a running guest OS); QEMU may still remove it later"
    )]
    DeviceDelTimeout {
        /// The device's id.
        id: String,
        /// How long we waited.
        after: Duration,
    },
    /// The guest refused to release a device (`DEVICE_UNPLUG_GUEST_ERROR`).
    #[error("the guest refused to release device `{id}`")]
    UnplugRefused {
        /// The device's id.
        id: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// An image from QEMU could not be read.
    #[error("bad image from QEMU: {0}")]
    Image(String),
    /// The connected QEMU's schema lacks something this call needs.
    #[error("{0}")]
    Schema(String),
    /// An HMP command ran and QEMU's text reports an error (see
    /// [`Vm::hmp`](crate::Vm::hmp) for which replies count as errors).
    #[error("hmp `{command_line}`: {message}")]
    Hmp {
        /// The HMP command line as given.
        command_line: String,
        /// QEMU's text, with `\r\n` as `\n` and the last newline removed.
        message: String,
    },
    /// The guest agent answered something unexpected.
    #[error("guest agent: {0}")]
    Agent(String),
}

/// What automation calls return.
pub type Result<T, E = Error> = std::result::Result<T, E>;
