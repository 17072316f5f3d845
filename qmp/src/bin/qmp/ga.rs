//! `qmp ga …`: the guest agent helpers.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use qmp::Agent;
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
            print(json, &info, || {
                let version = info["version"].as_str().unwrap_or("?");
                let cmds = info["supported_commands"].as_array();
                let enabled: Vec<&str> = cmds
                    .into_iter()
                    .flatten()
                    .filter(|c| c["enabled"] == true)
                    .filter_map(|c| c["name"].as_str())
                    .collect();
                format!(
                    "qemu-ga {version}, {} commands enabled:\n{}",
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
                print(json, &json!({ "status": s }), || s.clone());
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
            print(json, &ifs, || human_interfaces(&ifs));
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

fn human_interfaces(ifs: &Value) -> String {
    let mut out = Vec::new();
    for i in ifs.as_array().into_iter().flatten() {
        let addrs: Vec<String> = i["ip-addresses"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                format!(
                    "{}/{}",
                    a["ip-address"].as_str().unwrap_or("?"),
                    a["prefix"].as_i64().unwrap_or(0)
                )
            })
            .collect();
        out.push(format!(
            "{:<16} {:<18} {}",
            i["name"].as_str().unwrap_or("?"),
            i["hardware-address"].as_str().unwrap_or("-"),
            addrs.join(" ")
        ));
    }
    if out.is_empty() {
        return pretty(ifs);
    }
    out.join("\n")
}
