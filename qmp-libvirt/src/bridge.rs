//! The bridges: QMP and the guest agent protocol served over an in-memory
//! stream, each request carried out through libvirt's QEMU passthrough.
//!
//! The far end of each stream is handed to `qmp_client`, so what the caller
//! gets is an ordinary [`qmp_client::Client`] or [`qmp_client::GuestAgent`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::{mpsc, watch};
use virt::domain::Domain;

use crate::Feed;
use crate::ffi::Note;
use crate::{Error, Host};

/// Bytes buffered in each direction of the in-memory stream.
const STREAM_BUFFER: usize = 64 * 1024;
/// Events queued between libvirt's event thread and the bridge; the client
/// has its own bounded queue behind it.
const EVENT_QUEUE: usize = 1024;
/// Longest request line accepted from the client.
const MAX_REQUEST: u64 = 16 << 20;
/// The agent's delimiter byte (see `guest-sync-delimited`).
const DELIMITER: u8 = 0xff;

/// One running domain, reached through one libvirt connection.
/// It holds the connection, so the connection lives as long as the bridge.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) host: Arc<Host>,
    pub(crate) dom: Domain,
    /// For messages: the domain's name.
    pub(crate) name: String,
}

impl Target {
    /// Whether the domain can no longer be reached: connection lost,
    /// domain gone or stopped. Blocks (asks libvirt).
    fn gone(&self) -> bool {
        *self.host.closed.borrow() || !self.dom.is_active().unwrap_or(false)
    }

    fn closed(&self) -> watch::Receiver<bool> {
        self.host.closed.clone()
    }
}

/// Runs a blocking libvirt call on tokio's blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Bridge(format!("libvirt call failed: {e}")))
}

/// The reply line to a request with `id`: `reply` without libvirt's own id.
fn with_id(mut reply: Value, id: Option<&Value>) -> String {
    if let Some(obj) = reply.as_object_mut() {
        match id {
            Some(id) => obj.insert("id".into(), id.clone()),
            None => obj.remove("id"),
        };
    }
    let mut line = reply.to_string();
    line.push('\n');
    line
}

/// A QMP error reply saying that libvirt, not QEMU, refused `command`.
fn refused(command: &str, why: &str, id: Option<&Value>) -> String {
    with_id(
        json!({ "error": {
            "class": "GenericError",
            "desc": format!("libvirt refused `{command}`: {why}"),
        }}),
        id,
    )
}

