//! Documentation comments (`##` blocks) as structured data.
//!
//! The syntax layer hands each `##` block to `parse_doc_in`, which builds a
//! [`Doc`]; once the documented definition is known, `check_doc` compares
//! the two. The grammar follows QEMU 10.2's (`docs/qapi-code-gen.rst`,
//! "Documentation comments"), relaxed where older releases (6.1, 7.2)
//! wrote documentation their own checker accepted:
//!
//! - `Note:`/`Notes:`/`Example:`/`Examples:` tagged sections (10.x rejects
//!   them in favour of rST directives) are accepted; like QEMU 7.2 did, such
//!   a section runs until the next tag, so prose between example messages
//!   stays in the example.
//! - A description line directly followed (no blank line) by an unindented
//!   line continues, as in 6.1-era schemas; 10.2 would end the description.
//! - A section's continuation line indented less than the first one ends
//!   the section, rather than failing, where it starts another section
//!   (older `Returns:` lists are indented past the tag), and later on
//!   goes on with the section.
//! - The 10.2 layout rules (lines of at most 70 characters, two spaces
//!   between sentences) and section rules (members and features need
//!   text, no `Note:`/`Example:` sections, the de-indents above) are only
//!   checked when asked for (`DocStyle`).

// `Error` carries its source line and include chain; it is the crate's one
// error type, so its size is the error module's call, not this one's.
#![allow(clippy::result_large_err)]

#[cfg(feature = "serde")]
use serde::Serialize;

use crate::Error;
use crate::model::Loc;

/// One line of a doc block.
#[derive(Clone, Debug)]
pub(crate) struct DocLine<'a> {
    /// The whole source line starting at its `#` (no newline).
    pub(crate) text: &'a str,
    /// Where that `#` is, in the file of the block's end location (a
    /// block has thousands of lines and a few locations worth keeping).
    pub(crate) line: u32,
    pub(crate) col: u32,
}

/// Which of QEMU 10.2's layout rules [`parse_doc_in`] enforces.
///
/// QEMU 10.1 started rejecting long lines and single spaces between
/// sentences; schemas of earlier releases break both rules, so they are off
/// by default and a caller turns them on for schemas meant to meet 10.2's
/// rules (QEMU's own test suite, new schemas).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct DocStyle {
    /// Reject lines longer than 70 characters (URL-only lines excepted):
    /// "documentation line longer than 70 characters".
    pub(crate) max_line_length: bool,
    /// Reject a single space after a sentence's final `.`, `!` or `?`:
    /// "Use two spaces between sentences".
    pub(crate) two_spaces: bool,
    /// 10.2's reading of descriptions and sections: an unindented line
    /// right after `@name: text` ends the description, a later line
    /// indented less than the first continuation line ends it too, a
    /// member or feature needs text, and the old `Note:`/`Example:`
    /// sections are refused.
    pub(crate) sections: bool,
}

impl DocStyle {
    /// Every layout rule of QEMU 10.2.
    pub(crate) const STRICT: DocStyle = DocStyle {
        max_line_length: true,
        two_spaces: true,
        sections: true,
    };
}

/// [`parse_doc_with`] with the lenient default [`DocStyle`], for tests.
#[cfg(test)]
pub(crate) fn parse_doc(lines: &[DocLine<'_>], closed: bool, end_loc: &Loc) -> Result<Doc, Error> {
    parse_doc_with(lines, closed, end_loc, DocStyle::default())
}

/// [`parse_doc_in`] with buffers of its own, for tests.
#[cfg(test)]
pub(crate) fn parse_doc_with(
    lines: &[DocLine<'_>],
    closed: bool,
    end_loc: &Loc,
    style: DocStyle,
) -> Result<Doc, Error> {
    parse_doc_in(lines, closed, end_loc, style, &mut DocScratch::default())
}

/// The working memory of [`parse_doc_in`], kept from one block to the next
/// so that a file's blocks share two allocations instead of making two
/// each. It borrows the text of the blocks' lines: one scratch per file.
#[derive(Default)]
pub(crate) struct DocScratch<'a> {
    raws: Vec<Raw<'a>>,
    buf: Vec<Ln<'a>>,
}

/// Parses one documentation block, enforcing the layout rules `style`
/// selects, in `scratch`'s buffers (which hold nothing of it afterwards
/// that matters: any scratch gives the same result).
///
/// `lines[0]` is the opening line, which must be exactly `##`. If `closed`,
/// the last line is the closing line (starting with `##`, which must be all
/// it holds); otherwise the block was cut short and the error
/// "documentation comment must end with '##'" is reported at `end_loc`
/// (unless an earlier line is already wrong, as QEMU reads line by line).
///
/// # Errors
///
/// The first problem found, with QEMU's message and position.
pub(crate) fn parse_doc_in<'a>(
    lines: &[DocLine<'a>],
    closed: bool,
    end_loc: &Loc,
    style: DocStyle,
    scratch: &mut DocScratch<'a>,
) -> Result<Doc, Error> {
    let Some(open) = lines.first() else {
        return Err(Error::new(
            end_loc.clone(),
            "documentation comment must end with '##'",
        ));
    };
    if chomp(open.text) != "##" {
        return Err(Error::new(
            line_loc(open, end_loc),
            "junk after '##' at start of documentation comment",
        ));
    }
    let end = if closed {
        lines.len().saturating_sub(1).max(1)
    } else {
        lines.len()
    };
    let mut p = Parser {
        lines,
        end,
        closed,
        end_loc,
        pos: 0,
        style,
        code: None,
        raws: std::mem::take(&mut scratch.raws),
        buf: std::mem::take(&mut scratch.buf),
        members: 0,
        features: 0,
    };
    p.raws.clear();
    p.buf.clear();
    p.buf.reserve(lines.len());
    let doc = p.parse().and_then(|symbol| p.finish(symbol));
    scratch.raws = p.raws;
    scratch.buf = p.buf;
    doc
}

/// Where `line` starts; blocks lie in one file, that of `end_loc`.
fn line_loc(line: &DocLine<'_>, end_loc: &Loc) -> Loc {
    Loc {
        file: end_loc.file.clone(),
        line: line.line,
        col: line.col,
    }
}

/// What a definition's documentation is checked against.
#[derive(Clone, Debug)]
pub(crate) struct DocTarget<'a> {
    /// The definition's meta-type: `"command"`, `"struct"`, `"enum"`, ...
    pub(crate) meta: &'a str,
    /// The definition's name.
    pub(crate) name: &'a str,
    /// The definition's location.
    pub(crate) loc: &'a Loc,
    /// The members the comment may describe, as QEMU connects them: a
    /// struct's, union's or implicit base's own members (not those of a
    /// named base), enum values, alternate branches, and the members of a
    /// command's or event's *implicit* argument type. A named argument type
    /// (`'data': 'Args'`, boxed or not) contributes none: it is documented
    /// where it is defined. Union branches are not members.
    pub(crate) members: Vec<&'a str>,
    /// The features of the definition and of its members/values, each with
    /// where it is defined.
    pub(crate) features: Vec<(&'a str, &'a Loc)>,
    /// Whether the definition is a command with `'returns'`.
    pub(crate) has_returns: bool,
    /// Whether the `doc-required` pragma is in force.
    pub(crate) doc_required: bool,
    /// Whether undocumented members are allowed: the definition is listed in
    /// the `documentation-exceptions` pragma, or the schema predates that
    /// pragma (no release before it rejected undocumented members, and 7.2's
    /// own schema has many).
    pub(crate) exception: bool,
    /// Apply the rules QEMU's checker gained after the oldest supported
    /// release: no 'Returns' section on a command that returns nothing,
    /// and member names matched exactly (older releases read `@id :` as
    /// documenting `id`).
    pub(crate) strict: bool,
}

