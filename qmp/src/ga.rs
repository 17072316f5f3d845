//! `qmp ga …`: the guest agent helpers.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use qmp_types::qga::GuestNetworkInterface;
use qmp_vm::Agent;
use serde_json::{Value, json};

use crate::cli::{Endpoint, FsfreezeCmd, GaCmd, ShutdownMode, Target};
use crate::{CliResult, Failure, chain, pretty, print};

async fn connect(target: &Target) -> CliResult<Agent> {
    let timeout = Some(Duration::from_secs(30));
    let ga = match target.resolve_ga()? {
        Endpoint::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(&path)
                .await
                .map_err(|e| Failure::msg(format!("cannot connect to {}: {e}", path.display())))?;
            qmp_client::GuestAgent::connect_stream(stream, timeout).await
        }
        Endpoint::Tcp(addr) => {
            let stream = tokio::net::TcpStream::connect(addr.as_str())
                .await
                .map_err(|e| Failure::msg(format!("cannot connect to {addr}: {e}")))?;
            qmp_client::GuestAgent::connect_stream(stream, timeout).await
        }
        Endpoint::Libvirt { uri, domain } => {
            return Ok(Agent::new(
                crate::libvirt::guest_agent(&uri, &domain, timeout).await?,
            ));
        }
    }
    .map_err(|e| Failure::msg(format!("guest agent: {}", chain(&e))))?;
    Ok(Agent::new(ga))
}

pub(crate) async fn run(target: &Target, json: bool, command: GaCmd) -> CliResult<ExitCode> {
    let ga = connect(target).await?;
    match command {
        GaCmd::Ping => {
            ga.ping().await?;
            print(json, &json!({}), || "pong".into());
        }
        GaCmd::Info => {
            let info = ga.info().await?;
            print(json, &to_json(&info), || {
                let enabled: Vec<&str> = info
                    .supported_commands
                    .iter()
                    .filter(|c| c.enabled)
                    .map(|c| c.name.as_str())
                    .collect();
                format!(
                    "qemu-ga {}, {} commands enabled:\n{}",
                    info.version,
                    enabled.len(),
                    enabled.join(" ")
                )
            });
        }
        GaCmd::Cat { path } => {
            let data = ga.cat(&path).await?;
            if json {
                print(
                    true,
                    &json!({ "path": path, "text": String::from_utf8_lossy(&data) }),
                    String::new,
                );
            } else {
                std::io::stdout().write_all(&data).map_err(Failure::from)?;
            }
        }
        GaCmd::Fsfreeze { command } => match command {
            FsfreezeCmd::Status => {
                let s = ga.fsfreeze_status().await?;
                print(json, &json!({ "status": s }), || s.to_string());
            }
            FsfreezeCmd::Freeze => {
                let n = ga.fsfreeze_freeze().await?;
                print(json, &json!({ "frozen": n }), || {
                    format!("{n} file systems frozen")
                });
            }
            FsfreezeCmd::Thaw => {
                let n = ga.fsfreeze_thaw().await?;
                print(json, &json!({ "thawed": n }), || {
                    format!("{n} file systems thawed")
                });
            }
        },
        GaCmd::Network => {
            let ifs = ga.network_interfaces().await?;
            print(json, &to_json(&ifs), || human_interfaces(&ifs));
        }
        GaCmd::Shutdown { mode } => {
            let mode = match mode {
                ShutdownMode::Powerdown => "powerdown",
                ShutdownMode::Halt => "halt",
                ShutdownMode::Reboot => "reboot",
            };
            ga.shutdown(mode).await?;
        }
        GaCmd::Reboot => ga.shutdown("reboot").await?,
        GaCmd::Exec {
            input,
            program,
            args,
        } => {
            let input = match input {
                None => None,
                Some(p) if p.as_os_str() == "-" => {
                    let mut buf = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)?;
                    Some(buf)
                }
                Some(p) => Some(
                    std::fs::read(&p).map_err(|e| Failure::msg(format!("{}: {e}", p.display())))?,
                ),
            };
            let out = ga.exec(&program, &args, input.as_deref()).await?;
            if json {
                print(
                    true,
                    &json!({
                        "exitcode": out.exit_code,
                        "signal": out.signal,
                        "stdout": String::from_utf8_lossy(&out.stdout),
                        "stderr": String::from_utf8_lossy(&out.stderr),
                        "truncated": out.truncated,
                    }),
                    String::new,
                );
            } else {
                std::io::stdout().write_all(&out.stdout)?;
                std::io::stderr().write_all(&out.stderr)?;
            }
            if let Some(sig) = out.signal {
                return Err(Failure {
                    message: format!("{program} was killed by signal {sig}"),
                    class: None,
                    code: 1,
                });
            }
            let code = out.exit_code.unwrap_or(0);
            return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `value` as JSON, for `--json`.
fn to_json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

fn human_interfaces(ifs: &[GuestNetworkInterface]) -> String {
    if ifs.is_empty() {
        return pretty(&to_json(&ifs));
    }
    let rows: Vec<String> = ifs
        .iter()
        .map(|i| {
            let addrs: Vec<String> = i
                .ip_addresses
                .iter()
                .flatten()
                .map(|a| format!("{}/{}", a.ip_address, a.prefix))
                .collect();
            format!(
                "{:<16} {:<18} {}",
                i.name,
                i.hardware_address.as_deref().unwrap_or("-"),
                addrs.join(" ")
            )
        })
        .collect();
    rows.join("\n")
}