/// Reads one line of at most [`MAX_REQUEST`] bytes; `None` at the end.
async fn read_line<R: AsyncRead + Unpin>(
    rd: &mut BufReader<R>,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<()>> {
    buf.clear();
    let n = (&mut *rd).take(MAX_REQUEST).read_until(b'\n', buf).await?;
    Ok((n > 0).then_some(()))
}

/// A request's command name, arguments and id.
fn parse_request(line: &[u8]) -> Result<(String, Option<Value>, Option<Value>), String> {
    let req: Value = serde_json::from_slice(line).map_err(|e| format!("malformed request: {e}"))?;
    let name = req
        .get("execute")
        .or_else(|| req.get("exec-oob"))
        .and_then(Value::as_str)
        .ok_or("request without `execute`")?
        .to_owned();
    Ok((name, req.get("arguments").cloned(), req.get("id").cloned()))
}

/// The command text for libvirt: `name` and `arguments`, no id (libvirt
/// numbers commands itself).
fn command_text(name: &str, arguments: Option<Value>) -> String {
    match arguments {
        Some(a) => json!({ "execute": name, "arguments": a }),
        None => json!({ "execute": name }),
    }
    .to_string()
}

/// Starts a QMP bridge to `target` and returns the client's end of it.
pub(crate) async fn open_qmp(target: Target) -> Result<DuplexStream, Error> {
    let (note_tx, notes) = mpsc::channel(EVENT_QUEUE);
    // Subscribe before asking for the greeting, so that no event falls
    // between the two.
    let t = target.clone();
    let feed = blocking(move || t.host.subscribe(&t.dom, note_tx)).await??;
    let greeting = match greeting(&target).await {
        Ok(g) => g,
        Err(e) => {
            // Deregistering is a libvirt call: not on this thread.
            let _ = blocking(move || drop(feed)).await;
            return Err(e);
        }
    };
    let (client, server) = tokio::io::duplex(STREAM_BUFFER);
    tokio::spawn(serve_qmp(server, target, notes, feed, greeting));
    Ok(client)
}

/// The greeting line: QEMU's version from `query-version`, no capability.
async fn greeting(target: &Target) -> Result<String, Error> {
    let t = target.clone();
    let version = blocking(move || {
        t.dom
            .qemu_monitor_command(r#"{"execute":"query-version"}"#, 0)
    })
    .await?
    .map_err(|e| Error::libvirt(format!("query-version on `{}`", target.name), &e))?;
    let version: Value = serde_json::from_str(&version)
        .map_err(|e| Error::Bridge(format!("libvirt's reply to query-version: {e}")))?;
    let Some(version) = version.get("return") else {
        return Err(Error::Bridge(format!(
            "query-version failed on `{}`: {version}",
            target.name
        )));
    };
    // No `oob`: libvirt's passthrough has no out-of-band execution.
    Ok(format!(
        "{}\n",
        json!({ "QMP": { "version": version, "capabilities": [] } })
    ))
}

/// What a command task hands back to the bridge.
enum Outcome {
    Reply(String),
    /// The domain or the connection is gone: close the stream.
    Gone,
}

async fn serve_qmp(
    io: DuplexStream,
    target: Target,
    mut notes: mpsc::Receiver<Note>,
    feed: Arc<Feed>,
    greeting: String,
) {
    let (rd, mut wr) = tokio::io::split(io);
    let mut rd = BufReader::new(rd);
    let mut line = Vec::new();
    // The client keeps at most eight commands in flight, which bounds the
    // tasks and their replies.
    let (out_tx, mut outcomes) = mpsc::channel::<Outcome>(16);
    let mut closed = target.closed();
    if wr.write_all(greeting.as_bytes()).await.is_ok() {
        loop {
            let out = tokio::select! {
                read = read_line(&mut rd, &mut line) => match read {
                    Ok(Some(())) => match parse_request(&line) {
                        Ok((name, _, id)) if name == "qmp_capabilities" => {
                            // libvirt negotiated capabilities long ago.
                            with_id(json!({ "return": {} }), id.as_ref())
                        }
                        Ok((name, arguments, id)) => {
                            spawn_command(&target, name, arguments, id, out_tx.clone());
                            continue;
                        }
                        Err(why) => with_id(
                            json!({ "error": { "class": "GenericError", "desc": why } }),
                            None,
                        ),
                    },
                    _ => break,
                },
                note = notes.recv() => match note {
                    Some(Note::Event(mut event)) => {
                        event.push('\n');
                        event
                    }
                    Some(Note::Stopped) | None => break,
                },
                Some(outcome) = outcomes.recv() => match outcome {
                    Outcome::Reply(reply) => reply,
                    Outcome::Gone => break,
                },
                _ = closed.wait_for(|c| *c) => break,
            };
            if wr.write_all(out.as_bytes()).await.is_err() {
                break;
            }
        }
    }
    tracing::debug!(domain = %target.name, "QMP bridge closing");
    // The last bridge of a domain deregisters: a libvirt call (a round
    // trip on remote URIs).
    let _ = blocking(move || drop(feed)).await;
}

fn spawn_command(
    target: &Target,
    name: String,
    arguments: Option<Value>,
    id: Option<Value>,
    out: mpsc::Sender<Outcome>,
) {
    let target = target.clone();
    tokio::spawn(async move {
        let text = command_text(&name, arguments);
        let outcome = blocking(move || match target.dom.qemu_monitor_command(&text, 0) {
            Ok(reply) => match serde_json::from_str::<Value>(&reply) {
                Ok(v) => Outcome::Reply(with_id(v, id.as_ref())),
                Err(e) => Outcome::Reply(refused(
                    &name,
                    &format!("unreadable reply ({e})"),
                    id.as_ref(),
                )),
            },
            Err(_) if target.gone() => Outcome::Gone,
            Err(e) => Outcome::Reply(refused(&name, e.message(), id.as_ref())),
        })
        .await
        .unwrap_or(Outcome::Gone);
        let _ = out.send(outcome).await;
    });
}

/// Starts a guest agent bridge to `target` and returns the client's end.
/// `timeout` is how long libvirt waits for each agent reply.
pub(crate) fn open_agent(target: Target, timeout: Option<Duration>) -> DuplexStream {
    let (client, server) = tokio::io::duplex(STREAM_BUFFER);
    // libvirt's `VIR_DOMAIN_QEMU_AGENT_COMMAND_BLOCK`: wait as long as it
    // takes; the client enforces its own limit anyway.
    let seconds = timeout.map_or(-2, |t| t.as_secs().clamp(1, i32::MAX as u64) as i32);
    tokio::spawn(serve_agent(server, target, seconds));
    client
}

async fn serve_agent(io: DuplexStream, target: Target, seconds: i32) {
    let (rd, mut wr) = tokio::io::split(io);
    let mut rd = BufReader::new(rd);
    let mut line = Vec::new();
    let mut closed = target.closed();
    loop {
        let read = tokio::select! {
            read = read_line(&mut rd, &mut line) => read,
            _ = closed.wait_for(|c| *c) => break,
        };
        if !matches!(read, Ok(Some(()))) {
            break;
        }
        // The client resets the agent's parser with a delimiter byte.
        line.retain(|&b| b != DELIMITER);
        if line.trim_ascii().is_empty() {
            continue;
        }
        let out = match parse_request(&line) {
            // libvirt synchronises with the agent itself before each
            // command; the client's synchronisation is answered here.
            Ok((name, arguments, _)) if name == "guest-sync-delimited" || name == "guest-sync" => {
                let id = arguments
                    .as_ref()
                    .and_then(|a| a.get("id"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let mut out = Vec::new();
                if name == "guest-sync-delimited" {
                    out.push(DELIMITER);
                }
                out.extend_from_slice(with_id(json!({ "return": id }), None).as_bytes());
                out
            }
            Ok((name, arguments, id)) => {
                let text = command_text(&name, arguments);
                let t = target.clone();
                let result = blocking(move || {
                    let r = t.dom.qemu_agent_command(&text, seconds, 0);
                    r.map_err(|e| (t.gone(), e.message().to_owned()))
                })
                .await;
                match result {
                    Ok(Ok(reply)) => match serde_json::from_str::<Value>(&reply) {
                        Ok(v) => with_id(v, id.as_ref()),
                        Err(e) => refused(&name, &format!("unreadable reply ({e})"), id.as_ref()),
                    },
                    Ok(Err((false, why))) => refused(&name, &why, id.as_ref()),
                    Ok(Err((true, _))) | Err(_) => break,
                }
                .into_bytes()
            }
            Err(why) => with_id(
                json!({ "error": { "class": "GenericError", "desc": why } }),
                None,
            )
            .into_bytes(),
        };
        if wr.write_all(&out).await.is_err() {
            break;
        }
    }
    tracing::debug!(domain = %target.name, "guest agent bridge closing");
}
