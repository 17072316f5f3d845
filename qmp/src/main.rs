//! `qmp`: the command line for QEMU VMs. Parses arguments, calls the
//! `qmp-vm` library, prints; any failure prints `qmp: error: …` and
//! exits 1. The daemon (`qmp daemon`) and the runtime directory it shares
//! with `qmp launch` are private modules of this binary.

mod cli;
mod daemon;
mod forms;
mod ga;
mod libvirt;
mod record;
mod runtime;
mod schema_diff;
mod shell;
mod vms;

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory as _, FromArgMatches as _};
use qmp_vm::{Screendump, Vm};
use serde_json::{Value, json};

use crate::cli::{Cli, Cmd, DaemonCmd, QomCmd, Target};

/// A failure to report: the message, and QEMU's error class if any.
#[derive(Debug)]
pub(crate) struct Failure {
    message: String,
    class: Option<String>,
    code: u8,
}

impl Failure {
    pub(crate) fn msg(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            class: None,
            code: 1,
        }
    }
}

impl From<qmp_vm::Error> for Failure {
    fn from(e: qmp_vm::Error) -> Failure {
        let class = match &e {
            qmp_vm::Error::Client(qmp_client::Error::Qmp { class, .. }) => Some(class.to_string()),
            _ => None,
        };
        Failure {
            message: chain(&e),
            class,
            code: 1,
        }
    }
}

impl From<qmp_client::Error> for Failure {
    fn from(e: qmp_client::Error) -> Failure {
        qmp_vm::Error::from(e).into()
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::msg(e.to_string())
    }
}

/// `e` and its sources, each added unless the message already says it.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let part = s.to_string();
        if !msg.contains(&part) {
            msg.push_str(": ");
            msg.push_str(&part);
        }
        src = s.source();
    }
    msg
}

pub(crate) type CliResult<T = ()> = Result<T, Failure>;

/// Prints `f` (and its JSON with `--json`) and returns its exit status.
fn report(json: bool, f: Failure) -> ExitCode {
    if json {
        let err = json!({ "error": { "class": f.class.as_deref().unwrap_or("Error"), "desc": f.message } });
        println!("{err}");
    }
    eprintln!("qmp: error: {}", f.message);
    ExitCode::from(f.code)
}

/// Whether `name` is a VM of the runtime directory.
fn is_vm(name: &str) -> bool {
    runtime::check_name(name).is_ok()
        && runtime::dir().is_ok_and(|dir| runtime::vm_socket(&dir, name).exists())
}

