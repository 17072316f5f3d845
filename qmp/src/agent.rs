//! [`Agent`]: guest agent helpers on top of [`qmp_client::GuestAgent`].

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use qmp_client::GuestAgent;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Error, Result};

/// How much [`Agent::cat`] asks for at once.
const READ_CHUNK: u64 = 48 * 1024;
/// How often [`Agent::exec`] polls for the process to end.
const EXEC_POLL: Duration = Duration::from_millis(20);

/// The guest agent (`qemu-ga`) of a VM, with helpers for common tasks.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> qmp::Result<()> {
/// let ga = qmp::Agent::connect("/run/user/1000/qmp/vm1.ga.sock".as_ref()).await?;
/// ga.ping().await?;
/// let out = ga.exec("/bin/uname", &["-r".into()], None).await?;
/// print!("{}", String::from_utf8_lossy(&out.stdout));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Agent {
    ga: GuestAgent,
}

/// What a process run by [`Agent::exec`] left behind.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExecOutput {
    /// Its exit code, if it exited.
    pub exit_code: Option<i64>,
    /// The signal that ended it, if one did.
    pub signal: Option<i64>,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
    /// Whether the agent cut the output short.
    pub truncated: bool,
}

#[derive(Deserialize)]
struct ExecStatus {
    exited: bool,
    exitcode: Option<i64>,
    signal: Option<i64>,
    #[serde(rename = "out-data")]
    out_data: Option<String>,
    #[serde(rename = "err-data")]
    err_data: Option<String>,
    #[serde(rename = "out-truncated", default)]
    out_truncated: bool,
    #[serde(rename = "err-truncated", default)]
    err_truncated: bool,
}

fn decode_b64(what: &str, data: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| Error::Agent(format!("bad base64 in {what}: {e}")))
}

fn field<T: serde::de::DeserializeOwned>(command: &str, v: Value) -> Result<T> {
    serde_json::from_value(v.clone()).map_err(|e| {
        Error::Client(qmp_client::Error::Decode {
            command: command.into(),
            path: ".".into(),
            message: e.to_string(),
            raw: v.to_string(),
        })
    })
}

impl Agent {
    /// Helpers on an agent connection.
    pub fn new(ga: GuestAgent) -> Agent {
        Agent { ga }
    }

    /// Connects to the agent's Unix socket and synchronises.
    ///
    /// # Errors
    ///
    /// Those of [`GuestAgent::connect_unix`].
    pub async fn connect(path: &Path) -> Result<Agent> {
        Ok(Agent::new(GuestAgent::connect_unix(path).await?))
    }

    /// The underlying agent client.
    pub fn agent(&self) -> &GuestAgent {
        &self.ga
    }

    async fn call(&self, command: &str, args: Value) -> Result<Value> {
        Ok(self.ga.execute_raw(command, args).await?)
    }

    /// Checks that the agent answers (`guest-ping`).
    ///
    /// # Errors
    ///
    /// The agent's errors, [`qmp_client::Error::Timeout`].
    pub async fn ping(&self) -> Result<()> {
        self.call("guest-ping", json!({})).await.map(drop)
    }

    /// The agent's version and commands (`guest-info`).
    ///
    /// # Errors
    ///
    /// The agent's errors.
    pub async fn info(&self) -> Result<Value> {
        self.call("guest-info", json!({})).await
    }

    /// Reads a whole file of the guest.
    ///
    /// # Errors
    ///
    /// The agent's errors (no such file…).
    pub async fn cat(&self, path: &str) -> Result<Vec<u8>> {
        let handle = self
            .call("guest-file-open", json!({ "path": path, "mode": "r" }))
            .await?;
        let read = async {
            let mut out = Vec::new();
            loop {
                #[derive(Deserialize)]
                struct Chunk {
                    #[serde(rename = "buf-b64")]
                    buf: String,
                    eof: bool,
                }
                let v = self
                    .call(
                        "guest-file-read",
                        json!({ "handle": handle, "count": READ_CHUNK }),
                    )
                    .await?;
                let chunk: Chunk = field("guest-file-read", v)?;
                let data = decode_b64("guest-file-read", &chunk.buf)?;
                out.extend_from_slice(&data);
                if chunk.eof || data.is_empty() {
                    return Ok(out);
                }
            }
        };
        let result: Result<Vec<u8>> = read.await;
        let closed = self
            .call("guest-file-close", json!({ "handle": handle }))
            .await;
        let out = result?;
        closed?;
        Ok(out)
    }

