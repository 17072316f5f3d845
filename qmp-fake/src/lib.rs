//! A fake QEMU for unit tests of code that drives QEMU over QMP.
//!
//! [`FakeQemu`] speaks QMP (greeting, `qmp_capabilities` negotiation, ids,
//! errors, events) on an in-memory stream ([`FakeQemu::client`]) or a Unix
//! socket ([`FakeQemu::listen_unix`]), so the code under test runs
//! unchanged, without starting QEMU. It is built from the schema of one
//! QEMU release and checks every request as that release does: a command
//! the release lacks fails with `CommandNotFound`, an unknown, missing or
//! ill-typed argument (nested members, enum values, lists, union branches,
//! alternates included) fails with QEMU's own `GenericError` text, the
//! same text QEMU 10.0 sends (`tests/qemu_errors.rs` compares the two).
//!
//! Replies come from a script of typed closures, one per command:
//! [`FakeQemu::on`] takes the command's type from `qmp_types::qmp::commands`
//! and returns its reply type, [`FakeQemu::on_result`] may return a
//! [`QmpError`]; scripted replies are checked against the release's schema
//! too. Events go out with [`FakeQemu::emit`]. A command nobody scripted
//! fails with a `GenericError` that says so (`qmp-fake: no reply scripted
//! for 'query-status' ...`); `query-commands` (the release's command list),
//! `query-qmp-schema` (the release's introspection, so that `qmp_vm::Vm`
//! checks arguments and key names as on QEMU) and `query-version` (the
//! release) answer by themselves.
//!
//! Or the fake replays a session recorded from a real QEMU with `qmp
//! record` ([`FakeQemu::replay`], format in [`transcript`]): each request
//! must match the recorded one (ids aside) and gets the recorded reply and
//! events.
//!
//! # Examples
//!
//! A test of a function that pauses a VM unless it is paused already:
//!
//! ```
//! use qmp_fake::FakeQemu;
//! use qmp_types::qmp::{commands, Event, EventName, QmpCommands as _, RunState, StatusInfo};
//! use qmp_types::{Empty, Release};
//!
//! /// The code under test: pauses the VM; false if it was paused already.
//! async fn pause(qmp: &qmp_client::Client) -> Result<bool, qmp_client::Error> {
//!     if qmp.query_status().await?.status == RunState::Paused {
//!         return Ok(false);
//!     }
//!     qmp.stop().await?;
//!     Ok(true)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fake = FakeQemu::new(Release::new(10, 0))?;
//! fake.on::<commands::QueryStatus>(|_| StatusInfo::new(true, RunState::Running));
//! // `stop` sends STOP before its reply, as QEMU does.
//! let events = fake.event_sender();
//! fake.on::<commands::Stop>(move |_| {
//!     events.emit(Event::Stop).expect("STOP is an event of QEMU 10.0");
//!     Empty {}
//! });
//!
//! let qmp = fake.client().await?;
//! let mut stops = qmp.subscribe_to([EventName::Stop]);
//! assert!(pause(&qmp).await?);
//! assert_eq!(stops.next().await.unwrap()?.name, "STOP");
//!
//! // Requests are checked as QEMU 10.0 checks them.
//! let err = qmp.execute_raw("stop", serde_json::json!({ "now": true })).await.unwrap_err();
//! assert_eq!(err.to_string(), "GenericError: Parameter 'now' is unexpected");
//! # Ok(())
//! # }
//! ```
//!
//! # What it does not do
//!
//! - Commands and members QEMU builds only for some targets or
//!   configurations (`if` in the schema) all exist in the fake.
//! - No state: `query-status` answers what the script says, whatever
//!   `stop` did before. Closures can keep state of their own.
//! - The checks a command makes after decoding its arguments (a
//!   `device_add` of an unknown driver) are QEMU's business, not the
//!   schema's: script the error if the test needs it.
//! - `query-qmp-schema` numbers types its own way (QEMU's numbers differ
//!   between builds too); names, members and values are the release's.
//! - Events emitted while no client has negotiated go nowhere, as in QEMU.
#![warn(missing_docs)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use qmp_types::{Command, Qmp, Release};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::broadcast;

mod error;
mod introspect;
mod schema;
mod session;
pub mod transcript;

pub use error::{Error, QmpError};
pub use transcript::Transcript;

use schema::ReleaseSchema;

/// How many events a connected client may fall behind by before it loses
/// the oldest.
const EVENT_BUFFER: usize = 1024;

/// A scripted reply: the arguments (`{}` if absent) to the reply's value.
type Handler = Arc<dyn Fn(Value) -> Result<Value, QmpError> + Send + Sync>;