fn main() -> ExitCode {
    let command = Cli::command();
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let subcommands: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
    if let Some(hint) = forms::vm_first_hint(&args, &subcommands, is_vm) {
        return report(args.iter().any(|a| a == "--json"), Failure::msg(hint));
    }
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let json = cli.json;
    let rt = if matches!(
        &cli.command,
        Cmd::Daemon {
            command: DaemonCmd::Start {
                foreground: true,
                ..
            }
        }
    ) {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("qmp: error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(f) => report(json, f),
    }
}

/// Prints `value`: compact JSON with `--json`, else `human`.
pub(crate) fn print(json: bool, value: &Value, human: impl FnOnce() -> String) {
    let mut out = std::io::stdout().lock();
    let text = if json { value.to_string() } else { human() };
    if !text.is_empty() {
        let _ = writeln!(out, "{text}");
    }
}

/// Pretty JSON for people.
pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Connects to the QMP target and wraps it in a [`Vm`].
/// Said when a monitor gives no greeting: the way to share one.
const BUSY_MONITOR_HINT: &str = "\n  hint: the monitor is busy; to let several clients use one VM, \
     start the daemon (`qmp daemon start`), which holds each VM's monitor and shares it";

async fn connect(target: &Target, timeout: Option<Duration>) -> CliResult<Vm> {
    let mut builder = qmp_client::Client::builder()
        .timeout(timeout)
        .check_commands(false);
    // A shorter --timeout bounds the wait for the greeting too (a busy
    // monitor greets no one); the client's 10 s stays the most.
    if let Some(t) = timeout {
        builder = builder.connect_timeout(t.min(Duration::from_secs(10)));
    }
    let client = match target.resolve_qmp()? {
        cli::Endpoint::Unix(path) => builder.connect_unix(&path).await.map_err(|e| {
            let busy = match &e {
                qmp_client::Error::NoGreeting { .. } => BUSY_MONITOR_HINT,
                _ => "",
            };
            Failure::msg(format!(
                "cannot connect to {}: {}{busy}",
                path.display(),
                chain(&e)
            ))
        })?,
        cli::Endpoint::Tcp(addr) => builder
            .connect_tcp(addr.as_str())
            .await
            .map_err(|e| Failure::msg(format!("cannot connect to {addr}: {}", chain(&e))))?,
        cli::Endpoint::Libvirt { uri, domain } => libvirt::connect(&uri, &domain, builder).await?,
    };
    Ok(Vm::new(client))
}

fn spinner(message: String) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

async fn run(cli: Cli) -> CliResult<ExitCode> {
    let json = cli.json;
    let timeout = (cli.timeout > 0.0).then(|| Duration::from_secs_f64(cli.timeout));
    let target = &cli.target;
    match cli.command {
        Cmd::Keys { hold, keys } => {
            if let Some(hint) = forms::keys_option_hint(&keys) {
                return Err(Failure::msg(hint));
            }
            let chords = qmp_vm::parse_chords(&keys)?;
            let vm = connect(target, timeout).await?;
            vm.key_sequence(&chords, hold.map(Duration::from_millis))
                .await?;
        }
        Cmd::Type {
            hold,
            file,
            escapes,
            text,
        } => {
            let text = match (text, file) {
                (Some(t), None) => t,
                (None, Some(f)) if f.as_os_str() == "-" => {
                    std::io::read_to_string(std::io::stdin()).map_err(Failure::from)?
                }
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .map_err(|e| Failure::msg(format!("{}: {e}", f.display())))?,
                _ => return Err(Failure::msg("give the text or --file")),
            };
            let text = if escapes { unescape(&text)? } else { text };
            qmp_vm::text_chords(&text)?;
            let vm = connect(target, timeout).await?;
            let bar = indicatif::ProgressBar::new(text.chars().count() as u64);
            if text.chars().count() < 20 {
                bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            vm.type_text_with(&text, hold.map(Duration::from_millis), |done, _| {
                bar.set_position(done as u64)
            })
            .await?;
            bar.finish_and_clear();
        }
        Cmd::Screendump {
            path,
            format,
            device,
            head,
        } => {
            let vm = connect(target, timeout).await?;
            let mut opts = Screendump::default();
            opts.device = device;
            opts.head = head;
            opts.format = format.map(Into::into);
            let fmt = opts
                .format
                .unwrap_or_else(|| qmp_vm::ImageFormat::from_path(&path));
            let (w, h) = vm.screendump(&path, &opts).await?;
            let name = if fmt == qmp_vm::ImageFormat::Ppm {
                "ppm"
            } else {
                "png"
            };
            print(
                json,
                &json!({ "path": path, "width": w, "height": h, "format": name }),
                || format!("{}: {w}x{h} {name}", path.display()),
            );
        }
        Cmd::Pause => connect(target, timeout).await?.pause().await?,
        Cmd::Resume => connect(target, timeout).await?.resume().await?,
        Cmd::Powerdown => connect(target, timeout).await?.powerdown().await?,
        Cmd::Reset => connect(target, timeout).await?.reset().await?,
        Cmd::Wakeup => connect(target, timeout).await?.wakeup().await?,
        Cmd::Status => {
            let st = connect(target, timeout).await?.status().await?;
            print(
                json,
                &json!({ "status": st.status, "running": st.running }),
                || st.status.to_string(),
            );
        }
        Cmd::DeviceAdd { driver, id, props } => {
            let (id, props) = forms::device_props(id, &props)?;
            let vm = connect(target, timeout).await?;
            let props: Vec<(&str, &str)> = props
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            vm.device_add(&driver, id.as_deref(), &props).await?;
        }
        Cmd::DeviceDel { id, wait } => {
            let vm = connect(target, timeout).await?;
            let bar = spinner(format!("waiting for DEVICE_DELETED of {id}"));
            let r = vm
                .device_del(&id, Some(Duration::from_secs_f64(wait)))
                .await;
            bar.finish_and_clear();
            r?;
        }
        Cmd::Events {
            names,
            follow,
            count,
            wait,
        } => return events(target, timeout, json, names, follow, count, wait).await,
        Cmd::Qom { command } => qom(target, timeout, json, command).await?,
        Cmd::Exec { command, args } => {
            let vm = connect(target, timeout).await?;
            if args.iter().any(|a| a.starts_with("--")) {
                let names = vm.schema().await?.argument_names(&command);
                if let Some(hint) = forms::exec_option_hint(&command, &args, &names) {
                    return Err(Failure::msg(hint));
                }
            }
            let args = exec_args(&vm, &command, &args).await?;
            let out = vm.exec(&command, args).await?;
            print(json, &out, || pretty(&out));
        }
        Cmd::Hmp { command_line } => {
            let vm = connect(target, timeout).await?;
            let text = vm.hmp(&hmp_line(&command_line)).await?;
            if json {
                print(json, &Value::String(text), String::new);
            } else {
                // QEMU's text as it is: its own `\r\n` line ends, and no
                // newline added (most replies end with one, some are empty).
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            }
        }
        Cmd::SchemaDiff => {
            let vm = connect(target, timeout).await?;
            let schema = vm.exec("query-qmp-schema", json!({})).await?;
            let v = &vm.client().version().qemu;
            let version = format!("{}.{}.{}", v.major, v.minor, v.micro);
            let d = schema_diff::diff(schema.as_array().map_or(&[], Vec::as_slice), &version);
            let value = serde_json::to_value(&d).unwrap_or_default();
            print(json, &value, || schema_diff::render(&d));
        }
        Cmd::Shell => {
            let vm = connect(target, timeout).await?;
            shell::run(vm, json).await?;
        }
        Cmd::Ga { command } => return ga::run(target, json, command).await,
        Cmd::Launch {
            name,
            qemu,
            ga,
            foreground,
            args,
        } => return vms::launch(&name, qemu, ga, foreground, args, json).await,
        Cmd::List if target.libvirt.is_some() => {
            libvirt::list(&target.libvirt_uri()?, json).await?
        }
        Cmd::List => vms::list(json).await?,
        Cmd::Record { file, listen } => {
            record::record(target.resolve_qmp()?, &listen, &file).await?
        }
        Cmd::Daemon { command } => return vms::daemon(command, json).await,
        Cmd::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "qmp", &mut script);
            // A closed pipe (`| head`) is not an error worth reporting.
            let _ = std::io::stdout().write_all(&script);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One HMP command line from the words of `qmp hmp`: a lone word is sent
/// as it is; of several, those with spaces or quotes are quoted as HMP's
/// string arguments are (`qemu-io d0 'write 0 1'` sends
/// `qemu-io d0 "write 0 1"`).
fn hmp_line(words: &[String]) -> String {
    if let [one] = words {
        return one.clone();
    }
    words
        .iter()
        .map(|w| {
            if w.is_empty() || w.contains(|c: char| c.is_whitespace() || c == '"') {
                let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
                format!("\"{escaped}\"")
            } else {
                w.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Interprets the escapes `\n`, `\r`, `\t` and `\\`.
fn unescape(text: &str) -> CliResult<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('\\') => out.push('\\'),
            Some(o) => return Err(Failure::msg(format!("unknown escape `\\{o}`"))),
            None => return Err(Failure::msg("text ends with a lone `\\`")),
        }
    }
    Ok(out)
}

/// The arguments of `exec`: one JSON object, or `key=value` and
/// `--key value` words.
pub(crate) async fn exec_args(vm: &Vm, command: &str, words: &[String]) -> CliResult<Value> {
    match words {
        [] => Ok(json!({})),
        [one] if one.trim_start().starts_with('{') => serde_json::from_str(one)
            .map_err(|e| Failure::msg(format!("arguments are not valid JSON: {e}"))),
        _ => {
            let schema = vm.schema().await?;
            if !schema.has_command(command) {
                return Err(schema.unknown_command(command).into());
            }
            Ok(schema.parse_key_values(command, words)?)
        }
    }
}

async fn events(
    target: &Target,
    timeout: Option<Duration>,
    json: bool,
    names: Vec<String>,
    follow: bool,
    count: Option<u64>,
    wait: Option<f64>,
) -> CliResult<ExitCode> {
    let vm = connect(target, timeout).await?;
    let client = vm.client().with_timeout(None);
    // Raw events on purpose: printed as QEMU sent them, including events
    // and members this build of qmp-types does not know.
    let mut stream = if names.is_empty() {
        client.subscribe()
    } else {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        client.subscribe_to(&refs)
    };
    let limit = if follow {
        None
    } else {
        Some(count.unwrap_or(1))
    };
    let what = if names.is_empty() {
        "any event".to_owned()
    } else {
        names.join(", ")
    };
    let bar = spinner(format!("waiting for {what}"));
    let deadline = wait.map(|w| tokio::time::Instant::now() + Duration::from_secs_f64(w));
    let mut seen = 0u64;
    loop {
        if limit.is_some_and(|l| seen >= l) {
            break;
        }
        let next = stream.next();
        let item = match deadline {
            Some(d) => match tokio::time::timeout_at(d, next).await {
                Ok(i) => i,
                Err(_) => {
                    bar.finish_and_clear();
                    if follow {
                        return Ok(ExitCode::SUCCESS);
                    }
                    return Err(Failure::msg(format!(
                        "timed out waiting for {what} ({seen} seen)"
                    )));
                }
            },
            None => next.await,
        };
        let ev = match item {
            None => {
                bar.finish_and_clear();
                return Err(Failure::msg("the connection closed (QEMU exited?)"));
            }
            Some(Err(e)) => {
                bar.suspend(|| eprintln!("qmp: warning: {e}"));
                continue;
            }
            Some(Ok(ev)) => ev,
        };
        seen += 1;
        let mut msg = json!({
            "event": ev.name,
            "timestamp": { "seconds": ev.timestamp.0, "microseconds": ev.timestamp.1 },
        });
        if !ev.data.is_null() {
            msg["data"] = ev.data.clone();
        }
        bar.suspend(|| {
            print(json, &msg, || {
                let data = if ev.data.is_null() {
                    String::new()
                } else {
                    format!(" {}", ev.data)
                };
                format!("{}.{:06} {}{data}", ev.timestamp.0, ev.timestamp.1, ev.name)
            })
        });
    }
    bar.finish_and_clear();
    Ok(ExitCode::SUCCESS)
}

async fn qom(target: &Target, timeout: Option<Duration>, json: bool, command: QomCmd) -> CliResult {
    let vm = connect(target, timeout).await?;
    match command {
        QomCmd::Ls { path } => {
            let props = vm.qom_ls(&path).await?;
            print(
                json,
                &serde_json::to_value(&props).unwrap_or_default(),
                || {
                    props
                        .iter()
                        .map(|p| format!("{}  ({})", p.name, p.kind))
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        QomCmd::Get { path, property } => {
            let v = vm.qom_get(&path, &property).await?;
            print(json, &v, || match &v {
                Value::String(s) => s.clone(),
                other => pretty(other),
            });
        }
        QomCmd::Set {
            path,
            property,
            value,
        } => {
            let v = serde_json::from_str(&value).unwrap_or(Value::String(value));
            vm.qom_set(&path, &property, v).await?;
        }
        QomCmd::Tree { path } => {
            let tree = vm.qom_tree(&path).await?;
            print(
                json,
                &serde_json::to_value(&tree).unwrap_or_default(),
                || {
                    let mut out = String::new();
                    fn walk(n: &qmp_vm::QomNode, depth: usize, out: &mut String) {
                        let name = if depth == 0 {
                            n.path.as_str()
                        } else {
                            n.path.rsplit('/').next().unwrap_or(&n.path)
                        };
                        out.push_str(&format!("{}{name} ({})\n", "  ".repeat(depth), n.kind));
                        for c in &n.children {
                            walk(c, depth + 1, out);
                        }
                    }
                    walk(&tree, 0, &mut out);
                    out.trim_end().to_owned()
                },
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(words: &[&str], expect: &str) {
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        assert_eq!(hmp_line(&words), expect);
    }

    #[test]
    fn hmp_lines() {
        check(&["info version"], "info version");
        check(&["qemu-io d0 \"read 0 1\""], "qemu-io d0 \"read 0 1\"");
        check(&["info", "mtree", "-f"], "info mtree -f");
        check(
            &["qemu-io", "d0", "write -P 0xab 0 4096"],
            "qemu-io d0 \"write -P 0xab 0 4096\"",
        );
        check(
            &["echo", "a \"b\" \\c", ""],
            "echo \"a \\\"b\\\" \\\\c\" \"\"",
        );
    }
}
