//! Just enough JSON for the facts files: a reader of any JSON value and a
//! writer of the pretty layout `cargo xtask import` commits.
//!
//! Why not serde_json: the bindings' build script reads the facts files in
//! every user's clean build, and a user's profile compiles build-script
//! dependencies separately from their own (other features, no debug info).
//! serde_json there meant compiling serde_core, serde and serde_json a second
//! time, about 4 s of CPU on a 2-core machine, for files of strings.

use std::fmt;

/// A JSON value. Objects keep their members in file order; numbers keep
/// their text (the facts never hold one, but a reader must name one it
/// meets rather than fail on it).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, members in file order.
    Object(Vec<(String, Value)>),
}

/// Where and why a text is not JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Error {
    /// 1-based line of the offending character.
    pub(crate) line: usize,
    /// 1-based column (in characters) of the offending character.
    pub(crate) column: usize,
    /// What was expected or found.
    pub(crate) message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.message, self.line, self.column
        )
    }
}

impl std::error::Error for Error {}

/// How deep arrays and objects may nest. The facts files use four levels;
/// the limit keeps a hostile file from overflowing the stack.
const MAX_DEPTH: usize = 64;

/// Parses one JSON value filling the whole of `text` (whitespace aside).
///
/// # Errors
/// The first place where `text` is not JSON, with its line and column.
pub(crate) fn parse(text: &str) -> Result<Value, Error> {
    let mut p = Reader { text, pos: 0 };
    p.blank();
    let v = p.value(0)?;
    p.blank();
    if p.pos < text.len() {
        return Err(p.error("expected the end of the text"));
    }
    Ok(v)
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn error(&self, message: &str) -> Error {
        let before = &self.text[..self.pos];
        let line = before.matches('\n').count() + 1;
        let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
            .chars()
            .count()
            + 1;
        Error {
            line,
            column,
            message: message.to_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn blank(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn value(&mut self, depth: usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting deeper than 64 levels"));
        }
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                let mut members = Vec::new();
                self.blank();
                if self.eat(b'}') {
                    return Ok(Value::Object(members));
                }
                loop {
                    self.blank();
                    if self.peek() != Some(b'"') {
                        return Err(self.error("expected a member name in double quotes"));
                    }
                    let key = self.string()?;
                    self.blank();
                    if !self.eat(b':') {
                        return Err(self.error("expected `:` after the member name"));
                    }
                    self.blank();
                    members.push((key, self.value(depth + 1)?));
                    self.blank();
                    if self.eat(b'}') {
                        return Ok(Value::Object(members));
                    }
                    if !self.eat(b',') {
                        return Err(self.error("expected `,` or `}` in an object"));
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.blank();
                if self.eat(b']') {
                    return Ok(Value::Array(items));
                }
                loop {
                    self.blank();
                    items.push(self.value(depth + 1)?);
                    self.blank();
                    if self.eat(b']') {
                        return Ok(Value::Array(items));
                    }
                    if !self.eat(b',') {
                        return Err(self.error("expected `,` or `]` in an array"));
                    }
                }
            }
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
                Ok(Value::Number(self.text[start..self.pos].to_owned()))
            }
            _ => {
                for (word, v) in [
                    ("null", Value::Null),
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                ] {
                    if self.text[self.pos..].starts_with(word) {
                        self.pos += word.len();
                        return Ok(v);
                    }
                }
                Err(self.error("expected a JSON value"))
            }
        }
    }

    /// A string starting at the opening quote.
    fn string(&mut self) -> Result<String, Error> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let bytes = self.text.as_bytes();
        loop {
            // A byte loop, not `str::find`: the build script runs this
            // unoptimised in users' debug builds, where a char-pattern
            // search costs hundreds of instructions a character.
            let start = self.pos;
            let mut stop = start;
            while stop < bytes.len() && bytes[stop] != b'"' && bytes[stop] != b'\\' {
                if bytes[stop] < b' ' {
                    self.pos = stop;
                    return Err(self.error("control character in a string"));
                }
                stop += 1;
            }
            if stop == bytes.len() {
                self.pos = open;
                return Err(self.error("unterminated string"));
            }
            // Both ends are ASCII, so this slices at character boundaries.
            out.push_str(&self.text[start..stop]);
            self.pos = stop + 1;
            if bytes[stop] == b'"' {
                return Ok(out);
            }
            let escaped = match self.peek() {
                Some(b'"') => '"',
                Some(b'\\') => '\\',
                Some(b'/') => '/',
                Some(b'b') => '\u{8}',
                Some(b'f') => '\u{c}',
                Some(b'n') => '\n',
                Some(b'r') => '\r',
                Some(b't') => '\t',
                Some(b'u') => {
                    self.pos += 1;
                    let unit = self.hex4()?;
                    let c = if (0xD800..0xDC00).contains(&unit) {
                        if !self.text[self.pos..].starts_with("\\u") {
                            return Err(self.error("expected the low half of a surrogate pair"));
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..0xE000).contains(&low) {
                            return Err(self.error("expected the low half of a surrogate pair"));
                        }
                        char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                    } else {
                        char::from_u32(unit)
                    };
                    out.push(c.ok_or_else(|| self.error("invalid `\\u` escape"))?);
                    continue;
                }
                _ => return Err(self.error("invalid escape in a string")),
            };
            out.push(escaped);
            self.pos += 1;
        }
    }

    fn hex4(&mut self) -> Result<u32, Error> {
        let digits = self.text.get(self.pos..self.pos + 4);
        match digits.and_then(|d| {
            u32::from_str_radix(d, 16)
                .ok()
                .filter(|_| !d.starts_with('+'))
        }) {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.error("expected four hex digits after `\\u`")),
        }
    }
}

