//! The QMP client: connection setup, the reader and writer tasks, and
//! request/reply matching.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::ops::Range;
#[cfg(feature = "fd-passing")]
use std::os::fd::BorrowedFd;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use qmp_types::qmp::QapiErrorClass;
use qmp_types::{Command, Qmp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::de;
use crate::error::Closed;
use crate::event::{self, Events, Hub, RawEvent, lock};
use crate::fds::{self, Sink};
use crate::wire::{self, Frame, Framer, Id, Message};
use crate::{Error, Reconnect};

/// QMP's limit on in-band commands in flight.
const MAX_IN_BAND: usize = 8;
/// How much the reader asks the socket for at once.
const READ_CHUNK: usize = 64 * 1024;
/// How long the reader waits for the launcher to report QEMU's exit status
/// once the socket closed.
const EXIT_STATUS_GRACE: Duration = Duration::from_millis(300);

/// Settings for a [`Client`], and the `connect_*` methods that apply them.
#[derive(Clone, Debug)]
pub struct Builder {
    pub(crate) timeout: Option<Duration>,
    max_message: usize,
    event_buffer: usize,
    oob: bool,
    check_commands: bool,
    connect_timeout: Duration,
    reconnect: Option<Reconnect>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            timeout: Some(Duration::from_secs(30)),
            max_message: 10 << 20,
            event_buffer: 1024,
            oob: true,
            check_commands: true,
            connect_timeout: Duration::from_secs(10),
            reconnect: None,
        }
    }
}

impl Builder {
    /// Default per-command timeout (30 s); `None` waits forever. Override
    /// it per call with [`Client::with_timeout`].
    ///
    /// The time counts from the call, including the wait for one of the
    /// eight in-flight slots. `Some(Duration::ZERO)` is not "no limit":
    /// tokio's timer rounds it up to its resolution (a millisecond), so a
    /// command QEMU answers within that may succeed and any slower one
    /// fails with [`Error::Timeout`]; use `None` to wait forever. A
    /// timed-out command may still run in QEMU; its late reply is dropped.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Builder {
        self.timeout = timeout;
        self
    }

    /// Longest message accepted, in bytes (10 MiB). A longer one is
    /// discarded and fails the command it answers with
    /// [`Error::Protocol`].
    pub fn max_message_size(mut self, bytes: usize) -> Builder {
        self.max_message = bytes.max(64);
        self
    }

    /// Events each subscriber buffers (1024) before it starts losing the
    /// oldest ones.
    pub fn event_buffer(mut self, events: usize) -> Builder {
        self.event_buffer = events.max(1);
        self
    }

    /// Whether to enable out-of-band execution when QEMU offers it (yes).
    pub fn oob(mut self, enable: bool) -> Builder {
        self.oob = enable;
        self
    }

    /// Whether to ask QEMU which commands it has (`query-commands`) while
    /// connecting (yes), so that calling a missing one fails with
    /// [`Error::Unsupported`] before anything is sent.
    pub fn check_commands(mut self, check: bool) -> Builder {
        self.check_commands = check;
        self
    }

    /// Limit for the greeting and negotiation (10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Builder {
        self.connect_timeout = timeout;
        self
    }

    /// Makes the client reconnect when it loses its connection (it does
    /// not by default): for QEMU restarted on the same socket, or a
    /// monitor connection that broke. See [`Reconnect`] for the timing.
    ///
    /// Only [`Builder::connect_unix`] and [`Builder::connect_tcp`] can
    /// reconnect: they know the address to dial again. A client made by
    /// [`Builder::connect_stream`], a [`Listener`](crate::Listener) or the
    /// [`Launcher`](crate::Launcher) (whose QEMU does not come back)
    /// ignores the policy. The first connection is not retried: if it
    /// fails, `connect_*` fails.
    ///
    /// While the client reconnects:
    ///
    /// - commands in flight when the connection broke fail with
    ///   [`Error::Disconnected`]: the client cannot know whether QEMU ran
    ///   them;
    /// - commands issued after the loss, or not yet sent when it happened,
    ///   wait for the new connection within their timeout
    ///   ([`Builder::timeout`]) and then run on it;
    /// - every [`Events`] stream yields [`EventError::Reconnecting`](crate::EventError::Reconnecting)
    ///   once, then the events of the new connection;
    /// - [`Client::is_connected`] is `false`.
    ///
    /// The new connection is negotiated like the first (out-of-band
    /// execution, the command list); [`Client::greeting`] and
    /// [`Client::version`] then describe the new QEMU, and a schema
    /// loaded with [`Client::load_schema`] is forgotten. If no attempt
    /// succeeds within [`Reconnect::give_up_after`], the client is
    /// disconnected for good: commands fail with [`Error::Disconnected`]
    /// and the event streams end.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), qmp_client::Error> {
    /// use qmp_client::{Client, EventError, Reconnect};
    ///
    /// let qmp = Client::builder().reconnect(Reconnect::new()).connect_unix("/run/qemu/vm1.qmp").await?;
    /// let mut events = qmp.subscribe();
    /// while let Some(event) = events.next().await {
    ///     match event {
    ///         Ok(event) => println!("{}", event.name),
    ///         Err(EventError::Reconnecting) => println!("QEMU went away; events may be missed"),
    ///         Err(e) => println!("{e}"),
    ///     }
    /// }
    /// println!("gave up reconnecting");
    /// # Ok(()) }
    /// ```
    pub fn reconnect(mut self, policy: Reconnect) -> Builder {
        self.reconnect = Some(policy);
        self
    }

    /// The same settings without a reconnect policy.
    pub(crate) fn without_reconnect(mut self) -> Builder {
        self.reconnect = None;
        self
    }

    /// Connects to a QMP monitor listening on a Unix socket.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the socket cannot be reached; the errors of
    /// [`Builder::connect_stream`].
    pub async fn connect_unix(self, path: impl AsRef<Path>) -> Result<Client, Error> {
        let path = path.as_ref();
        let stream = tokio::net::UnixStream::connect(path).await?;
        let (rd, wr) = stream.into_split();
        self.start(rd, wr, Target::Unix(path.to_owned())).await
    }

    /// Speaks QMP over a connected Unix socket, on which
    /// [`Client::execute_with_fds`] can pass file descriptors. It cannot
    /// reconnect.
    pub(crate) async fn connect_unix_stream(
        self,
        stream: tokio::net::UnixStream,
    ) -> Result<Client, Error> {
        let (rd, wr) = stream.into_split();
        self.start(rd, wr, Target::None).await
    }

    /// Connects to a QMP monitor listening on TCP.
    ///
    /// With a [reconnect policy](Builder::reconnect), `addr` is resolved
    /// once and the client reconnects to the addresses found then.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the address cannot be reached; the errors of
    /// [`Builder::connect_stream`].
    pub async fn connect_tcp(self, addr: impl tokio::net::ToSocketAddrs) -> Result<Client, Error> {
        let (stream, target) = if self.reconnect.is_some() {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host(addr).await?.collect();
            (tcp_connect(&addrs).await?, Target::Tcp(addrs))
        } else {
            (tokio::net::TcpStream::connect(addr).await?, Target::None)
        };
        stream.set_nodelay(true)?;
        let (rd, wr) = stream.into_split();
        self.start(rd, wr, target).await
    }

    /// Speaks QMP over any byte stream: reads the greeting, negotiates
    /// capabilities and starts the background reader and writer tasks
    /// (on the current tokio runtime).
    ///
    /// Such a client cannot [reconnect](Builder::reconnect): it has no
    /// way to make a new stream.
    ///
    /// # Errors
    ///
    /// [`Error::NoGreeting`] if no greeting arrives within the connect
    /// timeout (another client holds the monitor), [`Error::Timeout`] if
    /// the negotiation takes longer, [`Error::Protocol`] if the greeting is not one,
    /// [`Error::Qmp`] if QEMU refuses the negotiation.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the stream.
    pub async fn connect_stream<S>(self, stream: S) -> Result<Client, Error>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (rd, wr) = tokio::io::split(stream);
        self.start(rd, wr, Target::None).await
    }

    async fn start<R, W>(self, rd: R, wr: W, target: Target) -> Result<Client, Error>
    where
        R: AsyncRead + Send + Unpin + 'static,
        W: Sink,
    {
        #[cfg(feature = "fd-passing")]
        let unix = wr.unix().is_some();
        let hub = Arc::new(Hub::default());
        let redial = match (target, &self.reconnect) {
            (Target::None, _) | (_, None) => None,
            (target, Some(policy)) => Some(Redial {
                target,
                policy: policy.clone(),
                settings: self.clone(),
                hub: hub.clone(),
            }),
        };
        let (conn, reader) = open(&self, rd, wr, hub.clone(), redial.is_none()).await?;
        let (link_tx, link) = watch::channel(Link {
            conn,
            phase: Phase::Up,
        });
        let supervisor = redial.map(|r| tokio::spawn(supervise(r, link_tx, reader)).abort_handle());
        Ok(Client {
            inner: Arc::new(Inner {
                link,
                supervisor,
                hub,
                #[cfg(feature = "fd-passing")]
                unix,
                #[cfg(feature = "fd-passing")]
                fd_lock: tokio::sync::Mutex::new(()),
                event_buffer: self.event_buffer,
            }),
            timeout: self.timeout,
        })
    }
}

