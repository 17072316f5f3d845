//! The daemon against real QEMU 7.2 and 10.0: three `qmp shell` clients
//! and one Python `qemu.qmp` client run commands concurrently for 10 s
//! through one daemon, each checking every reply and seeing every event,
//! while other clients connect, get killed mid-command or stop reading;
//! a client of another user is refused by the daemon's `SO_PEERCRED`
//! check; stopping the daemon gives QEMU's socket back; a VM that exits
//! is reported.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// How long the clients hammer the daemon.
const DURATION: Duration = Duration::from_secs(10);
/// Every this many commands, a client also resets the machine.
const RESET_EVERY: u64 = 25;

/// A Python virtual environment with `qemu.qmp`, made once under
/// `target/qmp-venv`.
fn python() -> PathBuf {
    static LOCK: Mutex<()> = Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let venv = workspace().join("target/qmp-venv");
    let py = venv.join("bin/python");
    let has = |py: &Path| {
        Command::new(py)
            .args(["-c", "import qemu.qmp"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has(&py) {
        return py;
    }
    let steps: [(&str, Vec<&str>); 2] = [
        ("python3", vec!["-m", "venv", venv.to_str().unwrap()]),
        (
            venv.join("bin/pip").to_str().unwrap(),
            vec!["install", "-q", "qemu.qmp"],
        ),
    ]
    .map(|(p, a)| (Box::leak(p.to_owned().into_boxed_str()) as &str, a));
    for (prog, args) in steps {
        let out = Command::new(prog).args(&args).output();
        let ok = out.as_ref().is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "cannot set up Python's qemu.qmp: `{prog} {}` failed ({:?}); fix: \
             `apt-get install python3-venv` and make PyPI reachable, or run \
             `python3 -m venv target/qmp-venv && target/qmp-venv/bin/pip install qemu.qmp`",
            args.join(" "),
            out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        );
    }
    assert!(has(&py), "qemu.qmp is not importable from {}", py.display());
    py
}

const PY_CLIENT: &str = r#"
import asyncio, json, sys
from qemu.qmp import QMPClient

async def main(path, duration, base, every):
    qmp = QMPClient('py')
    await qmp.connect(path)
    seen = {'resets': 0, 'all': 0}
    async def listen():
        async for ev in qmp.events:
            seen['all'] += 1
            if ev['event'] == 'RESET' and not ev.get('data', {}).get('guest', False):
                seen['resets'] += 1
    task = asyncio.create_task(listen())
    loop = asyncio.get_running_loop()
    print('READY', flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    replies = resets = 0
    bad = []
    n = base
    end = loop.time() + duration
    while loop.time() < end:
        n += 1
        r = await qmp.execute('human-monitor-command', {'command-line': f'print {n}'})
        if r != f'{n:#x}\r\n':
            bad.append([n, r])
        replies += 1
        if n % every == 0:
            await qmp.execute('system_reset')
            resets += 1
    print(json.dumps({'issued': resets}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    await asyncio.sleep(0.5)
    print(json.dumps({'replies': replies, 'resets': resets, 'bad': bad,
                      'seen_resets': seen['resets']}), flush=True)
    task.cancel()
    await qmp.disconnect()

asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
"#;

/// A `qmp --json shell` client driven line by line.
struct ShellClient {
    proc: Proc,
    input: Option<std::process::ChildStdin>,
    output: BufReader<std::process::ChildStdout>,
    resets_seen: u64,
    resets_issued: u64,
    replies: u64,
}

impl ShellClient {
    fn start(socket: &Path) -> ShellClient {
        let mut child = Command::new(qmp_bin())
            .args(["--socket", socket.to_str().unwrap(), "--json", "shell"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let input = child.stdin.take();
        let output = BufReader::new(child.stdout.take().unwrap());
        let mut c = ShellClient {
            proc: Proc(child),
            input,
            output,
            resets_seen: 0,
            resets_issued: 0,
            replies: 0,
        };
        assert_eq!(c.call("query-status")["status"], "running");
        c
    }

    /// Sends one line; returns the reply, counting the events before it.
    fn call(&mut self, line: &str) -> Value {
        writeln!(self.input.as_mut().unwrap(), "{line}").unwrap();
        loop {
            let v = self.next_line().expect("the shell ended early");
            if v.get("event").is_some() {
                self.count_event(&v);
                continue;
            }
            return v;
        }
    }

    fn next_line(&mut self) -> Option<Value> {
        let mut line = String::new();
        if self.output.read_line(&mut line).unwrap() == 0 {
            return None;
        }
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
    }

    fn count_event(&mut self, v: &Value) {
        if v["event"] == "RESET" && v["data"]["guest"] != true {
            self.resets_seen += 1;
        }
    }

    fn hammer(&mut self, base: u64, until: Instant) {
        let mut n = base;
        while Instant::now() < until {
            n += 1;
            let reply = self.call(&format!("human-monitor-command 'command-line=print {n}'"));
            assert_eq!(
                reply,
                Value::String(format!("{n:#x}\r\n")),
                "reply to print {n}"
            );
            self.replies += 1;
            if n.is_multiple_of(RESET_EVERY) {
                assert_eq!(self.call("system_reset"), serde_json::json!({}));
                self.resets_issued += 1;
            }
        }
    }

    /// Sends a last command, closes the input and counts the rest.
    fn finish(&mut self) {
        let mut input = self.input.take().unwrap();
        writeln!(input, "query-status").unwrap();
        drop(input);
        while let Some(v) = self.next_line() {
            if v.get("event").is_some() {
                self.count_event(&v);
            }
        }
        let status = self.proc.0.wait().unwrap();
        assert!(status.success(), "shell exited with {status}");
    }
}

/// Sends `{"execute": ...}` lines on a raw connection.
fn raw_client(socket: &Path) -> UnixStream {
    let mut s = UnixStream::connect(socket).unwrap();
    s.write_all(b"{\"execute\":\"qmp_capabilities\"}\n")
        .unwrap();
    s
}

fn concurrency(rel: Release, socket: &Path, tag: u64) {
    let py = python();
    let script =
        std::env::temp_dir().join(format!("qmp-test-client-{}-{tag}.py", std::process::id()));
    std::fs::write(&script, PY_CLIENT).unwrap();
    let mut pyc = Proc(
        Command::new(&py)
            .arg(&script)
            .arg(socket)
            .arg(DURATION.as_secs_f64().to_string())
            .arg("9000000")
            .arg(RESET_EVERY.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut py_in = pyc.0.stdin.take().unwrap();
    let mut py_out = BufReader::new(pyc.0.stdout.take().unwrap());
    let mut line = String::new();
    py_out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY", "qemu.qmp client on {rel:?}");
    let mut shells: Vec<ShellClient> = (0..3).map(|_| ShellClient::start(socket)).collect();

    // A client that never reads, with big replies piling up for it.
    let mut deaf = raw_client(socket);
    for i in 0..50 {
        deaf.write_all(format!("{{\"execute\":\"query-qmp-schema\",\"id\":{i}}}\n").as_bytes())
            .unwrap();
    }

    let until = Instant::now() + DURATION;
    writeln!(py_in, "go").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let churned = Arc::new(AtomicU64::new(0));
    let killed = Arc::new(AtomicU64::new(0));
    let churn = {
        let (socket, stop, churned) = (socket.to_owned(), stop.clone(), churned.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let out = qmp(&["--socket", socket.to_str().unwrap(), "exec", "query-status"]);
                assert!(ok(out).contains("\"running\": true"));
                churned.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let killer = {
        let (socket, stop, killed) = (socket.to_owned(), stop.clone(), killed.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                // A qmp process killed at some point of its command.
                let mut c = Command::new(qmp_bin())
                    .args([
                        "--socket",
                        socket.to_str().unwrap(),
                        "exec",
                        "query-qmp-schema",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                std::thread::sleep(Duration::from_millis(i % 9));
                let _ = c.kill();
                let _ = c.wait();
                // A raw client leaving right after sending a command.
                let mut s = raw_client(&socket);
                let _ = s.write_all(b"{\"execute\":\"query-qmp-schema\",\"id\":\"gone\"}\n");
                drop(s);
                killed.fetch_add(2, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let handles: Vec<_> = shells
        .drain(..)
        .enumerate()
        .map(|(i, mut s)| {
            std::thread::spawn(move || {
                s.hammer((i as u64 + 1) * 1_000_000, until);
                s
            })
        })
        .collect();
    let mut shells: Vec<ShellClient> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    line.clear();
    py_out.read_line(&mut line).unwrap();
    let issued: Value = serde_json::from_str(&line).unwrap();
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    killer.join().unwrap();
    std::thread::sleep(Duration::from_millis(500));

    writeln!(py_in, "finish").unwrap();
    for s in &mut shells {
        s.finish();
    }
    line.clear();
    py_out.read_line(&mut line).unwrap();
    let py_report: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        py_report["bad"],
        serde_json::json!([]),
        "qemu.qmp got wrong replies"
    );
    assert_eq!(py_report["resets"], issued["issued"]);

    let total: u64 =
        shells.iter().map(|s| s.resets_issued).sum::<u64>() + py_report["resets"].as_u64().unwrap();
    assert!(total > 4, "too few resets to tell anything: {total}");
    for (i, s) in shells.iter().enumerate() {
        assert!(s.replies > 50, "shell {i} made only {} calls", s.replies);
        assert_eq!(s.resets_seen, total, "shell {i} missed RESET events");
    }
    assert_eq!(
        py_report["seen_resets"].as_u64(),
        Some(total),
        "qemu.qmp missed RESET events"
    );
    assert!(py_report["replies"].as_u64().unwrap() > 50);
    assert!(churned.load(Ordering::Relaxed) > 10);
    assert!(killed.load(Ordering::Relaxed) > 10);
    eprintln!(
        "{rel:?}: shells {:?} replies, qemu.qmp {} replies, {} qmp runs, {} clients killed, {total} resets seen by all",
        shells.iter().map(|s| s.replies).collect::<Vec<_>>(),
        py_report["replies"],
        churned.load(Ordering::Relaxed),
        killed.load(Ordering::Relaxed)
    );
    // The deaf client never blocked anyone; drop it now.
    let _ = deaf.set_nonblocking(true);
    let mut sink = [0u8; 1];
    let _ = deaf.read(&mut sink);
    let _ = std::fs::remove_file(&script);
}

/// A user other than the current one, created if missing.
fn other_user() -> (u32, u32) {
    const NAME: &str = "qmp-test";
    let id = |flag: &str| {
        Command::new("id")
            .args([flag, NAME])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<u32>()
                    .ok()
            })
    };
    if id("-u").is_none() {
        let out = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                NAME,
            ])
            .output();
        assert!(
            out.as_ref().is_ok_and(|o| o.status.success()),
            "the refusal test needs a second user: run `useradd --system --no-create-home {NAME}` \
             as root ({out:?})"
        );
    }
    (id("-u").unwrap(), id("-g").unwrap())
}

/// Copies the `qmp` binary into `open` (mode 0755) for another user to
/// run: the build's own copy may sit where that user cannot reach it (a
/// checkout in a 0700 directory, as `mktemp -d` makes). Fails naming the
/// directory if `open` itself is out of that user's reach.
fn qmp_for_others(open: &Path) -> PathBuf {
    use std::os::unix::fs::MetadataExt as _;
    for dir in open.ancestors().skip(1) {
        let mode = std::fs::metadata(dir).unwrap().mode();
        assert!(
            mode & 0o001 != 0,
            "other users cannot enter {} (mode {:o}), so they cannot run the copy of qmp in {}; \
             point TMPDIR at a directory all users can reach, such as /tmp",
            dir.display(),
            mode & 0o7777,
            open.display()
        );
    }
    let copy = open.join("qmp");
    std::fs::copy(qmp_bin(), &copy).unwrap_or_else(|e| {
        panic!(
            "cannot copy {} to {}: {e}",
            qmp_bin().display(),
            copy.display()
        )
    });
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

fn refuses_other_users(dir: &Path, socket: &Path, log: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    assert_eq!(std::fs::metadata(dir).unwrap().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(socket).unwrap().mode() & 0o777, 0o600);
    let (uid, gid) = other_user();
    // Reach the daemon's socket through a hard link in an open directory,
    // with the socket's mode opened for the moment: only the daemon's own
    // check stands between that user and the VM.
    let open = TempDir::new("peer");
    std::fs::set_permissions(&open.path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let qmp = qmp_for_others(&open.path);
    let link = open.join("vm.sock");
    std::fs::hard_link(socket, &link).unwrap();
    std::fs::set_permissions(&link, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = run_limited(
        {
            let mut c = Command::new(&qmp);
            c.args(["--socket", link.to_str().unwrap(), "exec", "query-status"])
                .env_remove("QMP_VM")
                .current_dir(&open.path)
                .uid(uid)
                .gid(gid);
            c
        },
        Duration::from_secs(20),
    );
    std::fs::set_permissions(&link, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::remove_file(&link).unwrap();
    let err = fails(out);
    assert!(
        err.contains(&format!(
            "connection refused: uid {uid} is not the daemon's user"
        )),
        "{err}"
    );
    let log = std::fs::read_to_string(log).unwrap();
    assert!(
        log.contains("refused a connection from another user"),
        "{log}"
    );
    // Through the private directory, that user cannot even reach it.
    let out = run_limited(
        {
            let mut c = Command::new(&qmp);
            c.args(["--socket", socket.to_str().unwrap(), "status"])
                .current_dir(&open.path)
                .uid(uid)
                .gid(gid);
            c
        },
        Duration::from_secs(20),
    );
    assert!(fails(out).contains("Permission denied"));
}

/// A descriptor passed to the daemon with `add-fd` reaches QEMU: a host
/// file backs a block node on `/dev/fdset/N`, and a pattern QEMU writes
/// through it is read back from the file. Descriptors sent with another
/// command wait for the next `getfd`, as in QEMU.
fn fds_through_daemon(socket: &Path, disk: &Path) {
    use qmp_types::qmp::{BlockdevOptions, BlockdevOptionsBranch, BlockdevOptionsFile};
    use qmp_types::qmp::{QmpCommands as _, commands};
    use std::os::fd::AsFd as _;

    std::fs::write(disk, vec![0u8; 8192]).unwrap();
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .open(disk)
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let qmp = qmp_client::Client::connect_unix(socket).await.unwrap();
        assert!(qmp.can_pass_fds());
        let info = qmp.add_fd(file.as_fd(), None, None).await.unwrap();
        let node = BlockdevOptions::new(BlockdevOptionsBranch::File(BlockdevOptionsFile::new(
            format!("/dev/fdset/{}", info.fdset_id),
        )))
        .with_node_name("fdnode");
        qmp.blockdev_add(node).await.unwrap();
        let out = qmp
            .human_monitor_command("qemu-io fdnode \"write -P 0xab 0 4096\"", None)
            .await
            .unwrap();
        assert!(!out.to_lowercase().contains("error"), "{out:?}");
        let bytes = std::fs::read(disk).unwrap();
        assert!(bytes[..4096].iter().all(|&b| b == 0xab), "pattern missing");
        assert!(bytes[4096..].iter().all(|&b| b == 0), "wrote past 4096");
        qmp.blockdev_del("fdnode").await.unwrap();
        qmp.remove_fd(info.fdset_id, None).await.unwrap();

        // Sent with query-status, kept by the daemon, taken by getfd.
        let (rd, _wr) = std::io::pipe().unwrap();
        qmp.execute_with_fds(commands::QueryStatus::new(), &[rd.as_fd()])
            .await
            .unwrap();
        qmp_types::qmp::QmpCommands::getfd(&qmp, "kept")
            .await
            .unwrap();
        qmp.closefd("kept").await.unwrap();
        // Taken: a second getfd without descriptors gets QEMU's refusal.
        let err = qmp_types::qmp::QmpCommands::getfd(&qmp, "again")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("SCM_RIGHTS"), "{err}");
    });
}

fn daemon_suite(rel: Release, tag: u64) {
    let tmp = TempDir::new("daemon");
    let runtime = tmp.join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    let _cleanup = Cleanup(runtime.clone());
    let env = [("XDG_RUNTIME_DIR", runtime.as_path())];
    let run = |args: &[&str]| qmp_env(args, &env);
    let dir = runtime.join("qmp");
    let qemu = rel.qemu();
    ok(run(&[
        "launch",
        "vm",
        "--qemu",
        qemu.to_str().unwrap(),
        "--",
        "-machine",
        "pc",
        "-nodefaults",
        "-display",
        "none",
    ]));
    let socket = dir.join("vm.sock");

    let out = run(&["daemon", "status"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out).trim(), "daemon: not running");
    let started = ok(run(&["daemon", "start"]));
    assert!(started.starts_with("daemon started (pid "), "{started}");
    let err = fails(run(&["daemon", "start"]));
    assert!(err.contains("already running"), "{err}");
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let st: Value = serde_json::from_str(&ok(run(&["--json", "daemon", "status"]))).unwrap();
        if st["vms"][0]["state"] == "running" {
            assert!(st["pid"].as_u64().is_some() && st["uptime"].as_f64().is_some());
            break;
        }
        assert!(
            Instant::now() < end,
            "the daemon never took over the VM: {st}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(dir.join(".vm.qemu.sock").exists());
    assert!(ok(run(&["list"])).contains(" yes "));
    // Two connections at once: one waits for an event, one causes it.
    let waiter = std::thread::spawn({
        let runtime = runtime.clone();
        move || {
            qmp_env(
                &["--vm", "vm", "events", "STOP", "--wait", "20"],
                &[("XDG_RUNTIME_DIR", runtime.as_path())],
            )
        }
    });
    let end = Instant::now() + Duration::from_secs(10);
    while !waiter.is_finished() {
        assert!(Instant::now() < end, "events never saw STOP");
        ok(run(&["--vm", "vm", "pause"]));
        ok(run(&["--vm", "vm", "resume"]));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ok(waiter.join().unwrap()).contains(" STOP"));
    // HMP goes through the daemon like any command, errors included.
    assert_eq!(
        ok(run(&["--vm", "vm", "hmp", "info status"])),
        "VM status: running\r\n"
    );
    let err = fails(run(&["--vm", "vm", "hmp", "device_del nonesuch"]));
    assert!(err.contains("Error: Device 'nonesuch' not found"), "{err}");

    fds_through_daemon(&socket, &tmp.join("disk.img"));
    concurrency(rel, &socket, tag);
    let status = ok(run(&["daemon", "status"]));
    assert!(status.contains("vm: running"), "{status}");

    refuses_other_users(&dir, &socket, &dir.join("daemon.log"));

    // Stopping the daemon gives QEMU its socket back.
    assert!(ok(run(&["daemon", "stop"])).starts_with("daemon stopped"));
    assert!(!dir.join(".vm.qemu.sock").exists());
    assert_eq!(ok(run(&["--vm", "vm", "status"])).trim(), "running");
    assert!(ok(run(&["list"])).contains(" no "));

    // A VM that exits is reported, and its clients are let go.
    ok(run(&["daemon", "start"]));
    let end = Instant::now() + Duration::from_secs(10);
    while !dir.join(".vm.qemu.sock").exists() {
        assert!(Instant::now() < end, "not adopted again");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut watcher = raw_client(&socket);
    watcher
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut greeting = String::new();
    BufReader::new(watcher.try_clone().unwrap())
        .read_line(&mut greeting)
        .unwrap();
    assert!(greeting.contains("\"capabilities\":[]"), "{greeting}");
    ok(run(&["--vm", "vm", "exec", "quit"]));
    let mut rest = Vec::new();
    watcher
        .read_to_end(&mut rest)
        .expect("the daemon let the client go");
    let st: Value = serde_json::from_str(&ok(run(&["--json", "daemon", "status"]))).unwrap();
    assert_eq!(st["vms"][0]["state"], "exited", "{st}");
    assert!(st["vms"][0]["exited_at"].as_f64().is_some());
    assert!(ok(run(&["daemon", "status"])).contains("vm: exited"));
    ok(run(&["daemon", "stop"]));
}

#[test]
fn daemon_qemu_7_2() {
    within(Duration::from_secs(120), || daemon_suite(Release::V7_2, 1));
}

#[test]
fn daemon_qemu_10_0() {
    within(Duration::from_secs(120), || daemon_suite(Release::V10_0, 2));
}

#[test]
fn daemon_qemu_11_1() {
    within(Duration::from_secs(120), || daemon_suite(Release::V11_1, 3));
}