/// Checks a definition's documentation against the definition.
///
/// In QEMU's order: the comment names the definition; `Returns`/`Errors`
/// sections only on commands (`Returns` only on one that returns something);
/// every feature is documented; with `doc-required` and no exception, every
/// member is documented; every documented member and feature exists.
///
/// # Errors
///
/// The first mismatch, in QEMU's words.
pub(crate) fn check_doc(doc: &Doc, target: &DocTarget<'_>) -> Result<(), Error> {
    match &doc.symbol {
        None => {
            return Err(Error::new(
                doc.loc.clone(),
                "definition documentation required",
            ));
        }
        Some(sym) if sym != target.name => {
            return Err(Error::new(
                target.loc.clone(),
                format!("documentation comment is for '{sym}'"),
            ));
        }
        Some(_) => {}
    }
    let section = |kind| doc.sections.iter().find(|s| s.kind == kind);
    if target.meta == "command" {
        if let Some(s) = section(SectionKind::Returns)
            && target.strict
            && !target.has_returns
        {
            return Err(Error::new(
                s.loc.clone(),
                "'Returns' section, but command doesn't return anything",
            ));
        }
    } else {
        for (kind, name) in [
            (SectionKind::Returns, "Returns"),
            (SectionKind::Errors, "Errors"),
        ] {
            if let Some(s) = section(kind) {
                return Err(Error::new(
                    s.loc.clone(),
                    format!("'{name}' section is only valid for commands"),
                ));
            }
        }
    }
    for (name, loc) in &target.features {
        if !doc.features.iter().any(|f| f.name == *name) {
            return Err(Error::new(
                (*loc).clone(),
                format!("feature '{name}' lacks documentation"),
            ));
        }
    }
    if target.doc_required && !target.exception {
        let role = match target.meta {
            "enum" => "value",
            "alternate" => "branch",
            _ => "member",
        };
        let mut at = 0;
        for name in &target.members {
            match position_from(&doc.members, at, |m| m.name == *name) {
                Some(i) => at = i + 1,
                None => {
                    return Err(Error::new(
                        target.loc.clone(),
                        format!("{role} '{name}' lacks documentation"),
                    ));
                }
            }
        }
    }
    // Before 10.1, QEMU matched member names with blanks around them.
    let trim = !target.strict;
    check_documented(&doc.members, &target.members, |m| m, "member", trim)?;
    check_documented(&doc.features, &target.features, |f| f.0, "feature", false)
}

/// The index of the first of `items` from `from` on that `hit` accepts,
/// else of the first before `from`. Descriptions mostly follow the
/// definition's order, so that a search starting after the previous match
/// usually ends at its first item, where a search from the start would be
/// quadratic over a definition's members.
fn position_from<T>(items: &[T], from: usize, hit: impl Fn(&T) -> bool) -> Option<usize> {
    let (before, after) = items.split_at(from.min(items.len()));
    match after.iter().position(&hit) {
        Some(i) => Some(from + i),
        None => before.iter().position(hit),
    }
}

/// Rejects descriptions of things that do not exist, naming all of them at
/// the first one's line.
/// With `trim`, names are compared and reported without surrounding blanks.
fn check_documented<T>(
    items: &[DocItem],
    exist: &[T],
    name_of: impl Fn(&T) -> &str,
    what: &str,
    trim: bool,
) -> Result<(), Error> {
    fn trimmed(i: &DocItem, trim: bool) -> &str {
        // `str::trim` decodes chars at both ends; a name whose end bytes
        // are neither ASCII whitespace nor part of a wider char has nothing
        // to trim.
        let maybe_blank =
            |b: Option<&u8>| b.is_some_and(|&b| b >= 0x80 || matches!(b, b' ' | b'\t'..=b'\r'));
        let b = i.name.as_bytes();
        if trim && (maybe_blank(b.first()) || maybe_blank(b.last())) {
            i.name.trim()
        } else {
            i.name.as_str()
        }
    }
    let mut at = 0;
    let mut bogus: Vec<&DocItem> = Vec::new();
    for i in items {
        let name = trimmed(i, trim);
        match position_from(exist, at, |e| name_of(e) == name) {
            Some(found) => at = found + 1,
            None => bogus.push(i),
        }
    }
    let Some(first) = bogus.first() else {
        return Ok(());
    };
    let names: Vec<&str> = bogus.iter().map(|i| trimmed(i, trim)).collect();
    let (s, verb) = if bogus.len() > 1 {
        ("s", "do")
    } else {
        ("", "does")
    };
    Err(Error::new(
        first.loc.clone(),
        format!(
            "documented {what}{s} '{}' {verb} not exist",
            names.join("', '")
        ),
    ))
}

/// A content line: the text after `# ` (right-trimmed), where it came from.
#[derive(Clone, Copy, Debug)]
struct Ln<'a> {
    /// The text; empty for a blank line.
    text: &'a str,
    /// Index of the source line in the block.
    idx: usize,
    /// Byte offset of `text` in the source line.
    off: usize,
    /// The number of leading blanks of `text` ([`indent`]): measured once
    /// when the line is read, as most passes over a section want it.
    ind: usize,
}

