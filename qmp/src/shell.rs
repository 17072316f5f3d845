//! `qmp shell`: an interactive QMP shell.
//!
//! Lines are `COMMAND key=value…`, `COMMAND {json}`, a whole QMP message
//! `{"execute": …}`, or a built-in: `help`, `events`, `json`, `quit`, and
//! `transaction` … `commit` (or `discard`) to group actions. HMP
//! commands run through QMP (`human-monitor-command`): `!CMD` or
//! `hmp CMD` runs one, `hmp` alone switches every line to HMP until the
//! next `hmp`; their text is printed as QEMU wrote it. Completion
//! offers command names, argument names and enum values from the
//! connected QEMU's schema. Without a terminal, lines are read from
//! standard input with no prompt, so scripts can be piped in.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::FutureExt as _;
use qmp_vm::{SchemaIndex, Vm};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use serde_json::{Value, json};

use crate::{CliResult, Failure, chain, exec_args, pretty};

const BUILTINS: &[&str] = &[
    "commit",
    "discard",
    "events",
    "help",
    "hmp",
    "json",
    "quit",
    "transaction",
];

const HELP: &str = "\
COMMAND [key=value ...]   run a command (dotted keys nest: a.b=1)
COMMAND {json}            run a command with JSON arguments
{\"execute\": ...}          send a QMP message as it is
transaction               start collecting actions (ACTION key=value ...)
commit | discard          send the actions as one transaction, or drop them
events                    print the events received so far
json                      switch between pretty and one-line JSON output
!HMP-COMMAND              run a human monitor command: !info mtree -f
hmp HMP-COMMAND           the same: hmp info registers
hmp                       HMP mode: every line is an HMP command (prompt hmp>)
                          until `hmp` again; `quit` still leaves the shell
                          (`!quit` is HMP's quit, which stops QEMU)
help | quit

HMP text is printed as QEMU wrote it. A reply starting with `Error: ` or
`unknown command: '`, or with a line starting with `Try \"help`, is reported
as an error; other complaints come back as plain text. History is shared
by both modes.";

/// Completion data for the line editor.
struct ShellHelper {
    schema: Arc<SchemaIndex>,
    in_transaction: std::cell::Cell<bool>,
    hmp_mode: std::cell::Cell<bool>,
}

impl Helper for ShellHelper {}
impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        // HMP lines have no schema to complete from.
        if self.hmp_mode.get() || line.trim_start().starts_with('!') {
            return Ok((pos, Vec::new()));
        }
        let (start, words) = complete(&self.schema, self.in_transaction.get(), &line[..pos]);
        Ok((
            start,
            words
                .into_iter()
                .map(|w| Pair {
                    display: w.clone(),
                    replacement: w,
                })
                .collect(),
        ))
    }
}

