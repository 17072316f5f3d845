//! `bench-build`: what a user waits for when building a small program on
//! this SDK, against the same program on qapi-rs 0.15, side by side.
//!
//! The program ([`crate::package::USER_PROGRAM`]) connects, calls
//! `send_key` and `query_status`. It is built three ways, outside the
//! workspace with a profile of its own as a user's crate is:
//!
//! - `ours (modules)`: `qmp-types` with the schema modules it uses
//!   (`ui`, `run-state`);
//! - `ours (everything)`: `qmp-types` with `qmp` and `guest-agent`;
//! - `qapi-rs`: `qapi` 0.15 with `qmp`, `qga`, `async-tokio-all`.
//!
//! Ours come from the packed crates (`cargo package`), through
//! `[patch.crates-io]`. Each round builds every contender in turn
//! (A B C A B C ...), so a machine that slows down hurts all alike: a
//! clean debug build, an incremental rebuild after touching `main.rs`, a
//! clean release build and a clean `cargo check`. The table gives medians
//! and the ratio to qapi-rs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::package::{QAPI_RS_PROGRAM, Selection, USER_PROGRAM};

const MEASURES: [&str; 4] = [
    "clean debug build",
    "incremental rebuild",
    "clean release build",
    "clean check",
];

struct Contender {
    name: &'static str,
    dir: PathBuf,
    /// Seconds per measure, one entry per round.
    times: [Vec<f64>; 4],
}

fn cargo(dir: &Path, args: &[&str]) -> Result<f64, String> {
    let start = Instant::now();
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(args)
        .arg("--quiet")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .output()
        .map_err(|e| format!("cargo: {e}"))?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "cargo {} in {} failed:\n{}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(secs)
}

fn clean(dir: &Path) -> Result<(), String> {
    match std::fs::remove_dir_all(dir.join("target")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("{}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `cargo xtask bench-build [--rounds N]`.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let rounds = match args {
        [] => 2,
        [flag, n] if flag == "--rounds" => n
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or("--rounds takes a positive number")?,
        _ => return Err("usage: cargo xtask bench-build [--rounds N]".into()),
    };
    let crates = crate::package::pack(false)?;
    let base = crate::r#gen::root().join("target/build-bench");
    let mut contenders = Vec::new();
    for (name, selection) in [
        ("ours (modules)", Some(Selection::Modules)),
        ("ours (everything)", Some(Selection::Everything)),
        ("qapi-rs 0.15", None),
    ] {
        let dir = base.join(name.replace([' ', '(', ')', '.'], ""));
        match selection {
            Some(s) => {
                let (deps, patches) = crate::package::our_dependencies(&crates, s);
                crate::package::write_user_crate(&dir, &deps, &patches, USER_PROGRAM)?;
            }
            None => crate::package::write_user_crate(
                &dir,
                "qapi = { version = \"=0.15.0\", features = [\"qmp\", \"qga\", \"async-tokio-all\"] }\n",
                "",
                QAPI_RS_PROGRAM,
            )?,
        }
        // Downloads are not what we measure.
        cargo(&dir, &["fetch"])?;
        contenders.push(Contender {
            name,
            dir,
            times: Default::default(),
        });
    }
    for round in 1..=rounds {
        for c in &mut contenders {
            eprintln!("bench-build: round {round}/{rounds}: {}", c.name);
            clean(&c.dir)?;
            c.times[0].push(cargo(&c.dir, &["build"])?);
            let main = c.dir.join("src/main.rs");
            let text = std::fs::read_to_string(&main).map_err(|e| e.to_string())?;
            std::fs::write(&main, format!("{text}// touched in round {round}\n"))
                .map_err(|e| e.to_string())?;
            c.times[1].push(cargo(&c.dir, &["build"])?);
            clean(&c.dir)?;
            c.times[2].push(cargo(&c.dir, &["build", "--release"])?);
            clean(&c.dir)?;
            c.times[3].push(cargo(&c.dir, &["check"])?);
        }
    }
    let peer = contenders.last().expect("qapi-rs is a contender");
    let peer_medians: Vec<f64> = peer.times.iter().map(|t| median(t)).collect();
    println!(
        "Median of {rounds} rounds, seconds (ratio to qapi-rs), {} cores:\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| program | {} |", MEASURES.join(" | "));
    println!("| --- |{}", " ---: |".repeat(MEASURES.len()));
    for c in &contenders {
        let cells: Vec<String> = c
            .times
            .iter()
            .zip(&peer_medians)
            .map(|(t, p)| format!("{:.1} ({:.2})", median(t), median(t) / p))
            .collect();
        println!("| {} | {} |", c.name, cells.join(" | "));
    }
    Ok(())
}