impl<'a> Ln<'a> {
    /// The rest of the line from byte `at` of `text` on.
    fn tail(self, at: usize) -> Ln<'a> {
        let text = self.text.get(at..).unwrap_or("");
        Ln {
            text,
            idx: self.idx,
            off: self.off + at,
            ind: indent(text),
        }
    }

    /// The text after the indentation.
    fn content(self) -> &'a str {
        self.text.get(self.ind..).unwrap_or("")
    }
}

/// A tagged section's tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Returns,
    Errors,
    Since,
    Todo,
    /// `Note:`/`Notes:`, only in older releases.
    Note,
    /// `Example:`/`Examples:`, only in older releases.
    Example,
}

impl Tag {
    /// The name QEMU uses in messages about the section.
    fn name(self) -> &'static str {
        match self {
            Tag::Returns => "Returns",
            Tag::Errors => "Errors",
            Tag::Since => "Since",
            Tag::Todo => "Todo",
            Tag::Note => "Note",
            Tag::Example => "Example",
        }
    }

    fn kind(self) -> SectionKind {
        match self {
            Tag::Returns => SectionKind::Returns,
            Tag::Errors => SectionKind::Errors,
            Tag::Since => SectionKind::Since,
            Tag::Todo => SectionKind::Todo,
            Tag::Note => SectionKind::Note,
            Tag::Example => SectionKind::Example,
        }
    }
}

/// What a section of the block holds, before text is assembled.
#[derive(Clone, Debug, PartialEq)]
enum RawKind<'a> {
    /// Paragraphs before any description or tagged section.
    Intro,
    /// Paragraphs after them.
    Detail,
    Member(&'a str),
    Feature(&'a str),
    Tagged(Tag),
}

/// A section as read: its header line and content lines.
#[derive(Debug)]
struct Raw<'a> {
    kind: RawKind<'a>,
    /// The line the section starts on.
    idx: usize,
    /// Text on the header line after the tag or `@name:`, if any.
    first: Option<Ln<'a>>,
    /// The following lines, blank ones included: a range of
    /// [`Parser::buf`]. Lines are only ever added to the section being
    /// read, which is the newest, so every section's lines are one run.
    lines: std::ops::Range<usize>,
}

struct Parser<'l, 'a> {
    lines: &'l [DocLine<'a>],
    /// Index of the closing line (or one past the last line if unclosed).
    end: usize,
    closed: bool,
    end_loc: &'l Loc,
    /// Index of the line last read.
    pos: usize,
    style: DocStyle,
    /// While inside a literal block: the indentation of its first line, or
    /// 0 until that line is read. Layout rules don't apply to literal text.
    code: Option<usize>,
    raws: Vec<Raw<'a>>,
    /// The content lines of every section, in order (see [`Raw::lines`]):
    /// one allocation per block rather than one per section.
    buf: Vec<Ln<'a>>,
    /// How many member and feature descriptions `raws` holds: the sizes of
    /// the [`Doc`]'s vectors, which are allocated once at their size.
    members: usize,
    features: usize,
}

/// The line without a trailing carriage return (CRLF files).
fn chomp(s: &str) -> &str {
    s.strip_suffix('\r').unwrap_or(s)
}

/// `s` without trailing whitespace, as [`str::trim_end`] has it, looking
/// at bytes while they are ASCII (this runs on every line).
fn trim_end(s: &str) -> &str {
    let b = s.as_bytes();
    let mut end = b.len();
    while let Some(&c) = end.checked_sub(1).and_then(|i| b.get(i)) {
        match c {
            b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' => end -= 1,
            // Unicode has whitespace beyond ASCII (no-break space, ...).
            0x80.. => return s.get(..end).unwrap_or("").trim_end(),
            _ => break,
        }
    }
    s.get(..end).unwrap_or("")
}

/// Matches `@NAME:` and the spaces after it at the start of `s`, as QEMU's
/// `@([^:]*): *` does: the name and the offset of the text after it.
fn at_name_colon(s: &str) -> Option<(&str, usize)> {
    let rest = s.strip_prefix('@')?;
    // A byte loop: the name is short, and `str::find` sets up a memchr
    // search costing more than the whole scan.
    let colon = rest.bytes().position(|b| b == b':')?;
    let name = rest.get(..colon)?;
    let after = rest.get(colon + 1..)?;
    let spaces = indent_spaces(after);
    Some((name, 1 + colon + 1 + spaces))
}

/// Matches a section tag (`Since:` etc., but not rST's `Note::`) at the start
/// of `s`: the tag and the offset of the text after it.
fn match_tag(s: &str) -> Option<(Tag, usize)> {
    const TAGS: [(&str, Tag); 8] = [
        ("Returns", Tag::Returns),
        ("Errors", Tag::Errors),
        ("Since", Tag::Since),
        ("Notes", Tag::Note),
        ("Note", Tag::Note),
        ("Examples", Tag::Example),
        ("Example", Tag::Example),
        ("TODO", Tag::Todo),
    ];
    // Most lines start with none of the tags' initials: no need to try
    // each tag on them.
    if !matches!(s.as_bytes().first(), Some(b'R' | b'E' | b'S' | b'N' | b'T')) {
        return None;
    }
    TAGS.iter().find_map(|&(word, tag)| {
        let after = s.strip_prefix(word)?.strip_prefix(':')?;
        if after.starts_with(':') {
            return None;
        }
        let spaces = indent_spaces(after);
        Some((tag, word.len() + 1 + spaces))
    })
}

/// Number of leading blanks (spaces or tabs) of `s`.
fn indent(s: &str) -> usize {
    // Bytes, not chars: both are ASCII, and a char pattern decodes UTF-8
    // and tests each pattern char (a cost paid on every doc line). Eight
    // spaces at a time first, as example JSON is indented deeply.
    const EIGHT_SPACES: u64 = u64::from_ne_bytes(*b"        ");
    let b = s.as_bytes();
    let mut n = 0;
    while let Some(word) = b.get(n..n + 8).and_then(|w| <[u8; 8]>::try_from(w).ok())
        && u64::from_ne_bytes(word) == EIGHT_SPACES
    {
        n += 8;
    }
    while let Some(b' ' | b'\t') = b.get(n) {
        n += 1;
    }
    n
}

