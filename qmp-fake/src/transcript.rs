//! The transcript format: a recorded QMP session, one message a line.
//!
//! A transcript is JSON Lines: each line is an object with exactly one
//! member, `"qemu"` for a message QEMU sent (greeting, reply, event) or
//! `"client"` for one the client sent, whose value is the message as it
//! was on the wire:
//!
//! ```text
//! {"qemu":{"QMP":{"version":{"qemu":{"micro":2,"minor":0,"major":10},"package":""},"capabilities":["oob"]}}}
//! {"client":{"execute":"qmp_capabilities","arguments":{"enable":["oob"]},"id":1}}
//! {"qemu":{"return":{},"id":1}}
//! {"client":{"execute":"stop","id":2}}
//! {"qemu":{"timestamp":{"seconds":1796314156,"microseconds":270273},"event":"STOP"}}
//! {"qemu":{"return":{},"id":2}}
//! ```
//!
//! Lines are in the order the recorder saw the messages. Blank lines are
//! skipped. `qmp record` (package `qmp-cli`) writes transcripts;
//! [`FakeQemu::replay`](crate::FakeQemu::replay) plays them back.

use std::io::{BufRead, Write};

use serde_json::Value;

use crate::Error;

/// Who sent a message of a transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// QEMU: the greeting, replies and events (`"qemu"`).
    Qemu,
    /// The client: requests (`"client"`).
    Client,
}

impl Side {
    /// The member name in a transcript line: `qemu` or `client`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Qemu => "qemu",
            Side::Client => "client",
        }
    }
}

/// One message of a transcript.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Who sent it.
    pub side: Side,
    /// The message, as sent.
    pub message: Value,
}

impl Entry {
    /// The entry as one transcript line, without the newline.
    pub fn to_line(&self) -> String {
        let mut m = serde_json::Map::new();
        m.insert(self.side.as_str().to_owned(), self.message.clone());
        Value::Object(m).to_string()
    }

    /// Reads one transcript line.
    ///
    /// # Errors
    /// [`Error::Transcript`] if the line is not an object with exactly one
    /// member `qemu` or `client`.
    pub fn from_line(line: &str, line_number: usize) -> Result<Entry, Error> {
        let bad = |message: String| Error::Transcript {
            line: line_number,
            message,
        };
        let value: Value = serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let Value::Object(m) = value else {
            return Err(bad(
                "expected an object such as {\"client\": ...} or {\"qemu\": ...}".into(),
            ));
        };
        let mut members = m.into_iter();
        let (Some((key, message)), None) = (members.next(), members.next()) else {
            return Err(bad("expected exactly one member, `qemu` or `client`".into()));
        };
        let side = match key.as_str() {
            "qemu" => Side::Qemu,
            "client" => Side::Client,
            other => {
                return Err(bad(format!(
                    "unknown member `{other}` (expected `qemu` or `client`)"
                )));
            }
        };
        Ok(Entry { side, message })
    }
}

/// A whole transcript, read into memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transcript {
    /// The messages in order.
    pub entries: Vec<Entry>,
}

impl Transcript {
    /// Reads a transcript.
    ///
    /// # Errors
    /// [`Error::Io`] if reading fails, [`Error::Transcript`] naming the
    /// first bad line.
    pub fn read(reader: impl BufRead) -> Result<Transcript, Error> {
        let mut entries = Vec::new();
        for (i, line) in reader.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            entries.push(Entry::from_line(&line, i + 1)?);
        }
        Ok(Transcript { entries })
    }

    /// Reads a transcript file.
    ///
    /// # Errors
    /// As [`Transcript::read`]; [`Error::Io`] names the file.
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Transcript, Error> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("{}: {e}", path.display()),
            ))
        })?;
        Transcript::read(std::io::BufReader::new(file))
    }
}

/// Writes a transcript a line at a time, flushing each, so that what was
/// recorded survives the recorder being killed.
#[derive(Debug)]
pub struct TranscriptWriter<W: Write> {
    out: W,
}

impl<W: Write> TranscriptWriter<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> TranscriptWriter<W> {
        TranscriptWriter { out }
    }

    /// Appends one message.
    ///
    /// # Errors
    /// The writer's.
    pub fn write(&mut self, side: Side, message: &Value) -> std::io::Result<()> {
        let entry = Entry {
            side,
            message: message.clone(),
        };
        writeln!(self.out, "{}", entry.to_line())?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_bad_lines_are_named() {
        let text = "{\"qemu\":{\"QMP\":{}}}\n\n{\"client\":{\"execute\":\"stop\"}}\n";
        let t = Transcript::read(text.as_bytes()).unwrap();
        assert_eq!(t.entries.len(), 2);
        assert_eq!(t.entries[1].side, Side::Client);
        assert_eq!(
            t.entries[1].to_line(),
            "{\"client\":{\"execute\":\"stop\"}}"
        );
        let e = Transcript::read("{\"qemu\":{}}\n{\"server\":{}}\n".as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "transcript line 2: unknown member `server` (expected `qemu` or `client`)"
        );
        let e = Transcript::read("[1]".as_bytes()).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("transcript line 1: expected an object"),
            "{e}"
        );
    }
}