/// Where a client can dial again to reconnect.
#[derive(Clone, Debug)]
enum Target {
    /// Nowhere: the stream was given, or accepted.
    None,
    Unix(PathBuf),
    Tcp(Vec<SocketAddr>),
}

/// Connects to the first of `addrs` that accepts, as
/// `TcpStream::connect` does with what it resolves.
async fn tcp_connect(addrs: &[SocketAddr]) -> std::io::Result<tokio::net::TcpStream> {
    let mut last = None;
    for addr in addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

/// Reads the greeting on a new connection, starts its reader and writer
/// tasks and negotiates capabilities (and reads the command list).
/// `ends_events`: whether the end of this connection ends the client's
/// event streams (it does unless the client reconnects).
async fn open<R, W>(
    settings: &Builder,
    mut rd: R,
    wr: W,
    hub: Arc<Hub>,
    ends_events: bool,
) -> Result<(Arc<Conn>, JoinHandle<()>), Error>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: Sink,
{
    let limit = settings.connect_timeout;
    let mut framer = Framer::new(settings.max_message);
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    let greeting = tokio::time::timeout(limit, read_greeting(&mut rd, &mut framer, &mut buf))
        .await
        .map_err(|_| Error::NoGreeting { after: limit })??;
    let state = Arc::new(State {
        pending: Mutex::new(Pending {
            map: HashMap::new(),
            closed: None,
        }),
        closed: watch::Sender::new(false),
        inband: Arc::new(Semaphore::new(MAX_IN_BAND)),
        hub,
        ends_events,
        exit: Mutex::new(None),
        max_message: settings.max_message,
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let reader = tokio::spawn(read_loop(state.clone(), rd, buf, framer));
    tokio::spawn(write_loop(state.clone(), wr, rx));
    let oob = settings.oob && greeting.capabilities.iter().any(|c| c == "oob");
    // From here, dropping `conn` on an error stops both tasks.
    let conn = Arc::new(Conn {
        state,
        tx,
        reader: reader.abort_handle(),
        next_id: AtomicU64::new(1),
        greeting: Arc::new(greeting),
        oob,
        commands: RwLock::new(None),
        schema: RwLock::new(None),
    });
    let enable: &[&str] = if oob { &["oob"] } else { &[] };
    let caps = serde_json::json!({ "enable": enable });
    within(
        limit,
        conn.call::<_, serde::de::IgnoredAny>("qmp_capabilities", &caps),
    )
    .await?;
    if settings.check_commands {
        let list: Vec<serde_json::Value> = within(limit, conn.call("query-commands", &())).await?;
        let names = list
            .iter()
            .map(|info| info.get("name").and_then(serde_json::Value::as_str))
            .map(|name| name.map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                Error::Protocol("`query-commands` returned an entry without a name".into())
            })?;
        *conn.commands.write().unwrap_or_else(|e| e.into_inner()) = Some(names);
    }
    Ok((conn, reader))
}

async fn within<T>(limit: Duration, f: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    tokio::time::timeout(limit, f)
        .await
        .map_err(|_| Error::Timeout { after: limit })?
}

async fn read_greeting<R: AsyncRead + Unpin>(
    rd: &mut R,
    framer: &mut Framer,
    buf: &mut BytesMut,
) -> Result<Greeting, Error> {
    loop {
        while let Some(frame) = framer.next_frame(buf) {
            let Frame::Line(line) = frame else {
                return Err(Error::Protocol("oversized greeting".into()));
            };
            if line.trim_ascii().is_empty() {
                continue;
            }
            return match wire::classify(&line) {
                Ok(Message::Greeting(g)) => serde_json::from_str(g.get())
                    .map_err(|e| Error::Protocol(format!("malformed greeting: {e}"))),
                // Real QEMU can put an event (RESUME as the VM starts)
                // on a new connection before the greeting when the two
                // race. Nobody can have subscribed yet: drop it.
                Ok(Message::Event { name }) => {
                    tracing::debug!(%name, "skipping an event sent before the greeting");
                    continue;
                }
                _ => Err(Error::Protocol(format!(
                    "expected a greeting, got {:?}",
                    String::from_utf8_lossy(&line[..line.len().min(200)])
                ))),
            };
        }
        buf.reserve(READ_CHUNK);
        if rd.read_buf(buf).await? == 0 {
            return Err(Error::Disconnected { status: None });
        }
    }
}

/// The server's greeting: its version and the capabilities it offers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Greeting {
    /// QEMU's version, as `query-version` reports it.
    pub version: Version,
    /// Capabilities offered, e.g. `oob`.
    pub capabilities: Vec<String>,
}

/// A QEMU version, in the form of `query-version`'s reply.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Version {
    /// The upstream version numbers.
    pub qemu: VersionTriple,
    /// The distribution's package version, often empty.
    pub package: String,
}