/// Completions for `line` (up to the cursor): where the replaced word
/// starts, and the candidates.
pub(crate) fn complete(
    schema: &SchemaIndex,
    in_transaction: bool,
    line: &str,
) -> (usize, Vec<String>) {
    let start = line.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    let word = &line[start..];
    let first = line.split_whitespace().next().unwrap_or("");
    let filter = |items: Vec<String>, prefix: &str| -> Vec<String> {
        let mut v: Vec<String> = items
            .into_iter()
            .filter(|i| i.starts_with(prefix))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    if line[..start].trim().is_empty() {
        let mut names: Vec<String> = if in_transaction {
            schema.transaction_actions()
        } else {
            schema.commands().map(str::to_owned).collect()
        };
        names.extend(BUILTINS.iter().map(|b| (*b).to_owned()));
        return (start, filter(names, word));
    }
    if let Some((key, value)) = word.split_once('=') {
        let values = if in_transaction {
            schema.action_argument_values(first, key)
        } else {
            schema.argument_values(first, key)
        };
        return (start + key.len() + 1, filter(values, value));
    }
    let names = if in_transaction {
        schema.action_argument_names(first)
    } else {
        schema.argument_names(first)
    };
    let names = names.into_iter().map(|n| format!("{n}=")).collect();
    (start, filter(names, word))
}

/// Splits a line into words; single and double quotes group, a
/// backslash escapes the next character outside single quotes.
pub(crate) fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unterminated '".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => cur.push(chars.next().ok_or("line ends with \\")?),
                        Some(c) => cur.push(c),
                        None => return Err("unterminated \"".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().ok_or("line ends with \\")?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("QMP_HISTORY") {
        return Some(PathBuf::from(p));
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("qmp").join("history"))
}

struct Session {
    vm: Vm,
    schema: Arc<SchemaIndex>,
    json: bool,
    actions: Option<Vec<Value>>,
    events: qmp_client::Events,
    /// Whether every line is an HMP command (`hmp` toggles).
    hmp_mode: bool,
}

enum Step {
    Go,
    Quit,
}

impl Session {
    fn show(&self, v: &Value) {
        if self.json {
            println!("{v}");
        } else {
            println!("{}", pretty(v));
        }
    }

    fn drain_events(&mut self) {
        while let Some(Some(item)) = self.events.next().now_or_never() {
            match item {
                Ok(ev) => {
                    let mut msg = json!({
                        "event": ev.name,
                        "timestamp": { "seconds": ev.timestamp.0, "microseconds": ev.timestamp.1 },
                    });
                    if !ev.data.is_null() {
                        msg["data"] = ev.data;
                    }
                    println!("{msg}");
                }
                Err(e) => eprintln!("warning: {e}"),
            }
        }
    }

    /// Runs HMP `command_line` and prints its text as QEMU wrote it.
    async fn hmp(&self, command_line: &str) -> CliResult {
        if command_line.is_empty() {
            return Err(Failure::msg("give an HMP command: !info version"));
        }
        let text = self.vm.hmp(command_line).await?;
        print!("{text}");
        if !text.is_empty() && !text.ends_with('\n') {
            println!();
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        Ok(())
    }

    async fn line(&mut self, line: &str) -> CliResult<Step> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(Step::Go);
        }
        if let Some(hmp) = line.strip_prefix('!') {
            self.hmp(hmp.trim_start()).await?;
            return Ok(Step::Go);
        }
        let first = line.split_whitespace().next().unwrap_or("");
        if first == "hmp" {
            let rest = line["hmp".len()..].trim_start();
            if rest.is_empty() {
                self.hmp_mode = !self.hmp_mode;
                println!(
                    "{}",
                    if self.hmp_mode {
                        "HMP mode: lines are HMP commands; `hmp` to go back to QMP"
                    } else {
                        "QMP mode"
                    }
                );
            } else {
                self.hmp(rest).await?;
            }
            return Ok(Step::Go);
        }
        if self.hmp_mode {
            if matches!(line, "quit" | "exit") {
                return Ok(Step::Quit);
            }
            self.hmp(line).await?;
            return Ok(Step::Go);
        }
        if line.starts_with('{') {
            let msg: Value = serde_json::from_str(line)
                .map_err(|e| Failure::msg(format!("not valid JSON: {e}")))?;
            let Some(cmd) = msg.get("execute").and_then(Value::as_str) else {
                return Err(Failure::msg("a QMP message needs \"execute\""));
            };
            let args = msg.get("arguments").cloned().unwrap_or(json!({}));
            // Raw on purpose: a QMP message typed in is sent as it is.
            let out = self.vm.client().execute_raw(cmd, args).await?;
            self.show(&out);
            return Ok(Step::Go);
        }
        let words = split_words(line).map_err(Failure::msg)?;
        let (cmd, rest) = words
            .split_first()
            .ok_or_else(|| Failure::msg("empty line"))?;
        match cmd.as_str() {
            "quit" | "exit" => return Ok(Step::Quit),
            "help" => println!("{HELP}"),
            "events" => self.drain_events(),
            "json" => {
                self.json = !self.json;
                println!(
                    "output: {}",
                    if self.json {
                        "one-line JSON"
                    } else {
                        "pretty JSON"
                    }
                );
            }
            "transaction" => {
                if self.actions.is_some() {
                    return Err(Failure::msg("a transaction is already open"));
                }
                self.actions = Some(Vec::new());
            }
            "discard" => {
                self.actions
                    .take()
                    .ok_or_else(|| Failure::msg("no transaction is open"))?;
            }
            "commit" => {
                let actions = self
                    .actions
                    .take()
                    .ok_or_else(|| Failure::msg("no transaction is open"))?;
                let out = self
                    .vm
                    .exec("transaction", json!({ "actions": actions }))
                    .await?;
                self.show(&out);
            }
            _ if self.actions.is_some() => {
                let action = self.schema.transaction_action(cmd, rest)?;
                let args = json!({ "actions": [action.clone()] });
                self.schema.check_arguments("transaction", &args)?;
                if let Some(a) = self.actions.as_mut() {
                    a.push(action);
                }
            }
            _ => {
                let args = exec_args(&self.vm, cmd, rest).await?;
                let out = self.vm.exec(cmd, args).await?;
                self.show(&out);
            }
        }
        Ok(Step::Go)
    }
}

