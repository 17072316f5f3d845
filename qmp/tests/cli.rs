//! Every `qmp` subcommand against a real QEMU 7.2 and 10.0 PC machine
//! (no guest needed): run control and its events, hot-plug, QOM, `exec`
//! with schema checks, the shell, `launch`/`list`, and completions.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Starts `qmp --socket AUX --json events ARGS` and repeats `action`
/// until it exits; returns the events it printed.
fn events_while(vm: &Vm, args: &[&str], mut action: impl FnMut()) -> Vec<Value> {
    let mut child = Proc(
        Command::new(qmp_bin())
            .args(["--socket", &vm.aux(), "--json", "events"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            let out = std::io::read_to_string(child.0.stdout.take().unwrap()).unwrap();
            let err = std::io::read_to_string(child.0.stderr.take().unwrap()).unwrap();
            assert!(status.success(), "events failed: {err}");
            return out
                .lines()
                .map(|l| serde_json::from_str(l).expect("a JSON line"))
                .collect();
        }
        assert!(Instant::now() < end, "qmp events never finished");
        action();
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn names(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

fn control(vm: &Vm) {
    assert_eq!(ok(vm.qmp(&["status"])).trim(), "running");
    let seen = events_while(vm, &["-n", "3", "STOP", "RESUME"], || {
        ok(vm.qmp(&["pause"]));
        assert_eq!(ok(vm.qmp(&["status"])).trim(), "paused");
        let st: Value = serde_json::from_str(&ok(vm.qmp(&["--json", "status"]))).unwrap();
        assert_eq!(st["running"], false);
        ok(vm.qmp(&["resume"]));
        assert_eq!(ok(vm.qmp(&["status"])).trim(), "running");
    });
    let n = names(&seen);
    assert!(n.contains(&"STOP") && n.contains(&"RESUME"), "{n:?}");
    assert!(seen[0]["timestamp"]["seconds"].as_i64().unwrap() > 0);

    let seen = events_while(vm, &["POWERDOWN"], || {
        ok(vm.qmp(&["powerdown"]));
    });
    assert_eq!(names(&seen), ["POWERDOWN"]);

    let seen = events_while(vm, &["RESET"], || {
        ok(vm.qmp(&["reset"]));
    });
    assert_eq!(names(&seen), ["RESET"]);

    // Not suspended: QEMU's error class and message, exit status 1.
    let err = fails(vm.qmp(&["wakeup"]));
    assert!(err.contains("GenericError"), "{err}");

    // Waiting with a limit: an error unless following.
    let err = fails(vm.qmp(&["events", "STOP", "--wait", "0.3"]));
    assert!(err.contains("timed out waiting for STOP"), "{err}");
    ok(vm.qmp(&["events", "--follow", "--wait", "0.3"]));
}

fn hotplug(vm: &Vm) {
    ok(vm.qmp(&["device-add", "usb-tablet", "--id", "tab1", "bus=xhci.0"]));
    assert!(ok(vm.qmp(&["qom", "ls", "/machine/peripheral"])).contains("tab1"));
    let t = Instant::now();
    ok(vm.qmp(&["device-del", "tab1"]));
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(!ok(vm.qmp(&["qom", "ls", "/machine/peripheral"])).contains("tab1"));
    let err = fails(vm.qmp(&["device-del", "tab1"]));
    assert!(err.contains("DeviceNotFound"), "{err}");
    let err = fails(vm.qmp(&["device-add", "no-such-device"]));
    assert!(err.contains("no-such-device"), "{err}");
    // MAQET's forms: --device-id, and properties as options.
    ok(vm.qmp(&[
        "device-add",
        "usb-kbd",
        "--device-id",
        "k1",
        "--bus",
        "xhci.0",
    ]));
    ok(vm.qmp(&[
        "device-add",
        "usb-mouse",
        "--bus=xhci.0",
        "--device-id",
        "m1",
    ]));
    let ls = ok(vm.qmp(&["qom", "ls", "/machine/peripheral"]));
    assert!(
        ls.contains("k1  (child<usb-kbd>)") && ls.contains("m1  (child<usb-mouse>)"),
        "{ls}"
    );
    ok(vm.qmp(&["device-del", "k1"]));
    ok(vm.qmp(&["device-del", "m1"]));
    let err = fails(vm.qmp(&["device-add", "usb-kbd", "--bus"]));
    assert!(err.contains("`--bus` needs a value"), "{err}");
}

fn qom(vm: &Vm) {
    assert!(ok(vm.qmp(&["qom", "ls", "/machine"])).contains("peripheral  (child<container>)"));
    assert!(ok(vm.qmp(&["qom", "get", "/machine", "type"])).starts_with("pc-i440fx-"));
    ok(vm.qmp(&["qom", "set", "/machine", "dump-guest-core", "false"]));
    assert_eq!(
        ok(vm.qmp(&["qom", "get", "/machine", "dump-guest-core"])).trim(),
        "false"
    );
    ok(vm.qmp(&["qom", "set", "/machine", "dump-guest-core", "true"]));
    assert_eq!(
        ok(vm.qmp(&["qom", "get", "/machine", "dump-guest-core"])).trim(),
        "true"
    );
    let tree = ok(vm.qmp(&["qom", "tree"]));
    assert!(tree.starts_with("/machine (pc-i440fx-"), "{tree}");
    assert!(tree.contains("\n  peripheral (container)\n"), "{tree}");
    assert!(
        tree.contains("    tab") || tree.contains("xhci (qemu-xhci)"),
        "{tree}"
    );
    let json: Value = serde_json::from_str(&ok(vm.qmp(&["--json", "qom", "tree", "/"]))).unwrap();
    assert_eq!(json["path"], "/");
    assert!(
        json["children"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"] == "/machine")
    );
    let err = fails(vm.qmp(&["qom", "get", "/nonesuch", "type"]));
    assert!(
        err.contains("DeviceNotFound") || err.contains("GenericError"),
        "{err}"
    );
}

fn exec(vm: &Vm) {
    assert!(ok(vm.qmp(&["exec", "query-status"])).contains("\"running\": true"));
    let one = ok(vm.qmp(&[
        "--json",
        "exec",
        "qom-get",
        "path=/machine",
        "property=type",
    ]));
    assert!(one.starts_with("\"pc-i440fx-"), "{one}");
    let j = ok(vm.qmp(&[
        "exec",
        "qom-get",
        r#"{"path": "/machine", "property": "type"}"#,
    ]));
    assert!(j.starts_with("\"pc-i440fx-"), "{j}");
    // MAQET's form: arguments as options.
    let opts = ok(vm.qmp(&[
        "--json",
        "exec",
        "qom-get",
        "--path",
        "/machine",
        "--property=type",
    ]));
    assert!(opts.starts_with("\"pc-i440fx-"), "{opts}");
    // One of qmp's options left among them is not sent as an argument.
    let err = fails(vm.qmp(&[
        "exec",
        "qom-get",
        "--path",
        "/machine",
        "--property",
        "type",
        "--json",
    ]));
    assert!(
        err.contains("`--json` after the arguments is read as an argument"),
        "{err}"
    );
    let hmp = ok(vm.qmp(&["exec", "human-monitor-command", "command-line=print 255"]));
    assert!(hmp.contains("0xff"), "{hmp}");

    // Wrong argument names fail before anything reaches QEMU.
    let rec = Recorder::new(&vm.dir.path, vm.dir.join("qmp.sock"));
    let sock = rec.path.to_str().unwrap().to_owned();
    let err = fails(qmp(&[
        "--socket",
        &sock,
        "exec",
        "qom-get",
        "pth=/machine",
        "property=type",
    ]));
    assert!(
        err.contains("qom-get: unknown argument `pth`; did you mean `path`?"),
        "{err}"
    );
    let err = fails(qmp(&[
        "--socket",
        &sock,
        "exec",
        "qom-get",
        "path=/machine",
    ]));
    assert!(err.contains("missing argument `property`"), "{err}");
    let err = fails(qmp(&[
        "--socket",
        &sock,
        "exec",
        "stop",
        r#"{"now": true}"#,
    ]));
    assert!(err.contains("unknown argument `now`"), "{err}");
    let err = fails(qmp(&[
        "--socket",
        &sock,
        "exec",
        "qom-get",
        "--pth",
        "/machine",
        "--property",
        "type",
    ]));
    assert!(
        err.contains("qom-get: unknown argument `pth`; did you mean `path`?"),
        "{err}"
    );
    let sent = rec.sent();
    assert!(sent.contains("query-qmp-schema"), "{sent}");
    assert!(
        !sent.contains("\"qom-get\"") && !sent.contains("\"stop\""),
        "{sent}"
    );
    assert_eq!(ok(vm.qmp(&["status"])).trim(), "running");

    let err = fails(vm.qmp(&["exec", "query-statsu"]));
    assert!(
        err.contains("unknown command `query-statsu`; did you mean"),
        "{err}"
    );
    assert!(err.contains("`query-status`"), "{err}");
    // QEMU's own errors: class and message on stderr, JSON on stdout.
    let out = vm.qmp(&[
        "--json",
        "exec",
        "qom-get",
        "path=/nonesuch",
        "property=type",
    ]);
    let err = fails(out.clone());
    assert!(
        err.contains("DeviceNotFound") || err.contains("GenericError"),
        "{err}"
    );
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(v["error"]["class"].is_string(), "{v}");
}

/// The `send-key` commands `qmp keys ARGS` sends, as (keys, hold-time).
fn send_keys(vm: &Vm, args: &[&str]) -> Vec<(Vec<String>, Option<i64>)> {
    let rec = Recorder::new(&vm.dir.path, vm.dir.join("qmp.sock"));
    let mut all = vec!["--socket", rec.path.to_str().unwrap(), "keys"];
    all.extend_from_slice(args);
    ok(qmp(&all));
    let sent = rec.sent();
    std::fs::remove_file(&rec.path).unwrap();
    sent.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|m| m["execute"] == "send-key")
        .map(|m| {
            let keys = m["arguments"]["keys"].as_array().unwrap();
            let names = keys
                .iter()
                .map(|k| k["data"].as_str().unwrap().to_owned())
                .collect();
            (names, m["arguments"]["hold-time"].as_i64())
        })
        .collect()
}

/// What `qmp keys` sends: the words are one chord (MAQET's and QEMU's
/// reading), `,` starts the next, options go anywhere.
fn keys_on_the_wire(vm: &Vm) {
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        send_keys(vm, &["ctrl", "alt", "f2"]),
        [(names(&["ctrl", "alt", "f2"]), None)]
    );
    assert_eq!(
        send_keys(vm, &["ctrl-alt-f2"]),
        [(names(&["ctrl", "alt", "f2"]), None)]
    );
    assert_eq!(
        send_keys(vm, &["--hold-time", "200", "ctrl", "c"]),
        [(names(&["ctrl", "c"]), Some(200))]
    );
    assert_eq!(
        send_keys(vm, &["ctrl", "c", "--hold-time", "50"]),
        [(names(&["ctrl", "c"]), Some(50))]
    );
    assert_eq!(
        send_keys(vm, &["ctrl-c", ",", "enter", ",", "shift+,"]),
        [
            (names(&["ctrl", "c"]), None),
            (names(&["ret"]), None),
            (names(&["shift", "comma"]), None)
        ]
    );
    // A list that is wrong anywhere fails, saying what is wrong.
    let err = fails(vm.qmp(&["keys", "ctrl-c", ",", "ctlr-c"]));
    assert!(
        err.contains("unknown key `ctlr`; did you mean `ctl`, `ctrl`?"),
        "{err}"
    );
    let err = fails(vm.qmp(&["keys", "ctrl-c,", "ret"]));
    assert!(err.contains("must be a word of its own"), "{err}");
    let err = fails(vm.qmp(&["keys", "--", "--hold-time", "200", "ctrl", "c"]));
    assert!(
        err.contains("`--hold-time` looks like an option, not a key name: options go before `--`"),
        "{err}"
    );
}

fn shell(vm: &Vm) {
    let run = |script: &str| {
        let mut child = Command::new(qmp_bin())
            .args(["--socket", &vm.socket(), "--json", "shell"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        run_limited_child(child)
    };
    let out = run("query-status\n\
         qom-get path=/machine property=type\n\
         {\"execute\": \"query-version\"}\n\
         stop\n\
         cont\n\
         quit\n");
    let text = ok(out);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["status"], "running", "{text}");
    assert!(
        lines[1].as_str().unwrap().starts_with("pc-i440fx-"),
        "{text}"
    );
    assert!(lines[2]["qemu"]["major"].is_number(), "{text}");
    assert!(text.contains("\"event\":\"STOP\""), "{text}");
    assert!(text.contains("\"event\":\"RESUME\""), "{text}");

    // Transactions: actions are checked as they are added; a failing
    // action fails the whole transaction.
    let out = run("transaction\nabort\ncommit\nqom-get pth=/\ntransaction\nnonesuch\ndiscard\n");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("Transaction aborted using Abort action"),
        "{err}"
    );
    assert!(err.contains("unknown argument `pth`"), "{err}");
    assert!(err.contains("unknown action `nonesuch`"), "{err}");
}

/// `qmp hmp`: QEMU's text exactly, in one word or several; errors exit 1
/// with QEMU's message.
fn hmp(vm: &Vm) {
    let v: Value = serde_json::from_str(&ok(vm.qmp(&["--json", "exec", "query-version"]))).unwrap();
    let q = &v["qemu"];
    let version = format!(
        "{}.{}.{}{}\r\n",
        q["major"],
        q["minor"],
        q["micro"],
        v["package"].as_str().unwrap()
    );
    assert_eq!(ok(vm.qmp(&["hmp", "info version"])), version);
    assert_eq!(ok(vm.qmp(&["hmp", "info", "version"])), version);
    let json: Value =
        serde_json::from_str(&ok(vm.qmp(&["--json", "hmp", "info version"]))).unwrap();
    assert_eq!(json, Value::String(version));

    let ty = ok(vm.qmp(&["qom", "get", "/machine", "type"]));
    assert_eq!(
        ok(vm.qmp(&["hmp", "qom-get", "/machine", "type"])),
        format!("\"{}\"\r\n", ty.trim_end())
    );
    // A word with spaces reaches HMP as one quoted string argument:
    // qemu-io succeeds (its report goes to QEMU's standard output, not
    // into the reply), where the same words unquoted are refused.
    ok(vm.qmp(&[
        "exec",
        "blockdev-add",
        "driver=null-co",
        "node-name=null0",
        "read-zeroes=true",
    ]));
    assert_eq!(
        ok(vm.qmp(&["hmp", "qemu-io", "null0", "read -P 0 0 512"])),
        ""
    );
    let err = fails(vm.qmp(&["hmp", "qemu-io null0 read -P 0 0 512"]));
    assert!(
        err.contains("extraneous characters at the end of line\nTry \"help qemu-io\""),
        "{err}"
    );

    // Errors: QEMU's text on standard error, nothing on standard output.
    let out = vm.qmp(&["hmp", "device_del nonesuch"]);
    assert_eq!(stdout(&out), "");
    assert_eq!(
        fails(out),
        "qmp: error: hmp `device_del nonesuch`: Error: Device 'nonesuch' not found\n"
    );
    let err = fails(vm.qmp(&["hmp", "nonesuch"]));
    assert!(err.contains("unknown command: 'nonesuch'"), "{err}");
    let out = vm.qmp(&["--json", "hmp", "nonesuch"]);
    let reply: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        reply["error"]["desc"]
            .as_str()
            .unwrap()
            .contains("unknown command: 'nonesuch'"),
        "{reply}"
    );
    fails(out);
}

/// The shell's HMP mode: `!CMD`, `hmp CMD`, and `hmp` as a toggle.
fn shell_hmp(vm: &Vm) {
    let mut child = Command::new(qmp_bin())
        .args(["--socket", &vm.socket(), "shell"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"!info version\n\
              hmp info status\n\
              hmp\n\
              stop\n\
              info status\n\
              device_del nonesuch\n\
              hmp\n\
              cont\n\
              !info status\n\
              quit\n",
        )
        .unwrap();
    let out = run_limited_child(child);
    // The failed HMP command makes the piped shell exit 1.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let version = ok(vm.qmp(&["hmp", "info version"]));
    let expect = format!(
        "{version}VM status: running\r\n\
         HMP mode: lines are HMP commands; `hmp` to go back to QMP\n\
         VM status: paused\r\n\
         QMP mode\n\
         {{}}\n\
         VM status: running\r\n"
    );
    // Events (STOP, RESUME) may be printed in between; drop them.
    let kept: String = text
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("{\"event\""))
        .collect();
    assert_eq!(kept, expect, "{text}");
    assert_eq!(
        stderr(&out),
        "error: hmp `device_del nonesuch`: Error: Device 'nonesuch' not found\n\
         qmp: error: some commands failed\n"
    );
}

fn run_limited_child(child: std::process::Child) -> std::process::Output {
    let id = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(30));
        let _ = Command::new("kill").arg("-9").arg(id.to_string()).status();
    });
    let out = child.wait_with_output().unwrap();
    drop(watchdog);
    out
}

