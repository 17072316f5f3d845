//! The daemon: one QMP connection to each VM, shared by any number of
//! clients that speak plain QMP to it.
//!
//! For each VM `NAME` of the runtime directory, the daemon connects to
//! QEMU's monitor at `NAME.sock`, moves that socket aside to
//! `.NAME.qemu.sock` and listens at `NAME.sock` itself, so that every
//! client (`qmp`, the `qmp-vm` library, `qemu.qmp`, `qmp-shell`) keeps
//! using the same path. Each client gets a greeting with QEMU's version and no
//! capabilities, negotiates, and then:
//!
//! - its commands go to QEMU with ids of the daemon's own, and the replies
//!   come back with the client's id (or none);
//! - every event QEMU sends reaches every negotiated client;
//! - its output waits in a bounded queue of its own: a client that stops
//!   reading is disconnected when the queue is full, never slowing the
//!   others;
//! - connections from other users are refused (`SO_PEERCRED`), on top of
//!   the directory's 0700 mode.
//!
//! File descriptors a client sends (`SCM_RIGHTS`) are kept for that
//! client, the last ones received replacing earlier ones as in QEMU, and
//! go to QEMU with that client's next `getfd` or `add-fd`: the only
//! commands that take them. They are closed when the client leaves.
//!
//! A client leaving mid-command is harmless: its reply is dropped. When
//! QEMU exits, clients get an error for their pending commands and are
//! disconnected, and `status` reports the VM as exited. Stopping the
//! daemon puts QEMU's socket back at `NAME.sock`.

use std::collections::HashMap;
use std::io::IoSliceMut;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd as _, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use qmp_client::Client;
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Interest};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{OnceCell, mpsc, watch};

use crate::runtime;
use qmp_fake::transcript::{Side, TranscriptWriter};

/// Messages queued for one client before it is disconnected as too slow.
const CLIENT_QUEUE: usize = 4096;
/// The largest message a client may send.
const MAX_INPUT: usize = 16 << 20;
/// How often the runtime directory is scanned for new VMs.
const SCAN_INTERVAL: Duration = Duration::from_millis(500);
/// Descriptors accepted with one message from a client; the kernel closes
/// any beyond (QEMU itself takes one per command).
const MAX_FDS: usize = 16;
/// The commands that take the descriptors sent with them.
const FD_COMMANDS: [&str; 2] = ["getfd", "add-fd"];
/// How long to wait for QEMU's greeting when adopting a VM.
const ADOPT_TIMEOUT: Duration = Duration::from_secs(3);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// What `qmp daemon status` shows.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
pub(crate) struct DaemonStatus {
    /// The daemon's pid.
    pub(crate) pid: u32,
    /// When it started, in seconds since the epoch.
    pub(crate) started: f64,
    /// Seconds since it started.
    pub(crate) uptime: f64,
    /// The VMs it proxies or proxied.
    pub(crate) vms: Vec<VmStatus>,
}

/// One VM in [`DaemonStatus`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[non_exhaustive]
pub(crate) struct VmStatus {
    /// The VM's name.
    pub(crate) name: String,
    /// `running` while QEMU is connected, `exited` after.
    pub(crate) state: String,
    /// QEMU's version.
    pub(crate) version: String,
    /// Negotiated clients connected now.
    pub(crate) clients: usize,
    /// Commands forwarded so far.
    pub(crate) commands: u64,
    /// When QEMU went away, in seconds since the epoch.
    pub(crate) exited_at: Option<f64>,
}

/// A request on the control socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub(crate) enum Control {
    Status,
    Stop,
    Adopt { name: String },
}

