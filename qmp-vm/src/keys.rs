//! Key names and the US keyboard layout used to type text.
//!
//! QEMU names keys with the values of its `QKeyCode` enum (`ctrl`, `ret`,
//! `bracket_left`…). The set grows with releases, so the names a given
//! QEMU accepts come from its own schema; this module adds the aliases
//! people type and the layout that turns characters into key chords.

use std::collections::BTreeSet;

use qmp_types::qmp::QKeyCode;

use crate::Error;
use crate::suggest::close_matches;

/// Common names for keys, mapped to their `QKeyCode` value.
const ALIASES: &[(&str, &str)] = &[
    ("enter", "ret"),
    ("return", "ret"),
    ("space", "spc"),
    ("spacebar", "spc"),
    ("win", "meta_l"),
    ("windows", "meta_l"),
    ("super", "meta_l"),
    ("meta", "meta_l"),
    ("cmd", "meta_l"),
    ("lwin", "meta_l"),
    ("rwin", "meta_r"),
    ("control", "ctrl"),
    ("ctl", "ctrl"),
    ("lctrl", "ctrl"),
    ("rctrl", "ctrl_r"),
    ("lshift", "shift"),
    ("rshift", "shift_r"),
    ("lalt", "alt"),
    ("ralt", "alt_r"),
    ("altgr", "alt_r"),
    ("option", "alt"),
    ("escape", "esc"),
    ("bs", "backspace"),
    ("del", "delete"),
    ("ins", "insert"),
    ("pageup", "pgup"),
    ("page_up", "pgup"),
    ("prior", "pgup"),
    ("pagedown", "pgdn"),
    ("page_down", "pgdn"),
    ("pgdown", "pgdn"),
    ("next", "pgdn"),
    ("capslock", "caps_lock"),
    ("caps", "caps_lock"),
    ("numlock", "num_lock"),
    ("scrolllock", "scroll_lock"),
    ("printscreen", "print"),
    ("prtsc", "print"),
    ("sysrq", "sysrq"),
    ("break", "pause"),
    ("apps", "menu"),
    ("-", "minus"),
    ("=", "equal"),
    ("[", "bracket_left"),
    ("]", "bracket_right"),
    ("\\", "backslash"),
    (";", "semicolon"),
    ("'", "apostrophe"),
    ("`", "grave_accent"),
    ("grave", "grave_accent"),
    ("backtick", "grave_accent"),
    (",", "comma"),
    (".", "dot"),
    ("period", "dot"),
    ("/", "slash"),
];

/// `QKeyCode` values every release since QEMU 1.3 has, for the tests;
/// at run time the names come from the connected QEMU's schema.
#[cfg(test)]
const BASE_KEYS: &[&str] = &[
    "unmapped",
    "shift",
    "shift_r",
    "alt",
    "alt_r",
    "ctrl",
    "ctrl_r",
    "menu",
    "esc",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "0",
    "minus",
    "equal",
    "backspace",
    "tab",
    "q",
    "w",
    "e",
    "r",
    "t",
    "y",
    "u",
    "i",
    "o",
    "p",
    "bracket_left",
    "bracket_right",
    "ret",
    "a",
    "s",
    "d",
    "f",
    "g",
    "h",
    "j",
    "k",
    "l",
    "semicolon",
    "apostrophe",
    "grave_accent",
    "backslash",
    "z",
    "x",
    "c",
    "v",
    "b",
    "n",
    "m",
    "comma",
    "dot",
    "slash",
    "asterisk",
    "spc",
    "caps_lock",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "f6",
    "f7",
    "f8",
    "f9",
    "f10",
    "num_lock",
    "scroll_lock",
    "kp_divide",
    "kp_multiply",
    "kp_subtract",
    "kp_add",
    "kp_enter",
    "kp_decimal",
    "sysrq",
    "kp_0",
    "kp_1",
    "kp_2",
    "kp_3",
    "kp_4",
    "kp_5",
    "kp_6",
    "kp_7",
    "kp_8",
    "kp_9",
    "less",
    "f11",
    "f12",
    "print",
    "home",
    "pgup",
    "pgdn",
    "end",
    "left",
    "up",
    "down",
    "right",
    "insert",
    "delete",
    "stop",
    "again",
    "props",
    "undo",
    "front",
    "copy",
    "open",
    "paste",
    "find",
    "cut",
    "lf",
    "help",
    "meta_l",
    "meta_r",
    "compose",
    "pause",
];