/// A fake QEMU monitor: see the [crate docs](crate).
///
/// Cloning gives another handle on the same fake (same script, same
/// clients).
#[derive(Clone)]
pub struct FakeQemu {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FakeQemu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match &self.inner.mode {
            Mode::Script { .. } => "script",
            Mode::Replay { .. } => "replay",
        };
        f.debug_struct("FakeQemu")
            .field("release", &self.inner.release)
            .field("mode", &mode)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    release: Option<Release>,
    mode: Mode,
    events: broadcast::Sender<Value>,
    schema: Option<Arc<ReleaseSchema>>,
    /// Every request received, in order.
    received: Mutex<Vec<Value>>,
    /// What went wrong that the client may not have seen: replay
    /// mismatches, scripted replies that do not fit the schema.
    problems: Mutex<Vec<String>>,
}

pub(crate) enum Mode {
    Script {
        handlers: Mutex<HashMap<String, Handler>>,
    },
    Replay {
        transcript: Transcript,
        /// Whether a session got through the whole transcript.
        completed: Mutex<bool>,
    },
}

impl Inner {
    pub(crate) fn problem(&self, text: String) {
        self.problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(text);
    }
}

impl FakeQemu {
    /// A fake of QEMU `release`, with an empty script.
    ///
    /// # Errors
    /// [`Error::UnknownRelease`] if the bindings carry no schema for it
    /// (they have `qmp_types::schema_source::RELEASES`).
    pub fn new(release: Release) -> Result<FakeQemu, Error> {
        let schema = schema::load(release)?;
        Ok(FakeQemu::with(
            Some(release),
            Some(schema),
            Mode::Script {
                handlers: Mutex::default(),
            },
        ))
    }

    fn with(release: Option<Release>, schema: Option<Arc<ReleaseSchema>>, mode: Mode) -> FakeQemu {
        FakeQemu {
            inner: Arc::new(Inner {
                release,
                mode,
                events: broadcast::channel(EVENT_BUFFER).0,
                schema,
                received: Mutex::default(),
                problems: Mutex::default(),
            }),
        }
    }

    /// A fake that replays a transcript (see [`transcript`]) to each client
    /// that connects: the recorded greeting, then for each request the
    /// recorded reply (with the request's id) and the events recorded
    /// around it. A request that differs from the recorded one (ids aside)
    /// gets a `GenericError` naming both, as does every request after it;
    /// [`FakeQemu::verify`] reports it.
    ///
    /// # Errors
    /// Those of [`Transcript::read`], and [`Error::Transcript`] if the
    /// transcript does not start with a greeting.
    pub fn replay(reader: impl std::io::BufRead) -> Result<FakeQemu, Error> {
        FakeQemu::from_transcript(Transcript::read(reader)?)
    }

    /// [`FakeQemu::replay`] of a file.
    ///
    /// # Errors
    /// As [`FakeQemu::replay`]; [`Error::Io`] names the file.
    pub fn replay_file(path: impl AsRef<Path>) -> Result<FakeQemu, Error> {
        FakeQemu::from_transcript(Transcript::from_path(path)?)
    }

    /// [`FakeQemu::replay`] of a transcript already read.
    ///
    /// # Errors
    /// [`Error::Transcript`] if it does not start with a greeting.
    pub fn from_transcript(transcript: Transcript) -> Result<FakeQemu, Error> {
        let greeting = transcript.entries.first().map(|e| (e.side, &e.message));
        let release = match greeting {
            Some((transcript::Side::Qemu, Value::Object(m))) if m.contains_key("QMP") => {
                let v = &m["QMP"]["version"]["qemu"];
                let part = |key: &str| v[key].as_u64().and_then(|n| u16::try_from(n).ok());
                match (part("major"), part("minor")) {
                    (Some(major), Some(minor)) => Some(Release::new(major, minor)),
                    _ => None,
                }
            }
            _ => {
                return Err(Error::Transcript {
                    line: 1,
                    message: "a transcript starts with QEMU's greeting, {\"qemu\": {\"QMP\": ...}}"
                        .into(),
                });
            }
        };
        Ok(FakeQemu::with(
            release,
            None,
            Mode::Replay {
                transcript,
                completed: Mutex::new(false),
            },
        ))
    }

    /// The release the fake plays (for a replay, the one in the recorded
    /// greeting).
    pub fn release(&self) -> Option<Release> {
        self.inner.release
    }

