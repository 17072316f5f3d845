//! The QEMU guest agent client: one command at a time, resynchronised with
//! `guest-sync-delimited`.

use std::path::Path;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use qmp_types::Command;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tracing::Instrument as _;

use crate::Error;
use crate::wire::{self, Frame, Framer, Id, Message};

/// The byte the agent writes before the reply to `guest-sync-delimited`,
/// and that the client sends to reset the agent's parser. It never occurs
/// in JSON text.
const DELIMITER: u8 = 0xff;

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

struct Conn {
    io: Box<dyn Io>,
    buf: BytesMut,
    framer: Framer,
    /// Set while a request is unanswered: the stream may hold a stale
    /// reply, so the next request resynchronises first.
    dirty: bool,
    next_id: u64,
}

/// A client for the QEMU guest agent (`qemu-ga`).
///
/// The agent has no greeting and no capabilities, and serves one command
/// at a time; concurrent callers queue. The agent echoes `id`, and replies
/// are checked against it. The connection is resynchronised with
/// `guest-sync-delimited` on connect and after any request that did not
/// complete (timeout or cancellation), so a stale reply is never taken for
/// a fresh one.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> Result<(), qmp_client::Error> {
/// let ga = qmp_client::GuestAgent::connect_unix("/run/qemu/vm1.qga").await?;
/// ga.execute_raw("guest-ping", serde_json::json!({})).await?;
/// # Ok(()) }
/// ```
pub struct GuestAgent {
    conn: tokio::sync::Mutex<Conn>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for GuestAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestAgent")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl GuestAgent {
    /// Connects to an agent listening on a Unix socket (such as
    /// `qemu-ga -m unix-listen`, or the host end of a virtio-serial
    /// channel) and synchronises.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the socket cannot be reached; those of
    /// [`GuestAgent::sync`].
    pub async fn connect_unix(path: impl AsRef<Path>) -> Result<GuestAgent, Error> {
        let stream = tokio::net::UnixStream::connect(path).await?;
        GuestAgent::connect_stream(stream, Some(Duration::from_secs(10))).await
    }

    /// Speaks the agent protocol over any byte stream, with a per-command
    /// `timeout`, and synchronises.
    ///
    /// # Errors
    ///
    /// Those of [`GuestAgent::sync`].
    pub async fn connect_stream<S>(
        stream: S,
        timeout: Option<Duration>,
    ) -> Result<GuestAgent, Error>
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let conn = Conn {
            io: Box::new(stream),
            buf: BytesMut::with_capacity(8192),
            framer: Framer::new(10 << 20),
            dirty: true,
            next_id: 1,
        };
        let ga = GuestAgent {
            conn: tokio::sync::Mutex::new(conn),
            timeout,
        };
        ga.sync().await?;
        Ok(ga)
    }

    /// Resets the agent's parser and discards stale output: sends 0xFF and
    /// `guest-sync-delimited` with a random id, skips input up to the 0xFF
    /// the agent sends back, then reads the matching reply.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`], [`Error::Io`], [`Error::Disconnected`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: an interrupted synchronisation is redone by the next
    /// request.
    pub async fn sync(&self) -> Result<(), Error> {
        let mut conn = self.conn.lock().await;
        conn.dirty = true;
        self.limit(conn.sync()).await
    }

    /// Runs a typed guest agent command and decodes its reply. A command
    /// whose [`Command::SUCCESS_RESPONSE`] is `false` (such as
    /// `guest-shutdown`) resolves once sent.
    ///
    /// # Errors
    ///
    /// [`Error::Qmp`] if the agent reports an error, [`Error::Decode`] if
    /// the reply does not fit, [`Error::Timeout`], [`Error::Io`],
    /// [`Error::Disconnected`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future may leave the agent running the command; the
    /// next request resynchronises first.
    pub async fn execute<C: Command<Protocol = qmp_types::GuestAgent>>(
        &self,
        command: C,
    ) -> Result<C::Output, Error> {
        let mut conn = self.conn.lock().await;
        let span = tracing::debug_span!("qga.command", command = C::NAME);
        let request = conn
            .request(C::NAME, &command, C::SUCCESS_RESPONSE)
            .instrument(span);
        let (line, range) = self.limit(request).await?;
        let value = if C::SUCCESS_RESPONSE {
            &line[range]
        } else {
            &b"null"[..]
        };
        qmp_types::decode(&mut serde_json::Deserializer::from_slice(value)).map_err(|e| {
            Error::Decode {
                command: C::NAME.to_owned(),
                path: e.path().to_owned(),
                message: e.message().to_owned(),
                raw: String::from_utf8_lossy(&line).into_owned(),
            }
        })
    }

    /// Runs any agent command by name and returns the raw `return` value.
    ///
    /// # Errors
    ///
    /// As for [`GuestAgent::execute`], without [`Error::Decode`].
    ///
    /// # Cancel safety
    ///
    /// As for [`GuestAgent::execute`].
    pub async fn execute_raw(
        &self,
        command: &str,
        arguments: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let mut conn = self.conn.lock().await;
        let (line, range) = self.limit(conn.request(command, &arguments, true)).await?;
        serde_json::from_slice(&line[range])
            .map_err(|e| Error::Protocol(format!("invalid reply: {e}")))
    }

    async fn limit<T>(&self, f: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        match self.timeout {
            Some(after) => tokio::time::timeout(after, f)
                .await
                .map_err(|_| Error::Timeout { after })?,
            None => f.await,
        }
    }
}