/// The key names one QEMU accepts, with the aliases on top.
#[derive(Clone, Debug)]
pub struct KeyNames {
    names: BTreeSet<String>,
}

impl KeyNames {
    /// The `QKeyCode` values `names`, as a QEMU's schema lists them.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> KeyNames {
        KeyNames {
            names: names.into_iter().map(Into::into).collect(),
        }
    }

    /// Every `QKeyCode` value, sorted.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// The `QKeyCode` value for `name`: a value itself or an alias, in any
    /// case.
    ///
    /// A value of this QEMU that `qmp-types` does not know (a key a newer
    /// release added) is [`QKeyCode::Unknown`], which is sent verbatim.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKey`] with the closest names if there is none.
    pub fn resolve(&self, name: &str) -> Result<QKeyCode, Error> {
        let lower = name.to_ascii_lowercase();
        if self.names.contains(&lower) {
            return Ok(QKeyCode::from(lower.as_str()));
        }
        if let Some((_, value)) = ALIASES.iter().find(|(alias, _)| *alias == lower)
            && self.names.contains(*value)
        {
            return Ok(QKeyCode::from(*value));
        }
        let candidates = self
            .names
            .iter()
            .map(String::as_str)
            .chain(ALIASES.iter().map(|(a, _)| *a).filter(|a| a.len() > 1));
        Err(Error::UnknownKey {
            name: name.to_owned(),
            suggestions: close_matches(&lower, candidates),
        })
    }
}

