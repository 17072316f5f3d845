//! `package`: every crate a user depends on builds from its own tarball,
//! and a user's crate outside the workspace builds on those tarballs and
//! drives a real QEMU with them.
//!
//! `cargo package --workspace` packs and verifies every publishable crate
//! (each is built from its `.crate`, with path dependencies replaced by the
//! other packed crates). The tarballs are then unpacked, and a small
//! program of the kind a user writes (the one the build benchmark times,
//! [`USER_PROGRAM`]) depends on them through `[patch.crates-io]`, as it
//! would on crates.io; it connects to a QEMU, sends a key and asks the run
//! state.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::ci::{cargo, run};
use crate::r#gen::root;

/// The user program: connect, `send_key`, `query_status`. The build
/// benchmark compiles it too.
pub(crate) const USER_PROGRAM: &str = r#"//! A user's program: connect to QEMU, press Ctrl, ask the run state.
use qmp_types::qmp::{KeyValue, QKeyCode, QmpCommands as _};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: user-program QMP-SOCKET")?;
    let qmp = qmp_client::Client::connect_unix(path).await?;
    qmp.send_key(vec![KeyValue::from(QKeyCode::Ctrl)], Some(100)).await?;
    let status = qmp.query_status().await?;
    println!("{:?}", status.status);
    Ok(())
}
"#;

/// The same program on qapi-rs 0.15 (`qapi` with `qmp`, `qga`,
/// `async-tokio-all`), the peer of the build benchmark.
pub(crate) const QAPI_RS_PROGRAM: &str = r#"//! A user's program on qapi-rs: connect to QEMU, press Ctrl, ask the run state.
use qapi::futures::QmpStreamTokio;
use qapi::qmp;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: user-program QMP-SOCKET")?;
    let stream = QmpStreamTokio::open_uds(path).await?.negotiate().await?;
    let (qmp, _events) = stream.spawn_tokio();
    let key = qmp::KeyValue::qcode(qmp::QKeyCodeWrapper { data: qmp::QKeyCode::ctrl });
    qmp.execute(qmp::send_key { keys: vec![key], hold_time: Some(100) }).await?;
    let status = qmp.execute(qmp::query_status {}).await?;
    println!("{:?}", status.status);
    Ok(())
}
"#;

/// How a user's crate depends on our packages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Selection {
    /// `qmp-types` with `qmp` and `guest-agent`: every definition.
    Everything,
    /// `qmp-types` with only the schema modules the program uses.
    Modules,
}

/// Writes a user's crate into `dir` (a `Cargo.toml` with its own empty
/// workspace, `src/main.rs`).
pub(crate) fn write_user_crate(
    dir: &Path,
    dependencies: &str,
    patches: &str,
    program: &str,
) -> Result<(), String> {
    let manifest = format!(
        "[package]\nname = \"user-program\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\n{dependencies}tokio = {{ version = \"1\", features = [\"rt\", \"macros\"] }}\n\n\
         {patches}\n[workspace]\n"
    );
    std::fs::create_dir_all(dir.join("src")).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("src/main.rs"), program).map_err(|e| e.to_string())
}

/// The `[dependencies]` lines and `[patch.crates-io]` section of a user's
/// crate on our unpacked packages in `crates`.
pub(crate) fn our_dependencies(crates: &Path, selection: Selection) -> (String, String) {
    let types = match selection {
        Selection::Everything => {
            "qmp-types = { version = \"0.1.0\", features = [\"qmp\", \"guest-agent\"] }\n"
        }
        Selection::Modules => {
            "qmp-types = { version = \"0.1.0\", default-features = false, features = [\"ui\", \"run-state\"] }\n"
        }
    };
    let deps = format!("qmp-client = \"0.1.0\"\n{types}");
    let mut patches = String::from("[patch.crates-io]\n");
    for name in [
        "qemu-qapi-parser",
        "qemu-qapi-codegen",
        "qmp-types",
        "qmp-client",
    ] {
        let path = crates.join(format!("{name}-0.1.0"));
        patches.push_str(&format!(
            "{name} = {{ path = {:?} }}\n",
            path.display().to_string()
        ));
    }
    // Registry crates are not compiled incrementally; patched ones would be.
    patches.push_str("\n[profile.dev.package.\"*\"]\nincremental = false\n");
    (deps, patches)
}

