//! The wire decoder: splits the byte stream into lines and classifies each
//! line as a greeting, a reply, an error or an event.
//!
//! Nothing here does I/O, so the fuzz target and the unit tests drive it
//! with arbitrary bytes.

use bytes::{Buf, Bytes, BytesMut};
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// Bytes kept from each end of an oversized line, to find its `id`.
const EDGE: usize = 48;

/// One framed line, or the report of a line that was too long.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A complete line, without its terminator.
    Line(Bytes),
    /// A line longer than the limit; its bytes were discarded.
    Oversized(Oversized),
}

/// What is left of a discarded line: its length and both ends.
#[derive(Debug, Default)]
pub(crate) struct Oversized {
    pub(crate) len: usize,
    pub(crate) head: Vec<u8>,
    pub(crate) tail: Vec<u8>,
}

impl Oversized {
    fn take(&mut self, chunk: &[u8]) {
        if self.head.len() < EDGE {
            let n = (EDGE - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..n]);
        }
        self.len += chunk.len();
        self.tail
            .extend_from_slice(&chunk[chunk.len().saturating_sub(EDGE)..]);
        let excess = self.tail.len().saturating_sub(EDGE);
        self.tail.drain(..excess);
    }

    /// The numeric `id` of the discarded message, if either end shows it at
    /// the top level: QEMU writes `{"id": N, ...` for errors and
    /// `..., "id": N}` for replies.
    pub(crate) fn id(&self) -> Option<u64> {
        let head = trim(&self.head);
        if let Some(rest) = head.strip_prefix(b"{\"id\":") {
            let rest = rest.trim_ascii_start();
            let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            let after = rest[n..].trim_ascii_start();
            if n > 0 && after.first() == Some(&b',') {
                return std::str::from_utf8(&rest[..n]).ok()?.parse().ok();
            }
        }
        let tail = trim(&self.tail);
        let body = tail.strip_suffix(b"}")?.trim_ascii_end();
        let n = body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let (before, digits) = body.split_at(body.len() - n);
        let before = before.trim_ascii_end().strip_suffix(b":")?.trim_ascii_end();
        let before = before.strip_suffix(b"\"id\"")?.trim_ascii_end();
        before.strip_suffix(b",")?;
        std::str::from_utf8(digits).ok()?.parse().ok()
    }

    /// Whether the message looks like an event (QEMU starts events with
    /// their timestamp).
    pub(crate) fn looks_like_event(&self) -> bool {
        let head = trim(&self.head);
        head.starts_with(b"{\"timestamp\"") || head.starts_with(b"{\"event\"")
    }
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Splits a byte stream into lines of at most `max` bytes, never holding
/// more than `max` bytes of one line.
#[derive(Debug)]
pub(crate) struct Framer {
    max: usize,
    /// How far `buf` was already searched for a newline.
    scanned: usize,
    /// Set while discarding an oversized line.
    discarding: Option<Oversized>,
}

impl Framer {
    pub(crate) fn new(max: usize) -> Framer {
        Framer {
            max,
            scanned: 0,
            discarding: None,
        }
    }

    /// Takes the next frame out of `buf`, or `None` when more input is
    /// needed. Whatever is left in `buf` is an incomplete line.
    pub(crate) fn next_frame(&mut self, buf: &mut BytesMut) -> Option<Frame> {
        let found = memchr::memchr(b'\n', &buf[self.scanned..]).map(|p| self.scanned + p);
        if let Some(d) = &mut self.discarding {
            return match found {
                Some(end) => {
                    d.take(&buf[..end]);
                    buf.advance(end + 1);
                    self.scanned = 0;
                    self.discarding.take().map(Frame::Oversized)
                }
                None => {
                    d.take(buf);
                    buf.clear();
                    self.scanned = 0;
                    None
                }
            };
        }
        match found {
            Some(end) => {
                self.scanned = 0;
                let line = buf.split_to(end + 1).freeze();
                if end > self.max {
                    let mut o = Oversized::default();
                    o.take(&line[..end]);
                    return Some(Frame::Oversized(o));
                }
                Some(Frame::Line(line.slice(..end)))
            }
            None if buf.len() > self.max => {
                let mut o = Oversized::default();
                o.take(buf);
                buf.clear();
                self.scanned = 0;
                self.discarding = Some(o);
                None
            }
            None => {
                self.scanned = buf.len();
                None
            }
        }
    }

    /// Forgets any partial line (after the caller discarded input itself).
    pub(crate) fn reset(&mut self) {
        self.scanned = 0;
        self.discarding = None;
    }
}

/// A message identifier as QEMU echoed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Id {
    /// A number; this client only sends these.
    Num(u64),
    /// Anything else: not ours.
    Other,
}