/// The line's text without leading whitespace, as [`str::trim_start`] has
/// it: past the blanks already counted unless other whitespace follows
/// (this runs on every example line).
fn trim_blanks_start(l: Ln<'_>) -> &str {
    let rest = l.content();
    match rest.as_bytes().first() {
        // Other ASCII whitespace, or Unicode's beyond ASCII (no-break
        // space, ...).
        Some(&b) if b >= 0x80 || matches!(b, b'\n' | b'\x0b' | b'\x0c' | b'\r') => {
            l.text.trim_start()
        }
        _ => rest,
    }
}

/// Whether `s` begins an example message: `->` or `<-`, then a blank or
/// the end of the line.
fn marker(s: &str) -> Option<Direction> {
    let dir = if s.starts_with("->") {
        Direction::Send
    } else if s.starts_with("<-") {
        Direction::Receive
    } else {
        return None;
    };
    match s.get(2..)?.chars().next() {
        None => Some(dir),
        Some(c) if c.is_whitespace() => Some(dir),
        Some(_) => None,
    }
}

impl<'a> Parser<'_, 'a> {
    /// The location of line `idx` (the block's end if out of range).
    fn loc(&self, idx: usize) -> Loc {
        self.lines
            .get(idx)
            .map_or_else(|| self.end_loc.clone(), |l| line_loc(l, self.end_loc))
    }

    /// The location of byte `off` of line `idx`, counting columns as QEMU
    /// does (a tab advances to the next multiple of 8, plus one).
    fn loc_at(&self, idx: usize, off: usize) -> Loc {
        let Some(line) = self.lines.get(idx) else {
            return self.end_loc.clone();
        };
        let mut loc = line_loc(line, self.end_loc);
        let before = line.text.get(..off).unwrap_or(line.text);
        for c in before.chars() {
            loc.col = if c == '\t' {
                (loc.col.saturating_sub(1) / 8 + 1) * 8 + 1
            } else {
                loc.col + 1
            };
        }
        loc
    }

    /// Adds `l` to the lines of `raw`, the section being read.
    fn push(&mut self, raw: &mut Raw<'a>, l: Ln<'a>) {
        self.buf.push(l);
        raw.lines.end = self.buf.len();
    }

    fn err(&self, idx: usize, msg: impl Into<String>) -> Error {
        Error::new(self.loc(idx), msg)
    }

    /// Reads the next line: `None` at the closing `##`. Checks what QEMU
    /// checks of every line as it reads it.
    ///
    /// Inlined for its common cases, a blank line and a `# text` line with
    /// no layout rule to check (this runs on every line); the rest is
    /// [`Parser::next_other`].
    #[inline(always)]
    fn next(&mut self) -> Result<Option<Ln<'a>>, Error> {
        self.pos += 1;
        if self.pos < self.end
            && let Some(line) = self.lines.get(self.pos)
        {
            if line.text == "#" {
                return Ok(Some(Ln {
                    text: "",
                    idx: self.pos,
                    off: 1,
                    ind: 0,
                }));
            }
            if !(self.style.max_line_length || self.style.two_spaces)
                && let Some(content) = line.text.strip_prefix("# ")
            {
                // The trailing carriage return of a CRLF line goes with the
                // blanks.
                let text = trim_end(content);
                return Ok(Some(Ln {
                    text,
                    idx: self.pos,
                    off: 2,
                    ind: indent(text),
                }));
            }
        }
        self.next_other()
    }

    /// [`Parser::next`] for the end of the block, wrong lines, and lines
    /// with layout rules to check.
    #[inline(never)]
    fn next_other(&mut self) -> Result<Option<Ln<'a>>, Error> {
        if self.pos >= self.end {
            self.pos = self.end;
            if !self.closed {
                return Err(Error::new(
                    self.end_loc.clone(),
                    "documentation comment must end with '##'",
                ));
            }
            if let Some(close) = self.lines.get(self.end)
                && chomp(close.text) != "##"
            {
                return Err(self.err(self.end, "junk after '##' at end of documentation comment"));
            }
            return Ok(None);
        }
        let idx = self.pos;
        let text = self.lines.get(idx).map_or("", |l| l.text);
        // Byte tests: `#`, then a space, or nothing (a carriage return
        // ending the line counts as nothing).
        let bytes = text.as_bytes();
        if bytes.first() != Some(&b'#') {
            return Err(self.err(idx, "documentation comment must end with '##'"));
        }
        let blank = Ln {
            text: "",
            idx,
            off: 1,
            ind: 0,
        };
        let content = match bytes.get(1) {
            Some(b' ') => text.get(2..).unwrap_or(""),
            Some(b'#') => {
                // A `##` line inside the block: the caller split it
                // wrongly, but QEMU would have ended the block here.
                return Err(self.err(idx, "junk after '##' at end of documentation comment"));
            }
            None => return Ok(Some(blank)),
            Some(b'\r') if bytes.len() == 2 => return Ok(Some(blank)),
            Some(_) => return Err(self.err(idx, "missing space after #")),
        };
        let text = trim_end(content);
        let ln = Ln {
            text,
            idx,
            off: 2,
            ind: indent(text),
        };
        // Literal blocks are only tracked to exempt them from the layout
        // rules: without rules, nothing to do.
        if self.style.max_line_length || self.style.two_spaces {
            self.check_style(ln)?;
        }
        Ok(Some(ln))
    }

    /// QEMU 10.2's layout rules, if enabled, for lines outside literal
    /// blocks, which 10.2's own examples exceed. As in QEMU, a literal
    /// block opens at a line that is just `::` (after any indentation) or
    /// `.. qmp-example::` at the left margin; the first line after it that
    /// is not blank sets its indentation, and the block ends at a line
    /// indented less, which is checked again.
    #[inline]
    fn check_style(&mut self, ln: Ln<'a>) -> Result<(), Error> {
        let t = ln.text;
        // An opener ends with `::`: the cheap test first, on every line.
        if t.ends_with("::") {
            let opener = t
                .strip_prefix("..")
                .map(|r| r.trim_start_matches(' '))
                .and_then(|r| r.strip_prefix("qmp-example"))
                .filter(|_| t.starts_with(".. "))
                .unwrap_or(t);
            if opener.trim_start_matches(' ') == "::" {
                self.code = Some(0);
                return Ok(());
            }
        }
        if let Some(open) = self.code
            && !t.is_empty()
        {
            let ind = ln.ind;
            if open == 0 {
                self.code = Some(ind);
            } else if ind < open {
                self.code = None;
            }
        }
        if self.code.is_some() {
            return Ok(());
        }
        if self.style.max_line_length && t.chars().count() + 2 > 70 && !is_url_line(t) {
            return Err(self.err(ln.idx, "documentation line longer than 70 characters"));
        }
        if self.style.two_spaces
            && let Some(at) = single_space_after_sentence(t)
        {
            return Err(Error::new(
                self.loc_at(ln.idx, ln.off + at + 1),
                "Use two spaces between sentences",
            )
            .with_help("If this not the end of a sentence, please report a bug."));
        }
        Ok(())
    }

    /// Reads the block after the opening `##`; returns the symbol.
    fn parse(&mut self) -> Result<Option<String>, Error> {
        let line = self.next()?;
        match line {
            Some(l) if l.text.starts_with('@') => {
                let Some(symbol) = l.text.strip_suffix(':') else {
                    return Err(self.err(l.idx, "line should end with ':'"));
                };
                let symbol = symbol.get(1..).unwrap_or("");
                if symbol.is_empty() {
                    return Err(self.err(l.idx, "name required after '@'"));
                }
                self.definition()?;
                Ok(Some(symbol.to_owned()))
            }
            _ => {
                self.free_form(line)?;
                Ok(None)
            }
        }
    }

    /// Free-form documentation: any text but descriptions. (QEMU 9 also
    /// wanted an `=` heading first in the block; 10.x's rST underlined
    /// headings and 7.2's schema break that rule.)
    fn free_form(&mut self, mut line: Option<Ln<'a>>) -> Result<(), Error> {
        let mut raw = Raw {
            kind: RawKind::Intro,
            idx: line.map_or(self.pos, |l| l.idx),
            first: None,
            lines: self.buf.len()..self.buf.len(),
        };
        while let Some(l) = line {
            if let Some((name, _)) = at_name_colon(l.text) {
                return Err(self.err(
                    l.idx,
                    format!("'@{name}:' not allowed in free-form documentation"),
                ));
            }
            self.push(&mut raw, l);
            line = self.next()?;
        }
        self.raws.push(raw);
        Ok(())
    }

    /// Definition documentation, after the `@SYMBOL:` line.
    fn definition(&mut self) -> Result<(), Error> {
        let mut line = self.next()?;
        let mut have_tagged = false;
        while let Some(l) = line {
            if l.text.is_empty() {
                line = self.next()?;
                continue;
            }
            if l.text == "Features:" {
                if self.features != 0 {
                    return Err(self.err(l.idx, "duplicated 'Features:' line"));
                }
                line = self.next()?;
                while let Some(Ln { text: "", .. }) = line {
                    line = self.next()?;
                }
                line = self.descriptions(line, false)?;
                if self.features == 0 {
                    return Err(self.err(self.pos, "feature descriptions expected"));
                }
                have_tagged = true;
            } else if let Some((name, _)) = at_name_colon(l.text) {
                if have_tagged {
                    return Err(self.err(
                        l.idx,
                        format!("description of '@{name}:' follows a section"),
                    ));
                }
                line = self.descriptions(line, true)?;
                have_tagged = true;
            } else if let Some((tag, at)) = match_tag(l.text) {
                if self.style.sections && matches!(tag, Tag::Note | Tag::Example) {
                    let word = l.text.split(':').next().unwrap_or_default();
                    return Err(self
                        .err(
                            l.idx,
                            format!("The '{word}' section is no longer supported"),
                        )
                        .with_help("write an rST '.. note::' or '.. qmp-example::' directive"));
                }
                if matches!(tag, Tag::Returns | Tag::Errors | Tag::Since)
                    && self.raws.iter().any(|r| r.kind == RawKind::Tagged(tag))
                {
                    return Err(self.err(l.idx, format!("duplicated '{}' section", tag.name())));
                }
                let mut raw = Raw {
                    kind: RawKind::Tagged(tag),
                    idx: l.idx,
                    first: Some(l.tail(at)),
                    lines: self.buf.len()..self.buf.len(),
                };
                line = match tag {
                    Tag::Note | Tag::Example => self.old_section(&mut raw)?,
                    _ => self.indented(&mut raw)?,
                };
                self.raws.push(raw);
                have_tagged = true;
            } else if l.text.starts_with('=') {
                return Err(self.err(l.idx, "unexpected '=' markup in definition documentation"));
            } else {
                let kind = if have_tagged {
                    RawKind::Detail
                } else {
                    RawKind::Intro
                };
                let at = self.buf.len();
                match self.raws.last_mut() {
                    Some(last) if last.kind == kind => {
                        self.buf.push(Ln {
                            text: "",
                            idx: l.idx,
                            off: 0,
                            ind: 0,
                        });
                        last.lines.end = self.buf.len();
                    }
                    _ => self.raws.push(Raw {
                        kind,
                        idx: l.idx,
                        first: None,
                        lines: at..at,
                    }),
                }
                // A paragraph runs to the next blank line.
                let mut cur = Some(l);
                while let Some(p) = cur {
                    if p.text.is_empty() {
                        break;
                    }
                    self.buf.push(p);
                    if let Some(last) = self.raws.last_mut() {
                        last.lines.end = self.buf.len();
                    }
                    cur = self.next()?;
                }
                line = cur;
            }
        }
        Ok(())
    }

    /// A run of `@name: text` descriptions (members, or features); returns
    /// the first line after them.
    fn descriptions(
        &mut self,
        mut line: Option<Ln<'a>>,
        members: bool,
    ) -> Result<Option<Ln<'a>>, Error> {
        while let Some(l) = line {
            let Some((name, at)) = at_name_colon(l.text) else {
                break;
            };
            if name.is_empty() {
                return Err(self.err(l.idx, "invalid parameter name"));
            }
            let kind = if members {
                RawKind::Member(name)
            } else {
                RawKind::Feature(name)
            };
            // The sections read so far are the names seen: no set to build
            // for the few descriptions of a block.
            if self.raws.iter().any(|r| r.kind == kind) {
                return Err(self.err(l.idx, format!("'{name}' parameter name duplicated")));
            }
            if members {
                self.members += 1;
            } else {
                self.features += 1;
            }
            let mut raw = Raw {
                kind,
                idx: l.idx,
                first: Some(l.tail(at)),
                lines: self.buf.len()..self.buf.len(),
            };
            line = self.indented(&mut raw)?;
            self.raws.push(raw);
        }
        Ok(line)
    }

    /// The rest of a description or tagged section: indented lines, and
    /// blank lines between them; returns the first line after it.
    ///
    /// The first indented line sets the indentation. The line right after
    /// it, unless blank, must be indented as much: "unexpected de-indent"
    /// otherwise, as every release since QEMU 5.2 says in one form or
    /// another. A line indented less later on ends the section.
    fn indented(&mut self, raw: &mut Raw<'a>) -> Result<Option<Ln<'a>>, Error> {
        let strict = self.style.sections;
        let mut want: Option<usize> = None;
        let mut prev_blank = false;
        let mut after_text = raw.first.is_some_and(|f| !f.text.is_empty());
        // Whether the line read is the one right after the first
        // continuation line.
        let mut second = false;
        loop {
            let Some(l) = self.next()? else {
                return Ok(None);
            };
            if l.text.is_empty() {
                self.push(raw, l);
                prev_blank = true;
                after_text = false;
                second = false;
                continue;
            }
            if at_name_colon(l.text).is_some() {
                return Ok(Some(l));
            }
            let ind = l.ind;
            let is_second = std::mem::take(&mut second);
            // Older releases end a section at a line that starts another,
            // however the section was indented. Such a line is unindented:
            // the tests are only made on those.
            let starts_section = ind == 0
                && (match_tag(l.text).is_some()
                    || l.text == "Features:"
                    || l.text.starts_with('='));
            match want {
                None if ind == 0 => {
                    // Older releases continue a description on unindented
                    // lines; 10.2 ends it. Both agree after a blank line,
                    // or on a line that starts something else.
                    if strict || !after_text || starts_section {
                        return Ok(Some(l));
                    }
                }
                None => {
                    want = Some(ind);
                    second = true;
                }
                Some(w) if ind < w => {
                    if is_second && (strict || !starts_section) {
                        return Err(self.err(
                            l.idx,
                            format!("unexpected de-indent (expected at least {w} spaces)"),
                        ));
                    }
                    if strict || prev_blank || ind == 0 {
                        return Ok(Some(l));
                    }
                    // 10.2 ends the section here, but 7.2 lines
                    // description continuations up with the text after
                    // `@name: `, so a line less indented than the one
                    // before goes on with the description.
                    want = Some(ind);
                }
                Some(_) => {}
            }
            self.push(raw, l);
            prev_blank = false;
        }
    }

    /// An old-style `Note:` or `Example:` section: like QEMU 7.2, everything
    /// up to the next tag, description or `Features:` line.
    fn old_section(&mut self, raw: &mut Raw<'a>) -> Result<Option<Ln<'a>>, Error> {
        loop {
            let Some(l) = self.next()? else {
                return Ok(None);
            };
            if match_tag(l.text).is_some()
                || at_name_colon(l.text).is_some()
                || l.text == "Features:"
            {
                return Ok(Some(l));
            }
            self.push(raw, l);
        }
    }

    /// Assembles the [`Doc`] and checks that sections needing text have it.
    fn finish(&self, symbol: Option<String>) -> Result<Doc, Error> {
        // Spelt out: `..Doc::default()` would allocate a location's file
        // name only to drop it.
        let mut doc = Doc {
            loc: self.loc(0),
            symbol,
            body: String::new(),
            members: Vec::with_capacity(self.members),
            features: Vec::with_capacity(self.features),
            // Most sections are tagged ones or paragraphs after them.
            sections: Vec::with_capacity(
                self.raws
                    .iter()
                    .filter(|r| matches!(r.kind, RawKind::Tagged(_) | RawKind::Detail))
                    .count(),
            ),
            examples: Vec::new(),
        };
        for raw in &self.raws {
            let lines = self.buf.get(raw.lines.clone()).unwrap_or_default();
            let text = join(raw.first, lines);
            let required = match &raw.kind {
                RawKind::Intro | RawKind::Detail => None,
                // 10.2 wants text for members and features too, but 7.2's
                // own schema has empty descriptions.
                RawKind::Member(_) if self.style.sections => Some("Member"),
                RawKind::Feature(_) if self.style.sections => Some("Feature"),
                RawKind::Member(_) | RawKind::Feature(_) => None,
                RawKind::Tagged(t) => Some(t.name()),
            };
            if let Some(what) = required
                && text.is_empty()
            {
                return Err(self.err(raw.idx, format!("text required after '{what}:'")));
            }
            let loc = self.loc(raw.idx);
            match &raw.kind {
                RawKind::Intro => {
                    if doc.body.is_empty() {
                        doc.body = text;
                    } else {
                        doc.body.push_str("\n\n");
                        doc.body.push_str(&text);
                    }
                    // Examples in the overview stay in the text, too.
                    for piece in split_directives(lines) {
                        if let Piece::Example(head, block) = piece {
                            doc.examples.push(self.qmp_example(head, block).1);
                        }
                    }
                }
                RawKind::Member(name) => doc.members.push(DocItem {
                    name: (*name).to_owned(),
                    text,
                    loc,
                }),
                RawKind::Feature(name) => doc.features.push(DocItem {
                    name: (*name).to_owned(),
                    text,
                    loc,
                }),
                RawKind::Tagged(tag) => {
                    if *tag == Tag::Example {
                        doc.examples.push(Example {
                            title: None,
                            messages: self.messages(raw.first, lines),
                            loc: loc.clone(),
                        });
                    }
                    doc.sections.push(Section {
                        kind: tag.kind(),
                        text,
                        loc,
                    });
                }
                RawKind::Detail => {
                    for piece in split_directives(lines) {
                        match piece {
                            Piece::Plain(lines) => {
                                let Some(first) = lines.iter().find(|l| !l.text.is_empty()) else {
                                    continue;
                                };
                                doc.sections.push(Section {
                                    kind: SectionKind::Plain,
                                    text: join(None, lines),
                                    loc: self.loc(first.idx),
                                });
                            }
                            Piece::Note(head, block) => doc.sections.push(Section {
                                kind: SectionKind::Note,
                                text: join(Some(head), block),
                                loc: self.loc(head.idx),
                            }),
                            Piece::Example(head, block) => {
                                let (text, example) = self.qmp_example(head, block);
                                doc.sections.push(Section {
                                    kind: SectionKind::Example,
                                    text,
                                    loc: example.loc.clone(),
                                });
                                doc.examples.push(example);
                            }
                        }
                    }
                }
            }
        }
        Ok(doc)
    }

    /// A `.. qmp-example::` block: its text without the options, and the
    /// example.
    fn qmp_example(&self, head: Ln<'a>, block: &[Ln<'a>]) -> (String, Example) {
        let mut title = None;
        let mut body = block;
        while let Some((l, rest)) = body.split_first() {
            let t = trim_blanks_start(*l);
            if !t.starts_with(':') {
                break;
            }
            if let Some(v) = t.strip_prefix(":title:") {
                title = Some(v.trim().to_owned());
            }
            body = rest;
        }
        let example = Example {
            title,
            messages: self.messages(None, body),
            loc: self.loc(head.idx),
        };
        (join(None, body), example)
    }

    /// The `->`/`<-` messages among `lines`. A message runs until a blank
    /// line, the next message, or the end; continuation lines lose the
    /// indentation that lines them up with the message's first character.
    fn messages(&self, first: Option<Ln<'a>>, lines: &[Ln<'a>]) -> Vec<ExampleMessage> {
        let mut out = Vec::new();
        let mut at = 0;
        // `first`, the text after an old `Example:` tag, is read as line -1.
        let mut pending = first;
        loop {
            let l = match pending.take() {
                Some(l) => l,
                None => match lines.get(at) {
                    Some(&l) => {
                        at += 1;
                        l
                    }
                    None => break,
                },
            };
            let ind = l.ind;
            let s = l.content();
            let Some(direction) = marker(s) else {
                continue;
            };
            let after = s.get(2..).unwrap_or("");
            let first = after.trim_start();
            let json_col = ind + 2 + (after.len() - first.len());
            let start = at;
            // The continuation lines, their least indentation, and an upper
            // bound of the message's length.
            let mut least = usize::MAX;
            let mut bytes = first.len();
            while let Some(c) = lines.get(at) {
                if c.text.is_empty() || marker(trim_blanks_start(*c)).is_some() {
                    break;
                }
                least = least.min(c.ind);
                bytes += c.text.len() + 1;
                at += 1;
            }
            let rest = lines.get(start..at).unwrap_or(&[]);
            // Without text after the marker, the JSON starts on the next
            // line: drop the continuation's own common indentation.
            let strip = if first.is_empty() {
                if rest.is_empty() { 0 } else { least }
            } else {
                json_col
            };
            let mut json = String::with_capacity(bytes);
            json.push_str(first);
            for c in rest {
                if !json.is_empty() {
                    json.push('\n');
                }
                let n = c.ind.min(strip);
                json.push_str(c.text.get(n..).unwrap_or(""));
            }
            out.push(ExampleMessage {
                direction,
                json,
                loc: self.loc_at(l.idx, l.off + ind),
            });
        }
        out
    }
}