/// Sends one control request to the daemon serving `dir` and returns its
/// JSON reply.
///
/// # Errors
///
/// An I/O error if no daemon listens or it does not answer in time.
pub(crate) async fn control(dir: &Path, request: &Value) -> std::io::Result<Value> {
    let run = async {
        let stream = UnixStream::connect(runtime::daemon_ctl(dir)).await?;
        let (rd, mut wr) = stream.into_split();
        let mut line = serde_json::to_vec(request)?;
        line.push(b'\n');
        wr.write_all(&line).await?;
        let mut reply = String::new();
        BufReader::new(rd).read_line(&mut reply).await?;
        let v: Value = serde_json::from_str(&reply)?;
        if let Some(e) = v.get("error").and_then(Value::as_str) {
            return Err(std::io::Error::other(e.to_owned()));
        }
        Ok(v)
    };
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "daemon did not answer"))?
}

/// The daemon's state.
struct Daemon {
    dir: PathBuf,
    uid: u32,
    started: f64,
    vms: Mutex<HashMap<String, Arc<Proxy>>>,
    adopting: tokio::sync::Mutex<()>,
    stop: watch::Sender<bool>,
    /// Where clients' sessions are recorded (`daemon start --record`).
    record: Option<PathBuf>,
}

/// One proxied VM.
struct Proxy {
    name: String,
    dir: PathBuf,
    uid: u32,
    client: Client,
    greeting: Arc<[u8]>,
    version: String,
    conns: Mutex<HashMap<u64, Conn>>,
    next_conn: AtomicU64,
    commands: AtomicU64,
    exited_at: Mutex<Option<f64>>,
    /// The inode of our listening socket, so we never remove another's.
    listener_ino: AtomicU64,
    released: AtomicBool,
    close: watch::Sender<bool>,
    schema: OnceCell<Arc<[u8]>>,
    /// Where clients' sessions are recorded (`daemon start --record`).
    record: Option<PathBuf>,
}

/// One connected client.
#[derive(Clone)]
struct Conn {
    tx: mpsc::Sender<Arc<[u8]>>,
    /// The client's transcript, with `daemon start --record`.
    record: Option<Recorder>,
    negotiated: Arc<AtomicBool>,
    kill: watch::Sender<bool>,
}

/// Runs the daemon for the runtime directory `dir` until `stop` resolves
/// or a `stop` request arrives, then puts every VM's socket back.
///
/// # Errors
///
/// An I/O error if the control socket cannot be created, for instance
/// because another daemon runs.
pub(crate) async fn run(
    dir: PathBuf,
    record: Option<PathBuf>,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    if let Some(r) = &record {
        std::fs::create_dir_all(r)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", r.display())))?;
    }
    let ctl_path = runtime::daemon_ctl(&dir);
    if UnixStream::connect(&ctl_path).await.is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "a daemon already runs for this directory",
        ));
    }
    let _ = std::fs::remove_file(&ctl_path);
    let ctl = UnixListener::bind(&ctl_path)?;
    std::fs::set_permissions(&ctl_path, std::fs::Permissions::from_mode(0o600))?;
    std::fs::write(
        runtime::daemon_pid(&dir),
        format!("{}\n", std::process::id()),
    )?;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let daemon = Arc::new(Daemon {
        dir: dir.clone(),
        uid: runtime::uid(),
        started: now_secs(),
        vms: Mutex::new(HashMap::new()),
        adopting: tokio::sync::Mutex::new(()),
        stop: stop_tx,
        record,
    });
    daemon.recover();
    tracing::info!(dir = %dir.display(), "daemon started");

    let scanner = {
        let d = daemon.clone();
        tokio::spawn(async move {
            loop {
                d.scan().await;
                tokio::time::sleep(SCAN_INTERVAL).await;
            }
        })
    };
    let controller = {
        let d = daemon.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = ctl.accept().await else {
                    continue;
                };
                let d = d.clone();
                tokio::spawn(async move { d.serve_control(stream).await });
            }
        })
    };
    tokio::select! {
        () = stop => {}
        () = flagged(&mut stop_rx) => {}
    }
    scanner.abort();
    controller.abort();
    let proxies: Vec<Arc<Proxy>> = lock(&daemon.vms).drain().map(|(_, p)| p).collect();
    for p in proxies {
        p.release();
    }
    let _ = std::fs::remove_file(&ctl_path);
    let _ = std::fs::remove_file(runtime::daemon_pid(&dir));
    tracing::info!("daemon stopped");
    Ok(())
}