/// A classified server message. Values stay raw so that only the waiter
/// decodes them, into its own type.
#[derive(Debug)]
pub(crate) enum Message<'a> {
    /// `{"QMP": {...}}`.
    Greeting(&'a RawValue),
    /// `{"return": ..., "id": ...}`.
    Return { id: Option<Id>, value: &'a RawValue },
    /// `{"error": {"class": ..., "desc": ...}, "id": ...}`.
    Error {
        id: Option<Id>,
        class: String,
        desc: String,
    },
    /// `{"event": ..., "data": ..., "timestamp": ...}`.
    Event { name: String },
}

/// The members of a server message that say what it is. Borrowed values
/// stay undecoded until a waiter asks for them.
#[derive(Default)]
struct Envelope<'a> {
    greeting: Option<&'a RawValue>,
    ret: Option<&'a RawValue>,
    error: Option<ErrorBody>,
    event: Option<String>,
    id: Option<&'a RawValue>,
}

struct ErrorBody {
    class: String,
    desc: String,
}

// Decoded by hand rather than derived, so that users' builds do not
// compile serde_derive; this is the hot path of every reply.

/// A member name of a server message; others are skipped.
enum Key {
    Greeting,
    Return,
    Error,
    Event,
    Id,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "QMP" => Key::Greeting,
                    "return" => Key::Return,
                    "error" => Key::Error,
                    "event" => Key::Event,
                    "id" => Key::Id,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Envelope<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Envelope<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Envelope<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope<'a>, A::Error> {
                fn once<T, E: de::Error>(
                    slot: &mut Option<T>,
                    v: T,
                    name: &'static str,
                ) -> Result<(), E> {
                    if slot.replace(v).is_some() {
                        return Err(E::duplicate_field(name));
                    }
                    Ok(())
                }
                let mut env = Envelope::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Greeting => once(&mut env.greeting, map.next_value()?, "QMP")?,
                        Key::Return => once(&mut env.ret, map.next_value()?, "return")?,
                        Key::Id => once(&mut env.id, map.next_value()?, "id")?,
                        Key::Event => once(&mut env.event, map.next_value()?, "event")?,
                        Key::Error => {
                            let mut body: serde_json::Map<String, serde_json::Value> =
                                map.next_value()?;
                            let error = ErrorBody {
                                class: crate::de::required(&mut body, "class")?,
                                desc: crate::de::required(&mut body, "desc")?,
                            };
                            once(&mut env.error, error, "error")?;
                        }
                        Key::Other => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(env)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Why a line is not a valid server message.
#[derive(Debug)]
pub(crate) struct Invalid(pub(crate) String);

/// Classifies one line (without its terminator).
pub(crate) fn classify(line: &[u8]) -> Result<Message<'_>, Invalid> {
    // A derived struct would also accept a JSON array.
    if line.trim_ascii_start().first() != Some(&b'{') {
        return Err(Invalid("not a JSON object".into()));
    }
    let env: Envelope<'_> =
        serde_json::from_slice(line).map_err(|e| Invalid(format!("not a JSON object: {e}")))?;
    let id = env.id.map(|raw| match raw.get().parse::<u64>() {
        Ok(n) => Id::Num(n),
        Err(_) => Id::Other,
    });
    match (env.greeting, env.ret, env.error, env.event) {
        (Some(g), None, None, None) => Ok(Message::Greeting(g)),
        (None, Some(value), None, None) => Ok(Message::Return { id, value }),
        (None, None, Some(e), None) => Ok(Message::Error {
            id,
            class: e.class,
            desc: e.desc,
        }),
        (None, None, None, Some(name)) => Ok(Message::Event { name }),
        (None, None, None, None) => Err(Invalid(
            "no `return`, `error`, `event` or `QMP` member".into(),
        )),
        _ => Err(Invalid(
            "more than one of `return`, `error`, `event`, `QMP`".into(),
        )),
    }
}

