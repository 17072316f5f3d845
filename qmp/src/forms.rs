//! Argument forms the clap grammar leaves to us: device properties given
//! as `--name value` or `name=value`, and hints for habits from MAQET,
//! whose reference writes `maqet qmp keys VM_ID KEY…` where we write
//! `qmp --vm VM_ID keys KEY…`.

use crate::{CliResult, Failure};

/// The options of `qmp` itself, which any subcommand takes.
const GLOBAL_WITH_VALUE: &[&str] = &["--socket", "--tcp", "--vm", "--timeout"];
const GLOBAL_FLAGS: &[&str] = &["--json"];

/// The subcommands' options that take a value (so the word after them is
/// not a positional argument).
const SUB_WITH_VALUE: &[&str] = &[
    "--hold",
    "--hold-time",
    "--file",
    "-f",
    "--format",
    "--device",
    "--head",
    "--id",
    "--device-id",
    "--wait",
];

/// The subcommands whose MAQET form names the VM first, and whether they
/// take arguments after it.
const VM_FIRST: &[(&str, bool)] = &[
    ("keys", true),
    ("type", true),
    ("screendump", true),
    ("device-add", true),
    ("device-del", true),
    ("pause", false),
    ("resume", false),
    ("powerdown", false),
    ("reset", false),
    ("wakeup", false),
    ("status", false),
];

/// When `args` (without the program's name) put a VM's name where MAQET
/// puts it, the command to write instead: `qmp keys myvm ctrl c` is
/// `qmp --vm myvm keys ctrl c`, `qmp pause myvm` is `qmp --vm myvm
/// pause`, and MAQET's raw form `qmp myvm query-status` is `qmp --vm myvm
/// exec query-status`. `is_vm` says whether a word names a VM; it is only
/// asked about the word in that place.
pub(crate) fn vm_first_hint(
    args: &[String],
    subcommands: &[&str],
    is_vm: impl Fn(&str) -> bool,
) -> Option<String> {
    let mut i = 0;
    // qmp's own options, up to the subcommand.
    while let Some(word) = args.get(i) {
        if GLOBAL_WITH_VALUE.contains(&word.as_str()) {
            i += 2;
        } else if word.starts_with("--")
            && (GLOBAL_FLAGS.contains(&word.as_str())
                || GLOBAL_WITH_VALUE
                    .iter()
                    .any(|o| word.strip_prefix(o).is_some_and(|r| r.starts_with('='))))
        {
            i += 1;
        } else {
            break;
        }
    }
    let sub = args.get(i)?;
    if sub.starts_with('-') {
        return None;
    }
    if !subcommands.contains(&sub.as_str()) {
        // MAQET's raw form: `maqet qmp VM_ID COMMAND [ARGS...]`.
        if !is_vm(sub) {
            return None;
        }
        let mut fixed: Vec<String> = vec!["--vm".into(), sub.clone()];
        fixed.extend(without_vm(&args[..i]));
        fixed.push("exec".into());
        fixed.extend(args[i + 1..].iter().cloned());
        if args.len() == i + 1 {
            fixed.push("COMMAND".into());
        }
        return Some(format!(
            "`{sub}` names a VM, not a subcommand: to run a QMP command on it, write \
             `qmp {}`",
            shell_words(&fixed)
        ));
    }
    let &(_, takes_args) = VM_FIRST.iter().find(|(name, _)| name == sub)?;
    // The first positional word after the subcommand.
    let mut j = i + 1;
    while let Some(word) = args.get(j) {
        if word == "--" {
            j += 1;
            break;
        }
        if SUB_WITH_VALUE.contains(&word.as_str()) || GLOBAL_WITH_VALUE.contains(&word.as_str()) {
            j += 2;
        } else if word.starts_with('-') && word != "-" {
            j += 1;
        } else {
            break;
        }
    }
    let word = args.get(j)?;
    let rest_positional = args[j + 1..].iter().any(|w| !w.starts_with("--"));
    if takes_args && !rest_positional {
        return None;
    }
    if sub == "keys" && qmp_vm::split_chord(word).iter().all(|k| known_key(k)) {
        // A VM named like a key: the word is read as the key.
        return None;
    }
    if !is_vm(word) {
        return None;
    }
    let mut fixed: Vec<String> = vec!["--vm".into(), word.clone()];
    fixed.extend(without_vm(&args[..j]));
    fixed.extend(args[j + 1..].iter().cloned());
    Some(format!(
        "`{word}` names a VM: give it with --vm, as in `qmp {}`",
        shell_words(&fixed)
    ))
}