impl Daemon {
    /// Puts back QEMU sockets that a daemon killed without cleaning up
    /// left aside.
    fn recover(&self) {
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let Ok(file) = entry.file_name().into_string() else {
                continue;
            };
            let Some(name) = file
                .strip_prefix('.')
                .and_then(|f| f.strip_suffix(".qemu.sock"))
            else {
                continue;
            };
            let public = runtime::vm_socket(&self.dir, name);
            if std::os::unix::net::UnixStream::connect(&public).is_err() {
                let _ = std::fs::remove_file(&public);
                let _ = std::fs::rename(entry.path(), &public);
                tracing::info!(vm = name, "restored a monitor socket left aside");
            }
        }
    }

    async fn scan(self: &Arc<Self>) {
        for name in runtime::vm_names(&self.dir) {
            let known = lock(&self.vms).get(&name).is_some_and(|p| p.is_running());
            if !known && let Err(e) = self.adopt(&name).await {
                tracing::debug!(vm = %name, error = %e, "not adopted");
            }
        }
    }

    /// Takes over VM `name`'s monitor.
    async fn adopt(self: &Arc<Self>, name: &str) -> Result<(), String> {
        runtime::check_name(name)?;
        let _guard = self.adopting.lock().await;
        if lock(&self.vms).get(name).is_some_and(|p| p.is_running()) {
            return Ok(());
        }
        let public = runtime::vm_socket(&self.dir, name);
        let hidden = runtime::hidden_socket(&self.dir, name);
        let client = Client::builder()
            .timeout(None)
            .check_commands(false)
            .oob(false)
            .event_buffer(1 << 16)
            .connect_timeout(ADOPT_TIMEOUT)
            .connect_unix(&public)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", public.display()))?;
        let tmp = self
            .dir
            .join(format!(".{name}.proxy-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let listener = UnixListener::bind(&tmp).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
        std::fs::rename(&public, &hidden).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &public).map_err(|e| e.to_string())?;
        let ino = std::fs::metadata(&public).map(|m| m.ino()).unwrap_or(0);
        let v = &client.version().qemu;
        let version = format!("{}.{}.{}", v.major, v.minor, v.micro);
        let greeting = json!({
            "QMP": {
                "version": {
                    "qemu": { "major": v.major, "minor": v.minor, "micro": v.micro },
                    "package": client.version().package,
                },
                "capabilities": [],
            }
        });
        let (close, _) = watch::channel(false);
        let proxy = Arc::new(Proxy {
            name: name.to_owned(),
            dir: self.dir.clone(),
            uid: self.uid,
            client,
            greeting: line(&greeting),
            version,
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(1),
            commands: AtomicU64::new(0),
            exited_at: Mutex::new(None),
            listener_ino: AtomicU64::new(ino),
            released: AtomicBool::new(false),
            close,
            schema: OnceCell::new(),
            record: self.record.clone(),
        });
        lock(&self.vms).insert(name.to_owned(), proxy.clone());
        tokio::spawn(proxy.clone().fan_out());
        tokio::spawn(proxy.clone().accept(listener));
        tracing::info!(vm = name, version = %proxy.version, "proxying");
        Ok(())
    }

    fn status(&self) -> DaemonStatus {
        let mut vms: Vec<VmStatus> = lock(&self.vms)
            .values()
            .map(|p| VmStatus {
                name: p.name.clone(),
                state: if p.is_running() { "running" } else { "exited" }.into(),
                version: p.version.clone(),
                clients: lock(&p.conns)
                    .values()
                    .filter(|c| c.negotiated.load(Ordering::Relaxed))
                    .count(),
                commands: p.commands.load(Ordering::Relaxed),
                exited_at: *lock(&p.exited_at),
            })
            .collect();
        vms.sort_by(|a, b| a.name.cmp(&b.name));
        DaemonStatus {
            pid: std::process::id(),
            started: self.started,
            uptime: now_secs() - self.started,
            vms,
        }
    }

    async fn serve_control(self: Arc<Self>, stream: UnixStream) {
        if !peer_allowed(&stream, self.uid) {
            return;
        }
        let (rd, mut wr) = stream.into_split();
        let mut req = String::new();
        let mut rd = BufReader::new(rd);
        let read = rd.read_line(&mut req);
        if tokio::time::timeout(Duration::from_secs(5), read)
            .await
            .is_err()
        {
            return;
        }
        let reply = match serde_json::from_str::<Control>(&req) {
            Err(e) => json!({ "error": format!("bad request: {e}") }),
            Ok(Control::Status) => serde_json::to_value(self.status()).unwrap_or(Value::Null),
            Ok(Control::Stop) => {
                let _ = self.stop.send_replace(true);
                json!({ "ok": true })
            }
            Ok(Control::Adopt { name }) => match self.adopt(&name).await {
                Ok(()) => json!({ "ok": true }),
                Err(e) => json!({ "error": e }),
            },
        };
        let _ = wr.write_all(&line(&reply)).await;
    }
}

