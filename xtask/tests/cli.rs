//! The `xtask` command line: every task answers `-h`/`--help` with its
//! usage and success, and refuses options it does not know.

use std::process::{Command, Output};

const TASKS: [&str; 5] = ["check", "dump", "gen", "import", "ci"];

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .output()
        .expect("xtask runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_task_prints_its_usage_on_help() {
    for task in TASKS {
        for flag in ["-h", "--help"] {
            let out = xtask(&[task, flag]);
            let stdout = text(&out.stdout);
            assert!(out.status.success(), "{task} {flag}: {out:?}");
            assert!(
                stdout.starts_with(&format!("usage: cargo xtask {task}")),
                "{task} {flag}: {stdout}"
            );
            assert!(
                out.stderr.is_empty(),
                "{task} {flag}: {}",
                text(&out.stderr)
            );
        }
    }
}

#[test]
fn help_after_other_arguments_is_still_help() {
    let out = xtask(&["check", "--strict", "--help"]);
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).starts_with("usage: cargo xtask check"));
}

#[test]
fn unknown_options_are_named() {
    for (args, message) in [
        (
            &["check", "--strcit", "x.json"][..],
            "check: unknown option '--strcit'",
        ),
        (&["dump", "--pretty"][..], "dump: unknown option '--pretty'"),
        (
            &["import", "--source", "x"][..],
            "import: unknown argument '--source'",
        ),
        (
            &["gen", "--chek"][..],
            "gen: unexpected arguments [\"--chek\"]",
        ),
        (&["ci", "--quick"][..], "ci: unknown argument '--quick'"),
    ] {
        let out = xtask(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.starts_with(message), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("usage: cargo xtask {}", args[0])),
            "{stderr}"
        );
    }
}

#[test]
fn unknown_task_is_named() {
    let out = xtask(&["chek"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("unknown task 'chek'"));
}