/// `major.minor.micro`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct VersionTriple {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Micro version.
    pub micro: u32,
}

impl<'de> Deserialize<'de> for Greeting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Greeting, D::Error> {
        let mut m = de::object(d)?;
        Ok(Greeting {
            version: de::required(&mut m, "version")?,
            capabilities: de::required(&mut m, "capabilities")?,
        })
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Version, D::Error> {
        let mut m = de::object(d)?;
        Ok(Version {
            qemu: de::required(&mut m, "qemu")?,
            package: de::required(&mut m, "package")?,
        })
    }
}

impl<'de> Deserialize<'de> for VersionTriple {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<VersionTriple, D::Error> {
        let mut m = de::object(d)?;
        Ok(VersionTriple {
            major: de::required(&mut m, "major")?,
            minor: de::required(&mut m, "minor")?,
            micro: de::required(&mut m, "micro")?,
        })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.qemu.major, self.qemu.minor, self.qemu.micro
        )
    }
}

/// What `query-qmp-schema` says about this QEMU, loaded by
/// [`Client::load_schema`].
#[derive(Debug)]
pub struct Schema {
    entries: Vec<serde_json::Value>,
    commands: HashSet<String>,
    oob: HashSet<String>,
}

impl Schema {
    /// The wire names of all commands.
    pub fn commands(&self) -> impl Iterator<Item = &str> {
        self.commands.iter().map(String::as_str)
    }

    /// Whether `command` exists and may run out of band.
    pub fn allows_oob(&self, command: &str) -> bool {
        self.oob.contains(command)
    }

    /// Every schema entry, undecoded (`SchemaInfo` objects).
    pub fn entries(&self) -> &[serde_json::Value] {
        &self.entries
    }
}

/// A QMP connection. Cheap to clone; clones share the connection, and any
/// number of tasks may run commands on it at once.
///
/// The connection closes when the last clone is dropped. With a
/// [reconnect policy](Builder::reconnect), the client replaces a lost
/// connection with a new one.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> Result<(), qmp_client::Error> {
/// let qmp = qmp_client::Client::connect_unix("/run/qemu/vm1.qmp").await?;
/// let status = qmp.execute_raw("query-status", serde_json::json!({})).await?;
/// println!("QEMU {} is {}", qmp.version(), status["status"]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let link = self.inner.link.borrow();
        f.debug_struct("Client")
            .field("version", &link.conn.greeting.version.qemu)
            .field("oob", &link.conn.oob)
            .field("phase", &link.phase)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What the clones of a client share: the current connection and what
/// outlives it.
struct Inner {
    /// The current (or, while reconnecting, the last) connection.
    link: watch::Receiver<Link>,
    /// The task that reconnects, if the client has a reconnect policy.
    supervisor: Option<tokio::task::AbortHandle>,
    /// The event streams; they outlive a connection when the client
    /// reconnects.
    hub: Arc<Hub>,
    /// Whether the connection is a Unix socket, which can carry file
    /// descriptors.
    #[cfg(feature = "fd-passing")]
    unix: bool,
    /// Held by a command that passes file descriptors until its reply
    /// arrives: QEMU keeps only the last descriptors received, so a second
    /// batch must not arrive before the first is taken.
    #[cfg(feature = "fd-passing")]
    fd_lock: tokio::sync::Mutex<()>,
    event_buffer: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(s) = &self.supervisor {
            s.abort();
        }
        self.link.borrow().conn.shutdown();
        self.hub.close();
    }
}

#[derive(Clone)]
struct Link {
    conn: Arc<Conn>,
    phase: Phase,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// `conn` carries commands (or has just closed, and the supervisor,
    /// if any, has yet to notice).
    Up,
    /// `conn` is closed; the supervisor is making a new one.
    Reconnecting,
    /// `conn` is closed and the supervisor gave up.
    GaveUp,
}

/// One connection: its tasks, its negotiated state and what QEMU told it.
struct Conn {
    state: Arc<State>,
    tx: mpsc::UnboundedSender<Outgoing>,
    reader: tokio::task::AbortHandle,
    /// Ids are unique per connection.
    next_id: AtomicU64,
    greeting: Arc<Greeting>,
    oob: bool,
    commands: RwLock<Option<HashSet<String>>>,
    schema: RwLock<Option<Arc<Schema>>>,
}

impl Conn {
    /// Stops the reader, fails every waiter and (through `closed`) stops
    /// the writer.
    fn shutdown(&self) {
        self.reader.abort();
        self.state.close(Closed { status: None });
    }