/// Whether the peer of `stream` is the user `uid`; if not, tells it so.
fn peer_allowed(stream: &UnixStream, uid: u32) -> bool {
    match stream.peer_cred() {
        Ok(cred) if cred.uid() == uid => true,
        Ok(cred) => {
            tracing::warn!(
                peer_uid = cred.uid(),
                "refused a connection from another user"
            );
            let msg = error_reply(
                "GenericError",
                &format!(
                    "connection refused: uid {} is not the daemon's user (uid {uid})",
                    cred.uid()
                ),
                None,
            );
            let _ = stream.try_write(&msg);
            false
        }
        Err(e) => {
            tracing::warn!(error = %e, "no peer credentials; refusing");
            false
        }
    }
}

/// Resolves once `flag` is true (or its sender is gone).
async fn flagged(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|f| *f).await;
}

/// `value` as one line of JSON.
fn line(value: &Value) -> Arc<[u8]> {
    let mut v = serde_json::to_vec(value).unwrap_or_default();
    v.push(b'\n');
    v.into()
}

fn error_reply(class: &str, desc: &str, id: Option<&Value>) -> Arc<[u8]> {
    let mut msg = json!({ "error": { "class": class, "desc": desc } });
    if let Some(id) = id {
        msg["id"] = id.clone();
    }
    line(&msg)
}

impl Proxy {
    fn is_running(&self) -> bool {
        lock(&self.exited_at).is_none() && !self.released.load(Ordering::Relaxed)
    }

    /// Forwards QEMU's events to every negotiated client; notices QEMU's
    /// exit.
    async fn fan_out(self: Arc<Self>) {
        // Raw events: relayed as QEMU sent them, known to this build or not.
        let mut events = self.client.subscribe();
        while let Some(item) = events.next().await {
            let ev = match item {
                Ok(ev) => ev,
                Err(e) => {
                    tracing::warn!(vm = %self.name, error = %e, "events lost");
                    continue;
                }
            };
            let mut msg = json!({
                "event": ev.name,
                "timestamp": { "seconds": ev.timestamp.0, "microseconds": ev.timestamp.1 },
            });
            if !ev.data.is_null() {
                msg["data"] = ev.data;
            }
            let bytes = line(&msg);
            let mut slow = Vec::new();
            for (id, c) in lock(&self.conns).iter() {
                if !c.negotiated.load(Ordering::Relaxed) {
                    continue;
                }
                if let Err(mpsc::error::TrySendError::Full(_)) = c.tx.try_send(bytes.clone()) {
                    slow.push(*id);
                }
            }
            for id in slow {
                tracing::warn!(vm = %self.name, client = id, "client too slow; disconnecting it");
                if let Some(c) = lock(&self.conns).remove(&id) {
                    let _ = c.kill.send_replace(true);
                }
            }
        }
        if self.released.load(Ordering::Relaxed) {
            return;
        }
        tracing::info!(vm = %self.name, "QEMU went away");
        *lock(&self.exited_at) = Some(now_secs());
        self.remove_sockets();
        // Let pending commands report the exit before disconnecting.
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.disconnect_all();
    }