/// `words` without a `--vm NAME` or `--vm=NAME`, which the hint replaces.
fn without_vm(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = words.iter();
    while let Some(w) = words.next() {
        if w == "--vm" {
            words.next();
        } else if !w.starts_with("--vm=") {
            out.push(w.clone());
        }
    }
    out
}

/// Whether this build knows `name` as a `QKeyCode` value.
fn known_key(name: &str) -> bool {
    !matches!(
        qmp_types::qmp::QKeyCode::from(name.to_ascii_lowercase().as_str()),
        qmp_types::qmp::QKeyCode::Unknown(_)
    )
}

/// `words` as one might type them into a shell.
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=+,./:@%^".contains(c));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A device's id and its other properties, as `device-add` sends them.
pub(crate) type DeviceProps = (Option<String>, Vec<(String, String)>);

/// The id and properties of `device-add` from the words after the
/// driver: `name=value`, `--name value` or `--name=value`, as MAQET
/// passes them. `--id` and `--device-id` here (clap leaves them among the
/// properties when a property option comes first) set the id, as `id=…`
/// does; the last one given wins.
pub(crate) fn device_props(mut id: Option<String>, words: &[String]) -> CliResult<DeviceProps> {
    let mut props = Vec::new();
    let mut words = words.iter().peekable();
    while let Some(word) = words.next() {
        let (name, value) = if let Some(option) = word.strip_prefix("--") {
            match option.split_once('=') {
                Some((n, v)) => (n.to_owned(), v.to_owned()),
                None => match words.next_if(|next| !next.starts_with("--")) {
                    Some(v) => (option.to_owned(), v.clone()),
                    None => {
                        return Err(Failure::msg(format!(
                            "`{word}` needs a value: give properties as `--name value` or \
                             `name=value`"
                        )));
                    }
                },
            }
        } else {
            match word.split_once('=') {
                Some((n, v)) => (n.to_owned(), v.to_owned()),
                None => {
                    return Err(Failure::msg(format!(
                        "expected a property (`name=value` or `--name value`), got `{word}`"
                    )));
                }
            }
        };
        if name.is_empty() {
            return Err(Failure::msg(format!("no property name in `{word}`")));
        }
        match name.as_str() {
            "id" | "device-id" => id = Some(value),
            _ => props.push((name, value)),
        }
    }
    Ok((id, props))
}

/// When a word of `keys` looks like an option: clap parses options
/// wherever they stand, so such a word came after `--`, which made it a
/// key name. What to write instead.
pub(crate) fn keys_option_hint(keys: &[String]) -> Option<String> {
    let word = keys.iter().find(|w| {
        let mut chars = w.chars();
        chars.next() == Some('-')
            && chars
                .next()
                .is_some_and(|c| c == '-' || c.is_ascii_alphabetic())
    })?;
    Some(format!(
        "`{word}` looks like an option, not a key name: options go before `--` (or without \
         it), as in `qmp keys --hold-time 200 ctrl c`"
    ))
}