    fn supports(&self, command: &str) -> bool {
        let known = self.commands.read().unwrap_or_else(|e| e.into_inner());
        known.as_ref().is_none_or(|c| c.contains(command))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What the reader and writer tasks of one connection share with the
/// clients.
struct State {
    pending: Mutex<Pending>,
    /// Becomes `true` when the connection closes; stops the writer.
    closed: watch::Sender<bool>,
    inband: Arc<Semaphore>,
    hub: Arc<Hub>,
    /// Whether closing this connection ends the event streams.
    ends_events: bool,
    exit: Mutex<Option<watch::Receiver<Option<ExitStatus>>>>,
    max_message: usize,
}

struct Pending {
    map: HashMap<u64, Waiter>,
    closed: Option<Closed>,
}

struct Waiter {
    tx: oneshot::Sender<Result<Reply, Error>>,
    _permit: Option<OwnedSemaphorePermit>,
}

/// A successful reply: the whole line and where its `return` value is.
struct Reply {
    line: Bytes,
    value: Range<usize>,
}

struct Outgoing {
    bytes: Vec<u8>,
    written: Option<oneshot::Sender<()>>,
    /// Descriptors to attach to `bytes`; the writer closes its copies once
    /// they are sent.
    fds: Vec<OwnedFd>,
    /// The request's id, to fail it alone if its descriptors cannot be
    /// sent.
    id: Option<u64>,
}

impl State {
    fn closed_error(&self) -> Error {
        match &lock(&self.pending).closed {
            Some(c) => c.into(),
            None => Error::Disconnected { status: None },
        }
    }

    fn is_closed(&self) -> bool {
        lock(&self.pending).closed.is_some()
    }

    /// Marks the connection closed and fails every waiter; the first
    /// reason wins.
    fn close(&self, reason: Closed) {
        let waiters: Vec<Waiter> = {
            let mut p = lock(&self.pending);
            if p.closed.is_some() {
                return;
            }
            p.closed = Some(reason.clone());
            p.map.drain().map(|(_, w)| w).collect()
        };
        self.inband.close();
        self.closed.send_replace(true);
        for w in waiters {
            let _ = w.tx.send(Err((&reason).into()));
        }
        if self.ends_events {
            self.hub.close();
        }
    }

    fn complete(&self, id: u64, reply: Result<Reply, Error>) {
        let waiter = lock(&self.pending).map.remove(&id);
        match waiter {
            Some(w) => {
                let _ = w.tx.send(reply);
            }
            None => tracing::trace!(id, "dropping a reply with an unknown id"),
        }
    }

    /// Fails the waiter a message without a usable `id` belongs to: the
    /// only one in flight, else all of them.
    fn fail_unmatched(&self, single: Error, many: impl Fn(usize) -> String) {
        let waiters: Vec<Waiter> = {
            let mut p = lock(&self.pending);
            p.map.drain().map(|(_, w)| w).collect()
        };
        match waiters.len() {
            0 => {
                tracing::warn!(error = %single, "error without an id while no command is in flight")
            }
            1 => {
                let _ = waiters.into_iter().next().map(|w| w.tx.send(Err(single)));
            }
            n => {
                let msg = many(n);
                tracing::warn!(%msg, "failing all commands in flight");
                for w in waiters {
                    let _ = w.tx.send(Err(Error::Protocol(msg.clone())));
                }
            }
        }
    }

    fn dispatch(&self, frame: Frame) {
        let line = match frame {
            Frame::Line(line) => line,
            Frame::Oversized(o) => {
                let what = format!(
                    "message of {} bytes exceeds the limit of {} bytes",
                    o.len, self.max_message
                );
                if o.looks_like_event() {
                    tracing::warn!(%what, "dropping an event");
                } else if let Some(id) = o.id() {
                    self.complete(id, Err(Error::Protocol(what)));
                } else {
                    let single = Error::Protocol(what.clone());
                    self.fail_unmatched(single, |n| {
                        format!("{what}; its id is unknown and {n} commands were in flight")
                    });
                }
                return;
            }
        };
        if line.trim_ascii().is_empty() {
            return;
        }
        match wire::classify(&line) {
            Ok(Message::Return {
                id: Some(Id::Num(id)),
                value,
            }) => {
                let start = value.get().as_ptr() as usize - line.as_ptr() as usize;
                let value = start..start + value.get().len();
                self.complete(id, Ok(Reply { line, value }));
            }
            Ok(Message::Error {
                id: Some(Id::Num(id)),
                class,
                desc,
            }) => {
                self.complete(
                    id,
                    Err(Error::Qmp {
                        class: QapiErrorClass::from(class.as_str()),
                        desc,
                    }),
                );
            }
            Ok(Message::Error {
                id: None,
                class,
                desc,
            }) => {
                let many = |n: usize| {
                    format!(
                        "QEMU reported an error without an id while {n} commands were in flight: {class}: {desc}"
                    )
                };
                self.fail_unmatched(
                    Error::Qmp {
                        class: QapiErrorClass::from(class.as_str()),
                        desc: desc.clone(),
                    },
                    many,
                );
            }
            Ok(Message::Return { .. } | Message::Error { .. }) => {
                tracing::trace!("dropping a reply with an unknown id");
            }
            Ok(Message::Event { name }) => {
                let _span = tracing::debug_span!("qmp.event", %name).entered();
                if self.hub.is_empty() {
                    return;
                }
                match serde_json::from_slice(&line) {
                    Ok(message) => self.hub.publish(event::Shared { name, message }),
                    Err(e) => tracing::warn!(error = %e, "dropping an undecodable event"),
                }
            }
            Ok(Message::Greeting(_)) => tracing::warn!("dropping an unexpected greeting"),
            Err(wire::Invalid(why)) => tracing::warn!(%why, "dropping an invalid message"),
        }
    }
}

async fn read_loop<R: AsyncRead + Unpin>(
    state: Arc<State>,
    mut rd: R,
    mut buf: BytesMut,
    mut framer: Framer,
) {
    loop {
        while let Some(frame) = framer.next_frame(&mut buf) {
            state.dispatch(frame);
        }
        buf.reserve(READ_CHUNK);
        match rd.read_buf(&mut buf).await {
            Ok(0) => {
                if !buf.trim_ascii().is_empty() {
                    tracing::warn!(
                        bytes = buf.len(),
                        "connection closed in the middle of a message"
                    );
                }
                break;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "read failed");
                break;
            }
        }
    }
    let exit = lock(&state.exit).clone();
    let status = match exit {
        Some(mut rx) => tokio::time::timeout(EXIT_STATUS_GRACE, rx.wait_for(Option::is_some))
            .await
            .ok()
            .and_then(|r| r.ok().and_then(|s| *s)),
        None => None,
    };
    tracing::debug!(?status, "connection closed");
    state.close(Closed { status });
}

async fn write_loop<W: Sink>(
    state: Arc<State>,
    mut wr: W,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) {
    let mut batch = Vec::new();
    let mut acks = Vec::new();
    let mut closed = state.closed.subscribe();
    loop {
        // A closed connection stops the writer even while clients hold
        // its sender (a reconnecting client keeps the last connection).
        let first = tokio::select! {
            biased;
            _ = closed.wait_for(|c| *c) => return,
            first = rx.recv() => match first {
                Some(first) => first,
                None => break,
            },
        };
        let mut next = Some(first);
        let mut result = Ok(());
        while let Some(msg) = next.take() {
            if msg.fds.is_empty() {
                batch.extend_from_slice(&msg.bytes);
                acks.extend(msg.written);
            } else {
                // Descriptors travel with the first byte of their message:
                // what is batched before it goes first.
                result = flush(&mut wr, &mut batch, &mut acks).await;
                if result.is_ok() {
                    result = write_with_fds(&mut wr, &state, msg).await;
                }
                if result.is_err() {
                    break;
                }
            }
            if batch.len() < READ_CHUNK {
                next = rx.try_recv().ok();
            }
        }
        if result.is_ok() {
            result = flush(&mut wr, &mut batch, &mut acks).await;
        }
        if let Err(e) = result {
            tracing::warn!(error = %e, "write failed");
            acks.clear();
            state.close(Closed { status: None });
            return;
        }
    }
    let _ = wr.shutdown().await;
}

/// Writes the batch and acknowledges the messages in it.
async fn flush<W: Sink>(
    wr: &mut W,
    batch: &mut Vec<u8>,
    acks: &mut Vec<oneshot::Sender<()>>,
) -> std::io::Result<()> {
    if !batch.is_empty() {
        wr.write_all(batch).await?;
        batch.clear();
    }
    for ack in acks.drain(..) {
        let _ = ack.send(());
    }
    Ok(())
}

/// Writes one message with its descriptors attached. If they cannot be
/// sent, nothing was written and only that command fails; an error after
/// that is the connection's.
async fn write_with_fds<W: Sink>(wr: &mut W, state: &State, msg: Outgoing) -> std::io::Result<()> {
    let sent = match wr.unix() {
        Some(socket) => fds::send(socket, &msg.bytes, &msg.fds).await,
        None => Err(std::io::Error::from(std::io::ErrorKind::Unsupported)),
    };
    // Ours are copies: QEMU has its own once they are sent.
    drop(msg.fds);
    match sent {
        Ok(n) => {
            wr.write_all(&msg.bytes[n..]).await?;
            if let Some(ack) = msg.written {
                let _ = ack.send(());
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot send file descriptors");
            if let Some(id) = msg.id {
                let error = if e.kind() == std::io::ErrorKind::Unsupported {
                    Error::FdPassingUnsupported
                } else {
                    Error::Io(e)
                };
                state.complete(id, Err(error));
            }
        }
    }
    Ok(())
}

/// How a client makes a new connection after losing one.
struct Redial {
    target: Target,
    policy: Reconnect,
    settings: Builder,
    hub: Arc<Hub>,
}

impl Redial {
    /// Tries to reconnect, as the policy says, until it succeeds or gives
    /// up (`None`).
    async fn run(&self) -> Option<(Arc<Conn>, JoinHandle<()>)> {
        let deadline = self
            .policy
            .give_up_after
            .map(|d| tokio::time::Instant::now() + d);
        let mut delay = self.policy.initial_delay;
        for attempt in 1u64.. {
            let wake = tokio::time::Instant::now() + delay;
            if let Some(d) = deadline.filter(|d| wake >= *d) {
                tokio::time::sleep_until(d).await;
                return None;
            }
            tokio::time::sleep_until(wake).await;
            let result = match deadline {
                Some(d) => tokio::time::timeout_at(d, self.dial())
                    .await
                    .unwrap_or_else(|_| Err(Error::Timeout { after: delay })),
                None => self.dial().await,
            };
            match result {
                Ok(new) => return Some(new),
                Err(e) => tracing::debug!(attempt, error = %e, "reconnect attempt failed"),
            }
            delay = self.policy.next_delay(delay);
        }
        None
    }

    async fn dial(&self) -> Result<(Arc<Conn>, JoinHandle<()>), Error> {
        let settings = &self.settings;
        let hub = self.hub.clone();
        match &self.target {
            Target::None => Err(Error::Disconnected { status: None }),
            Target::Unix(path) => {
                let (rd, wr) = tokio::net::UnixStream::connect(path).await?.into_split();
                open(settings, rd, wr, hub, false).await
            }
            Target::Tcp(addrs) => {
                let stream = tcp_connect(addrs).await?;
                stream.set_nodelay(true)?;
                let (rd, wr) = stream.into_split();
                open(settings, rd, wr, hub, false).await
            }
        }
    }
}

/// Watches the current connection and replaces it when it closes, until
/// the policy gives up. Aborted when the client is dropped.
async fn supervise(redial: Redial, link: watch::Sender<Link>, mut reader: JoinHandle<()>) {
    loop {
        let conn = link.borrow().conn.clone();
        let mut closed = conn.state.closed.subscribe();
        let reader_done = tokio::select! {
            _ = &mut reader => true,
            _ = closed.wait_for(|c| *c) => false,
        };
        // The old reader must be finished before the marker goes out, so
        // that no event of the old connection follows it.
        if !reader_done {
            reader.abort();
            let _ = reader.await;
        }
        conn.shutdown();
        drop(conn);
        link.send_modify(|l| l.phase = Phase::Reconnecting);
        redial.hub.mark_reconnecting();
        tracing::warn!("QMP connection lost; reconnecting");
        match redial.run().await {
            Some((conn, new_reader)) => {
                tracing::info!(version = %conn.greeting.version, "QMP connection made again");
                reader = new_reader;
                link.send_replace(Link {
                    conn,
                    phase: Phase::Up,
                });
            }
            None => {
                tracing::warn!(
                    after = ?redial.policy.give_up_after,
                    "gave up reconnecting; the client is disconnected"
                );
                link.send_modify(|l| l.phase = Phase::GaveUp);
                redial.hub.close();
                return;
            }
        }
    }
}

/// Removes a waiter whose future was dropped, so its late reply is
/// discarded and its in-flight slot is freed.
struct PendingGuard<'a> {
    state: &'a State,
    id: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.state.pending).map.remove(&self.id);
    }
}