    /// Scripts the reply to command `C`: `reply` gets the decoded command
    /// and returns its reply, which the fake checks against the release's
    /// schema before sending. A later call for the same command replaces
    /// the earlier one.
    ///
    /// A command the release does not have still fails with
    /// `CommandNotFound`, script or not, as the real one would.
    ///
    /// ```
    /// # fn f() -> Result<(), qmp_fake::Error> {
    /// use qmp_types::qmp::{commands, RunState, StatusInfo};
    /// let fake = qmp_fake::FakeQemu::new(qmp_types::Release::new(10, 0))?;
    /// fake.on::<commands::QueryStatus>(|_| StatusInfo::new(false, RunState::Paused));
    /// # Ok(()) }
    /// ```
    pub fn on<C>(&self, reply: impl Fn(C) -> C::Output + Send + Sync + 'static) -> &FakeQemu
    where
        C: Command<Protocol = Qmp> + DeserializeOwned + 'static,
        C::Output: Serialize,
    {
        self.on_result::<C>(move |c| Ok(reply(c)))
    }

    /// Scripts the reply to command `C`, which may be an error:
    ///
    /// ```
    /// # fn f() -> Result<(), qmp_fake::Error> {
    /// use qmp_fake::QmpError;
    /// use qmp_types::qmp::{commands, QapiErrorClass};
    /// let fake = qmp_fake::FakeQemu::new(qmp_types::Release::new(10, 0))?;
    /// fake.on_result::<commands::DeviceDel>(|cmd| {
    ///     Err(QmpError::new(QapiErrorClass::DeviceNotFound, format!("Device '{}' not found", cmd.id)))
    /// });
    /// # Ok(()) }
    /// ```
    pub fn on_result<C>(
        &self,
        reply: impl Fn(C) -> Result<C::Output, QmpError> + Send + Sync + 'static,
    ) -> &FakeQemu
    where
        C: Command<Protocol = Qmp> + DeserializeOwned + 'static,
        C::Output: Serialize,
    {
        let handler: Handler = Arc::new(move |args: Value| {
            let command: C = serde_json::from_value(args).map_err(|e| {
                QmpError::generic(format!(
                    "qmp-fake: the arguments of '{}' do not decode as {}: {e}",
                    C::NAME,
                    std::any::type_name::<C>()
                ))
            })?;
            let output = reply(command)?;
            serde_json::to_value(output).map_err(|e| {
                QmpError::generic(format!(
                    "qmp-fake: the scripted reply to '{}' does not encode: {e}",
                    C::NAME
                ))
            })
        });
        self.script(C::NAME, handler)
    }

    /// Scripts the reply to the command named `name` in raw JSON: `reply`
    /// gets the arguments (`{}` if none) and returns the `return` value.
    /// For commands the bindings do not have; checked like typed replies.
    pub fn on_raw(
        &self,
        name: &str,
        reply: impl Fn(Value) -> Result<Value, QmpError> + Send + Sync + 'static,
    ) -> &FakeQemu {
        self.script(name, Arc::new(reply))
    }

    fn script(&self, name: &str, handler: Handler) -> &FakeQemu {
        match &self.inner.mode {
            Mode::Script { handlers } => {
                handlers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name.to_owned(), handler);
            }
            Mode::Replay { .. } => self.inner.problem(format!(
                "a reply to '{name}' was scripted, but a replaying fake only answers from its transcript"
            )),
        }
        self
    }

    /// Sends an event to every client that has negotiated capabilities,
    /// with the current time as its timestamp: a `qmp_types::qmp::Event`
    /// (`Event::Stop`), or anything that serializes to QEMU's event object
    /// without the timestamp (`{"event": "STOP"}`).
    ///
    /// # Errors
    /// [`Error::Event`] if the release has no such event or its data does
    /// not fit the release's schema, or if the fake is replaying.
    pub fn emit<E: Serialize>(&self, event: E) -> Result<(), Error> {
        self.event_sender().emit(event)
    }

    /// A handle that emits events, for scripted replies that send events
    /// (a clone of the [`FakeQemu`] inside its own script would keep it
    /// alive forever).
    pub fn event_sender(&self) -> EventSender {
        EventSender {
            release: self.inner.release,
            schema: self.inner.schema.clone(),
            tx: self.inner.events.clone(),
        }
    }