/// Packs (and with `verify`, builds each tarball) the workspace, then unpacks the tarballs into
/// `target/package-check/crates`; returns that directory.
pub(crate) fn pack(verify: bool) -> Result<PathBuf, String> {
    let root = root();
    let mut cmd = cargo();
    cmd.args(["package", "--workspace", "--allow-dirty"])
        .current_dir(&root);
    if !verify {
        cmd.arg("--no-verify");
    }
    let (published, unpublished) = members(&root)?;
    for name in unpublished {
        cmd.args(["--exclude", &name]);
    }
    forget_stale_packages(&published)?;
    run(
        "cargo package --workspace (each crate built from its tarball)",
        &mut cmd,
    )?;
    let packed = root.join("target/package");
    let crates = root.join("target/package-check/crates");
    let _ = std::fs::remove_dir_all(&crates);
    std::fs::create_dir_all(&crates).map_err(|e| format!("{}: {e}", crates.display()))?;
    let mut n = 0;
    for entry in std::fs::read_dir(&packed).map_err(|e| format!("{}: {e}", packed.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|x| x == "crate") {
            run(
                &format!("unpack {}", path.display()),
                Command::new("tar")
                    .arg("xzf")
                    .arg(&path)
                    .arg("-C")
                    .arg(&crates),
            )?;
            n += 1;
        }
    }
    if n == 0 {
        return Err(format!("no .crate files in {}", packed.display()));
    }
    Ok(crates)
}

/// A package's name and version.
type NameVersion = (String, String);

/// Removes what an earlier `cargo package` left of our packages in cargo's
/// cache of local registries (`$CARGO_HOME/registry/{src,cache}/-*/`).
/// Verification builds each crate against the others' tarballs through
/// such a registry, and cargo reuses an extracted `NAME-VERSION` directory
/// it finds there: with the version unchanged, it would build against the
/// sources of the previous run. Crates.io's own directories are left
/// alone.
fn forget_stale_packages(published: &[NameVersion]) -> Result<(), String> {
    let home = match std::env::var_os("CARGO_HOME") {
        Some(h) => PathBuf::from(h),
        None => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".cargo"),
            None => return Ok(()),
        },
    };
    for kind in ["src", "cache"] {
        let Ok(registries) = std::fs::read_dir(home.join("registry").join(kind)) else {
            continue;
        };
        for registry in registries.flatten() {
            if !registry.file_name().to_string_lossy().starts_with('-') {
                continue;
            }
            for (name, version) in published {
                let dir = registry.path().join(format!("{name}-{version}"));
                if dir.is_dir() {
                    std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                let file = registry.path().join(format!("{name}-{version}.crate"));
                if file.is_file() {
                    std::fs::remove_file(&file).map_err(|e| format!("{}: {e}", file.display()))?;
                }
            }
        }
    }
    Ok(())
}

/// The workspace members: those to publish (name and version) and the
/// names of those marked `publish = false` (xtask, test support), the only
/// ones `package` leaves out.
fn members(root: &Path) -> Result<(Vec<NameVersion>, Vec<String>), String> {
    let out = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let mut published = Vec::new();
    let mut unpublished = Vec::new();
    for p in packages {
        let name = p["name"]
            .as_str()
            .ok_or("cargo metadata: a package without a name")?;
        // `publish = false` reads as an empty list of allowed registries.
        if p["publish"].as_array().is_some_and(|a| a.is_empty()) {
            unpublished.push(name.to_owned());
        } else {
            let version = p["version"].as_str().ok_or("cargo metadata: no version")?;
            published.push((name.to_owned(), version.to_owned()));
        }
    }
    Ok((published, unpublished))
}

/// `cargo xtask package`.
pub(crate) fn package(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask package".into());
    }
    let crates = pack(true)?;
    let user = root().join("target/package-check/user");
    let (deps, patches) = our_dependencies(&crates, Selection::Modules);
    write_user_crate(&user, &deps, &patches, USER_PROGRAM)?;
    run(
        "build a user's crate on the packed crates",
        cargo()
            .args(["build", "--quiet", "--manifest-path"])
            .arg(user.join("Cargo.toml")),
    )?;
    check_user_tree(&user)?;
    let output = drive_qemu(&user.join("target/debug/user-program"))?;
    if output.trim() != "Running" {
        return Err(format!(
            "the user's program printed {output:?}, expected the run state `Running`"
        ));
    }
    eprintln!("xtask package: the user's program sent a key and read the run state");
    Ok(())
}