pub(crate) fn encode<A: Serialize + ?Sized>(
    name: &str,
    args: &A,
    id: u64,
    oob: bool,
) -> Result<Vec<u8>, Error> {
    let encode_err = |e: serde_json::Error| Error::Encode {
        command: name.to_owned(),
        message: e.to_string(),
    };
    let mut out = Vec::with_capacity(64 + name.len());
    out.extend_from_slice(if oob {
        b"{\"exec-oob\":"
    } else {
        b"{\"execute\":"
    });
    serde_json::to_writer(&mut out, name).map_err(encode_err)?;
    let _ = write!(out, ",\"id\":{id}");
    let mark = out.len();
    out.extend_from_slice(b",\"arguments\":");
    let start = out.len();
    serde_json::to_writer(&mut out, args).map_err(encode_err)?;
    if matches!(&out[start..], b"{}" | b"null") {
        out.truncate(mark);
    }
    out.extend_from_slice(b"}\n");
    Ok(out)
}

fn decode<T: DeserializeOwned>(command: &str, line: &[u8], value: &[u8]) -> Result<T, Error> {
    let mut de = serde_json::Deserializer::from_slice(value);
    qmp_types::decode(&mut de).map_err(|e| Error::Decode {
        command: command.to_owned(),
        path: e.path().to_owned(),
        message: e.message().to_owned(),
        raw: String::from_utf8_lossy(line).into_owned(),
    })
}

/// Another handle on the same connection (a clone): so that APIs taking
/// `impl Into<Client>` accept a borrowed client.
impl From<&Client> for Client {
    fn from(client: &Client) -> Client {
        client.clone()
    }
}