pub(crate) async fn run(vm: Vm, json: bool) -> CliResult {
    let schema = vm.schema().await?;
    // Raw events, printed as QEMU sent them, known to this build or not.
    let events = vm.client().with_timeout(None).subscribe();
    let mut session = Session {
        vm,
        schema: schema.clone(),
        json,
        actions: None,
        events,
        hmp_mode: false,
    };
    if !std::io::stdin().is_terminal() {
        let mut failed = false;
        for line in std::io::stdin().lock().lines() {
            let line = line?;
            session.drain_events();
            match session.line(&line).await {
                Ok(Step::Go) => {}
                Ok(Step::Quit) => break,
                Err(f) => {
                    eprintln!("error: {}", f.message);
                    failed = true;
                }
            }
        }
        session.drain_events();
        return if failed {
            Err(Failure::msg("some commands failed"))
        } else {
            Ok(())
        };
    }
    let config = rustyline::Config::builder()
        .auto_add_history(true)
        .completion_type(rustyline::CompletionType::List)
        .build();
    let mut editor: rustyline::Editor<ShellHelper, rustyline::history::DefaultHistory> =
        rustyline::Editor::with_config(config).map_err(|e| Failure::msg(chain(&e)))?;
    editor.set_helper(Some(ShellHelper {
        schema,
        in_transaction: std::cell::Cell::new(false),
        hmp_mode: std::cell::Cell::new(false),
    }));
    let history = history_path();
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    let v = session.vm.client().version().clone();
    println!("QEMU {v}; `help` for help, Ctrl-D to quit");
    loop {
        session.drain_events();
        let prompt = match (session.hmp_mode, session.actions.is_some()) {
            (true, false) => "hmp> ",
            (true, true) => "(transaction) hmp> ",
            (false, true) => "(transaction) qmp> ",
            (false, false) => "qmp> ",
        };
        if let Some(h) = editor.helper() {
            h.in_transaction.set(session.actions.is_some());
            h.hmp_mode.set(session.hmp_mode);
        }
        match editor.readline(prompt) {
            Ok(line) => match session.line(&line).await {
                Ok(Step::Go) => {}
                Ok(Step::Quit) => break,
                Err(f) => eprintln!("error: {}", f.message),
            },
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Failure::msg(chain(&e))),
        }
    }
    if let Some(h) = &history {
        if let Some(parent) = h.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = editor.save_history(h);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(
            split_words("a b=c  'd e' \"f\\\"g\"").unwrap(),
            ["a", "b=c", "d e", "f\"g"]
        );
        assert_eq!(split_words("x=''").unwrap(), ["x="]);
        assert!(split_words("'open").is_err());
    }

    fn schema() -> SchemaIndex {
        let entries = json!([
            {"name": "query-status", "meta-type": "command", "arg-type": "0", "ret-type": "0"},
            {"name": "query-cpus-fast", "meta-type": "command", "arg-type": "0", "ret-type": "0"},
            {"name": "set-mode", "meta-type": "command", "arg-type": "1", "ret-type": "0"},
            {"name": "0", "meta-type": "object", "members": []},
            {"name": "1", "meta-type": "object", "members": [
                {"name": "mode", "type": "2"}, {"name": "force", "type": "bool", "default": null}]},
            {"name": "2", "meta-type": "enum", "values": ["fast", "slow"]},
            {"name": "bool", "meta-type": "builtin", "json-type": "boolean"}
        ]);
        SchemaIndex::new(entries.as_array().unwrap())
    }

    fn check(line: &str, start: usize, expect: &[&str]) {
        let (s, got) = complete(&schema(), false, line);
        assert_eq!(
            (s, got.iter().map(String::as_str).collect::<Vec<_>>()),
            (start, expect.to_vec())
        );
    }

    #[test]
    fn completion() {
        check("query-", 0, &["query-cpus-fast", "query-status"]);
        check("qu", 0, &["query-cpus-fast", "query-status", "quit"]);
        check("set-mode ", 9, &["force=", "mode="]);
        check("set-mode m", 9, &["mode="]);
        check("set-mode mode=", 14, &["fast", "slow"]);
        check("set-mode mode=s", 14, &["slow"]);
        check("set-mode force=", 15, &["false", "true"]);
    }
}