/// A second client while one holds the monitor: QEMU greets it only when
/// the first leaves. The CLI says the monitor is busy and names the daemon.
fn busy_monitor(vm: &Vm) {
    use std::io::{BufRead, BufReader};
    let holder = std::os::unix::net::UnixStream::connect(vm.socket()).unwrap();
    let mut greeting = String::new();
    BufReader::new(&holder).read_line(&mut greeting).unwrap();
    assert!(greeting.contains("\"QMP\""), "{greeting}");
    let err = fails(vm.qmp(&["--timeout", "1", "exec", "query-status"]));
    assert!(
        err.contains("another client may hold this monitor"),
        "{err}"
    );
    assert!(err.contains("qmp daemon start"), "{err}");
    drop(holder);
    ok(vm.qmp(&["exec", "query-status"]));
}

fn machine_suite(rel: Release) {
    let vm = Vm::machine(rel, "cli");
    let v: Value = serde_json::from_str(&ok(vm.qmp(&["--json", "exec", "query-version"]))).unwrap();
    assert_eq!(
        (
            v["qemu"]["major"].as_u64().unwrap() as u32,
            v["qemu"]["minor"].as_u64().unwrap() as u32
        ),
        rel.major_minor()
    );
    control(&vm);
    keys_on_the_wire(&vm);
    hotplug(&vm);
    qom(&vm);
    exec(&vm);
    shell(&vm);
    hmp(&vm);
    shell_hmp(&vm);
    busy_monitor(&vm);
}