/// When `exec`'s words hold one of qmp's own options, which clap leaves
/// there once the command's `--key value` words have started, and the
/// command has no argument of that name: what to write instead.
pub(crate) fn exec_option_hint(
    command: &str,
    words: &[String],
    argument_names: &[String],
) -> Option<String> {
    words.iter().find_map(|w| {
        let option = w.split_once('=').map_or(w.as_str(), |(o, _)| o);
        let known = GLOBAL_WITH_VALUE.contains(&option) || GLOBAL_FLAGS.contains(&option);
        let name = option.strip_prefix("--")?;
        (known && !argument_names.iter().any(|a| a == name)).then(|| {
            format!(
                "`{option}` after the arguments is read as an argument, and {command} has no \
                 argument `{name}`: give qmp's options before the subcommand, as in \
                 `qmp {option} … exec {command} …`"
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBS: &[&str] = &[
        "keys",
        "type",
        "screendump",
        "pause",
        "resume",
        "status",
        "device-add",
        "device-del",
        "exec",
        "qom",
        "list",
    ];

    /// The hint for `line` when `myvm` and `web` are VMs, or `-`.
    fn hint(line: &str) -> String {
        let args: Vec<String> = line.split(' ').map(str::to_owned).collect();
        vm_first_hint(&args, SUBS, |w| w == "myvm" || w == "web").unwrap_or_else(|| "-".into())
    }

    #[test]
    fn vm_first() {
        let vm = |fixed: &str| format!("`myvm` names a VM: give it with --vm, as in `qmp {fixed}`");
        // MAQET's forms from its reference.
        assert_eq!(
            hint("keys myvm ctrl alt f2"),
            vm("--vm myvm keys ctrl alt f2")
        );
        assert_eq!(hint("keys myvm ctrl c"), vm("--vm myvm keys ctrl c"));
        assert_eq!(
            hint("keys myvm --hold-time 200 ctrl alt delete"),
            vm("--vm myvm keys --hold-time 200 ctrl alt delete")
        );
        assert_eq!(hint("type myvm root"), vm("--vm myvm type root"));
        assert_eq!(
            hint("type myvm --hold-time 150 sensitive-data"),
            vm("--vm myvm type --hold-time 150 sensitive-data")
        );
        assert_eq!(
            hint("screendump myvm screenshot.ppm"),
            vm("--vm myvm screendump screenshot.ppm")
        );
        assert_eq!(hint("pause myvm"), vm("--vm myvm pause"));
        assert_eq!(hint("resume myvm"), vm("--vm myvm resume"));
        assert_eq!(
            hint("device-add myvm usb-storage --device-id usb1 --drive usb-drive"),
            vm("--vm myvm device-add usb-storage --device-id usb1 --drive usb-drive")
        );
        assert_eq!(
            hint("device-del myvm usb1"),
            vm("--vm myvm device-del usb1")
        );
        // qmp's options stay where they were.
        assert_eq!(
            hint("--json --timeout 5 keys myvm ctrl c"),
            vm("--vm myvm --json --timeout 5 keys ctrl c")
        );
        assert_eq!(
            hint("keys --hold 50 myvm ctrl c"),
            vm("--vm myvm keys --hold 50 ctrl c")
        );
        // A `--vm` given as well is replaced.
        assert_eq!(
            hint("--vm=web keys myvm ctrl c"),
            vm("--vm myvm keys ctrl c")
        );
        assert_eq!(
            hint("keys --vm web myvm ctrl c"),
            vm("--vm myvm keys ctrl c")
        );
        // A word that needs quoting is quoted.
        let args: Vec<String> = ["type", "myvm", "ls -la /home"].map(String::from).to_vec();
        assert_eq!(
            vm_first_hint(&args, SUBS, |w| w == "myvm").as_deref(),
            Some(vm("--vm myvm type 'ls -la /home'").as_str())
        );
        // MAQET's raw form.
        assert_eq!(
            hint("myvm query-status"),
            "`myvm` names a VM, not a subcommand: to run a QMP command on it, write \
             `qmp --vm myvm exec query-status`"
        );
        assert_eq!(
            hint("--json web eject --device ide0-cd0"),
            "`web` names a VM, not a subcommand: to run a QMP command on it, write \
             `qmp --vm web --json exec eject --device ide0-cd0`"
        );
        assert!(hint("myvm").ends_with("`qmp --vm myvm exec COMMAND`"));
    }

    #[test]
    fn vm_first_leaves_the_rest_alone() {
        for line in [
            "keys ctrl c",
            "--vm myvm keys ctrl c",
            "keys nosuchvm ctrl c",
            // The only word is what to press, type or remove.
            "keys myvm",
            "type myvm",
            "device-del myvm",
            "screendump myvm",
            // Not a MAQET subcommand with a VM first.
            "exec myvm",
            "qom ls myvm",
            "nosuchvm query-status",
            "list",
            "pause",
            "--help",
        ] {
            assert_eq!(hint(line), "-", "{line}");
        }
        // A VM named like a key is read as the key.
        let args: Vec<String> = ["keys", "ctrl", "c"].map(String::from).to_vec();
        assert_eq!(vm_first_hint(&args, SUBS, |w| w == "ctrl"), None);
    }

    fn props(words: &[&str]) -> String {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        match device_props(None, &words) {
            Ok((id, props)) => format!("{id:?} {props:?}"),
            Err(f) => f.message,
        }
    }

    #[test]
    fn device_properties() {
        assert_eq!(props(&[]), "None []");
        assert_eq!(
            props(&["--drive", "usb-drive"]),
            r#"None [("drive", "usb-drive")]"#
        );
        assert_eq!(
            props(&["--netdev=user1", "mac=52:54:00:12:34:56"]),
            r#"None [("netdev", "user1"), ("mac", "52:54:00:12:34:56")]"#
        );
        // The id, wherever clap left it.
        assert_eq!(
            props(&["--drive", "d", "--device-id", "usb1"]),
            r#"Some("usb1") [("drive", "d")]"#
        );
        assert_eq!(props(&["--id=k1"]), r#"Some("k1") []"#);
        assert_eq!(props(&["id=k1"]), r#"Some("k1") []"#);
        // A value may start with one `-`.
        assert_eq!(
            props(&["--bootindex", "-1"]),
            r#"None [("bootindex", "-1")]"#
        );
        assert_eq!(
            props(&["--drive"]),
            "`--drive` needs a value: give properties as `--name value` or `name=value`"
        );
        assert_eq!(
            props(&["--drive", "--netdev", "n"]),
            "`--drive` needs a value: give properties as `--name value` or `name=value`"
        );
        assert_eq!(
            props(&["usb1"]),
            "expected a property (`name=value` or `--name value`), got `usb1`"
        );
        assert_eq!(props(&["=x"]), "no property name in `=x`");
    }

    #[test]
    fn key_options() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            keys_option_hint(&words(&["--hold-time", "200", "ctrl", "c"])).as_deref(),
            Some(
                "`--hold-time` looks like an option, not a key name: options go before `--` \
                 (or without it), as in `qmp keys --hold-time 200 ctrl c`"
            )
        );
        assert!(keys_option_hint(&words(&["ctrl", "c", "-x"])).is_some());
        for ok in [
            &["-"][..],
            &["ctrl", "-"],
            &["ctrl--"],
            &["ctrl-c", ",", "ret"],
        ] {
            assert_eq!(keys_option_hint(&words(ok)), None, "{ok:?}");
        }
    }

    #[test]
    fn exec_options() {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let names = words(&["device", "force", "id"]);
        assert_eq!(
            exec_option_hint("eject", &words(&["--device", "cd0", "--json"]), &names).as_deref(),
            Some(
                "`--json` after the arguments is read as an argument, and eject has no argument \
                 `json`: give qmp's options before the subcommand, as in \
                 `qmp --json … exec eject …`"
            )
        );
        assert!(
            exec_option_hint("eject", &words(&["--device", "cd0", "--timeout=3"]), &names)
                .is_some_and(|h| h.contains("`--timeout` after the arguments"))
        );
        assert_eq!(
            exec_option_hint("eject", &words(&["--device", "cd0", "--force"]), &names),
            None
        );
        // A command that has such an argument gets it.
        let names = words(&["timeout"]);
        assert_eq!(
            exec_option_hint("x", &words(&["--timeout", "3"]), &names),
            None
        );
    }
}