/// Joins a section's lines into its text: the header line's text first, the
/// other lines without their common indentation, blank lines at either end
/// dropped.
fn join(first: Option<Ln<'_>>, lines: &[Ln<'_>]) -> String {
    // Two plain passes (this runs for every section of every block): the
    // first finds the common indentation and the exact length, so that the
    // second writes into one allocation of the right size. A content line
    // is right-trimmed, so one that is not blank has text past its
    // indentation, which is at least `strip`.
    let head = first.map_or("", |f| f.text);
    let mut strip = usize::MAX;
    let mut bytes = head.len();
    let mut texts = 0;
    // Positions of the first and last text: the header is 0, line `i` is
    // `i + 1`. The blank lines between them each add a newline.
    let mut first_at = if head.is_empty() { None } else { Some(0) };
    let mut last_at = 0;
    for (i, l) in lines.iter().enumerate() {
        if l.text.is_empty() {
            continue;
        }
        strip = strip.min(l.ind);
        bytes += l.text.len();
        texts += 1;
        first_at.get_or_insert(i + 1);
        last_at = i + 1;
    }
    let Some(first_at) = first_at else {
        return String::new();
    };
    let mut out = String::with_capacity(
        // Saturating: the figure only sizes the buffer.
        bytes.saturating_sub(strip.saturating_mul(texts)) + (last_at - first_at),
    );
    out.push_str(head);
    let mut blanks = 0;
    for l in lines {
        if l.text.is_empty() {
            blanks += 1;
            continue;
        }
        // Blank lines before the first text are dropped; those in between
        // are kept (those after the last never get written).
        if !out.is_empty() {
            for _ in 0..=blanks {
                out.push('\n');
            }
        }
        out.push_str(l.text.get(strip..).unwrap_or(""));
        blanks = 0;
    }
    out
}

