//! The error type of every fallible operation.

use std::process::ExitStatus;
use std::time::Duration;

/// Why a command, a connection or a launch failed.
///
/// Match on the variants you act on and keep a catch-all arm: new variants
/// may be added in minor releases.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// QEMU ran the command and reported an error.
    Qmp {
        /// QEMU's error class, e.g. `GenericError` or `CommandNotFound`;
        /// a class this build does not know is kept in `Unknown`.
        class: qmp_types::qmp::QapiErrorClass,
        /// QEMU's human-readable description; not meant to be parsed.
        desc: String,
    },
    /// QEMU answered, but the reply does not have the expected type.
    ///
    /// Only the command concerned fails; the connection stays usable.
    Decode {
        /// The command whose reply failed to decode.
        command: String,
        /// The JSON path, inside the `return` member, where decoding failed
        /// (`.` for the value itself).
        path: String,
        /// What the decoder expected.
        message: String,
        /// The reply exactly as QEMU sent it.
        raw: String,
    },
    /// The arguments could not be serialized to JSON.
    Encode {
        /// The command whose arguments failed to serialize.
        command: String,
        /// What the serializer reported.
        message: String,
    },
    /// Reading from or writing to the socket failed.
    Io(std::io::Error),
    /// The connection is closed; no reply will come. With a
    /// [reconnect policy](crate::Builder::reconnect): the command was in
    /// flight when the connection was lost (QEMU may have run it), or the
    /// client gave up reconnecting.
    Disconnected {
        /// QEMU's exit status, when the client's [`Qemu`](crate::Qemu) owns
        /// the process and it has exited.
        status: Option<ExitStatus>,
    },
    /// No reply arrived in time. The connection stays usable; a late
    /// reply is discarded.
    Timeout {
        /// The limit that elapsed.
        after: Duration,
    },
    /// No greeting arrived within the connect timeout. QEMU serves one
    /// client at a time on each monitor socket and greets the next only
    /// when the first leaves, so this usually means another client holds
    /// the monitor.
    NoGreeting {
        /// The connect timeout that elapsed.
        after: Duration,
    },
    /// The peer broke the protocol: a malformed or oversized message, an
    /// unexpected greeting, or an error that cannot be matched to one
    /// command.
    Protocol(String),
    /// The connected QEMU has no such command; nothing was sent.
    Unsupported {
        /// The command's wire name.
        command: String,
    },
    /// File descriptors can only be passed on a Unix socket, and this
    /// connection is not one (TCP, or a stream given to
    /// [`Builder::connect_stream`](crate::Builder::connect_stream)); nothing
    /// was sent.
    FdPassingUnsupported,
    /// A QEMU process could not be started or did not open its monitor.
    Launch(String),
}

// Written out rather than derived with thiserror: its macro crate would
// be compiled in every user's build for these two types.
impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Qmp { class, desc } => write!(f, "{class}: {desc}"),
            Error::Decode {
                command,
                path,
                message,
                ..
            } => write!(
                f,
                "cannot decode the reply to `{command}` at `{path}`: {message}"
            ),
            Error::Encode { command, message } => {
                write!(f, "cannot encode the arguments of `{command}`: {message}")
            }
            Error::Io(_) => f.write_str("i/o error"),
            Error::Disconnected { status: None } => f.write_str("disconnected"),
            Error::Disconnected { status: Some(s) } => write!(f, "disconnected (QEMU {s})"),
            Error::Timeout { after } => write!(f, "timed out after {after:?}"),
            Error::NoGreeting { after } => write!(
                f,
                "no QMP greeting within {after:?}: another client may hold this monitor \
                 (QEMU serves one client at a time on each monitor socket)"
            ),
            Error::Protocol(why) => write!(f, "protocol violation: {why}"),
            Error::Unsupported { command } => {
                write!(f, "command `{command}` is not supported by this QEMU")
            }
            Error::FdPassingUnsupported => {
                f.write_str("file descriptors can only be passed on a Unix socket connection")
            }
            Error::Launch(why) => write!(f, "cannot launch QEMU: {why}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}

impl Error {
    /// Whether this is [`Error::Disconnected`].
    pub fn is_disconnected(&self) -> bool {
        matches!(self, Error::Disconnected { .. })
    }

    /// Whether a time limit elapsed: [`Error::Timeout`] or
    /// [`Error::NoGreeting`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. } | Error::NoGreeting { .. })
    }
}

/// Why the connection closed; cloned into an [`Error`] for every waiter.
#[derive(Clone, Debug)]
pub(crate) struct Closed {
    pub(crate) status: Option<ExitStatus>,
}

impl From<&Closed> for Error {
    fn from(c: &Closed) -> Error {
        Error::Disconnected { status: c.status }
    }
}
