//! [`Agent`]: guest agent helpers on top of [`qmp_client::GuestAgent`].

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use qmp_client::GuestAgent;
use qmp_types::qga::commands::GuestExec;
use qmp_types::qga::{
    GuestAgentCommands as _, GuestAgentInfo, GuestFsfreezeStatus, GuestNetworkInterface,
};
use serde::Serialize;
use serde_json::json;

use crate::{Error, Result};

/// How much [`Agent::cat`] asks for at once.
const READ_CHUNK: i64 = 48 * 1024;
/// How often [`Agent::exec`] polls for the process to end.
const EXEC_POLL: Duration = Duration::from_millis(20);

/// The guest agent (`qemu-ga`) of a VM, with helpers for common tasks.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> qmp_vm::Result<()> {
/// let ga = qmp_vm::Agent::connect("/run/user/1000/qmp/vm1.ga.sock").await?;
/// ga.ping().await?;
/// let out = ga.exec("/bin/uname", ["-r"], None).await?;
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

fn decode_b64(what: &str, data: &str) -> Result<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| Error::Agent(format!("bad base64 in {what}: {e}")))
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
    pub async fn connect(path: impl AsRef<Path>) -> Result<Agent> {
        Ok(Agent::new(GuestAgent::connect_unix(path).await?))
    }

    /// The underlying agent client.
    pub fn agent(&self) -> &GuestAgent {
        &self.ga
    }

    /// Checks that the agent answers (`guest-ping`).
    ///
    /// # Errors
    ///
    /// The agent's errors, [`qmp_client::Error::Timeout`].
    pub async fn ping(&self) -> Result<()> {
        Ok(self.ga.guest_ping().await?)
    }

    /// The agent's version and commands (`guest-info`).
    ///
    /// # Errors
    ///
    /// The agent's errors.
    pub async fn info(&self) -> Result<GuestAgentInfo> {
        Ok(self.ga.guest_info().await?)
    }

    /// Reads a whole file of the guest.
    ///
    /// # Errors
    ///
    /// The agent's errors (no such file…).
    pub async fn cat(&self, path: &str) -> Result<Vec<u8>> {
        let handle = self
            .ga
            .guest_file_open(path.to_owned(), Some("r".to_owned()))
            .await?;
        let read = async {
            let mut out = Vec::new();
            loop {
                let chunk = self.ga.guest_file_read(handle, Some(READ_CHUNK)).await?;
                let data = decode_b64("guest-file-read", &chunk.buf_b64)?;
                out.extend_from_slice(&data);
                if chunk.eof || data.is_empty() {
                    return Ok(out);
                }
            }
        };
        let result: Result<Vec<u8>> = read.await;
        let closed = self.ga.guest_file_close(handle).await;
        let out = result?;
        closed?;
        Ok(out)
    }

    /// The state of the guest's file systems: thawed or frozen.
    ///
    /// # Errors
    ///
    /// The agent's errors.
    pub async fn fsfreeze_status(&self) -> Result<GuestFsfreezeStatus> {
        Ok(self.ga.guest_fsfreeze_status().await?)
    }

    /// Freezes the guest's file systems; returns how many.
    ///
    /// # Errors
    ///
    /// The agent's errors.
    pub async fn fsfreeze_freeze(&self) -> Result<i64> {
        Ok(self.ga.guest_fsfreeze_freeze().await?)
    }

    /// Thaws the guest's file systems; returns how many.
    ///
    /// # Errors
    ///
    /// The agent's errors.
    pub async fn fsfreeze_thaw(&self) -> Result<i64> {
        Ok(self.ga.guest_fsfreeze_thaw().await?)
    }

    /// The guest's network interfaces and addresses.
    ///
    /// # Errors
    ///
    /// The agent's errors.
    pub async fn network_interfaces(&self) -> Result<Vec<GuestNetworkInterface>> {
        Ok(self.ga.guest_network_get_interfaces().await?)
    }

    /// Asks the guest to shut down: `mode` is `powerdown`, `reboot` or
    /// `halt`. The agent does not answer when it complies, so this waits
    /// a moment for an error and otherwise reports success.
    ///
    /// # Errors
    ///
    /// The agent's errors (for instance when the command is disabled).
    pub async fn shutdown(&self, mode: &str) -> Result<()> {
        // Raw on purpose: `guest-shutdown` has success-response false, so
        // the typed `guest_shutdown` resolves as soon as it is sent. But
        // qemu-ga does answer when it refuses (command disabled, bad mode),
        // and that error is what this waits for.
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
    pub async fn exec<A: Into<String>>(
        &self,
        path: &str,
        args: impl IntoIterator<Item = A>,
        input: Option<&[u8]>,
    ) -> Result<ExecOutput> {
        let mut command = GuestExec::new(path)
            .with_arg(args.into_iter().map(Into::into).collect::<Vec<String>>())
            .with_capture_output(true);
        if let Some(input) = input {
            command =
                command.with_input_data(base64::engine::general_purpose::STANDARD.encode(input));
        }
        let pid = self.ga.execute(command).await?.pid;
        loop {
            let st = self.ga.guest_exec_status(pid).await?;
            if st.exited {
                let out = st.out_data.as_deref().map(|d| decode_b64("out-data", d));
                let err = st.err_data.as_deref().map(|d| decode_b64("err-data", d));
                return Ok(ExecOutput {
                    exit_code: st.exitcode,
                    signal: st.signal,
                    stdout: out.transpose()?.unwrap_or_default(),
                    stderr: err.transpose()?.unwrap_or_default(),
                    truncated: st.out_truncated == Some(true) || st.err_truncated == Some(true),
                });
            }
            tokio::time::sleep(EXEC_POLL).await;
        }
    }
}