/// A piece of a detail section.
enum Piece<'s, 'a> {
    /// Ordinary text.
    Plain(&'s [Ln<'a>]),
    /// A `.. note::` block: the header's text after `note::`, the block.
    Note(Ln<'a>, &'s [Ln<'a>]),
    /// A `.. qmp-example::` block: the header line, the block.
    Example(Ln<'a>, &'s [Ln<'a>]),
}

/// Splits top-level `.. note::` and `.. qmp-example::` directives out of a
/// run of paragraphs. A directive's block is the lines after it that are
/// blank or indented deeper than it.
fn split_directives<'s, 'a>(lines: &'s [Ln<'a>]) -> Directives<'s, 'a> {
    let mut base = usize::MAX;
    for l in lines {
        if !l.text.is_empty() {
            base = base.min(l.ind);
        }
    }
    Directives {
        lines,
        base: if base == usize::MAX { 0 } else { base },
        at: 0,
        plain_start: 0,
        pending: None,
    }
}

/// The pieces of [`split_directives`], made as they are read: an iterator
/// rather than a vector, which every detail section would allocate.
struct Directives<'s, 'a> {
    lines: &'s [Ln<'a>],
    /// The indentation of a top-level directive.
    base: usize,
    /// The next line to look at.
    at: usize,
    /// The first line of the plain text not yet handed out.
    plain_start: usize,
    /// A directive found after the plain text handed out last.
    pending: Option<Piece<'s, 'a>>,
}

impl<'s, 'a> Iterator for Directives<'s, 'a> {
    type Item = Piece<'s, 'a>;

    fn next(&mut self) -> Option<Piece<'s, 'a>> {
        if let Some(piece) = self.pending.take() {
            return Some(piece);
        }
        let lines = self.lines;
        while let Some(l) = lines.get(self.at) {
            let i = self.at;
            let ind = l.ind;
            let t = l.content();
            let directive = if ind != self.base {
                None
            } else if t.starts_with(".. qmp-example::") {
                Some(true)
            } else if t.starts_with(".. note::") {
                Some(false)
            } else {
                None
            };
            let Some(is_example) = directive else {
                self.at += 1;
                continue;
            };
            let mut j = i + 1;
            let mut last = i;
            while let Some(c) = lines.get(j) {
                if !c.text.is_empty() {
                    if c.ind <= ind {
                        break;
                    }
                    last = j;
                }
                j += 1;
            }
            let block = lines.get(i + 1..=last).unwrap_or(&[]);
            self.pending = Some(if is_example {
                Piece::Example(*l, block)
            } else {
                let head = l.tail(ind + ".. note::".len());
                let head = head.tail(head.ind);
                Piece::Note(head, block)
            });
            // The text before the directive, possibly none.
            let before = lines.get(self.plain_start..i).unwrap_or(&[]);
            self.at = last + 1;
            self.plain_start = self.at;
            return Some(Piece::Plain(before));
        }
        let rest = lines.get(self.plain_start..).unwrap_or(&[]);
        self.plain_start = lines.len();
        if rest.is_empty() {
            None
        } else {
            Some(Piece::Plain(rest))
        }
    }
}

/// Whether a too-long line is just a URL, which can't be broken.
fn is_url_line(t: &str) -> bool {
    let t = t.trim_start_matches(' ');
    ["http://", "https://", "ftp://"]
        .iter()
        .any(|p| t.strip_prefix(p).is_some_and(|rest| !rest.contains(' ')))
}

/// Where a sentence ends with a single space before the next one: the byte
/// offset of the `.`, `!` or `?`. Like QEMU, `e.g.` and a list number at the
/// start of the line (`1. `) are not sentence ends; the next sentence must
/// start with a capital letter, digit or `(`.
fn single_space_after_sentence(t: &str) -> Option<usize> {
    let b = t.as_bytes();
    let next_ok = |at: usize| {
        b.get(at) == Some(&b' ')
            && b.get(at + 1)
                .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'(')
    };
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < b.len() {
        // "e.g." at a word start.
        if t.get(i..).is_some_and(|s| s.starts_with("e.g."))
            && (i == 0
                || !t
                    .get(..i)
                    .and_then(|s| s.chars().next_back())
                    .is_some_and(is_word))
            && next_ok(i + 4)
        {
            i += 6;
            continue;
        }
        // A list item number at the start of the line.
        if i == 0 {
            let sp = indent_spaces(t);
            if b.get(sp).is_some_and(u8::is_ascii_digit)
                && b.get(sp + 1) == Some(&b'.')
                && next_ok(sp + 2)
            {
                i = sp + 4;
                continue;
            }
        }
        if matches!(b.get(i), Some(b'.' | b'!' | b'?')) && next_ok(i + 1) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Number of leading spaces (not tabs) of `s`.
fn indent_spaces(s: &str) -> usize {
    s.bytes().take_while(|&b| b == b' ').count()
}

/// A documentation comment.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Doc {
    /// Where the comment starts (its opening `##`).
    pub loc: Loc,
    /// The documented definition (`@NAME:` on the first line), or `None` for
    /// free-form documentation.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub symbol: Option<String>,
    /// The text before the member descriptions.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "String::is_empty"))]
    pub body: String,
    /// Member descriptions (`@member: text`), in order.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub members: Vec<DocItem>,
    /// Feature descriptions (after `Features:`), in order.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub features: Vec<DocItem>,
    /// Sections after the member descriptions, in order.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub sections: Vec<Section>,
    /// Examples, in order.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Vec::is_empty"))]
    pub examples: Vec<Example>,
}

impl Doc {
    /// The text of the `Since:` section, trimmed (e.g. `"1.3"`).
    pub fn since(&self) -> Option<&str> {
        self.sections
            .iter()
            .find(|s| s.kind == SectionKind::Since)
            .map(|s| s.text.trim())
    }

    /// The description of a member.
    pub fn member(&self, name: &str) -> Option<&DocItem> {
        self.members.iter().find(|m| m.name == name)
    }
}

// `Loc` lives in the model, which must not depend on this module; the
// default only exists so that `Doc` can derive `Default`.
#[allow(clippy::derivable_impls)]
impl Default for Loc {
    fn default() -> Loc {
        Loc {
            file: "".into(),
            line: 0,
            col: 0,
        }
    }
}

/// The description of one member or feature.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct DocItem {
    /// The member or feature name.
    pub name: String,
    /// Its description (may be empty).
    pub text: String,
    /// Where the `@name:` line is.
    pub loc: Loc,
}

