//! The cost of one `qmp exec query-status` invocation, from process start
//! to exit, against a running VM: directly on QEMU's monitor, and through
//! the daemon.
//!
//! ```sh
//! cargo bench -p qmp-cli --bench invocation [-- RUNS]
//! ```
//!
//! Uses QEMU 7.2 (`/usr/bin`, or `QEMU_7_2_BIN_DIR`) with a PC machine.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn qmp(runtime: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qmp"));
    c.env("XDG_RUNTIME_DIR", runtime)
        .env_remove("QMP_SOCKET")
        .env_remove("QMP_VM")
        .stdin(Stdio::null());
    c
}

fn must(mut c: Command) -> String {
    let out = c.output().expect("run qmp");
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `qmp --vm vm exec query-status` `runs` times; returns the sorted
/// wall times.
fn measure(runtime: &Path, runs: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut c = qmp(runtime);
        c.args(["--vm", "vm", "exec", "query-status"])
            .stdout(Stdio::null());
        let t = Instant::now();
        let status = c.status().expect("run qmp");
        times.push(t.elapsed());
        assert!(status.success());
    }
    times.sort();
    times
}

fn report(what: &str, t: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = t.iter().sum::<Duration>() / t.len() as u32;
    println!(
        "{what:<16} runs {:>5}  mean {:>6.2} ms  median {:>6.2} ms  p95 {:>6.2} ms  min {:>6.2} ms",
        t.len(),
        ms(mean),
        ms(t[t.len() / 2]),
        ms(t[t.len() * 95 / 100]),
        ms(t[0])
    );
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    let qemu = qemu_test_support::Release::V7_2.qemu();
    let runtime = std::env::temp_dir().join(format!("qmp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&runtime).unwrap();
    let mut launch = qmp(&runtime);
    launch.args(["launch", "vm", "--qemu"]).arg(&qemu).args([
        "--",
        "-machine",
        "pc",
        "-nodefaults",
        "-display",
        "none",
        "-accel",
        "tcg",
    ]);
    must(launch);
    // Warm up the page cache and QEMU.
    measure(&runtime, 20);
    let direct = measure(&runtime, runs);
    let mut start = qmp(&runtime);
    start.args(["daemon", "start"]);
    must(start);
    let sock = runtime.join("qmp/.vm.qemu.sock");
    let end = Instant::now() + Duration::from_secs(10);
    while !sock.exists() {
        assert!(Instant::now() < end, "the daemon did not take over the VM");
        std::thread::sleep(Duration::from_millis(10));
    }
    measure(&runtime, 20);
    let proxied = measure(&runtime, runs);
    let mut stop = qmp(&runtime);
    stop.args(["daemon", "stop"]);
    must(stop);
    let mut quit = qmp(&runtime);
    quit.args(["--vm", "vm", "exec", "quit"]);
    must(quit);
    println!("qmp exec query-status, process start to exit:");
    report("direct", &direct);
    report("through daemon", &proxied);
    let _ = std::fs::remove_dir_all(&runtime);
}
