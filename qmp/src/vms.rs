//! `qmp launch`, `qmp list` and `qmp daemon …`.

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::runtime;
use qmp_types::qmp::QmpCommands as _;
use serde_json::{Value, json};

use crate::cli::DaemonCmd;
use crate::{CliResult, Failure, print};

/// How long QEMU or the daemon may take to open its socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

fn live(path: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(path).is_ok()
}

/// A path inside a QEMU option value: commas are doubled.
fn opt_path(path: &Path) -> String {
    path.display().to_string().replace(',', ",,")
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

pub(crate) async fn launch(
    name: &str,
    qemu: PathBuf,
    ga: bool,
    foreground: bool,
    args: Vec<OsString>,
    json: bool,
) -> CliResult<ExitCode> {
    runtime::check_name(name).map_err(Failure::msg)?;
    let dir = runtime::dir()?;
    let sock = runtime::vm_socket(&dir, name);
    if sock.exists() {
        if live(&sock) {
            return Err(Failure::msg(format!(
                "VM `{name}` is already running ({})",
                sock.display()
            )));
        }
        let _ = std::fs::remove_file(&sock);
    }
    let pid_path = runtime::pid_file(&dir, name);
    let log_path = runtime::log_file(&dir, name);
    let _ = std::fs::remove_file(&pid_path);
    let mut cmd = std::process::Command::new(&qemu);
    cmd.arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", opt_path(&sock)))
        .arg("-pidfile")
        .arg(&pid_path);
    if ga {
        let ga_sock = runtime::ga_socket(&dir, name);
        let _ = std::fs::remove_file(&ga_sock);
        cmd.arg("-chardev")
            .arg(format!(
                "socket,path={},server=on,wait=off,id=qmp-ga",
                opt_path(&ga_sock)
            ))
            .args(["-device", "virtio-serial-pci,id=qmp-ga-serial"])
            .args([
                "-device",
                "virtserialport,bus=qmp-ga-serial.0,chardev=qmp-ga,name=org.qemu.guest_agent.0",
            ]);
    }
    cmd.args(&args);
    if !foreground {
        let log = std::fs::File::create(&log_path)
            .map_err(|e| Failure::msg(format!("{}: {e}", log_path.display())))?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Failure::msg(format!("cannot run {}: {e}", qemu.display())))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if live(&sock) {
            break;
        }
        if let Some(status) = child.try_wait()? {
            let why = if foreground {
                String::new()
            } else {
                format!(":\n{}", tail(&log_path))
            };
            return Err(Failure::msg(format!("QEMU exited ({status}){why}")));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Failure::msg(format!(
                "QEMU opened no monitor at {} within {START_TIMEOUT:?}",
                sock.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if live(&runtime::daemon_ctl(&dir))
        && let Err(e) = crate::daemon::control(&dir, &json!({ "cmd": "adopt", "name": name })).await
    {
        eprintln!("qmp: warning: the daemon did not take over `{name}`: {e}");
    }
    let pid = child.id();
    print(
        json,
        &json!({ "name": name, "pid": pid, "socket": sock }),
        || {
            format!(
                "{name}: QEMU running (pid {pid}), monitor at {}",
                sock.display()
            )
        },
    );
    if foreground {
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .map_err(|e| Failure::msg(e.to_string()))??;
        return Ok(ExitCode::from(status.code().map_or(1, |c| c as u8)));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn list(json: bool) -> CliResult {
    let dir = runtime::dir()?;
    let mut rows = Vec::new();
    for name in runtime::vm_names(&dir) {
        let sock = runtime::vm_socket(&dir, &name);
        let pid = runtime::live_pid(&runtime::pid_file(&dir, &name));
        let proxied = runtime::hidden_socket(&dir, &name).exists();
        let status = query_status(&sock).await;
        rows.push(json!({
            "name": name, "status": status, "pid": pid, "proxied": proxied, "socket": sock,
        }));
    }
    let list = Value::Array(rows);
    print(json, &list, || {
        let mut out = vec![format!(
            "{:<16} {:<12} {:>8} {:<8} SOCKET",
            "NAME", "STATUS", "PID", "DAEMON"
        )];
        for r in list.as_array().into_iter().flatten() {
            out.push(format!(
                "{:<16} {:<12} {:>8} {:<8} {}",
                r["name"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
                r["pid"].as_u64().map_or("-".into(), |p| p.to_string()),
                if r["proxied"] == true { "yes" } else { "no" },
                r["socket"].as_str().unwrap_or(""),
            ));
        }
        out.join("\n")
    });
    Ok(())
}

/// The run state of the VM at `sock`, or why there is none.
async fn query_status(sock: &Path) -> String {
    let connect = qmp_client::Client::builder()
        .check_commands(false)
        .connect_timeout(Duration::from_millis(500))
        .timeout(Some(Duration::from_secs(2)))
        .connect_unix(sock);
    match connect.await {
        Err(qmp_client::Error::NoGreeting { .. }) => "busy".into(),
        Err(_) => "dead".into(),
        Ok(c) => match c.query_status().await {
            Ok(st) => st.status.to_string(),
            Err(_) => "unknown".into(),
        },
    }
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

pub(crate) async fn daemon(command: DaemonCmd, json: bool) -> CliResult<ExitCode> {
    let dir = runtime::dir()?;
    let ctl = runtime::daemon_ctl(&dir);
    let status_req = json!({ "cmd": "status" });
    let status = || crate::daemon::control(&dir, &status_req);
    match command {
        DaemonCmd::Start {
            foreground: true,
            record,
        } => {
            let _ = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::INFO)
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .try_init();
            crate::daemon::run(dir.clone(), record, stop_signal())
                .await
                .map_err(|e| Failure::msg(format!("daemon: {e}")))?;
        }
        DaemonCmd::Start {
            foreground: false,
            record,
        } => {
            if let Ok(st) = status().await {
                return Err(Failure::msg(format!(
                    "the daemon is already running (pid {})",
                    st["pid"]
                )));
            }
            let log_path = runtime::daemon_log(&dir);
            let log = std::fs::File::create(&log_path)?;
            let exe = std::env::current_exe()?;
            let mut cmd = std::process::Command::new(exe);
            cmd.args(["daemon", "start", "--foreground"]);
            if let Some(record) = record {
                // The daemon runs from the same directory, but an
                // absolute path says so in `ps` too.
                cmd.arg("--record").arg(std::path::absolute(&record)?);
            }
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .process_group(0)
                .spawn()?;
            let deadline = Instant::now() + START_TIMEOUT;
            let st = loop {
                if live(&ctl)
                    && let Ok(st) = status().await
                {
                    break st;
                }
                if let Some(s) = child.try_wait()? {
                    return Err(Failure::msg(format!(
                        "the daemon exited ({s}):\n{}",
                        tail(&log_path)
                    )));
                }
                if Instant::now() > deadline {
                    return Err(Failure::msg("the daemon did not start in time"));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            };
            print(json, &st, || {
                format!(
                    "daemon started (pid {}), log at {}",
                    st["pid"],
                    log_path.display()
                )
            });
        }
        DaemonCmd::Stop => {
            let st = status()
                .await
                .map_err(|_| Failure::msg("the daemon is not running"))?;
            crate::daemon::control(&dir, &json!({ "cmd": "stop" })).await?;
            let pid = st["pid"].as_u64().unwrap_or(0);
            let deadline = Instant::now() + START_TIMEOUT;
            while Path::new(&format!("/proc/{pid}")).exists() && live(&ctl) {
                if Instant::now() > deadline {
                    return Err(Failure::msg(format!("the daemon (pid {pid}) did not stop")));
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            print(json, &json!({ "stopped": pid }), || {
                format!("daemon stopped (pid {pid})")
            });
        }
        DaemonCmd::Status => match status().await {
            Err(_) => {
                print(json, &json!({ "running": false }), || {
                    "daemon: not running".into()
                });
                return Ok(ExitCode::from(3));
            }
            Ok(st) => {
                let st: crate::daemon::DaemonStatus = serde_json::from_value(st.clone())
                    .map_err(|e| Failure::msg(format!("bad status from the daemon: {e}")))?;
                print(json, &serde_json::to_value(&st).unwrap_or_default(), || {
                    let mut out = vec![format!(
                        "daemon: running, pid {}, up {}",
                        st.pid,
                        uptime(st.uptime)
                    )];
                    for vm in &st.vms {
                        out.push(format!(
                            "  {}: {} (QEMU {}), {} clients, {} commands",
                            vm.name, vm.state, vm.version, vm.clients, vm.commands
                        ));
                    }
                    out.join("\n")
                });
            }
        },
    }
    Ok(ExitCode::SUCCESS)
}

fn uptime(secs: f64) -> String {
    let s = secs as u64;
    match s {
        0..60 => format!("{secs:.1}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
    }
}