impl Client {
    /// Settings to connect with.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Connects to a QMP monitor on a Unix socket with default settings.
    ///
    /// # Errors
    ///
    /// See [`Builder::connect_unix`].
    pub async fn connect_unix(path: impl AsRef<Path>) -> Result<Client, Error> {
        Builder::default().connect_unix(path).await
    }

    /// The greeting QEMU sent when the connection opened: after a
    /// [reconnect](Builder::reconnect), the new connection's.
    pub fn greeting(&self) -> Arc<Greeting> {
        self.current().greeting.clone()
    }

    /// QEMU's version (from the greeting, which carries `query-version`'s
    /// reply): after a [reconnect](Builder::reconnect), the new QEMU's.
    pub fn version(&self) -> Version {
        self.current().greeting.version.clone()
    }

    /// Whether out-of-band execution was negotiated (on the last
    /// connection, while reconnecting).
    pub fn oob_enabled(&self) -> bool {
        self.current().oob
    }

    /// Whether the connection is open: `false` once it closed, including
    /// while the client [reconnects](Builder::reconnect).
    pub fn is_connected(&self) -> bool {
        let link = self.inner.link.borrow();
        link.phase == Phase::Up && !link.conn.state.is_closed()
    }

    /// Whether this QEMU has `command`, as far as the client knows: `true`
    /// if it never asked (see [`Builder::check_commands`]). While
    /// reconnecting, what the last connection said.
    pub fn supports(&self, command: &str) -> bool {
        self.current().supports(command)
    }

    /// The current connection, or the last one while reconnecting.
    fn current(&self) -> Arc<Conn> {
        self.inner.link.borrow().conn.clone()
    }

    /// The connection to send a command on: the current one, or the next
    /// one if the client is reconnecting.
    async fn connection(&self) -> Result<Arc<Conn>, Error> {
        let mut link = self.inner.link.clone();
        loop {
            let current = link.borrow_and_update().clone();
            match current.phase {
                Phase::Up if self.inner.supervisor.is_none() || !current.conn.state.is_closed() => {
                    return Ok(current.conn);
                }
                Phase::GaveUp => return Err(Error::Disconnected { status: None }),
                Phase::Up | Phase::Reconnecting => {}
            }
            if link.changed().await.is_err() {
                // The supervisor is gone: the client is being dropped.
                return Err(current.conn.state.closed_error());
            }
        }
    }

    /// A handle on the same connection whose commands time out after
    /// `timeout` (`None`: never) instead of the default. See
    /// [`Builder::timeout`] for what counts and for `Duration::ZERO`.
    pub fn with_timeout(&self, timeout: Option<Duration>) -> Client {
        Client {
            inner: self.inner.clone(),
            timeout,
        }
    }

    /// Runs a typed command and decodes its reply.
    ///
    /// This is [`Execute::execute`](qmp_types::Execute::execute), the
    /// method every generated command method calls, also callable without
    /// the trait in scope. It takes the command by value or by reference
    /// (`&C` is a command too): `qmp.execute(SendKey::new(keys))` or
    /// `qmp.execute(&cmd)`.
    ///
    /// Uses `exec-oob` when the command allows it and out-of-band
    /// execution was negotiated. At most eight in-band commands are in
    /// flight at once; further ones wait for a slot. A command whose
    /// [`Command::SUCCESS_RESPONSE`] is `false` resolves once sent.
    ///
    /// # Errors
    ///
    /// [`Error::Qmp`] if QEMU reports an error, [`Error::Decode`] if the
    /// reply does not fit `C::Output` (the connection stays usable),
    /// [`Error::Unsupported`] if this QEMU lacks the command,
    /// [`Error::Timeout`], [`Error::Disconnected`], and
    /// [`Error::Protocol`] for a reply too large or ambiguous to use.
    ///
    /// # Cancel safety
    ///
    /// Once the request is queued, dropping the future discards the reply
    /// and frees its slot; QEMU still runs the command, and the connection
    /// stays usable.
    pub async fn execute<C: Command<Protocol = Qmp>>(
        &self,
        command: C,
    ) -> Result<C::Output, Error> {
        let oob = if C::ALLOW_OOB { Oob::Allowed } else { Oob::No };
        if !C::SUCCESS_RESPONSE {
            self.with_limit(self.send_only(C::NAME, &command, oob, Vec::new()))
                .await?;
            return decode(C::NAME, b"null", b"null");
        }
        self.with_limit(self.call(C::NAME, &command, oob)).await
    }

    /// Runs any command by name with JSON arguments (`{}` or `null` for
    /// none) and returns the raw `return` value.
    ///
    /// Runs out of band when [`Client::load_schema`] has shown that the
    /// command allows it and out-of-band execution was negotiated.
    ///
    /// # Errors
    ///
    /// As for [`Client::execute`], without [`Error::Decode`].
    ///
    /// # Cancel safety
    ///
    /// As for [`Client::execute`].
    pub async fn execute_raw(
        &self,
        command: &str,
        arguments: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        self.with_limit(self.call(command, &arguments, Oob::FromSchema))
            .await
    }

