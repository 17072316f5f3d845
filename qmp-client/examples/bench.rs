//! Round trips per second against one real QEMU 7.2: this client (typed
//! `query-status`), a bare-socket loop, and Python's `qemu.qmp`.
//!
//! ```text
//! cargo run --release -p qmp-client --example bench [-- ROUND_TRIPS]
//! ```
//!
//! One monitor-only QEMU is started with three QMP sockets, one per
//! contender. `qemu.qmp` is installed with pip into `target/bench-venv`
//! on first use. QEMU is found in `QEMU_7_2_BIN_DIR` (default `/usr/bin`).

use std::path::Path;
use std::time::{Duration, Instant};

use qmp_client::{Client, Launcher};
use qmp_types::qmp::QmpCommands as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

const TASKS: usize = 8;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(n));
}

async fn run(n: usize) {
    let qemu_bin = qemu_test_support::Release::V7_2.qemu();
    let dir = std::env::temp_dir().join(format!("qmp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bare_sock = dir.join("bare.sock");
    let py_sock = dir.join("py.sock");
    let qemu = Launcher::new(&qemu_bin)
        .args(["-machine", "none", "-nodefaults", "-display", "none"])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", bare_sock.display()))
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", py_sock.display()))
        .launch()
        .await
        .unwrap();
    let client = qemu.client().clone();
    println!(
        "QEMU {} ({}), {n} round trips per run, {TASKS} tasks for the concurrent runs",
        client.version(),
        qemu_bin.display()
    );

    let mut bare = Bare::connect(&bare_sock).await;
    let py = python(&py_sock, n);

    // Warm up every path, then measure; each figure is the best of three runs.
    ours_seq(&client, n / 10).await;
    bare.sequential(n / 10).await;
    let mut best = [0f64; 4];
    for _ in 0..3 {
        best[0] = best[0].max(rate(n, ours_seq(&client, n).await));
        best[1] = best[1].max(rate(n, bare.sequential(n).await));
        best[2] = best[2].max(rate(n, ours_tasks(&client, n).await));
        best[3] = best[3].max(rate(n, bare.pipelined(n, TASKS).await));
    }
    let [ours_s, bare_s, ours_c, bare_c] = best;
    let (py_s, py_c) = py.await;

    println!();
    println!("{:<40} {:>12}", "contender", "round trips/s");
    println!("{:<40} {:>12.0}", "qmp-client, sequential", ours_s);
    println!("{:<40} {:>12.0}", "bare socket, sequential", bare_s);
    println!("{:<40} {:>12.0}", "qemu.qmp (Python), sequential", py_s);
    println!(
        "{:<40} {:>12.0}",
        format!("qmp-client, {TASKS} tasks"),
        ours_c
    );
    println!(
        "{:<40} {:>12.0}",
        format!("bare socket, {TASKS} pipelined"),
        bare_c
    );
    println!(
        "{:<40} {:>12.0}",
        format!("qemu.qmp (Python), {TASKS} tasks"),
        py_c
    );
    println!();
    println!(
        "sequential:  qmp-client / bare = {:.2}, qmp-client / qemu.qmp = {:.2}",
        ours_s / bare_s,
        ours_s / py_s
    );
    println!(
        "{TASKS} in flight: qmp-client / bare = {:.2}, qmp-client / qemu.qmp = {:.2}",
        ours_c / bare_c,
        ours_c / py_c
    );
    drop(qemu);
    let _ = std::fs::remove_dir_all(&dir);
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn ours_seq(client: &Client, n: usize) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        client.query_status().await.unwrap();
    }
    start.elapsed()
}

async fn ours_tasks(client: &Client, n: usize) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                for _ in 0..n / TASKS {
                    client.query_status().await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

/// The floor: write a request, read up to the newline, no JSON decoding.
struct Bare {
    rd: BufReader<tokio::net::unix::OwnedReadHalf>,
    wr: tokio::net::unix::OwnedWriteHalf,
    line: Vec<u8>,
}

impl Bare {
    async fn connect(path: &Path) -> Bare {
        let (rd, wr) = UnixStream::connect(path).await.unwrap().into_split();
        let mut bare = Bare {
            rd: BufReader::new(rd),
            wr,
            line: Vec::new(),
        };
        bare.read_line().await; // greeting
        // Negotiate as the other contenders do: with `oob`, which moves
        // QEMU's monitor I/O to its own thread.
        bare.wr
            .write_all(b"{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}\n")
            .await
            .unwrap();
        bare.read_line().await;
        bare
    }

    async fn read_line(&mut self) {
        self.line.clear();
        self.rd.read_until(b'\n', &mut self.line).await.unwrap();
        assert!(self.line.starts_with(b"{\"return\"") || self.line.starts_with(b"{\"QMP\""));
    }

    async fn sequential(&mut self, n: usize) -> Duration {
        let start = Instant::now();
        for i in 0..n {
            self.wr
                .write_all(format!("{{\"execute\":\"query-status\",\"id\":{i}}}\n").as_bytes())
                .await
                .unwrap();
            self.read_line().await;
        }
        start.elapsed()
    }

    /// Keeps `window` requests in flight on the one socket.
    async fn pipelined(&mut self, n: usize, window: usize) -> Duration {
        let start = Instant::now();
        let mut sent = 0;
        while sent < window.min(n) {
            self.wr
                .write_all(format!("{{\"execute\":\"query-status\",\"id\":{sent}}}\n").as_bytes())
                .await
                .unwrap();
            sent += 1;
        }
        for _ in 0..n {
            self.read_line().await;
            if sent < n {
                self.wr
                    .write_all(
                        format!("{{\"execute\":\"query-status\",\"id\":{sent}}}\n").as_bytes(),
                    )
                    .await
                    .unwrap();
                sent += 1;
            }
        }
        start.elapsed()
    }
}

const PYTHON: &str = r#"
import asyncio, sys, time
from qemu.qmp import QMPClient

async def main(path, n, tasks):
    qmp = QMPClient('bench')
    await qmp.connect(path)
    for _ in range(n // 10):
        await qmp.execute('query-status')
    best_s = best_c = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            await qmp.execute('query-status')
        best_s = max(best_s, n / (time.perf_counter() - t))
        async def worker():
            for _ in range(n // tasks):
                await qmp.execute('query-status')
        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(tasks)))
        best_c = max(best_c, n / (time.perf_counter() - t))
    await qmp.disconnect()
    print(best_s, best_c)

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"#;

/// Runs the Python contender after the Rust ones (it shares the machine's
/// two cores), installing `qemu.qmp` into its own venv on first use.
async fn python(sock: &Path, n: usize) -> (f64, f64) {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-venv");
    let py = venv.join("bin/python3");
    let ready = tokio::process::Command::new(&py)
        .args(["-c", "import qemu.qmp"])
        .status()
        .await
        .is_ok_and(|s| s.success());
    if !ready {
        eprintln!("installing qemu.qmp into {}", venv.display());
        let ok = tokio::process::Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&venv)
            .status()
            .await
            .unwrap()
            .success()
            && tokio::process::Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "qemu.qmp"])
                .status()
                .await
                .unwrap()
                .success();
        assert!(ok, "cannot install qemu.qmp into {}", venv.display());
    }
    let out = tokio::process::Command::new(&py)
        .arg("-c")
        .arg(PYTHON)
        .arg(sock)
        .arg(n.to_string())
        .arg(TASKS.to_string())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut it = text.split_whitespace().map(|x| x.parse::<f64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}