    /// Removes our listening socket (if it is still ours) and QEMU's.
    fn remove_sockets(&self) {
        let public = runtime::vm_socket(&self.dir, &self.name);
        if std::fs::metadata(&public)
            .is_ok_and(|m| m.ino() == self.listener_ino.load(Ordering::Relaxed))
        {
            let _ = std::fs::remove_file(&public);
        }
        let _ = std::fs::remove_file(runtime::hidden_socket(&self.dir, &self.name));
        let _ = self.close.send_replace(true);
    }

    fn disconnect_all(&self) {
        for (_, c) in lock(&self.conns).drain() {
            let _ = c.kill.send_replace(true);
        }
    }

    /// Gives QEMU's socket back its name and drops the connection.
    fn release(&self) {
        self.released.store(true, Ordering::Relaxed);
        let _ = self.close.send_replace(true);
        let public = runtime::vm_socket(&self.dir, &self.name);
        let hidden = runtime::hidden_socket(&self.dir, &self.name);
        if std::fs::metadata(&public)
            .is_ok_and(|m| m.ino() == self.listener_ino.load(Ordering::Relaxed))
        {
            let _ = std::fs::remove_file(&public);
        }
        if hidden.exists() {
            let _ = std::fs::rename(&hidden, &public);
        }
        self.disconnect_all();
    }

