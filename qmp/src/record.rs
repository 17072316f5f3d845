//! `qmp record`: a recording proxy between one QMP client and a monitor.
//!
//! It listens on a Unix socket, and once a client connects, connects to
//! the monitor and passes every line both ways unchanged, writing each
//! message to a transcript (qmp-fake's format, [`qmp_fake::transcript`])
//! as it goes. The session ends when either side closes.

use std::path::Path;
use std::sync::{Arc, Mutex};

use qmp_fake::transcript::{Side, TranscriptWriter};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::cli::Endpoint;
use crate::{CliResult, Failure};

/// Longest message passed on; QEMU's largest reply (`query-qmp-schema`)
/// is a fraction of it.
const MAX_LINE: usize = 64 << 20;

type Writer = Arc<Mutex<TranscriptWriter<std::fs::File>>>;

pub(crate) async fn record(upstream: Endpoint, listen: &Path, file: &Path) -> CliResult<()> {
    if let Endpoint::Libvirt { domain, .. } = &upstream {
        return Err(not_a_socket(domain));
    }
    let out = std::fs::File::create(file)
        .map_err(|e| Failure::msg(format!("cannot write {}: {e}", file.display())))?;
    let writer: Writer = Arc::new(Mutex::new(TranscriptWriter::new(out)));
    let listener = tokio::net::UnixListener::bind(listen).map_err(|e| {
        Failure::msg(format!(
            "cannot listen on {}: {e} (remove it if a recorder left it)",
            listen.display()
        ))
    })?;
    // Tells whoever waits for the recorder (a script, a test) that the
    // client can connect now.
    println!("listening on {}", listen.display());
    let accepted = listener.accept().await;
    drop(listener);
    let _ = std::fs::remove_file(listen);
    let (client, _) = accepted.map_err(|e| Failure::msg(format!("accept: {e}")))?;
    let (client_rd, client_wr) = client.into_split();
    match upstream {
        Endpoint::Unix(path) => {
            let qemu = tokio::net::UnixStream::connect(&path)
                .await
                .map_err(|e| Failure::msg(format!("cannot connect to {}: {e}", path.display())))?;
            let (rd, wr) = qemu.into_split();
            pump_both(client_rd, client_wr, rd, wr, writer).await
        }
        Endpoint::Tcp(addr) => {
            let qemu = tokio::net::TcpStream::connect(addr.as_str())
                .await
                .map_err(|e| Failure::msg(format!("cannot connect to {addr}: {e}")))?;
            let (rd, wr) = qemu.into_split();
            pump_both(client_rd, client_wr, rd, wr, writer).await
        }
        Endpoint::Libvirt { domain, .. } => Err(not_a_socket(&domain)),
    }
}

async fn pump_both<CR, CW, QR, QW>(
    client_rd: CR,
    client_wr: CW,
    qemu_rd: QR,
    qemu_wr: QW,
    writer: Writer,
) -> CliResult<()>
where
    CR: AsyncRead + Unpin + Send + 'static,
    CW: AsyncWrite + Unpin + Send + 'static,
    QR: AsyncRead + Unpin + Send + 'static,
    QW: AsyncWrite + Unpin + Send + 'static,
{
    let mut to_qemu = tokio::spawn(pump(client_rd, qemu_wr, Side::Client, writer.clone()));
    let mut to_client = tokio::spawn(pump(qemu_rd, client_wr, Side::Qemu, writer));
    // Whichever side closes first ends the session; the other direction
    // has nobody left to talk to.
    let first = tokio::select! {
        r = &mut to_qemu => { to_client.abort(); r }
        r = &mut to_client => { to_qemu.abort(); r }
    };
    first.map_err(|e| Failure::msg(format!("recorder: {e}")))?
}

/// Passes lines from `rd` to `wr`, recording each as sent by `side`.
async fn pump<R, W>(rd: R, mut wr: W, side: Side, writer: Writer) -> CliResult<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut rd = BufReader::new(rd);
    let who = side.as_str();
    loop {
        let mut line = Vec::new();
        loop {
            let buf = rd
                .fill_buf()
                .await
                .map_err(|e| Failure::msg(format!("reading from {who}: {e}")))?;
            if buf.is_empty() {
                let _ = wr.shutdown().await;
                return Ok(());
            }
            let (take, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            line.extend_from_slice(&buf[..take]);
            rd.consume(take);
            if line.len() > MAX_LINE {
                return Err(Failure::msg(format!(
                    "{who} sent a message longer than {MAX_LINE} bytes"
                )));
            }
            if done {
                break;
            }
        }
        wr.write_all(&line)
            .await
            .map_err(|e| Failure::msg(format!("writing to the other side of {who}: {e}")))?;
        if line.trim_ascii().is_empty() {
            continue;
        }
        match serde_json::from_slice(&line) {
            Ok(message) => writer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .write(side, &message)
                .map_err(|e| Failure::msg(format!("writing the transcript: {e}")))?,
            // Passed on, as QEMU answers it, but a transcript holds JSON.
            Err(e) => eprintln!(
                "qmp: warning: {who} sent a line that is not JSON ({e}); not recorded: {}",
                String::from_utf8_lossy(&line).trim_end()
            ),
        }
    }
}

/// libvirt owns a domain's monitor and relays one command at a time: there
/// is no byte stream to proxy.
fn not_a_socket(domain: &str) -> Failure {
    Failure::msg(format!(
        "qmp record needs a monitor socket (--socket, --tcp or --vm); \
         libvirt owns the monitor of domain `{domain}`"
    ))
}
