//! The fake's errors.

use qmp_types::Release;
use qmp_types::qmp::QapiErrorClass;

/// What went wrong setting up, feeding or checking a fake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bindings carry no schema for this release.
    #[error(
        "no QMP schema for QEMU {release} in this build of qmp-types (it has {})",
        list(known)
    )]
    UnknownRelease {
        /// The release asked for.
        release: Release,
        /// The releases this build has.
        known: Vec<Release>,
    },
    /// The release's schema did not parse (a bug of this build).
    #[error("the QMP schema of QEMU {release} does not parse: {message}")]
    Schema {
        /// The release.
        release: Release,
        /// The parser's message.
        message: String,
    },
    /// An event given to [`FakeQemu::emit`](crate::FakeQemu::emit) is not
    /// one the release could send.
    #[error("QEMU {release} cannot send this event: {message}")]
    Event {
        /// The fake's release.
        release: Release,
        /// What is wrong with it.
        message: String,
    },
    /// A transcript line is not one.
    #[error("transcript line {line}: {message}")]
    Transcript {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// What [`FakeQemu::verify`](crate::FakeQemu::verify) found: a
    /// replayed session that went another way than its transcript or
    /// stopped before its end, scripted replies that do not fit the schema.
    #[error("the fake saw {} problem(s): {}", .0.len(), .0.join("; "))]
    Problems(Vec<String>),
    /// Reading, writing or listening failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn list(releases: &[Release]) -> String {
    releases
        .iter()
        .map(Release::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A QMP error reply, as QEMU sends it: `{"error": {"class": ..., "desc": ...}}`.
///
/// Script one with [`FakeQemu::on_result`](crate::FakeQemu::on_result).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QmpError {
    /// The class, e.g. [`QapiErrorClass::GenericError`].
    pub class: QapiErrorClass,
    /// The human-readable text.
    pub desc: String,
}

impl QmpError {
    /// An error of `class`.
    pub fn new(class: QapiErrorClass, desc: impl Into<String>) -> QmpError {
        QmpError {
            class,
            desc: desc.into(),
        }
    }

    /// A `GenericError`, the class of most of QEMU's errors.
    pub fn generic(desc: impl Into<String>) -> QmpError {
        QmpError::new(QapiErrorClass::GenericError, desc)
    }

    /// The `error` member's value.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "class": self.class.as_str(), "desc": self.desc })
    }
}

impl std::fmt::Display for QmpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.class.as_str(), self.desc)
    }
}

impl std::error::Error for QmpError {}