    /// Every request received so far, as sent, in order (the negotiation
    /// included): for tests that check what the code under test sent.
    pub fn received(&self) -> Vec<Value> {
        self.inner
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Checks that nothing went wrong behind the client's back: for a
    /// replay, that no request differed from the transcript and that a
    /// client went through all of it; for a script, that every scripted
    /// reply fitted the schema.
    ///
    /// # Errors
    /// [`Error::Problems`], listing them.
    pub fn verify(&self) -> Result<(), Error> {
        let mut problems = self
            .inner
            .problems
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Mode::Replay {
            transcript,
            completed,
        } = &self.inner.mode
            && !*completed.lock().unwrap_or_else(|e| e.into_inner())
            && problems.is_empty()
        {
            let requests = transcript
                .entries
                .iter()
                .filter(|e| e.side == transcript::Side::Client)
                .count();
            problems.push(format!(
                "no client went through the whole transcript ({requests} requests); the requests it got: {}",
                self.received().len()
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Problems(problems))
        }
    }

    /// Connects a [`qmp_client::Client`] to the fake through an in-memory
    /// stream (capabilities negotiated, as from
    /// [`qmp_client::Builder::connect_stream`]).
    ///
    /// # Errors
    /// Those of [`qmp_client::Builder::connect_stream`].
    pub async fn client(&self) -> Result<qmp_client::Client, qmp_client::Error> {
        self.client_with(qmp_client::Builder::default()).await
    }

    /// [`FakeQemu::client`] with the builder's settings.
    ///
    /// # Errors
    /// Those of [`qmp_client::Builder::connect_stream`].
    pub async fn client_with(
        &self,
        builder: qmp_client::Builder,
    ) -> Result<qmp_client::Client, qmp_client::Error> {
        let (near, far) = tokio::io::duplex(64 << 10);
        let inner = self.inner.clone();
        // The session ends when the client drops its end of the stream.
        tokio::spawn(async move { session::run(inner, far).await });
        builder.connect_stream(near).await
    }

    /// Serves one QMP session on `stream` until the peer closes it.
    ///
    /// # Errors
    /// [`Error::Io`] if reading or writing fails.
    pub async fn serve<S>(&self, stream: S) -> Result<(), Error>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        session::run(self.inner.clone(), stream).await
    }

    /// Listens on a Unix socket at `path` and serves every client that
    /// connects, each in a task of its own, until the returned
    /// [`UnixServer`] is dropped.
    ///
    /// # Errors
    /// [`Error::Io`] if the socket cannot be bound (the message names it).
    pub async fn listen_unix(&self, path: impl AsRef<Path>) -> Result<UnixServer, Error> {
        let path = path.as_ref().to_owned();
        let listener = tokio::net::UnixListener::bind(&path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        let inner = self.inner.clone();
        let task = tokio::spawn(async move {
            let mut sessions = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                sessions.spawn(session::run(inner.clone(), stream));
                // Forget the sessions that ended.
                while sessions.try_join_next().is_some() {}
            }
        });
        Ok(UnixServer {
            path,
            task: task.abort_handle(),
        })
    }
}

/// A [`FakeQemu`] listening on a Unix socket; dropping it stops the
/// listener and its sessions and removes the socket file.
#[derive(Debug)]
pub struct UnixServer {
    path: PathBuf,
    task: tokio::task::AbortHandle,
}

impl UnixServer {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for UnixServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Emits events on a [`FakeQemu`]: see [`FakeQemu::event_sender`].
#[derive(Clone, Debug)]
pub struct EventSender {
    release: Option<Release>,
    schema: Option<Arc<ReleaseSchema>>,
    tx: broadcast::Sender<Value>,
}

impl EventSender {
    /// As [`FakeQemu::emit`].
    ///
    /// # Errors
    /// As [`FakeQemu::emit`].
    pub fn emit<E: Serialize>(&self, event: E) -> Result<(), Error> {
        let release = self.release.unwrap_or(Release::new(0, 0));
        let bad = |message: String| Error::Event { release, message };
        let Some(schema) = &self.schema else {
            return Err(bad(
                "a replaying fake sends only its transcript's events".into()
            ));
        };
        let value =
            serde_json::to_value(event).map_err(|e| bad(format!("it does not encode: {e}")))?;
        let Value::Object(mut message) = value else {
            return Err(bad(format!(
                "expected an object {{\"event\": NAME, ...}}, got {value}"
            )));
        };
        let Some(name) = message
            .get("event")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return Err(bad("it has no \"event\" member naming it".into()));
        };
        let args = schema
            .event_args(&name)
            .map_err(|()| bad(format!("QEMU {} has no event {name}", schema.release)))?;
        let empty = serde_json::Map::new();
        let data = match message.get("data") {
            None => &empty,
            Some(Value::Object(d)) => d,
            Some(other) => {
                return Err(bad(format!("the data of {name} is not an object: {other}")));
            }
        };
        schema
            .check_members(args, data)
            .map_err(|e| bad(format!("the data of {name} does not fit: {e}")))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        message.insert(
            "timestamp".into(),
            serde_json::json!({ "seconds": now.as_secs(), "microseconds": now.subsec_micros() }),
        );
        // No receiver: no client has negotiated yet; QEMU drops it too.
        let _ = self.tx.send(Value::Object(message));
        Ok(())
    }
}

/// The README's example runs as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;

#[cfg(test)]
mod tests {
    #[test]
    fn every_release_of_the_bindings_has_its_schema() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../qmp-types/schema");
        // One directory per release (beside files such as modules.txt).
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut carried: Vec<String> = qmp_types::schema_source::RELEASES
            .iter()
            .map(|r| r.to_string())
            .collect();
        carried.sort();
        assert_eq!(on_disk, carried, "update qmp_types::schema_source");
        for r in qmp_types::schema_source::RELEASES {
            crate::FakeQemu::new(r).unwrap();
        }
    }
}
