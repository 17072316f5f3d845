//! Project tasks: `cargo xtask <task>`.
//!
//! Each task is a function in a module of its own so that tests can call it
//! too; `main` only dispatches.

use std::process::ExitCode;

mod bench_build;
mod check;
mod ci;
mod r#gen;
mod import;
mod package;

const USAGE: &str = "\
usage: cargo xtask <task> [args]    (cargo xtask <task> --help: its usage)

tasks:
  check [--strict] FILE...
                  parse and check QAPI schemas; print entity counts
                  (--strict: QEMU 10.2's documentation layout rules too)
  dump FILE       print the checked model of a schema as JSON
  import --qemu-src DIR --release X.Y [--out DIR]
                  copy a QEMU tree's QAPI definitions and doc facts (no
                  prose) into schema/X.Y/
  gen [--check] [--emit DIR] [--diff OLD NEW]
                  refresh generated outputs (API listings, codegen
                  snapshots); --check: fail if any is stale; --emit: write
                  the generated qmp-types code to DIR; --diff: print the API
                  changes between two releases
  package         cargo package --workspace, then build a user's crate on
                  the packed crates and run it against QEMU
  features        check qmp-types with each feature alone (every QMP
                  schema module, guest-agent, storage-daemon) and none
  bench-build [--rounds N]
                  time clean, incremental, release and check builds of a
                  user's small program against the same on qapi-rs
  ci [--no-lint]  fmt, clippy, doc, the whole test suite, then `package`
                  and `features` (installs QEMU first when missing and
                  running as root)
";

/// The usage of `task`, if it is one.
fn task_usage(task: &str) -> Option<&'static str> {
    Some(match task {
        "check" => check::CHECK_USAGE,
        "dump" => check::DUMP_USAGE,
        "ci" => ci::USAGE,
        "import" => import::USAGE,
        "gen" => r#gen::USAGE,
        _ => return None,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    // `-h`/`--help` anywhere after a task asks for its usage; no task
    // takes it as a value.
    if let Some(usage) = task_usage(task)
        && rest.iter().any(|a| a == "-h" || a == "--help")
    {
        print!("{usage}");
        return ExitCode::SUCCESS;
    }
    let result = match task.as_str() {
        "check" => check::check(rest),
        "dump" => check::dump(rest),
        "ci" => ci::ci(rest),
        "import" => import::run(rest),
        "gen" => r#gen::run(rest),
        "package" => package::package(rest),
        "bench-build" => bench_build::run(rest),
        "features" => package::features(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown task '{other}'\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("{msg}");
            ExitCode::FAILURE
        }
    }
}