impl Conn {
    async fn fill(&mut self) -> Result<(), Error> {
        self.buf.reserve(8192);
        if self.io.read_buf(&mut self.buf).await? == 0 {
            return Err(Error::Disconnected { status: None });
        }
        Ok(())
    }

    async fn sync(&mut self) -> Result<(), Error> {
        let id = random_id();
        let mut msg = vec![DELIMITER];
        msg.extend_from_slice(
            format!("{{\"execute\":\"guest-sync-delimited\",\"arguments\":{{\"id\":{id}}}}}\n")
                .as_bytes(),
        );
        self.io.write_all(&msg).await?;
        self.io.flush().await?;
        // Everything before the agent's delimiter is stale, including the
        // error the agent reports for the 0xFF we sent.
        loop {
            if let Some(p) = memchr::memchr(DELIMITER, &self.buf) {
                self.buf.advance(p + 1);
                self.framer.reset();
                break;
            }
            self.buf.clear();
            self.fill().await?;
        }
        loop {
            let reply = self.next_reply().await?;
            if let Ok((line, range)) = &reply.result
                && line[range.clone()].trim_ascii() == id.to_string().as_bytes()
            {
                self.dirty = false;
                return Ok(());
            }
            tracing::debug!("skipping a stale reply while synchronising");
        }
    }

    /// Reads the next reply or error.
    async fn next_reply(&mut self) -> Result<Reply, Error> {
        loop {
            while let Some(frame) = self.framer.next_frame(&mut self.buf) {
                let line = match frame {
                    Frame::Line(l) if l.trim_ascii().is_empty() => continue,
                    Frame::Line(l) => l,
                    Frame::Oversized(o) => {
                        return Err(Error::Protocol(format!(
                            "reply of {} bytes exceeds the limit",
                            o.len
                        )));
                    }
                };
                let num = |id| match id {
                    Some(Id::Num(n)) => Some(n),
                    _ => None,
                };
                match wire::classify(&line) {
                    Ok(Message::Return { value, id }) => {
                        let start = value.get().as_ptr() as usize - line.as_ptr() as usize;
                        let value = start..start + value.get().len();
                        return Ok(Reply {
                            id: num(id),
                            result: Ok((line, value)),
                        });
                    }
                    Ok(Message::Error { class, desc, id }) => {
                        return Ok(Reply {
                            id: num(id),
                            result: Err(Error::Qmp {
                                class: qmp_types::qmp::QapiErrorClass::from(class.as_str()),
                                desc,
                            }),
                        });
                    }
                    _ => tracing::debug!("skipping a message that is not a reply"),
                }
            }
            self.fill().await?;
        }
    }

    async fn request<A: Serialize + ?Sized>(
        &mut self,
        name: &str,
        args: &A,
        response: bool,
    ) -> Result<Line, Error> {
        if self.dirty {
            self.sync().await?;
        }
        let id = self.next_id;
        self.next_id += 1;
        let bytes = crate::client::encode(name, args, id, false)?;
        self.dirty = true;
        self.io.write_all(&bytes).await?;
        self.io.flush().await?;
        if !response {
            self.dirty = false;
            return Ok((bytes::Bytes::from_static(b"null"), 0..4));
        }
        loop {
            let reply = self.next_reply().await?;
            // An error without an id (a parse error) can only be ours:
            // earlier replies were flushed by the last synchronisation.
            if reply.id.is_none_or(|r| r == id) {
                self.dirty = false;
                return reply.result;
            }
            tracing::debug!("skipping a reply to an earlier request");
        }
    }
}

/// A reply line and where its `return` value is.
type Line = (bytes::Bytes, std::ops::Range<usize>);

struct Reply {
    id: Option<u64>,
    result: Result<Line, Error>,
}

/// An id for `guest-sync-delimited` that a stale reply is unlikely to carry.
fn random_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() >> 12
}