/// Runs the decoder over `data` fed in irregular chunks, classifying every
/// line; for fuzzing. Must never panic.
pub(crate) fn fuzz_decode(data: &[u8]) -> usize {
    let max = 1 + usize::from(data.first().copied().unwrap_or(0)) * 4;
    let mut framer = Framer::new(max);
    let mut buf = BytesMut::new();
    let mut seen = 0;
    let mut rest = data;
    let mut step = 1;
    while !rest.is_empty() {
        let n = step.min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        step = step % 13 + 3;
        while let Some(frame) = framer.next_frame(&mut buf) {
            seen += 1;
            match frame {
                Frame::Line(line) => {
                    if let Ok(Message::Event { name }) = classify(&line) {
                        seen += name.len();
                    }
                }
                Frame::Oversized(o) => {
                    let _ = (o.id(), o.looks_like_event());
                    assert!(o.head.len() <= EDGE && o.tail.len() <= EDGE);
                }
            }
            assert!(buf.len() <= max + 16);
        }
        assert!(buf.len() <= max + 16);
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(input: &[u8], max: usize, chunk: usize) -> Vec<String> {
        let mut framer = Framer::new(max);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            buf.extend_from_slice(c);
            while let Some(f) = framer.next_frame(&mut buf) {
                out.push(match f {
                    Frame::Line(l) => String::from_utf8_lossy(&l).into_owned(),
                    Frame::Oversized(o) => format!("<oversized {} id={:?}>", o.len, o.id()),
                });
            }
            assert!(buf.len() <= max + chunk);
        }
        out
    }

    fn check(input: &str, max: usize, expect: &[&str]) {
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(
                frames(input.as_bytes(), max, chunk),
                expect,
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn framing() {
        check("a\nbc\r\n", 10, &["a", "bc\r"]);
        check("partial", 10, &[]);
        check("0123456789\nx\n", 10, &["0123456789", "x"]);
        check("0123456789A\nx\n", 10, &["<oversized 11 id=None>", "x"]);
        check(
            "0123456789ABCDEFGHIJ\nx\n",
            10,
            &["<oversized 20 id=None>", "x"],
        );
        check(
            "{\"return\": [1, 2, 3], \"id\": 42}\nok\n",
            10,
            &["<oversized 31 id=Some(42)>", "ok"],
        );
        check(
            "{\"id\": 7, \"error\": {}}\n",
            10,
            &["<oversized 22 id=Some(7)>"],
        );
        check(
            "{\"return\": {\"id\": 7}}\n",
            10,
            &["<oversized 21 id=None>"],
        );
    }

    fn kind(line: &str) -> String {
        match classify(line.as_bytes()) {
            Ok(Message::Greeting(_)) => "greeting".into(),
            Ok(Message::Return { id, value }) => format!("return {id:?} {}", value.get()),
            Ok(Message::Error { id, class, desc }) => format!("error {id:?} {class} {desc}"),
            Ok(Message::Event { name }) => format!("event {name}"),
            Err(Invalid(e)) => format!("invalid: {}", e.split(" at ").next().unwrap_or("")),
        }
    }

    #[test]
    fn classification() {
        let cases = [
            (
                r#"{"QMP": {"version": {}, "capabilities": []}}"#,
                "greeting",
            ),
            (r#"{"return": {}, "id": 3}"#, "return Some(Num(3)) {}"),
            (r#"{"return": [1], "id": "x"}"#, "return Some(Other) [1]"),
            (r#"{"return": 5}"#, "return None 5"),
            (
                r#"{"id": 9, "error": {"class": "C", "desc": "d"}}"#,
                "error Some(Num(9)) C d",
            ),
            (
                r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}"#,
                "event STOP",
            ),
            (
                r#"{"foo": 1}"#,
                "invalid: no `return`, `error`, `event` or `QMP` member",
            ),
            (
                r#"{"return": 1, "event": "X"}"#,
                "invalid: more than one of `return`, `error`, `event`, `QMP`",
            ),
            ("\u{1}garbage", "invalid: not a JSON object"),
            ("[1]", "invalid: not a JSON object"),
            (
                "{\"return\": 1",
                "invalid: not a JSON object: EOF while parsing an object",
            ),
        ];
        for (line, expect) in cases {
            assert_eq!(kind(line), expect, "{line}");
        }
    }

    /// xorshift64*: a small deterministic generator for the random streams.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_and_mutated_streams_never_panic() {
        let seeds: [&[u8]; 4] = [
            b"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n",
            b"{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": 4}\r\n",
            b"{\"id\": 2, \"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}\r\n",
            b"{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\", \"data\": {}}\r\n",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..3000 {
            let mut data = Vec::new();
            for _ in 0..rng.below(6) {
                data.extend_from_slice(seeds[rng.below(seeds.len())]);
            }
            for _ in 0..rng.below(8) {
                if data.is_empty() {
                    break;
                }
                let at = rng.below(data.len());
                match rng.below(4) {
                    0 => data[at] = rng.next() as u8,
                    1 => {
                        data.remove(at);
                    }
                    2 => data.insert(at, b"{}[]\":,\n\xff"[rng.below(9)]),
                    _ => data.truncate(at),
                }
            }
            if rng.below(10) == 0 {
                data = (0..rng.below(400)).map(|_| rng.next() as u8).collect();
            }
            fuzz_decode(&data);
        }
    }
}
