//! The traits and helper types that generated definitions implement.

use serde::{Serialize, de::DeserializeOwned};

/// The protocol a command belongs to and a transport speaks: [`Qmp`] or
/// [`GuestAgent`]. [`Execute::execute`] only takes commands of its
/// transport's protocol, so the compiler rejects a guest-agent command on
/// a QMP connection:
///
/// ```compile_fail
/// # async fn f(qmp: impl qmp_types::Execute<Protocol = qmp_types::Qmp>) {
/// use qmp_types::qga::GuestAgentCommands as _;
/// qmp.guest_ping().await;
/// # }
/// ```
pub trait Protocol: sealed::Sealed + Send + Sync + 'static {
    /// The protocol's name, for messages: `QMP`, `guest agent`.
    const NAME: &'static str;
}

/// The QEMU Machine Protocol of `qemu-system-*` (and, for the commands it
/// shares, `qemu-storage-daemon`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Qmp {}

/// The QEMU guest agent (`qemu-ga`): no greeting, no capabilities
/// negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GuestAgent {}

impl Protocol for Qmp {
    const NAME: &'static str = "QMP";
}

impl Protocol for GuestAgent {
    const NAME: &'static str = "guest agent";
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Qmp {}
    impl Sealed for super::GuestAgent {}
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

    /// `self < other`, usable in `const` contexts.
    const fn lt(self, other: Release) -> bool {
        self.major < other.major || (self.major == other.major && self.minor < other.minor)
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
    /// Whether the command may be sent with `exec-oob`.
    const ALLOW_OOB: bool = false;
    /// Whether QEMU answers at all. `false` for commands such as the guest
    /// agent's `guest-shutdown`, which reply with nothing; a transport
    /// resolves them once they are sent.
    const SUCCESS_RESPONSE: bool = true;
    /// The QEMU releases that have the command; unknown for commands
    /// defined by hand.
    const RELEASES: Releases = Releases::UNKNOWN;
    /// The build condition QEMU puts on the command (its `if`), as text
    /// such as `CONFIG_VNC`; `None` if QEMU always has it.
    const CONDITION: Option<&'static str> = None;
    /// The protocol the command belongs to: [`Qmp`] or [`GuestAgent`].
    type Protocol: Protocol;
    /// The reply's type; [`Empty`] for commands that return `{}`.
    type Output: DeserializeOwned + Send + 'static;

    /// Whether a QEMU of `release` may have the command, so that a caller
    /// can refuse to send what the peer cannot know.
    ///
    /// Optimistic where the schemas this crate was built from do not tell:
    /// see [`Releases::contains`].
    fn available_in(release: Release) -> bool
    where
        Self: Sized,
    {
        Self::RELEASES.contains(release)
    }
}

/// A reference runs the command it points to, so that
/// [`execute`](Execute::execute) takes a command by value or by reference.
impl<C: Command> Command for &C {
    const NAME: &'static str = C::NAME;
    const ALLOW_OOB: bool = C::ALLOW_OOB;
    const SUCCESS_RESPONSE: bool = C::SUCCESS_RESPONSE;
    const RELEASES: Releases = C::RELEASES;
    const CONDITION: Option<&'static str> = C::CONDITION;
    type Protocol = C::Protocol;
    type Output = C::Output;
}

/// Which QEMU releases have a definition, as far as the supported
/// releases' schemas tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Releases {
    /// The oldest supported release that has it.
    pub first: Release,
    /// The newest supported release that has it.
    pub last: Release,
    /// The release that introduced it: its documented `Since`, else
    /// [`first`](Releases::first) if an older supported release lacks it,
    /// else `None` (it predates every supported release).
    pub added: Option<Release>,
    /// The first supported release after [`last`](Releases::last) that
    /// lacks it, if any.
    pub removed: Option<Release>,
}

impl Releases {
    /// Nothing known: [`contains`](Releases::contains) every release.
    pub const UNKNOWN: Releases = Releases {
        first: Release::new(0, 0),
        last: Release::new(u16::MAX, u16::MAX),
        added: None,
        removed: None,
    };

    /// Whether `release` may have it: not before it was
    /// [`added`](Releases::added) and not from the supported release that
    /// [`removed`](Releases::removed) it on. Releases between two supported
    /// ones are given the benefit of the doubt.
    pub const fn contains(&self, release: Release) -> bool {
        let after_added = match self.added {
            Some(a) => !release.lt(a),
            None => true,
        };
        let before_removed = match self.removed {
            Some(r) => release.lt(r),
            None => true,
        };
        after_added && before_removed
    }
}

/// Runs commands: what a transport (such as `qmp-client`'s `Client`)
/// implements so that the generated command traits (`qmp::QmpCommands`,
/// `qga::GuestAgentCommands`, ...) work on it.
///
/// A transport speaks one [`Protocol`]; the generated traits exist only on
/// transports of theirs (`QmpCommands` needs `Execute<Protocol = Qmp>`).
pub trait Execute: Sync {
    /// The protocol the transport speaks.
    type Protocol: Protocol;
    /// What a failed command reports.
    type Error;

    /// Sends `command` (by value, or by reference: `&C` is a command too)
    /// and decodes its reply.
    fn execute<C: Command<Protocol = Self::Protocol>>(
        &self,
        command: C,
    ) -> impl Future<Output = Result<C::Output, Self::Error>> + Send;
}

/// The `{}` that commands without a return type reply with.
///
/// Decodes from any JSON object, so that a QEMU which starts returning
/// members later does not break callers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Empty {}

impl serde::Serialize for Empty {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde::ser::SerializeMap::end(s.serialize_map(Some(0))?)
    }
}

impl<'de> serde::Deserialize<'de> for Empty {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Empty, D::Error> {
        serde::de::IgnoredAny::deserialize(d)?;
        Ok(Empty {})
    }
}