/// Crates a user's build of the SDK must not compile: each was removed
/// from that build for its compile time, and comes back silently if a
/// feature or a derive turns it on again. `syn` may appear only under
/// tokio-macros (the program's own `#[tokio::main]`).
const NOT_IN_A_USERS_BUILD: [&str; 5] = [
    "serde_derive",
    "thiserror",
    "rustix",
    "prettyplease",
    "miette",
];

/// Checks the user crate's dependency tree (normal and build) against
/// [`NOT_IN_A_USERS_BUILD`], and that only tokio-macros pulls in syn.
fn check_user_tree(user: &Path) -> Result<(), String> {
    let out = cargo()
        .args([
            "tree",
            "--quiet",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--manifest-path",
        ])
        .arg(user.join("Cargo.toml"))
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let names: std::collections::BTreeSet<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let found: Vec<&str> = NOT_IN_A_USERS_BUILD
        .into_iter()
        .filter(|c| names.contains(c))
        .collect();
    if !found.is_empty() {
        return Err(format!(
            "a user's build of the SDK compiles {found:?} again (see `cargo tree -i NAME \
             --manifest-path {}`); each costs every user compile time",
            user.join("Cargo.toml").display()
        ));
    }
    let syn_users = cargo()
        .args([
            "tree",
            "--quiet",
            "-e",
            "normal,build",
            "--depth",
            "1",
            "--prefix",
            "none",
            "-i",
            "syn",
            "--manifest-path",
        ])
        .arg(user.join("Cargo.toml"))
        .output()
        .map_err(|e| format!("cargo tree -i syn: {e}"))?;
    let dependents: Vec<String> = String::from_utf8_lossy(&syn_users.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    if dependents.iter().any(|d| d != "tokio-macros") {
        return Err(format!(
            "in a user's build, syn is compiled for {dependents:?}; only tokio-macros \
             (the program's #[tokio::main]) may need it"
        ));
    }
    eprintln!("xtask package: the user's build compiles none of {NOT_IN_A_USERS_BUILD:?}");
    Ok(())
}

/// Runs `program SOCKET` against a fresh QEMU 7.2 and returns its output.
fn drive_qemu(program: &Path) -> Result<String, String> {
    let qemu = qemu_test_support::Release::V7_2.qemu();
    let dir = std::env::temp_dir().join(format!("xtask-package-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let socket = dir.join("qmp.sock");
    let mut child = Command::new(&qemu)
        .args(["-machine", "pc", "-nodefaults", "-display", "none", "-qmp"])
        .arg(format!("unix:{},server=on,wait=off", socket.display()))
        .spawn()
        .map_err(|e| format!("{}: {e}", qemu.display()))?;
    let result = (|| {
        let start = Instant::now();
        while !socket.exists() {
            if start.elapsed() > Duration::from_secs(10) {
                return Err(format!("QEMU made no socket at {}", socket.display()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = Command::new(program)
            .arg(&socket)
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))?;
        if !out.status.success() {
            return Err(format!(
                "the user's program failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    })();
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// `cargo xtask features`: `qmp-types` compiles with each of its features
/// alone (every QMP schema module, `guest-agent`, `storage-daemon`) and
/// with none, without warnings.
pub(crate) fn features(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask features".into());
    }
    let root = root();
    let modules = qapi_codegen::qmp_modules(&root.join("schema"))?;
    let mut sets: Vec<String> = vec![String::new(), "guest-agent".into(), "storage-daemon".into()];
    sets.extend(modules);
    let mut failed = Vec::new();
    for (i, set) in sets.iter().enumerate() {
        eprintln!(
            "xtask features: {}/{}: qmp-types with {}",
            i + 1,
            sets.len(),
            if set.is_empty() { "no feature" } else { set }
        );
        let out = cargo()
            .args([
                "check",
                "--quiet",
                "-p",
                "qmp-types",
                "--no-default-features",
            ])
            .args(["--features", set])
            .current_dir(&root)
            .output()
            .map_err(|e| format!("cargo check: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || stderr.contains("warning") {
            eprintln!("{stderr}");
            failed.push(if set.is_empty() {
                "(none)"
            } else {
                set.as_str()
            });
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "qmp-types fails to build cleanly with only: {}",
            failed.join(", ")
        ))
    }
}