/// Splits a chord written as `ctrl-alt-f2` or `ctrl+alt+f2` into names.
/// A lone `-` or `+`, or one at the end (`ctrl+-`), is the key itself.
pub fn split_chord(chord: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = chord.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if (bytes[i] == b'-' || bytes[i] == b'+') && i > start {
            out.push(&chord[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    if start < chord.len() {
        out.push(&chord[start..]);
    } else if start > 0 {
        // A trailing separator is the key itself: `ctrl+-`.
        let sep = &chord[start - 1..start];
        out.push(sep);
    } else {
        out.push(chord);
    }
    out
}

/// Reads a key list as `qmp keys` does: the words name keys pressed
/// together, a word of its own `,` starts the next chord, and a word may
/// join names with `-` or `+` (`ctrl-alt-f2`). So `["ctrl", "alt", "f2"]`
/// and `["ctrl-alt-f2"]` are one chord, and `["ctrl-c", ",", "ret"]` two
/// chords pressed in turn; the comma key is `comma` (or `,` inside a word:
/// `shift+,`).
///
/// The result is what [`Vm::key_sequence`](crate::Vm::key_sequence)
/// takes; names are checked there.
///
/// # Errors
///
/// [`Error::KeyList`] for an empty list or chord (a `,` at either end or
/// twice), a word that looks like an option (`--hold-time`), or a `,`
/// glued to a name (`ctrl-c,`), each saying what to write instead.
///
/// # Examples
///
/// ```
/// let chords = qmp_vm::parse_chords(&["ctrl", "alt", "f2", ",", "ret"])?;
/// assert_eq!(chords, [vec!["ctrl", "alt", "f2"], vec!["ret"]]);
/// # Ok::<(), qmp_vm::Error>(())
/// ```
pub fn parse_chords<S: AsRef<str>>(words: &[S]) -> Result<Vec<Vec<&str>>, Error> {
    const COMMA: &str = "(`,` separates chords; the comma key is `comma`)";
    if words.is_empty() {
        return Err(Error::KeyList("no keys given".into()));
    }
    let mut chords = vec![Vec::new()];
    for word in words.iter().map(AsRef::as_ref) {
        if word == "," {
            if chords.last().is_some_and(Vec::is_empty) {
                return Err(Error::KeyList(format!(
                    "a `,` with no keys before it {COMMA}"
                )));
            }
            chords.push(Vec::new());
            continue;
        }
        if looks_like_option(word) {
            return Err(Error::KeyList(format!(
                "`{word}` looks like an option, not a key name"
            )));
        }
        let names = split_chord(word);
        if names.iter().any(|n| *n != "," && n.contains(',')) {
            return Err(Error::KeyList(format!(
                "`{word}`: a `,` between chords must be a word of its own, as in `ctrl-c , ret` \
                 {COMMA}"
            )));
        }
        if let Some(chord) = chords.last_mut() {
            chord.extend(names);
        }
    }
    if chords.last().is_some_and(Vec::is_empty) {
        return Err(Error::KeyList(format!(
            "a `,` with no keys after it {COMMA}"
        )));
    }
    Ok(chords)
}

/// `--name`, `-x`: no key name starts with `-` and a letter or a second
/// `-`; a lone `-` (the minus key) and `-+`-style chords do not count.
fn looks_like_option(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next() == Some('-')
        && chars
            .next()
            .is_some_and(|c| c == '-' || c.is_ascii_alphabetic())
}

/// The US-layout chord that types `c`: `[key]` or `["shift", key]`;
/// `\n` and `\r` are Return, `\t` Tab. `None` for characters the layout
/// has no key for.
pub fn us_chord(c: char) -> Option<&'static [&'static str]> {
    macro_rules! table {
        ($($ch:literal => [$($k:literal),+]),* $(,)?) => {
            match c { $($ch => Some(&[$($k),+]),)* _ => None }
        };
    }
    table! {
        'a' => ["a"], 'b' => ["b"], 'c' => ["c"], 'd' => ["d"], 'e' => ["e"], 'f' => ["f"],
        'g' => ["g"], 'h' => ["h"], 'i' => ["i"], 'j' => ["j"], 'k' => ["k"], 'l' => ["l"],
        'm' => ["m"], 'n' => ["n"], 'o' => ["o"], 'p' => ["p"], 'q' => ["q"], 'r' => ["r"],
        's' => ["s"], 't' => ["t"], 'u' => ["u"], 'v' => ["v"], 'w' => ["w"], 'x' => ["x"],
        'y' => ["y"], 'z' => ["z"],
        'A' => ["shift", "a"], 'B' => ["shift", "b"], 'C' => ["shift", "c"], 'D' => ["shift", "d"],
        'E' => ["shift", "e"], 'F' => ["shift", "f"], 'G' => ["shift", "g"], 'H' => ["shift", "h"],
        'I' => ["shift", "i"], 'J' => ["shift", "j"], 'K' => ["shift", "k"], 'L' => ["shift", "l"],
        'M' => ["shift", "m"], 'N' => ["shift", "n"], 'O' => ["shift", "o"], 'P' => ["shift", "p"],
        'Q' => ["shift", "q"], 'R' => ["shift", "r"], 'S' => ["shift", "s"], 'T' => ["shift", "t"],
        'U' => ["shift", "u"], 'V' => ["shift", "v"], 'W' => ["shift", "w"], 'X' => ["shift", "x"],
        'Y' => ["shift", "y"], 'Z' => ["shift", "z"],
        '0' => ["0"], '1' => ["1"], '2' => ["2"], '3' => ["3"], '4' => ["4"], '5' => ["5"],
        '6' => ["6"], '7' => ["7"], '8' => ["8"], '9' => ["9"],
        ')' => ["shift", "0"], '!' => ["shift", "1"], '@' => ["shift", "2"], '#' => ["shift", "3"],
        '$' => ["shift", "4"], '%' => ["shift", "5"], '^' => ["shift", "6"], '&' => ["shift", "7"],
        '*' => ["shift", "8"], '(' => ["shift", "9"],
        ' ' => ["spc"], '\n' => ["ret"], '\r' => ["ret"], '\t' => ["tab"],
        '-' => ["minus"], '_' => ["shift", "minus"],
        '=' => ["equal"], '+' => ["shift", "equal"],
        '[' => ["bracket_left"], '{' => ["shift", "bracket_left"],
        ']' => ["bracket_right"], '}' => ["shift", "bracket_right"],
        '\\' => ["backslash"], '|' => ["shift", "backslash"],
        ';' => ["semicolon"], ':' => ["shift", "semicolon"],
        '\'' => ["apostrophe"], '"' => ["shift", "apostrophe"],
        '`' => ["grave_accent"], '~' => ["shift", "grave_accent"],
        ',' => ["comma"], '<' => ["shift", "comma"],
        '.' => ["dot"], '>' => ["shift", "dot"],
        '/' => ["slash"], '?' => ["shift", "slash"],
    }
}

/// The chords that type `text`, one per character; `\r\n` is one Return.
///
/// # Errors
///
/// [`Error::Untypable`] naming the first character the US layout cannot
/// type and its position (counted in characters from 0).
pub fn text_chords(text: &str) -> Result<Vec<&'static [&'static str]>, Error> {
    let mut out = Vec::with_capacity(text.len());
    let mut chars = text.chars().enumerate().peekable();
    while let Some((position, ch)) = chars.next() {
        if ch == '\r' && chars.peek().is_some_and(|&(_, next)| next == '\n') {
            // A CRLF line end types one Return; the `\n` does it.
            continue;
        }
        out.push(us_chord(ch).ok_or(Error::Untypable { ch, position })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> KeyNames {
        KeyNames::new(BASE_KEYS.iter().copied())
    }

    fn check(name: &str, expect: &str) {
        let got = match names().resolve(name) {
            Ok(v) => v.as_str().to_owned(),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expect);
    }

    #[test]
    fn resolve() {
        check("ctrl", "ctrl");
        check("CTRL", "ctrl");
        check("enter", "ret");
        check("Return", "ret");
        check("space", "spc");
        check("win", "meta_l");
        check("pgup", "pgup");
        check("esc", "esc");
        check("escape", "esc");
        check("backspace", "backspace");
        check("/", "slash");
        check("ctlr", "unknown key `ctlr`; did you mean `ctl`, `ctrl`?");
        check("xyzzy", "unknown key `xyzzy`");
    }

    #[test]
    fn keys_this_build_does_not_know() {
        // A key of a newer QEMU: accepted because its schema lists it, and
        // sent as QEMU spells it.
        let names = KeyNames::new(["ctrl", "f99_future"]);
        let code = names.resolve("F99_Future").unwrap();
        assert!(matches!(code, QKeyCode::Unknown(_)), "{code:?}");
        let wire = serde_json::to_value(qmp_types::qmp::KeyValue::from(code)).unwrap();
        assert_eq!(
            wire,
            serde_json::json!({ "type": "qcode", "data": "f99_future" })
        );
        assert_eq!(names.resolve("Control").unwrap(), QKeyCode::Ctrl);
        // One this build knows but the connected QEMU lacks is refused.
        assert!(names.resolve("f24").is_err());
    }

    #[test]
    fn chords() {
        assert_eq!(split_chord("ctrl-alt-f2"), ["ctrl", "alt", "f2"]);
        assert_eq!(split_chord("ctrl+c"), ["ctrl", "c"]);
        assert_eq!(split_chord("ret"), ["ret"]);
        assert_eq!(split_chord("-"), ["-"]);
        assert_eq!(split_chord("ctrl+-"), ["ctrl", "-"]);
        assert_eq!(split_chord("shift-="), ["shift", "="]);
    }

    fn chords_of(words: &[&str]) -> String {
        match parse_chords(words) {
            Ok(chords) => chords
                .iter()
                .map(|c| c.join("+"))
                .collect::<Vec<_>>()
                .join(" | "),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn key_lists() {
        // The words of one list are one chord, however they are written.
        assert_eq!(chords_of(&["ctrl", "alt", "f2"]), "ctrl+alt+f2");
        assert_eq!(chords_of(&["ctrl-alt-f2"]), "ctrl+alt+f2");
        assert_eq!(chords_of(&["ctrl+alt+f2"]), "ctrl+alt+f2");
        assert_eq!(chords_of(&["ctrl", "alt-f2"]), "ctrl+alt+f2");
        assert_eq!(chords_of(&["ctrl", "c"]), "ctrl+c");
        // A `,` word starts the next chord.
        assert_eq!(chords_of(&["ctrl-c", ",", "ret"]), "ctrl+c | ret");
        assert_eq!(
            chords_of(&["ctrl", "alt", "f2", ",", "ctrl", "alt", "f1"]),
            "ctrl+alt+f2 | ctrl+alt+f1"
        );
        assert_eq!(chords_of(&["a", ",", "b", ",", "c"]), "a | b | c");
        // The comma key: by name, or `,` inside a chord word.
        assert_eq!(chords_of(&["comma"]), "comma");
        assert_eq!(chords_of(&["shift+,"]), "shift+,");
        assert_eq!(chords_of(&["-"]), "-");
        assert_eq!(chords_of(&["ctrl", "-"]), "ctrl+-");
    }

    #[test]
    fn key_list_hints() {
        let comma = "(`,` separates chords; the comma key is `comma`)";
        assert_eq!(chords_of(&[]), "no keys given");
        assert_eq!(
            chords_of(&[","]),
            format!("a `,` with no keys before it {comma}")
        );
        assert_eq!(
            chords_of(&["a", ",", ",", "b"]),
            format!("a `,` with no keys before it {comma}")
        );
        assert_eq!(
            chords_of(&["ctrl-c", ","]),
            format!("a `,` with no keys after it {comma}")
        );
        assert_eq!(
            chords_of(&["ctrl-c,", "ret"]),
            format!(
                "`ctrl-c,`: a `,` between chords must be a word of its own, as in \
                 `ctrl-c , ret` {comma}"
            )
        );
        assert!(chords_of(&["ctrl-c,ret"]).starts_with("`ctrl-c,ret`: a `,` between"));
        assert_eq!(
            chords_of(&["--hold-time", "200", "ctrl", "c"]),
            "`--hold-time` looks like an option, not a key name"
        );
        assert_eq!(
            chords_of(&["ctrl", "c", "-h"]),
            "`-h` looks like an option, not a key name"
        );
    }

    #[test]
    fn layout_covers_printable_ascii() {
        let n = names();
        for c in (0x20u8..0x7f).map(char::from).chain(['\n', '\r', '\t']) {
            let chord = us_chord(c).unwrap_or_else(|| panic!("no chord for {c:?}"));
            for k in chord {
                assert!(n.resolve(k).is_ok(), "{c:?} uses unknown key {k}");
            }
        }
        let err = text_chords("ok\u{e9}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot type '\u{e9}' (U+00E9) at position 2 with a US keyboard layout"
        );
        // Return, as MAQET types it; a CRLF line end is one Return.
        assert_eq!(text_chords("a\rb").unwrap(), [&["a"][..], &["ret"], &["b"]]);
        assert_eq!(
            text_chords("a\r\nb").unwrap(),
            [&["a"][..], &["ret"], &["b"]]
        );
        assert_eq!(text_chords("\r\r").unwrap(), [&["ret"][..], &["ret"]]);
        let err = text_chords("a\r\n\u{7}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot type '\\u{7}' (U+0007) at position 3 with a US keyboard layout"
        );
    }
}