    #[cfg(feature = "fd-passing")]
    /// Runs a typed command with file descriptors attached to it, as
    /// `SCM_RIGHTS` ancillary data on the Unix socket: how QEMU's `getfd`
    /// and `add-fd` receive the descriptor they name or add.
    ///
    /// The descriptors are duplicated; the caller keeps its own and closes
    /// them when it likes. QEMU takes the first one (`getfd` and `add-fd`
    /// take exactly one) and closes the others. Commands that pass
    /// descriptors run one at a time on a connection, since QEMU keeps only
    /// the last descriptors it received until a command takes them. A
    /// command that takes none leaves them with QEMU until the next
    /// descriptors arrive: pass them only with the command meant to take
    /// them. With no descriptors this is [`Client::execute`].
    ///
    /// Only a connection made with [`Builder::connect_unix`] (or
    /// [`Client::connect_unix`], or by the [`Launcher`](crate::Launcher))
    /// can pass descriptors; TCP and other streams cannot carry them.
    ///
    /// # Errors
    ///
    /// [`Error::FdPassingUnsupported`] on a connection that is not a Unix
    /// socket (nothing is sent), [`Error::Io`] if the descriptors cannot
    /// be duplicated or sent (the connection stays usable), and those of
    /// [`Client::execute`].
    ///
    /// # Cancel safety
    ///
    /// As for [`Client::execute`]; a command dropped before it is written
    /// closes its copies of the descriptors unsent.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f(qmp: qmp_client::Client) -> Result<(), qmp_client::Error> {
    /// use std::os::fd::AsFd as _;
    /// use qmp_types::qmp::commands::AddFd;
    ///
    /// let file = std::fs::File::options().read(true).write(true).open("disk.img")?;
    /// let info = qmp.execute_with_fds(AddFd::new(), &[file.as_fd()]).await?;
    /// println!("/dev/fdset/{} holds fd {}", info.fdset_id, info.fd);
    /// # Ok(()) }
    /// ```
    #[doc(alias = "SCM_RIGHTS")]
    #[doc(alias = "send_fd_scm")]
    pub async fn execute_with_fds<C: Command<Protocol = Qmp>>(
        &self,
        command: C,
        fds: &[BorrowedFd<'_>],
    ) -> Result<C::Output, Error> {
        if fds.is_empty() {
            return self.execute(command).await;
        }
        let oob = if C::ALLOW_OOB { Oob::Allowed } else { Oob::No };
        self.with_limit(async {
            let (_turn, fds) = self.fd_turn(fds).await?;
            if !C::SUCCESS_RESPONSE {
                self.send_only(C::NAME, &command, oob, fds).await?;
                return decode(C::NAME, b"null", b"null");
            }
            Ok(self.call_with_fds(C::NAME, &command, oob, fds).await?.1)
        })
        .await
    }

    #[cfg(feature = "fd-passing")]
    /// Runs any command by name with JSON arguments and file descriptors
    /// attached, and returns the raw `return` value: the untyped form of
    /// [`Client::execute_with_fds`], for a program that relays commands.
    ///
    /// # Errors
    ///
    /// As for [`Client::execute_with_fds`], without [`Error::Decode`].
    ///
    /// # Cancel safety
    ///
    /// As for [`Client::execute_with_fds`].
    pub async fn execute_raw_with_fds(
        &self,
        command: &str,
        arguments: serde_json::Value,
        fds: &[BorrowedFd<'_>],
    ) -> Result<serde_json::Value, Error> {
        if fds.is_empty() {
            return self.execute_raw(command, arguments).await;
        }
        self.with_limit(async {
            let (_turn, fds) = self.fd_turn(fds).await?;
            Ok(self
                .call_with_fds(command, &arguments, Oob::No, fds)
                .await?
                .1)
        })
        .await
    }

    #[cfg(feature = "fd-passing")]
    /// Whether this connection can pass file descriptors
    /// ([`Client::execute_with_fds`]): whether it is a Unix socket.
    pub fn can_pass_fds(&self) -> bool {
        self.inner.unix
    }

    #[cfg(feature = "fd-passing")]
    /// Checks that descriptors can travel here, waits for the previous
    /// command with descriptors to be answered, and duplicates `fds`.
    async fn fd_turn(
        &self,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(tokio::sync::MutexGuard<'_, ()>, Vec<OwnedFd>), Error> {
        if !self.inner.unix {
            return Err(Error::FdPassingUnsupported);
        }
        let turn = self.inner.fd_lock.lock().await;
        Ok((turn, fds::duplicate(fds)?))
    }

    /// Subscribes to every event. Events that arrive before this call are
    /// not seen.
    pub fn subscribe(&self) -> Events<RawEvent> {
        Events::new(
            self.inner.hub.subscribe(None, self.inner.event_buffer),
            self.timeout,
        )
    }

    /// Subscribes to the events named in `names`: the generated names
    /// (`[EventName::Stop]`, from `qmp_types::qmp`), which a typo does not
    /// get past the compiler, or strings (`["STOP"]`). Other events are
    /// neither buffered nor counted as lost.
    pub fn subscribe_to<N: AsRef<str>>(
        &self,
        names: impl IntoIterator<Item = N>,
    ) -> Events<RawEvent> {
        let names = names.into_iter().map(|n| n.as_ref().to_owned()).collect();
        Events::new(
            self.inner
                .hub
                .subscribe(Some(names), self.inner.event_buffer),
            self.timeout,
        )
    }

    /// Runs `command`, then waits for the first event named in `events`
    /// that decodes as `E` and satisfies `matches`: e.g. `device_del`, then
    /// the `DEVICE_DELETED` of that device. The subscription starts before
    /// the command is sent, so the event cannot be missed.
    ///
    /// # Errors
    ///
    /// Those of [`Client::execute`], and [`Error::Decode`] if a named event
    /// does not decode as `E`. The timeout covers both steps.
    ///
    /// # Cancel safety
    ///
    /// As for [`Client::execute`].
    pub async fn execute_and_wait<C, E, N>(
        &self,
        command: C,
        events: impl IntoIterator<Item = N>,
        matches: impl FnMut(&E) -> bool,
    ) -> Result<(C::Output, E), Error>
    where
        C: Command<Protocol = Qmp>,
        N: AsRef<str>,
        E: DeserializeOwned,
    {
        let untimed = self.with_timeout(None);
        let mut stream = untimed.subscribe_to(events).typed::<E>();
        self.with_limit(async {
            let output = untimed.execute(command).await?;
            let event = stream.wait_for(matches).await?;
            Ok((output, event))
        })
        .await
    }

    /// Loads `query-qmp-schema` (about 200 KB), learns from it which
    /// commands exist and which allow out-of-band execution, and returns
    /// it.
    ///
    /// # Errors
    ///
    /// As for [`Client::execute`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe; nothing is stored unless the schema arrives.
    ///
    /// After a [reconnect](Builder::reconnect) the schema is forgotten (the
    /// new QEMU may differ); load it again.
    pub async fn load_schema(&self) -> Result<Arc<Schema>, Error> {
        let (conn, entries): (_, Vec<serde_json::Value>) = self
            .with_limit(self.call_with_fds("query-qmp-schema", &(), Oob::No, Vec::new()))
            .await?;
        let mut commands = HashSet::new();
        let mut oob = HashSet::new();
        for e in &entries {
            if e.get("meta-type").and_then(|m| m.as_str()) == Some("command") {
                let Some(name) = e.get("name").and_then(|n| n.as_str()) else {
                    continue;
                };
                if e.get("allow-oob").and_then(|a| a.as_bool()) == Some(true) {
                    oob.insert(name.to_owned());
                }
                commands.insert(name.to_owned());
            }
        }
        let schema = Arc::new(Schema {
            entries,
            commands: commands.clone(),
            oob,
        });
        *conn.commands.write().unwrap_or_else(|e| e.into_inner()) = Some(commands);
        *conn.schema.write().unwrap_or_else(|e| e.into_inner()) = Some(schema.clone());
        Ok(schema)
    }

    /// Lets the reader report QEMU's exit status in [`Error::Disconnected`].
    pub(crate) fn watch_exit(&self, rx: watch::Receiver<Option<ExitStatus>>) {
        *lock(&self.current().state.exit) = Some(rx);
    }

    async fn with_limit<T>(&self, f: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        match self.timeout {
            Some(after) => tokio::time::timeout(after, f)
                .await
                .map_err(|_| Error::Timeout { after })?,
            None => f.await,
        }
    }

    async fn call<A: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        name: &str,
        args: &A,
        oob: Oob,
    ) -> Result<T, Error> {
        Ok(self.call_with_fds(name, args, oob, Vec::new()).await?.1)
    }

    /// Runs a command on the current connection, or, if it is lost before
    /// the command is sent, on the next one; returns the connection that
    /// answered, with the answer.
    async fn call_with_fds<A: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        name: &str,
        args: &A,
        oob: Oob,
        mut fds: Vec<OwnedFd>,
    ) -> Result<(Arc<Conn>, T), Error> {
        let span = tracing::debug_span!(
            "qmp.command",
            command = name,
            id = tracing::field::Empty,
            oob = tracing::field::Empty,
        );
        async {
            loop {
                let conn = self.connection().await?;
                if !conn.supports(name) {
                    return Err(Error::Unsupported {
                        command: name.to_owned(),
                    });
                }
                let oob = oob.on(&conn, name);
                tracing::Span::current().record("oob", oob);
                match conn.request(name, args, oob, fds).await {
                    Ok(reply) => {
                        let reply = reply?;
                        let value = decode(name, &reply.line, &reply.line[reply.value])?;
                        return Ok((conn, value));
                    }
                    Err(Unsent(back)) if self.inner.supervisor.is_some() => fds = back,
                    Err(Unsent(_)) => return Err(conn.state.closed_error()),
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Sends a command that gets no reply, on the current connection or,
    /// if it is lost before the command is sent, on the next one.
    async fn send_only<A: Serialize + ?Sized>(
        &self,
        name: &str,
        args: &A,
        oob: Oob,
        mut fds: Vec<OwnedFd>,
    ) -> Result<(), Error> {
        loop {
            let conn = self.connection().await?;
            match conn.send_only(name, args, oob.on(&conn, name), fds).await {
                Ok(sent) => return sent,
                Err(Unsent(back)) if self.inner.supervisor.is_some() => fds = back,
                Err(Unsent(_)) => return Err(conn.state.closed_error()),
            }
        }
    }
}

/// Whether a command goes out of band.
#[derive(Clone, Copy, Debug)]
enum Oob {
    /// Never.
    No,
    /// If out-of-band execution was negotiated: the command allows it.
    Allowed,
    /// If out-of-band execution was negotiated and the schema loaded on
    /// the connection says the command allows it.
    FromSchema,
}

impl Oob {
    fn on(self, conn: &Conn, name: &str) -> bool {
        conn.oob
            && match self {
                Oob::No => false,
                Oob::Allowed => true,
                Oob::FromSchema => conn
                    .schema
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .is_some_and(|s| s.allows_oob(name)),
            }
    }
}

/// A command that never left: the connection closed first. The
/// descriptors it was to carry come back.
struct Unsent(Vec<OwnedFd>);

impl Conn {
    /// Runs a command during negotiation.
    async fn call<A: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        name: &str,
        args: &A,
    ) -> Result<T, Error> {
        match self.request(name, args, false, Vec::new()).await {
            Ok(reply) => {
                let reply = reply?;
                decode(name, &reply.line, &reply.line[reply.value])
            }
            Err(Unsent(_)) => Err(self.state.closed_error()),
        }
    }

    async fn request<A: Serialize + ?Sized>(
        &self,
        name: &str,
        args: &A,
        oob: bool,
        fds: Vec<OwnedFd>,
    ) -> Result<Result<Reply, Error>, Unsent> {
        let state = &*self.state;
        let permit = if oob {
            None
        } else {
            match state.inband.clone().acquire_owned().await {
                Ok(permit) => Some(permit),
                Err(_) => return Err(Unsent(fds)),
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        tracing::Span::current().record("id", id);
        let bytes = match encode(name, args, id, oob) {
            Ok(bytes) => bytes,
            Err(e) => return Ok(Err(e)),
        };
        let (tx, rx) = oneshot::channel();
        {
            let mut p = lock(&state.pending);
            if p.closed.is_some() {
                return Err(Unsent(fds));
            }
            p.map.insert(
                id,
                Waiter {
                    tx,
                    _permit: permit,
                },
            );
        }
        let guard = PendingGuard { state, id };
        let sent = self.tx.send(Outgoing {
            bytes,
            written: None,
            fds,
            id: Some(id),
        });
        if let Err(mpsc::error::SendError(msg)) = sent {
            // The writer is gone, so nothing was written; the guard
            // removes the waiter.
            return Err(Unsent(msg.fds));
        }
        let reply = rx.await;
        std::mem::forget(guard);
        Ok(match reply {
            Ok(r) => r,
            Err(_) => Err(state.closed_error()),
        })
    }

    async fn send_only<A: Serialize + ?Sized>(
        &self,
        name: &str,
        args: &A,
        oob: bool,
        fds: Vec<OwnedFd>,
    ) -> Result<Result<(), Error>, Unsent> {
        if self.state.is_closed() {
            return Err(Unsent(fds));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let bytes = match encode(name, args, id, oob) {
            Ok(bytes) => bytes,
            Err(e) => return Ok(Err(e)),
        };
        let (tx, rx) = oneshot::channel();
        let sent = self.tx.send(Outgoing {
            bytes,
            written: Some(tx),
            fds,
            id: None,
        });
        if let Err(mpsc::error::SendError(msg)) = sent {
            return Err(Unsent(msg.fds));
        }
        Ok(rx.await.map_err(|_| self.state.closed_error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, args: serde_json::Value, oob: bool, expect: &str) {
        let bytes = encode(name, &args, 7, oob).unwrap();
        assert_eq!(String::from_utf8(bytes).unwrap(), expect);
    }

    #[test]
    fn requests() {
        check(
            "stop",
            json!({}),
            false,
            "{\"execute\":\"stop\",\"id\":7}\n",
        );
        check(
            "stop",
            json!(null),
            false,
            "{\"execute\":\"stop\",\"id\":7}\n",
        );
        check(
            "qom-list",
            json!({"path": "/"}),
            false,
            "{\"execute\":\"qom-list\",\"id\":7,\"arguments\":{\"path\":\"/\"}}\n",
        );
        check(
            "migrate-pause",
            json!({}),
            true,
            "{\"exec-oob\":\"migrate-pause\",\"id\":7}\n",
        );
        check(
            "we\"ird",
            json!({}),
            false,
            "{\"execute\":\"we\\\"ird\",\"id\":7}\n",
        );
    }

    use serde_json::json;
}