/// Writes `v` with two-space indentation, one member or item per line,
/// and `": "` after member names (serde_json's pretty layout, so files
/// written before this module existed read back unchanged).
pub(crate) fn write_pretty(v: &Value, out: &mut String) {
    write_at(v, 0, out);
}

fn indent(level: usize, out: &mut String) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_at(v: &Value, level: usize, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(n),
        Value::String(s) => write_string(s, out),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(members) if members.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(level + 1, out);
                write_at(item, level + 1, out);
            }
            out.push('\n');
            indent(level, out);
            out.push(']');
        }
        Value::Object(members) => {
            out.push_str("{\n");
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                indent(level + 1, out);
                write_string(key, out);
                out.push_str(": ");
                write_at(item, level + 1, out);
            }
            out.push('\n');
            indent(level, out);
            out.push('}');
        }
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_of_value() {
        let v = parse(r#" {"a": [1, -2.5e3, true, false, null], "b": "x\"\\\/\n\u00e9\ud83d\ude00", "c": {}} "#)
            .unwrap();
        assert_eq!(
            v,
            Value::Object(vec![
                (
                    "a".into(),
                    Value::Array(vec![
                        Value::Number("1".into()),
                        Value::Number("-2.5e3".into()),
                        Value::Bool(true),
                        Value::Bool(false),
                        Value::Null,
                    ])
                ),
                ("b".into(), Value::String("x\"\\/\né😀".into())),
                ("c".into(), Value::Object(vec![])),
            ])
        );
    }

    #[test]
    fn errors_name_the_place() {
        let cases = [
            ("{\"a\": 1,\n  }", 2, 3, "expected a member name"),
            ("[1 2]", 1, 4, "expected `,` or `]`"),
            ("\"abc", 1, 1, "unterminated string"),
            ("\"a\\qb\"", 1, 4, "invalid escape"),
            ("\"\\u12\"", 1, 4, "four hex digits"),
            ("\"\\ud800x\"", 1, 8, "surrogate"),
            ("{} x", 1, 4, "the end of the text"),
            ("nul", 1, 1, "expected a JSON value"),
            ("\"a\tb\"", 1, 3, "control character"),
        ];
        for (text, line, column, message) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!((e.line, e.column), (line, column), "{text:?}: {e}");
            assert!(e.message.contains(message), "{text:?}: {e}");
        }
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).unwrap_err().message.contains("64 levels"));
    }

    #[test]
    fn writes_what_it_reads() {
        let text = "{\n  \"a\": [\n    \"x\\u0001\\t\\\"é\",\n    []\n  ],\n  \"b\": {}\n}";
        let mut out = String::new();
        write_pretty(&parse(text).unwrap(), &mut out);
        assert_eq!(out, text);
    }
}