    async fn accept(self: Arc<Self>, listener: UnixListener) {
        let mut close = self.close.subscribe();
        loop {
            tokio::select! {
                () = flagged(&mut close) => return,
                r = listener.accept() => match r {
                    Ok((stream, _)) => {
                        tokio::spawn(self.clone().serve(stream));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
    }

    /// Serves one client.
    async fn serve(self: Arc<Self>, stream: UnixStream) {
        if !peer_allowed(&stream, self.uid) {
            return;
        }
        let (rd, mut wr) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<Arc<[u8]>>(CLIENT_QUEUE);
        let (kill, mut killed) = watch::channel(false);
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let record = self.record.as_ref().and_then(|dir| {
            let path = dir.join(format!("{}.{id}.jsonl", self.name));
            match std::fs::File::create(&path) {
                Ok(f) => Some(Arc::new(Mutex::new(TranscriptWriter::new(f)))),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "cannot record: {e}");
                    None
                }
            }
        });
        let conn = Conn {
            tx: tx.clone(),
            record: record.clone(),
            negotiated: Arc::new(AtomicBool::new(false)),
            kill: kill.clone(),
        };
        lock(&self.conns).insert(id, conn.clone());
        let _ = tx.try_send(self.greeting.clone());
        let mut writer_killed = killed.clone();
        let writer = tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = flagged(&mut writer_killed) => break,
                    msg = rx.recv() => {
                        let Some(msg) = msg else { break };
                        if let Some(r) = &record {
                            record_line(r, Side::Qemu, &msg);
                        }
                        if wr.write_all(&msg).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = wr.shutdown().await;
        });
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        let mut chunk = vec![0u8; 64 * 1024];
        // Descriptors received and not yet taken by a command.
        let mut fds = Vec::new();
        loop {
            let n = tokio::select! {
                () = flagged(&mut killed) => break,
                r = receive(rd.as_ref(), &mut chunk, &mut fds) => match r {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                },
            };
            buf.extend_from_slice(&chunk[..n]);
            let consumed = self.take_messages(&buf, &conn, &mut fds);
            buf.drain(..consumed);
            if buf.len() > MAX_INPUT {
                let _ = tx.try_send(error_reply("GenericError", "message too large", None));
                break;
            }
        }
        lock(&self.conns).remove(&id);
        let _ = kill.send_replace(true);
        drop(tx);
        let _ = writer.await;
    }

    /// Handles every complete JSON value at the start of `buf`; returns
    /// how many bytes were used.
    fn take_messages(self: &Arc<Self>, buf: &[u8], conn: &Conn, fds: &mut Vec<OwnedFd>) -> usize {
        let mut used = 0;
        loop {
            let mut stream =
                serde_json::Deserializer::from_slice(&buf[used..]).into_iter::<Value>();
            match stream.next() {
                None => return buf.len(),
                Some(Ok(v)) => {
                    used += stream.byte_offset();
                    self.handle(v, conn, fds);
                }
                Some(Err(e)) if e.is_eof() => return used,
                Some(Err(e)) => {
                    let _ = conn.tx.try_send(error_reply(
                        "GenericError",
                        &format!("JSON parse error: {e}"),
                        None,
                    ));
                    // Skip to the end of the offending line.
                    match buf[used..].iter().position(|&b| b == b'\n') {
                        Some(p) => used += p + 1,
                        None => return buf.len(),
                    }
                }
            }
        }
    }

    fn handle(self: &Arc<Self>, msg: Value, conn: &Conn, fds: &mut Vec<OwnedFd>) {
        if let Some(r) = &conn.record
            && let Err(e) = lock(r).write(Side::Client, &msg)
        {
            tracing::warn!("cannot record: {e}");
        }
        let reply = |r: Arc<[u8]>| {
            let _ = conn.tx.try_send(r);
        };
        let Value::Object(mut obj) = msg else {
            reply(error_reply(
                "GenericError",
                "QMP input must be a JSON object",
                None,
            ));
            return;
        };
        let id = obj.remove("id");
        let err = |desc: &str| error_reply("GenericError", desc, id.as_ref());
        if obj.contains_key("exec-oob") {
            reply(err("out-of-band execution was not negotiated"));
            return;
        }
        let command = match obj.remove("execute") {
            Some(Value::String(c)) => c,
            Some(_) => return reply(err("QMP member `execute` must be a string")),
            None => return reply(err("QMP input lacks the member `execute`")),
        };
        let args = match obj.remove("arguments") {
            None => Value::Object(Map::new()),
            Some(a @ Value::Object(_)) => a,
            Some(_) => return reply(err("QMP member `arguments` must be an object")),
        };
        if let Some(extra) = obj.keys().next() {
            return reply(err(&format!("unexpected QMP member `{extra}`")));
        }
        let negotiated = conn.negotiated.load(Ordering::Relaxed);
        if command == "qmp_capabilities" {
            if negotiated {
                return reply(error_reply(
                    "CommandNotFound",
                    "capabilities were already negotiated",
                    id.as_ref(),
                ));
            }
            let wanted = args.get("enable").and_then(Value::as_array);
            if let Some(cap) = wanted.and_then(|c| c.first()) {
                return reply(err(&format!("capability {cap} is not offered")));
            }
            conn.negotiated.store(true, Ordering::Relaxed);
            let mut ok = json!({ "return": {} });
            if let Some(id) = id {
                ok["id"] = id;
            }
            return reply(line(&ok));
        }
        if !negotiated {
            return reply(error_reply(
                "CommandNotFound",
                "negotiate capabilities first, with `qmp_capabilities`",
                id.as_ref(),
            ));
        }
        self.commands.fetch_add(1, Ordering::Relaxed);
        let fds = if FD_COMMANDS.contains(&command.as_str()) {
            std::mem::take(fds)
        } else {
            Vec::new()
        };
        let proxy = self.clone();
        let tx = conn.tx.clone();
        tokio::spawn(async move {
            let result = proxy.forward(&command, args, fds).await;
            let mut msg = match result {
                Ok(bytes) => {
                    let _ = tx.send(with_id(bytes, id.as_ref())).await;
                    return;
                }
                Err(msg) => msg,
            };
            if let Some(id) = id {
                msg["id"] = id;
            }
            let _ = tx.send(line(&msg)).await;
        });
    }

    /// Runs one command on QEMU; returns the reply line (without id) or
    /// an error message.
    async fn forward(
        &self,
        command: &str,
        args: Value,
        fds: Vec<OwnedFd>,
    ) -> Result<Arc<[u8]>, Value> {
        let cacheable = command == "query-qmp-schema";
        if cacheable && let Some(s) = self.schema.get() {
            return Ok(s.clone());
        }
        // Raw on purpose: the daemon relays whatever its clients send, and
        // its `return` value, untouched.
        let fds: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
        match self.client.execute_raw_with_fds(command, args, &fds).await {
            Ok(v) => {
                let bytes = line(&json!({ "return": v }));
                if cacheable {
                    let _ = self.schema.set(bytes.clone());
                }
                Ok(bytes)
            }
            Err(qmp_client::Error::Qmp { class, desc }) => {
                Err(json!({ "error": { "class": class, "desc": desc } }))
            }
            Err(e) if e.is_disconnected() => Err(json!({
                "error": { "class": "GenericError", "desc": format!("VM `{}` exited", self.name) }
            })),
            Err(e) => Err(json!({
                "error": { "class": "GenericError", "desc": format!("qmp daemon: {e}") }
            })),
        }
    }
}

/// A client's transcript (qmp-fake's format).
type Recorder = Arc<Mutex<TranscriptWriter<std::fs::File>>>;

/// Records one message the daemon sends a client.
fn record_line(r: &Recorder, side: Side, bytes: &[u8]) {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => {
            if let Err(e) = lock(r).write(side, &v) {
                tracing::warn!("cannot record: {e}");
            }
        }
        Err(e) => tracing::warn!("not recorded, not JSON: {e}"),
    }
}

