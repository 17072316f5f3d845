//! One client's QMP session: from the greeting to the end of the stream.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{broadcast, mpsc};

use crate::transcript::Side;
use crate::{Error, Inner, Mode, QmpError};

/// Longest request line accepted, as the client's default limit.
const MAX_LINE: usize = 10 << 20;

/// A line from the client, or why reading stopped.
type Line = Result<Vec<u8>, String>;

/// Serves one session on `stream` until the client closes it.
pub(crate) async fn run<S>(inner: Arc<Inner>, stream: S) -> Result<(), Error>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, mut wr) = tokio::io::split(stream);
    let (tx, mut lines) = mpsc::channel::<Line>(8);
    // Reading in a task of its own keeps a half-read line safe while the
    // session waits for events too; it ends with the session.
    let reader = tokio::spawn(read_lines(rd, tx)).abort_handle();
    let _stop_reader = AbortOnDrop(reader);
    match &inner.mode {
        Mode::Script { .. } => script(&inner, &mut lines, &mut wr).await,
        Mode::Replay { .. } => replay(&inner, &mut lines, &mut wr).await,
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn read_lines<R: AsyncRead + Unpin>(rd: R, tx: mpsc::Sender<Line>) {
    let mut rd = BufReader::new(rd);
    loop {
        let mut line = Vec::new();
        loop {
            let buf = match rd.fill_buf().await {
                Ok(b) => b,
                Err(e) => {
                    let _ = tx.send(Err(e.to_string())).await;
                    return;
                }
            };
            if buf.is_empty() {
                return;
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            line.extend_from_slice(&buf[..take]);
            rd.consume(take);
            if line.len() > MAX_LINE {
                let _ = tx
                    .send(Err(format!("a request longer than {MAX_LINE} bytes")))
                    .await;
                return;
            }
            if done {
                break;
            }
        }
        if line.trim_ascii().is_empty() {
            continue;
        }
        if tx.send(Ok(line)).await.is_err() {
            return;
        }
    }
}

async fn send<W: AsyncWrite + Unpin>(wr: &mut W, message: &Value) -> Result<(), Error> {
    let mut text = message.to_string();
    text.push('\n');
    wr.write_all(text.as_bytes()).await?;
    wr.flush().await?;
    Ok(())
}

/// What the client's session has agreed.
struct State {
    negotiated: bool,
    oob: bool,
    events: Option<broadcast::Receiver<Value>>,
}

async fn script<W: AsyncWrite + Unpin>(
    inner: &Inner,
    lines: &mut mpsc::Receiver<Line>,
    wr: &mut W,
) -> Result<(), Error> {
    let release = inner.release.unwrap_or(qmp_types::Release::new(0, 0));
    let greeting = json!({"QMP": {
        "version": {"qemu": {"micro": 0, "minor": release.minor, "major": release.major}, "package": "qmp-fake"},
        "capabilities": ["oob"],
    }});
    send(wr, &greeting).await?;
    let mut state = State {
        negotiated: false,
        oob: false,
        events: None,
    };
    loop {
        tokio::select! {
            line = lines.recv() => {
                let line = match line {
                    None => return Ok(()),
                    Some(Err(e)) => return Err(Error::Io(std::io::Error::other(e))),
                    Some(Ok(line)) => line,
                };
                let reply = request(inner, &mut state, &line);
                // Events a scripted reply emitted go out before the reply,
                // as QEMU sends STOP before `stop`'s return.
                while let Some(event) = state.events.as_mut().and_then(next_now) {
                    send(wr, &event).await?;
                }
                send(wr, &reply).await?;
            }
            Some(event) = next_event(&mut state.events) => send(wr, &event).await?,
        }
    }
}

/// The next event already queued, skipping what a lagging client lost.
fn next_now(rx: &mut broadcast::Receiver<Value>) -> Option<Value> {
    loop {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => return None,
        }
    }
}

async fn next_event(rx: &mut Option<broadcast::Receiver<Value>>) -> Option<Value> {
    let Some(rx) = rx else {
        return std::future::pending().await;
    };
    loop {
        match rx.recv().await {
            Ok(v) => return Some(v),
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

fn error_reply(id: Option<&Value>, error: &QmpError) -> Value {
    let mut m = Map::new();
    if let Some(id) = id {
        m.insert("id".into(), id.clone());
    }
    m.insert("error".into(), error.to_json());
    Value::Object(m)
}

fn generic(desc: impl Into<String>) -> QmpError {
    QmpError::generic(desc)
}

/// Answers one request line.
fn request(inner: &Inner, state: &mut State, line: &[u8]) -> Value {
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return error_reply(None, &generic(format!("JSON parse error, {e}"))),
    };
    inner
        .received
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(value.clone());
    let Value::Object(req) = value else {
        return error_reply(None, &generic("QMP input must be a JSON object"));
    };
    let id = req.get("id");
    match execute(inner, state, &req) {
        Ok(ret) => {
            let mut m = Map::new();
            m.insert("return".into(), ret);
            if let Some(id) = id {
                m.insert("id".into(), id.clone());
            }
            Value::Object(m)
        }
        Err(e) => error_reply(id, &e),
    }
}

/// Checks a request as QEMU's dispatcher does and runs it.
fn execute(inner: &Inner, state: &mut State, req: &Map<String, Value>) -> Result<Value, QmpError> {
    use qmp_types::qmp::QapiErrorClass::CommandNotFound;
    let Some(schema) = &inner.schema else {
        return Err(generic("qmp-fake: no schema"));
    };
    let (mut name, mut oob) = (None, false);
    for (key, value) in req {
        match key.as_str() {
            "execute" | "exec-oob" => {
                if key == "exec-oob" && !state.oob {
                    return Err(generic("QMP input member 'exec-oob' is unexpected"));
                }
                let Some(s) = value.as_str() else {
                    return Err(generic(format!(
                        "QMP input member '{key}' must be a string"
                    )));
                };
                if name.is_some() {
                    return Err(generic(
                        "QMP input must not contain both 'execute' and 'exec-oob'",
                    ));
                }
                name = Some(s);
                oob = key == "exec-oob";
            }
            "arguments" if !value.is_object() => {
                return Err(generic("QMP input member 'arguments' must be an object"));
            }
            "arguments" | "id" => {}
            other => return Err(generic(format!("QMP input member '{other}' is unexpected"))),
        }
    }
    let Some(name) = name else {
        return Err(generic("QMP input lacks member 'execute'"));
    };
    if !state.negotiated && name != "qmp_capabilities" {
        return Err(QmpError::new(
            CommandNotFound,
            "Expecting capabilities negotiation with 'qmp_capabilities'",
        ));
    }
    if state.negotiated && name == "qmp_capabilities" {
        return Err(QmpError::new(
            CommandNotFound,
            "Capabilities negotiation is already complete, command ignored",
        ));
    }
    let Some(command) = schema.command(name) else {
        return Err(QmpError::new(
            CommandNotFound,
            format!("The command {name} has not been found"),
        ));
    };
    if oob && !command.allow_oob {
        return Err(generic(format!("The command {name} does not support OOB")));
    }
    let empty = Value::Object(Map::new());
    let args = req.get("arguments").unwrap_or(&empty);
    let Some(members) = args.as_object() else {
        return Err(generic("QMP input member 'arguments' must be an object"));
    };
    schema
        .check_members(command.args, members)
        .map_err(generic)?;
    if name == "qmp_capabilities" {
        state.negotiated = true;
        state.oob = members
            .get("enable")
            .and_then(Value::as_array)
            .is_some_and(|caps| caps.iter().any(|c| c == "oob"));
        state.events = Some(inner.events.subscribe());
        return Ok(empty);
    }
    let Mode::Script { handlers } = &inner.mode else {
        return Err(generic("qmp-fake: not a scripted fake"));
    };
    let handler = handlers
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(name)
        .cloned();
    let ret = match handler {
        Some(h) => h(args.clone())?,
        None => match name {
            "query-commands" => Value::Array(
                schema
                    .command_names()
                    .map(|n| json!({ "name": n }))
                    .collect(),
            ),
            "query-qmp-schema" => schema.introspection().clone(),
            "query-version" => {
                let r = schema.release;
                json!({"qemu": {"major": r.major, "minor": r.minor, "micro": 0}, "package": "qmp-fake"})
            }
            _ => {
                return Err(generic(format!(
                    "qmp-fake: no reply scripted for '{name}' (script one with FakeQemu::on)"
                )));
            }
        },
    };
    // A scripted reply must be one the release could send.
    let fits = match command.returns {
        Some(ty) => schema.check_value(ty, &ret, "return", "return"),
        None if ret.as_object().is_some_and(Map::is_empty) => Ok(()),
        None => Err(format!("'{name}' returns {{}} in this release, not {ret}")),
    };
    if let Err(e) = fits {
        let text = format!(
            "qmp-fake: the scripted reply to '{name}' does not fit QEMU {}'s schema: {e}",
            schema.release
        );
        inner.problem(text.clone());
        return Err(generic(text));
    }
    Ok(ret)
}

/// Replays the transcript to one client.
async fn replay<W: AsyncWrite + Unpin>(
    inner: &Inner,
    lines: &mut mpsc::Receiver<Line>,
    wr: &mut W,
) -> Result<(), Error> {
    let Mode::Replay {
        transcript,
        completed,
    } = &inner.mode
    else {
        return Ok(());
    };
    let entries = &transcript.entries;
    let mut pos = 0;
    while let Some(e) = entries.get(pos).filter(|e| e.side == Side::Qemu) {
        send(wr, &e.message).await?;
        pos += 1;
    }
    let mut request_number = 0;
    let mut broken = false;
    loop {
        let line = match lines.recv().await {
            None => return Ok(()),
            Some(Err(e)) => return Err(Error::Io(std::io::Error::other(e))),
            Some(Ok(line)) => line,
        };
        request_number += 1;
        let got: Value = match serde_json::from_slice(&line) {
            Ok(v) => v,
            Err(_) => Value::String(String::from_utf8_lossy(&line).trim_end().to_owned()),
        };
        inner
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(got.clone());
        let id = got.get("id").cloned();
        if broken {
            let e = generic("qmp-fake replay: an earlier request differed from the transcript");
            send(wr, &error_reply(id.as_ref(), &e)).await?;
            continue;
        }
        let problem = match entries.get(pos) {
            None => Some(format!(
                "request {request_number}: the transcript has no more requests, got {got}"
            )),
            Some(expected) if without_id(&expected.message) != without_id(&got) => Some(format!(
                "request {request_number}: expected {}, got {got}",
                without_id(&expected.message)
            )),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            broken = true;
            inner.problem(problem.clone());
            let e = generic(format!("qmp-fake replay: {problem}"));
            send(wr, &error_reply(id.as_ref(), &e)).await?;
            continue;
        }
        pos += 1;
        while let Some(e) = entries.get(pos).filter(|e| e.side == Side::Qemu) {
            let mut message = e.message.clone();
            if let Value::Object(m) = &mut message
                && (m.contains_key("return") || m.contains_key("error"))
            {
                m.remove("id");
                if let Some(id) = &id {
                    m.insert("id".into(), id.clone());
                }
            }
            send(wr, &message).await?;
            pos += 1;
        }
        if pos == entries.len() {
            *completed.lock().unwrap_or_else(|e| e.into_inner()) = true;
        }
    }
}

/// The message without its `id` member.
fn without_id(message: &Value) -> Value {
    let mut m = message.clone();
    if let Value::Object(o) = &mut m {
        o.remove("id");
    }
    m
}