    /// The state of the guest's file systems: `thawed` or `frozen`.
    ///
    /// # Errors
    ///
    /// The agent's errors.
    pub async fn fsfreeze_status(&self) -> Result<String> {
        field(
            "guest-fsfreeze-status",
            self.call("guest-fsfreeze-status", json!({})).await?,
        )
    }

    /// Freezes the guest's file systems; returns how many.
    ///
    /// # Errors
    ///
    /// The agent's errors.
    pub async fn fsfreeze_freeze(&self) -> Result<i64> {
        field(
            "guest-fsfreeze-freeze",
            self.call("guest-fsfreeze-freeze", json!({})).await?,
        )
    }

    /// Thaws the guest's file systems; returns how many.
    ///
    /// # Errors
    ///
    /// The agent's errors.
    pub async fn fsfreeze_thaw(&self) -> Result<i64> {
        field(
            "guest-fsfreeze-thaw",
            self.call("guest-fsfreeze-thaw", json!({})).await?,
        )
    }

    /// The guest's network interfaces and addresses.
    ///
    /// # Errors
    ///
    /// The agent's errors.
    pub async fn network_interfaces(&self) -> Result<Value> {
        self.call("guest-network-get-interfaces", json!({})).await
    }

    /// Asks the guest to shut down: `mode` is `powerdown`, `reboot` or
    /// `halt`. The agent does not answer when it complies, so this waits
    /// a moment for an error and otherwise reports success.
    ///
    /// # Errors
    ///
    /// The agent's errors (for instance when the command is disabled).
    pub async fn shutdown(&self, mode: &str) -> Result<()> {
        let call = self
            .ga
            .execute_raw("guest-shutdown", json!({ "mode": mode }));
        match tokio::time::timeout(Duration::from_secs(2), call).await {
            Err(_) => Ok(()),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_disconnected() => Ok(()),
            Ok(Err(e)) => Err(e.into()),
        }
    }

    /// Runs `path` with `args` in the guest, feeds it `input`, waits for
    /// it to end and returns its exit status and output.
    ///
    /// # Errors
    ///
    /// The agent's errors (no such program…).
    pub async fn exec(
        &self,
        path: &str,
        args: &[String],
        input: Option<&[u8]>,
    ) -> Result<ExecOutput> {
        let mut req = json!({ "path": path, "arg": args, "capture-output": true });
        if let Some(input) = input {
            req["input-data"] = json!(base64::engine::general_purpose::STANDARD.encode(input));
        }
        #[derive(Deserialize)]
        struct Pid {
            pid: i64,
        }
        let pid: Pid = field("guest-exec", self.call("guest-exec", req).await?)?;
        loop {
            let v = self
                .call("guest-exec-status", json!({ "pid": pid.pid }))
                .await?;
            let st: ExecStatus = field("guest-exec-status", v)?;
            if st.exited {
                let out = st.out_data.as_deref().map(|d| decode_b64("out-data", d));
                let err = st.err_data.as_deref().map(|d| decode_b64("err-data", d));
                return Ok(ExecOutput {
                    exit_code: st.exitcode,
                    signal: st.signal,
                    stdout: out.transpose()?.unwrap_or_default(),
                    stderr: err.transpose()?.unwrap_or_default(),
                    truncated: st.out_truncated || st.err_truncated,
                });
            }
            tokio::time::sleep(EXEC_POLL).await;
        }
    }
}