/// Reads from a client's socket into `chunk`. Descriptors that come with
/// the bytes replace those in `fds`, as QEMU keeps only the last ones.
async fn receive(
    socket: &UnixStream,
    chunk: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> std::io::Result<usize> {
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    loop {
        socket.readable().await?;
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let read = socket.try_io(Interest::READABLE, || {
            rustix::net::recvmsg(
                socket,
                &mut [IoSliceMut::new(chunk)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            )
            .map_err(std::io::Error::from)
        });
        match read {
            Ok(msg) => {
                let mut received = Vec::new();
                for m in control.drain() {
                    if let RecvAncillaryMessage::ScmRights(r) = m {
                        received.extend(r);
                    }
                }
                if !received.is_empty() {
                    *fds = received;
                }
                return Ok(msg.bytes);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// `reply` (a `{"return": …}` line) with `id` added.
fn with_id(reply: Arc<[u8]>, id: Option<&Value>) -> Arc<[u8]> {
    let Some(id) = id else { return reply };
    let id = serde_json::to_vec(id).unwrap_or_default();
    // Replace the final `}\n` with `,"id":ID}\n`.
    let body = &reply[..reply.len().saturating_sub(2)];
    let mut out = Vec::with_capacity(reply.len() + id.len() + 8);
    out.extend_from_slice(body);
    out.extend_from_slice(b",\"id\":");
    out.extend_from_slice(&id);
    out.extend_from_slice(b"}\n");
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_added() {
        let r = line(&json!({ "return": {"a": 1} }));
        assert_eq!(&*with_id(r.clone(), None), &*r);
        let out = with_id(r, Some(&json!("x\"y")));
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v, json!({ "return": {"a": 1}, "id": "x\"y" }));
        assert!(out.ends_with(b"}\n"));
    }
}
