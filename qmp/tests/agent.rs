//! `qmp ga …` against a real qemu-ga (7.2 and 10.0) listening on a Unix
//! socket on this host. Only harmless commands run for real: the ones
//! that would shut down, reboot or freeze the host are disabled in the
//! agent (`--block-rpcs`), checked to be disabled, and their subcommands
//! are shown to report the agent's refusal.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Agent commands that must never run against the host.
const BLOCKED: &[&str] = &[
    "guest-shutdown",
    "guest-suspend-disk",
    "guest-suspend-ram",
    "guest-suspend-hybrid",
    "guest-fsfreeze-freeze",
    "guest-fsfreeze-freeze-list",
    "guest-fsfreeze-thaw",
    "guest-set-time",
    "guest-set-user-password",
    "guest-set-vcpus",
    "guest-set-memory-blocks",
];

fn agent_suite(rel: Release) {
    let tmp = TempDir::new("ga");
    let runtime = tmp.join("run");
    let dir = runtime.join("qmp");
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("box.ga.sock");
    let state = tmp.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let _agent = Proc(
        Command::new(rel.bin("qemu-ga"))
            .args(["-m", "unix-listen", "-p"])
            .arg(&sock)
            .arg("-t")
            .arg(&state)
            .arg("-f")
            .arg(tmp.join("qemu-ga.pid"))
            .arg("-b")
            .arg(BLOCKED.join(","))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start qemu-ga"),
    );
    wait_socket(&sock, Duration::from_secs(10));
    let s = sock.to_str().unwrap().to_owned();
    let ga = |args: &[&str]| {
        let mut all = vec!["--socket", s.as_str(), "ga"];
        all.extend_from_slice(args);
        qmp(&all)
    };

    // Make sure the dangerous commands are off before going further.
    let info: Value = serde_json::from_str(&ok(ga(&["--json", "info"]))).unwrap();
    let cmds = info["supported_commands"].as_array().unwrap();
    for name in BLOCKED {
        if let Some(c) = cmds.iter().find(|c| c["name"] == *name) {
            assert_eq!(
                c["enabled"], false,
                "{name} must be disabled in this test's agent"
            );
        }
    }
    assert!(info["version"].as_str().unwrap().starts_with(&format!(
        "{}.{}",
        rel.major_minor().0,
        rel.major_minor().1
    )));
    let human = ok(ga(&["info"]));
    assert!(
        human.starts_with("qemu-ga ") && human.contains("guest-ping"),
        "{human}"
    );

    assert_eq!(ok(ga(&["ping"])).trim(), "pong");
    // --vm NAME finds NAME.ga.sock in the runtime directory.
    let out = qmp_env(
        &["--vm", "box", "ga", "ping"],
        &[("XDG_RUNTIME_DIR", runtime.as_path())],
    );
    assert_eq!(ok(out).trim(), "pong");

    let file = tmp.join("hello.txt");
    let big: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&file, &big).unwrap();
    assert_eq!(ok(ga(&["cat", file.to_str().unwrap()])), big);
    let err = fails(ga(&["cat", "/nonexistent/file"]));
    assert!(err.contains("nonexistent"), "{err}");

    assert_eq!(ok(ga(&["fsfreeze", "status"])).trim(), "thawed");
    for (args, command) in [
        (&["fsfreeze", "freeze"][..], "guest-fsfreeze-freeze"),
        (&["fsfreeze", "thaw"], "guest-fsfreeze-thaw"),
        (&["shutdown"], "guest-shutdown"),
        (&["shutdown", "--mode", "halt"], "guest-shutdown"),
        (&["reboot"], "guest-shutdown"),
    ] {
        let err = fails(ga(args));
        assert!(
            err.contains(command) && err.contains("disabled"),
            "{args:?}: {err}"
        );
    }

    let net: Value = serde_json::from_str(&ok(ga(&["--json", "network"]))).unwrap();
    assert!(
        net.as_array().unwrap().iter().any(|i| i["name"] == "lo"),
        "{net}"
    );
    assert!(ok(ga(&["network"])).contains("127.0.0.1/8"));

    let out = ga(&["exec", "/bin/sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(stderr(&out), "err\n");
    let input = tmp.join("input");
    std::fs::write(&input, "fed\n").unwrap();
    let out = ok(ga(&[
        "exec",
        "--input",
        input.to_str().unwrap(),
        "/bin/cat",
    ]));
    assert_eq!(out, "fed\n");
    let j: Value =
        serde_json::from_str(&ok(ga(&["--json", "exec", "/bin/echo", "-n", "x"]))).unwrap();
    assert_eq!(
        (j["exitcode"].as_i64(), j["stdout"].as_str()),
        (Some(0), Some("x"))
    );
    let err = fails(ga(&["exec", "/nonexistent/program"]));
    assert!(
        err.contains("GenericError") || err.contains("nonexistent"),
        "{err}"
    );
}

#[test]
fn agent_qemu_7_2() {
    within(Duration::from_secs(60), || agent_suite(Release::V7_2));
}

#[test]
fn agent_qemu_10_0() {
    within(Duration::from_secs(60), || agent_suite(Release::V10_0));
}

#[test]
fn agent_qemu_11_1() {
    within(Duration::from_secs(60), || agent_suite(Release::V11_1));
}