/// The kind of a documentation section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "kebab-case"))]
pub enum SectionKind {
    /// Untagged text.
    Plain,
    /// `Returns:`.
    Returns,
    /// `Errors:`.
    Errors,
    /// `Since:`.
    Since,
    /// `TODO:`.
    Todo,
    /// `Note:` / `Notes:` (older releases) or a `.. note::` block.
    Note,
    /// `Example:` / `Examples:` (older releases) or a `.. qmp-example::`
    /// block; its messages are also in [`Doc::examples`].
    Example,
}

/// A section of a documentation comment.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Section {
    /// What kind of section it is.
    pub kind: SectionKind,
    /// The section text, tag removed, indentation normalised.
    pub text: String,
    /// Where the section starts.
    pub loc: Loc,
}

/// An example exchange of QMP messages.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Example {
    /// The example's title, if it has one.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub title: Option<String>,
    /// The messages, in order.
    pub messages: Vec<ExampleMessage>,
    /// Where the example starts.
    pub loc: Loc,
}

/// Which way an example message travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Direction {
    /// `->`: client to QEMU.
    Send,
    /// `<-`: QEMU to client.
    Receive,
}

/// One message of an example.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct ExampleMessage {
    /// `->` or `<-`.
    pub direction: Direction,
    /// The message text as written (JSON, possibly with `...` elisions).
    pub json: String,
    /// Where the message starts.
    pub loc: Loc,
}

#[cfg(test)]
mod tests;
