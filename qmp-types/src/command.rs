//! The traits and helper types that generated definitions implement.

use serde::{Serialize, de::DeserializeOwned};

/// Which QEMU program speaks a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// The QEMU Machine Protocol of `qemu-system-*` (and, for the commands
    /// it shares, `qemu-storage-daemon`).
    Qmp,
    /// The QEMU guest agent (`qemu-ga`): no greeting, no capabilities
    /// negotiation.
    GuestAgent,
}

/// A QEMU release, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl Release {
    /// Builds `major.minor`.
    pub const fn new(major: u16, minor: u16) -> Release {
        Release { major, minor }
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A command: its arguments are `Self`, its reply [`Command::Output`].
///
/// Transports serialize `self` as the `arguments` member of
/// `{"execute": NAME, "arguments": ...}` (omitting it when it serializes to
/// an empty object) and decode the `return` member as `Output`.
pub trait Command: Serialize + Send + Sync {
    /// The wire name, e.g. `query-status`.
    const NAME: &'static str;
    /// The program that implements the command.
    const PROTOCOL: Protocol = Protocol::Qmp;
    /// Whether the command may be sent with `exec-oob`.
    const ALLOW_OOB: bool = false;
    /// Whether QEMU answers at all. `false` for commands such as the guest
    /// agent's `guest-shutdown`, which reply with nothing; a transport
    /// resolves them once they are sent.
    const SUCCESS_RESPONSE: bool = true;
    /// The reply's type; [`Empty`] for commands that return `{}`.
    type Output: DeserializeOwned + Send + 'static;
}

/// The `{}` that commands without a return type reply with.
///
/// Decodes from any JSON object, so that a QEMU which starts returning
/// members later does not break callers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Empty {}

impl<'de> serde::Deserialize<'de> for Empty {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Empty, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(Empty {})
    }
}