#[test]
fn machine_qemu_7_2() {
    within(Duration::from_secs(120), || machine_suite(Release::V7_2));
}

#[test]
fn machine_qemu_10_0() {
    within(Duration::from_secs(120), || machine_suite(Release::V10_0));
}

#[test]
fn machine_qemu_11_1() {
    within(Duration::from_secs(120), || machine_suite(Release::V11_1));
}

/// Kills the QEMUs `qmp launch` started in `dir`, whatever happens.
struct Launched(std::path::PathBuf);

impl Drop for Launched {
    fn drop(&mut self) {
        for name in runtime::vm_names(&self.0) {
            if let Some(pid) = runtime::live_pid(&runtime::pid_file(&self.0, &name)) {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            }
        }
    }
}

fn launch_list(rel: Release) {
    let tmp = TempDir::new("launch");
    let env = [("XDG_RUNTIME_DIR", tmp.path.as_path())];
    let dir = tmp.join("qmp");
    let _guard = Launched(dir.clone());
    let qemu = rel.qemu();
    let q = qemu.to_str().unwrap();
    let run = |args: &[&str]| qmp_env(args, &env);
    let err = fails(run(&["status"]));
    assert!(err.contains("no target"), "{err}");
    let out = ok(run(&[
        "launch",
        "vm1",
        "--qemu",
        q,
        "--",
        "-machine",
        "pc",
        "-nodefaults",
        "-display",
        "none",
    ]));
    assert!(out.starts_with("vm1: QEMU running (pid "), "{out}");
    assert!(dir.join("vm1.sock").exists());
    // With one VM, it is the default target.
    assert_eq!(ok(run(&["status"])).trim(), "running");
    let out = ok(run(&[
        "--json",
        "launch",
        "vm2",
        "--ga",
        "--qemu",
        q,
        "--",
        "-machine",
        "pc",
        "-nodefaults",
        "-display",
        "none",
        "-S",
    ]));
    let launched: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(launched["name"], "vm2");
    assert!(dir.join("vm2.ga.sock").exists());
    let err = fails(run(&[
        "launch", "vm1", "--qemu", q, "--", "-machine", "none",
    ]));
    assert!(err.contains("already running"), "{err}");
    let err = fails(run(&["launch", "bad.name", "--qemu", q]));
    assert!(err.contains("bad VM name"), "{err}");
    let err = fails(run(&[
        "launch",
        "vm3",
        "--qemu",
        q,
        "--",
        "-no-such-option",
    ]));
    assert!(
        err.contains("QEMU exited") && err.contains("no-such-option"),
        "{err}"
    );

    let list: Value = serde_json::from_str(&ok(run(&["--json", "list"]))).unwrap();
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{list}");
    assert_eq!(
        (rows[0]["name"].as_str(), rows[0]["status"].as_str()),
        (Some("vm1"), Some("running"))
    );
    assert_eq!(
        (rows[1]["name"].as_str(), rows[1]["status"].as_str()),
        (Some("vm2"), Some("prelaunch"))
    );
    assert!(rows[0]["pid"].as_u64().is_some());
    let human = ok(run(&["list"]));
    assert!(
        human.starts_with("NAME") && human.contains("vm2") && human.contains("prelaunch"),
        "{human}"
    );

    let err = fails(run(&["status"]));
    assert!(err.contains("several VMs (vm1, vm2)"), "{err}");
    let err = fails(run(&["--vm", "vm", "status"]));
    assert!(err.contains("no VM `vm`"), "{err}");
    assert_eq!(ok(run(&["--vm", "vm2", "status"])).trim(), "prelaunch");
    ok(run(&["--vm", "vm1", "exec", "quit"]));
    let end = Instant::now() + Duration::from_secs(10);
    while dir.join("vm1.sock").exists() {
        assert!(Instant::now() < end, "vm1's socket stayed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(runtime::vm_names(&dir), ["vm2"]);
}

#[test]
fn launch_list_qemu_7_2() {
    within(Duration::from_secs(60), || launch_list(Release::V7_2));
}

#[test]
fn launch_list_qemu_10_0() {
    within(Duration::from_secs(60), || launch_list(Release::V10_0));
}

#[test]
fn launch_list_qemu_11_1() {
    within(Duration::from_secs(60), || launch_list(Release::V11_1));
}

#[test]
fn completions() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(qmp(&["completions", shell]));
        for word in ["screendump", "device-del", "completions"] {
            assert!(out.contains(word), "{shell}: no {word}");
        }
    }
    let out = qmp(&["completions", "nonesuch"]);
    assert_eq!(out.status.code(), Some(2));
}
