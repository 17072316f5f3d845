//! From text to a tree of JSON-like values and doc blocks, with positions.
//!
//! The pest grammar (`qapi.pest`) decides the structure. Its failures are
//! translated into the messages QEMU's parser gives, at the position QEMU
//! gives, so that a schema rejected by QEMU is rejected here with the same
//! words.

use std::borrow::Cow;

use pest::Parser as _;

use crate::error::Error;
use crate::model::Loc;

use grammar::{Grammar, Rule};

/// The parser of `qapi.pest`. Its `Parser` impl and `Rule` are generated
/// by `cargo xtask gen` into `grammar.rs`: what `pest_derive` would expand
/// to, without compiling the derive macro in every user's build. The test
/// `committed_outputs_are_fresh` keeps it in step with the grammar.
mod packed;

#[allow(unreachable_pub, dead_code, clippy::all)]
mod grammar {
    pub(crate) struct Grammar;

    include!("grammar.rs");
}

/// One source file's text, with a line index made when first asked for.
///
/// A valid file's locations are all taken in increasing order by a
/// [`LineCursor`], which counts newlines as it goes; the index is for
/// errors, which may point anywhere.
#[derive(Debug)]
pub(crate) struct Source {
    pub(crate) path: std::sync::Arc<str>,
    pub(crate) text: String,
    line_starts: std::sync::OnceLock<Vec<usize>>,
}

impl Source {
    pub(crate) fn new(path: String, text: String) -> Source {
        Source {
            path: path.into(),
            text,
            line_starts: std::sync::OnceLock::new(),
        }
    }

    /// Where each line starts.
    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            // memchr: a schema is mostly long comment lines, which a SIMD
            // search crosses far faster than `match_indices`.
            let mut starts = Vec::with_capacity(self.text.len() / 24);
            starts.push(0);
            starts.extend(memchr::memchr_iter(b'\n', self.text.as_bytes()).map(|i| i + 1));
            starts
        })
    }

    /// The location of byte offset `pos`. Columns count a tab as advancing
    /// to the next multiple of 8, as QEMU does.
    pub(crate) fn loc(&self, pos: usize) -> Loc {
        let pos = pos.min(self.text.len());
        let starts = self.line_starts();
        let line = starts.partition_point(|&s| s <= pos);
        Loc {
            file: self.path.clone(),
            line: line as u32,
            col: self.col(starts[line.saturating_sub(1)], pos),
        }
    }

    /// A cursor for locations in increasing order, from the file's start.
    pub(crate) fn cursor(&self) -> LineCursor<'_> {
        LineCursor {
            src: self,
            pos: 0,
            line: 1,
        }
    }

    /// The column of `pos`, on the line that starts at `start`.
    fn col(&self, start: usize, pos: usize) -> u32 {
        column(self.text.get(start..pos).unwrap_or(""))
    }

    /// The text of the 1-based line `line`, without its newline.
    pub(crate) fn line_text(&self, line: u32) -> Option<&str> {
        let i = (line as usize).checked_sub(1)?;
        let starts = self.line_starts();
        let start = *starts.get(i)?;
        let end = starts.get(i + 1).map_or(self.text.len(), |e| e - 1);
        self.text.get(start..end)
    }

    /// An error at byte offset `pos`, with the source line attached.
    pub(crate) fn error(&self, pos: usize, message: impl Into<String>) -> Error {
        self.error_at(self.loc(pos), message)
    }

    /// An error at `loc` in this file, with the source line attached.
    pub(crate) fn error_at(&self, loc: Loc, message: impl Into<String>) -> Error {
        let mut e = Error::new(loc, message);
        e.source_line = self.line_text(e.loc.line).map(str::to_owned);
        e
    }
}

/// Locations in one file, asked for in increasing order: each step counts
/// the newlines since the last, which the compiler does many bytes at a
/// time, instead of indexing every line of the file first.
pub(crate) struct LineCursor<'a> {
    src: &'a Source,
    /// The last position asked for, and its 1-based line.
    pos: usize,
    line: u32,
}

impl LineCursor<'_> {
    /// Line and column of `pos`, like [`Source::loc`].
    pub(crate) fn line_col(&mut self, pos: usize) -> (u32, u32) {
        let text = self.src.text.as_bytes();
        let pos = pos.min(text.len());
        if pos < self.pos {
            // Not expected; start over rather than be wrong.
            self.pos = 0;
            self.line = 1;
        }
        self.line += count_newlines(&text[self.pos..pos]);
        self.pos = pos;
        let start = memchr::memrchr(b'\n', &text[..pos]).map_or(0, |i| i + 1);
        (self.line, self.src.col(start, pos))
    }

    /// The location of `pos`, like [`Source::loc`].
    pub(crate) fn loc(&mut self, pos: usize) -> Loc {
        let (line, col) = self.line_col(pos);
        Loc {
            file: self.src.path.clone(),
            line,
            col,
        }
    }
}

/// The number of newlines in `bytes`.
fn count_newlines(bytes: &[u8]) -> u32 {
    // In chunks whose count fits a byte, summed as bytes: the compiler
    // then compares and adds 32 bytes at a time. Indexed loops, not
    // `filter().count()` or `map().sum()`: those are compiled a byte or a
    // few at a time, and in the build script's unoptimised build every
    // iterator step is a call.
    let mut n = 0;
    let mut i = 0;
    while i < bytes.len() {
        let end = bytes.len().min(i + 255);
        let mut in_chunk = 0u8;
        while i < end {
            in_chunk += (bytes[i] == b'\n') as u8;
            i += 1;
        }
        n += in_chunk as u32;
    }
    n
}

/// A value of the schema dialect. Strings borrow from the source text
/// unless they hold an escape.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    List(Vec<Node<'a>>),
    /// Members in source order (keys are unique).
    Dict(Vec<(Cow<'a, str>, Node<'a>)>),
}

/// A value and the byte offset where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node<'a> {
    pub(crate) value: Value<'a>,
    pub(crate) pos: usize,
}

impl<'a> Node<'a> {
    /// The same tree with strings of its own, to outlive the source text.
    pub(crate) fn into_owned(self) -> Node<'static> {
        let owned = |s: Cow<'_, str>| Cow::Owned(s.into_owned());
        let value = match self.value {
            Value::Str(s) => Value::Str(owned(s)),
            Value::Bool(b) => Value::Bool(b),
            Value::List(l) => Value::List(l.into_iter().map(Node::into_owned).collect()),
            Value::Dict(d) => Value::Dict(
                d.into_iter()
                    .map(|(k, v)| (owned(k), v.into_owned()))
                    .collect(),
            ),
        };
        Node {
            value,
            pos: self.pos,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_dict(&self) -> Option<&[(Cow<'a, str>, Node<'a>)]> {
        match &self.value {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Node<'a>> {
        self.as_dict()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// One line of a doc block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct BlockLine<'a> {
    /// Where its '#' is.
    pub(crate) pos: usize,
    /// From its '#' to the end of the line.
    pub(crate) text: &'a str,
    /// How many lines after the block's first line it is, and its column
    /// (not set on the first line, whose line start the splitter does not
    /// see).
    pub(crate) line: u32,
    pub(crate) col: u32,
}

/// A documentation block as lines of text.
#[derive(Debug, PartialEq)]
pub(crate) struct DocBlock {
    /// Its lines, in [`Tree::doc_lines`].
    pub(crate) lines: std::ops::Range<usize>,
    /// Whether the last line is a closing '##' line.
    pub(crate) closed: bool,
    /// Where parsing went on after the block (QEMU reports an unterminated
    /// block there).
    pub(crate) end: usize,
}

/// A top-level item of a file.
#[derive(Debug, PartialEq)]
pub(crate) enum Item<'a> {
    Expr(Node<'a>),
    Doc(DocBlock),
}

/// A file's items, and the lines of all its doc blocks in one buffer.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Tree<'a> {
    pub(crate) items: Vec<Item<'a>>,
    pub(crate) doc_lines: Vec<BlockLine<'a>>,
}

/// Parses a whole file into top-level items.
///
/// A file without errors takes the packed path (`packed`): one pest call
/// over its expressions with the blanks and comments between tokens taken
/// out. Anything that path does not accept is parsed again here by the
/// exact path, which finds and words the first error as QEMU does; so
/// every error comes from one place, and valid files pay for neither the
/// exact path's blank handling nor its error bookkeeping.
pub(crate) fn parse(src: &Source) -> Result<Tree<'_>, Error> {
    match packed::parse(src) {
        Some(items) => Ok(items),
        None => parse_exact(src),
    }
}

/// Whether the packed path, where it takes `text`, builds what the exact
/// path builds; and gives up where the exact path finds an error.
#[cfg(any(test, fuzzing))]
pub(crate) fn paths_agree(text: &str) -> bool {
    let src = Source::new("t.json".into(), text.to_owned());
    match (packed::parse(&src), parse_exact(&src)) {
        (Some(packed), Ok(exact)) => packed == exact,
        (Some(_), Err(_)) => false,
        (None, _) => true,
    }
}

/// The exact path of [`parse`].
///
/// A hand-written scanner walks the file's top level: it skips blanks and
/// plain comments and splits out doc blocks itself (three quarters of a
/// schema's text, and no expression syntax), and hands pest each
/// expression, from its first character to the end of the file; pest
/// matches one `expr` and stops, and the scanner goes on from there. Every
/// position pest reports is relative to where the expression starts, and
/// is moved back into the file here.
fn parse_exact(src: &Source) -> Result<Tree<'_>, Error> {
    let text = src.text.as_str();
    let mut tree = Tree::default();
    let mut scratch = Scratch::default();
    let mut pos = skip_blanks(text, 0);
    while pos < text.len() {
        if text.as_bytes().get(pos..pos + 2) == Some(b"##") {
            let block;
            (block, pos) = doc_block(text, pos, &mut tree.doc_lines);
            tree.items.push(Item::Doc(block));
        } else {
            pos = parse_expr(src, pos, &mut tree.items, &mut scratch)?;
        }
    }
    Ok(tree)
}

/// Whether `b` is a blank: ' ' or '\t'..'\r', as in the grammar.
fn is_blank(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

/// The offset of the first byte at or after `pos` that is neither a blank
/// nor in a plain comment ('#' not followed by '#', to the end of the
/// line): the start of an expression or doc block, or the end of `text`.
fn skip_blanks(text: &str, mut pos: usize) -> usize {
    let bytes = text.as_bytes();
    while let Some(&b) = bytes.get(pos) {
        if is_blank(b) {
            pos += 1;
        } else if b == b'#' && bytes.get(pos + 1) != Some(&b'#') {
            pos = memchr::memchr(b'\n', bytes.get(pos..).unwrap_or_default())
                .map_or(bytes.len(), |n| pos + n);
        } else {
            break;
        }
    }
    pos
}

/// Parses the expression at `base` with pest, pushes it onto `items`, and
/// returns where the blanks and plain comments after it end.
fn parse_expr<'a>(
    src: &'a Source,
    base: usize,
    items: &mut Vec<Item<'a>>,
    scratch: &mut Scratch<'a>,
) -> Result<usize, Error> {
    let text = src.text.as_str();
    let input = text.get(base..).unwrap_or("");
    // pest recurses once per nesting level and has no depth limit: past
    // it, the thread's stack overflows. An expression nested deeper than
    // QEMU's schemas ever go is an error at the first bracket too many,
    // unless pest finds an error before it.
    if let Some(deep) = too_deep(text, base) {
        let before = input.get(..deep - base).unwrap_or("");
        return Err(match Grammar::parse(Rule::expr, before) {
            Err(e) if location(&e) < deep - base => translate_error(src, base, &e),
            _ => src.error(
                deep,
                format!("nesting too deep (more than {MAX_DEPTH} levels of '{{' and '[')"),
            ),
        });
    }
    let pairs = match Grammar::parse(Rule::expr, input) {
        Ok(p) => p,
        Err(e) => return Err(translate_error(src, base, &e)),
    };
    let end = build_tree(
        src,
        pairs.tokens(),
        |p| base + p,
        Strings::Exact,
        scratch,
        &mut |node| {
            items.push(Item::Expr(node));
        },
    )?;
    // `expr` ends after the blanks and plain comments that follow the
    // value; it matched at least one character, or pest would have failed.
    Ok(end.max(base + 1))
}

/// What a pest rule of either path builds.
enum Kind {
    Object,
    Array,
    String,
    Boolean,
}

fn kind(rule: Rule) -> Option<Kind> {
    match rule {
        Rule::object | Rule::packed_object => Some(Kind::Object),
        Rule::array | Rule::packed_array => Some(Kind::Array),
        Rule::string | Rule::packed_string => Some(Kind::String),
        Rule::boolean | Rule::packed_boolean => Some(Kind::Boolean),
        _ => None,
    }
}

/// How [`build_tree`] reads the strings pest matched.
#[derive(Clone, Copy, PartialEq)]
enum Strings {
    /// As the grammar matched them: up to the first unescaped quote (the
    /// token goes on over the blanks after it), escapes decoded, QEMU's
    /// rules applied.
    Exact,
    /// The packed path's: the token is the string, quotes included, and
    /// the scanner has seen that it holds only printable ASCII and no
    /// backslash.
    Plain,
}

/// Builds the tree of every top-level value in `tokens` (pest's tokens of
/// `expr` or of `packed_file`) and hands each to `done`. `at` moves an
/// offset in pest's input to the file. Returns where the last token ends,
/// in the file.
fn build_tree<'a>(
    src: &'a Source,
    tokens: pest::iterators::Tokens<'_, Rule>,
    mut at: impl FnMut(usize) -> usize,
    strings: Strings,
    scratch: &mut Scratch<'a>,
    done: &mut dyn FnMut(Node<'a>),
) -> Result<usize, Error> {
    use pest::Token;

    let text = src.text.as_str();
    let Scratch {
        stack,
        members: all_members,
        values: all_values,
        ..
    } = scratch;
    stack.clear();
    all_members.clear();
    all_values.clear();
    // Where the last token started, in pest's input and in the file.
    let mut start_in_input = 0;
    let mut start = 0;
    let mut end = 0;
    for token in tokens {
        let (node, pos) = match token {
            Token::Start { rule, pos } => {
                let Some(kind) = kind(rule) else { continue };
                start_in_input = pos.pos();
                let pos = at(start_in_input);
                start = pos;
                check_key_unique(src, stack, all_members, pos)?;
                match kind {
                    Kind::Object => stack.push(Open::Dict(pos, all_members.len(), None)),
                    Kind::Array => stack.push(Open::List(pos, all_values.len())),
                    Kind::String | Kind::Boolean => {}
                }
                continue;
            }
            Token::End { rule, pos } => {
                let Some(kind) = kind(rule) else { continue };
                end = at(pos.pos());
                match kind {
                    Kind::String if strings == Strings::Plain => {
                        let len = pos.pos() - start_in_input;
                        let body = text.get(start + 1..start + len - 1).unwrap_or("");
                        (Value::Str(Cow::Borrowed(body)), start)
                    }
                    // The grammar matched a terminated string at `start`.
                    Kind::String => {
                        let body = string_body(text.get(start..).unwrap_or(""));
                        let s = check_string_body(body, false).map_err(|m| src.error(start, m))?;
                        (Value::Str(s), start)
                    }
                    Kind::Boolean => (
                        Value::Bool(text.get(start..).is_some_and(|t| t.starts_with("true"))),
                        start,
                    ),
                    // One allocation of the exact size per object or
                    // array, rather than a vector grown member by member.
                    Kind::Object => match stack.pop() {
                        Some(Open::Dict(p, first, _)) => {
                            let first = first.min(all_members.len());
                            (Value::Dict(all_members.drain(first..).collect()), p)
                        }
                        _ => continue,
                    },
                    Kind::Array => match stack.pop() {
                        Some(Open::List(p, first)) => {
                            let first = first.min(all_values.len());
                            (Value::List(all_values.drain(first..).collect()), p)
                        }
                        _ => continue,
                    },
                }
            }
        };
        let node = Node { value: node, pos };
        match stack.last_mut() {
            None => done(node),
            Some(Open::List(..)) => all_values.push(node),
            Some(Open::Dict(_, _, key)) => match key.take() {
                Some(k) => all_members.push((k, node)),
                None => match node.value {
                    Value::Str(s) => *key = Some(s),
                    _ => return Err(src.error(node.pos, "expected string")),
                },
            },
        }
    }
    Ok(end)
}

/// How deep objects and arrays may nest: QEMU's schemas go five levels
/// deep, and an unoptimised build of the parser still has room for this on
/// a thread's 2 MiB stack.
pub(crate) const MAX_DEPTH: usize = 64;

/// Where the expression at `base` opens its object or array number
/// `MAX_DEPTH + 1` inside the others, if it does. Strings and comments are
/// crossed as the lexer reads them; the scan stops where the expression's
/// outermost bracket closes, or at once if it does not start with one.
fn too_deep(text: &str, base: usize) -> Option<usize> {
    // Indexing under `i < len` rather than `get`: this runs over every
    // expression, and in a build script's unoptimised build each `get` is
    // a call.
    let bytes = text.as_bytes();
    let mut depth = 0;
    let mut i = base;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b'}' | b']' if depth <= 1 => return None,
            b'}' | b']' => depth -= 1,
            _ if depth == 0 => return None,
            b'\'' => {
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\'' | b'\n' => break,
                        b'\\' => i += 2,
                        _ => i += 1,
                    }
                }
            }
            b'#' => {
                i = memchr::memchr(b'\n', bytes.get(i..).unwrap_or_default())
                    .map_or(bytes.len(), |n| i + n);
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The byte offset where a pest error is, in pest's input.
fn location(err: &pest::error::Error<Rule>) -> usize {
    match err.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    }
}

/// The text between the quotes of a string token, which the grammar
/// matched together with the blanks and comments after it: up to the first
/// quote that is not escaped (a backslash takes the next character with
/// it, as in the grammar).
fn string_body(token: &str) -> &str {
    // Indexing under `i < len`, as in `too_deep`.
    let bytes = token.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => break,
            b'\\' => {
                // Skip the escaped character, which may be multi-byte.
                i += 1;
                while i + 1 < bytes.len() && (bytes[i + 1] & 0xc0) == 0x80 {
                    i += 1;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    token.get(1..i).unwrap_or("")
}

/// An object or array whose end has not been seen yet, with where it
/// starts and where its members start in [`Scratch`]. An object also holds
/// the key whose value comes next.
enum Open<'a> {
    Dict(usize, usize, Option<Cow<'a, str>>),
    List(usize, usize),
}

/// The tree builder's buffers, kept from one expression to the next: the
/// open objects and arrays, and the members of each, innermost last (an
/// inner one is complete before its parent takes another member).
#[derive(Default)]
struct Scratch<'a> {
    stack: Vec<Open<'a>>,
    members: Vec<(Cow<'a, str>, Node<'a>)>,
    values: Vec<Node<'a>>,
}

/// Rejects a value at `pos` whose key the innermost open object already
/// has, before the value itself is looked at (QEMU's order).
fn check_key_unique(
    src: &Source,
    stack: &[Open<'_>],
    all_members: &[(Cow<'_, str>, Node<'_>)],
    pos: usize,
) -> Result<(), Error> {
    if let Some(Open::Dict(_, first, Some(key))) = stack.last()
        && all_members
            .get(*first..)
            .unwrap_or_default()
            .iter()
            .any(|(k, _)| k == key)
    {
        return Err(src.error(pos, format!("duplicate key '{key}'")));
    }
    Ok(())
}

/// The doc block that starts with the `##` at `start`, split into its
/// lines, as QEMU's lexer reads it: the opening line, then each comment
/// that comes next (after any blanks, newlines included) from its '#' to
/// the end of the line, up to and including the first that starts with
/// `##`, or up to the first token that is not a comment (the block is then
/// unterminated).
///
/// The lines are appended to `lines`. Returns the block and where the next
/// item starts.
fn doc_block<'a>(text: &'a str, start: usize, lines: &mut Vec<BlockLine<'a>>) -> (DocBlock, usize) {
    let bytes = text.as_bytes();
    let line_at = |pos: usize| {
        let end = memchr::memchr(b'\n', bytes.get(pos..).unwrap_or_default())
            .map_or(text.len(), |n| pos + n);
        let line = text.get(pos..end).unwrap_or("");
        (line.strip_suffix('\r').unwrap_or(line), end)
    };
    let (first, mut pos) = line_at(start);
    let first_index = lines.len();
    lines.push(BlockLine {
        pos: start,
        text: first,
        line: 0,
        col: 0,
    });
    let mut closed = false;
    let mut line = 0;
    loop {
        // The blanks up to the next line's '#', counting newlines, and
        // where the last line among them starts.
        let mut next = pos;
        let mut line_start = pos;
        while next < bytes.len() && is_blank(bytes[next]) {
            if bytes[next] == b'\n' {
                line += 1;
                line_start = next + 1;
            }
            next += 1;
        }
        if bytes.get(next) != Some(&b'#') {
            break;
        }
        let (text_of_line, end) = line_at(next);
        lines.push(BlockLine {
            pos: next,
            text: text_of_line,
            line,
            col: column(text.get(line_start..next).unwrap_or_default()),
        });
        pos = end;
        if text_of_line.starts_with("##") {
            closed = true;
            break;
        }
    }
    let last = lines.last().map_or(start, |l| l.pos + l.text.len());
    let end = if closed { last } else { next_token(text, last) };
    let block = DocBlock {
        lines: first_index..lines.len(),
        closed,
        end,
    };
    (block, skip_blanks(text, last))
}

/// The column after `before`, which starts a line: a tab advances to the
/// next multiple of 8, as QEMU counts.
fn column(before: &str) -> u32 {
    let mut col = 1u32;
    for ch in before.chars() {
        col = if ch == '\t' {
            col.div_ceil(8) * 8 + 1
        } else {
            col + 1
        };
    }
    col
}

/// The offset of the next token after `pos`, skipping blanks; at the end of
/// the input, the offset of the final newline, where QEMU reports
/// end-of-file.
fn next_token(text: &str, pos: usize) -> usize {
    let rest = text.get(pos..).unwrap_or("");
    match rest.find(|c: char| !c.is_ascii_whitespace()) {
        Some(i) => pos + i,
        None => eof_pos(text),
    }
}

/// Where QEMU's lexer reports the end of input: at the final newline, or
/// the very end if the text does not end in one.
fn eof_pos(text: &str) -> usize {
    if text.ends_with('\n') {
        text.len() - 1
    } else {
        text.len()
    }
}

/// Applies QEMU's string rules to the text after an opening quote. With
/// `unterminated`, the text runs to the end of the line and a missing quote
/// is the error unless another comes first.
fn check_string_body(body: &str, unterminated: bool) -> Result<Cow<'_, str>, String> {
    // Nearly every string is plain printable ASCII without escapes. (A
    // plain loop: iterator adapters are calls in an unoptimised build.)
    let bytes = body.as_bytes();
    let mut plain = !unterminated;
    let mut i = 0;
    while plain && i < bytes.len() {
        let b = bytes[i];
        plain = (b' '..=b'~').contains(&b) && b != b'\\';
        i += 1;
    }
    if plain {
        return Ok(Cow::Borrowed(body));
    }
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(ch) = chars.next() {
        let ch = if ch == '\\' {
            match chars.next() {
                Some('\\') => '\\',
                Some(c) => return Err(format!("unknown escape \\{c}")),
                None => break,
            }
        } else {
            ch
        };
        if !(' '..='~').contains(&ch) {
            return Err("funny character in string".to_owned());
        }
        out.push(ch);
    }
    if unterminated {
        return Err("missing terminating \"'\"".to_owned());
    }
    Ok(Cow::Owned(out))
}

/// Turns a pest failure into QEMU's message: a lexical error (stray text,
/// bad string) if QEMU's lexer would hit one first, else what was expected.
///
/// `base` is where pest's input starts in the file.
fn translate_error(src: &Source, base: usize, err: &pest::error::Error<Rule>) -> Error {
    use pest::error::ErrorVariant;
    let pos = base + location(err);
    let pos = if src.text.get(pos..).is_some_and(|r| r.trim().is_empty()) {
        eof_pos(&src.text)
    } else {
        pos
    };
    if let Some((lex_pos, msg)) = first_lexical_error(&src.text, pos) {
        return src.error(lex_pos, msg);
    }
    let positives: &[Rule] = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives,
        ErrorVariant::CustomError { .. } => &[],
    };
    // Which rules failed at the error position tells where in the syntax
    // it is. (An unterminated string never gets here: it is a lexical
    // error.)
    let has = |r: Rule| positives.contains(&r);
    let msg = if has(Rule::colon) {
        "expected ':'"
    } else if has(Rule::comma) && has(Rule::rbrace) {
        "expected ',' or '}'"
    } else if has(Rule::comma) && has(Rule::rbracket) {
        "expected ',' or ']'"
    } else if has(Rule::rbrace) {
        "expected string or '}'"
    } else if has(Rule::rbracket) {
        "expected '{', '[', ']', string, or boolean"
    } else if has(Rule::object) {
        "expected '{', '[', string, or boolean"
    } else {
        "expected string"
    };
    src.error(pos, msg)
}

/// Scans like QEMU's lexer up to `limit` and returns the first lexical error:
/// stray characters, a bad escape, a non-printable character or an
/// unterminated string.
fn first_lexical_error(text: &str, limit: usize) -> Option<(usize, String)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i <= limit && i < bytes.len() {
        match bytes[i] {
            b'#' => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'{' | b'}' | b'[' | b']' | b',' | b':' => i += 1,
            b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => i += 1,
            b'\'' => {
                let line_end = text[i + 1..].find('\n').map_or(bytes.len(), |n| i + 1 + n);
                let line = &text[i + 1..line_end];
                // Find the closing quote the way QEMU does: a backslash
                // consumes the next character.
                let mut end = None;
                let mut esc = false;
                for (k, c) in line.char_indices() {
                    if esc {
                        esc = false;
                        if c != '\\' {
                            break;
                        }
                    } else if c == '\\' {
                        esc = true;
                    } else if c == '\'' {
                        end = Some(k);
                        break;
                    }
                }
                let body = &line[..end.unwrap_or(line.len())];
                if let Err(m) = check_string_body(body, end.is_none()) {
                    return Some((i, m));
                }
                i = i + 1 + end.map_or(line.len(), |e| e + 1);
            }
            _ if text[i..].starts_with("true") => i += 4,
            _ if text[i..].starts_with("false") => i += 5,
            _ => {
                let stray: String = text[i..]
                    .chars()
                    .take_while(|c| !"[]{}:,'".contains(*c) && !c.is_whitespace())
                    .collect();
                let stray = if stray.is_empty() {
                    text[i..]
                        .chars()
                        .next()
                        .map(String::from)
                        .unwrap_or_default()
                } else {
                    stray
                };
                return Some((i, format!("stray '{stray}'")));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let src = Source::new("t.json".into(), input.into());
        let got = match parse(&src) {
            Ok(tree) => tree
                .items
                .iter()
                .map(|i| match i {
                    Item::Expr(n) => show(n),
                    Item::Doc(d) => format!("doc({})", d.lines.len()),
                })
                .collect::<Vec<_>>()
                .join(" "),
            Err(e) => format!("{}: {}", e.loc, e.message),
        };
        assert_eq!(got, expect, "input: {input:?}");
    }

    fn show(n: &Node) -> String {
        match &n.value {
            Value::Str(s) => format!("'{s}'"),
            Value::Bool(b) => b.to_string(),
            Value::List(l) => format!("[{}]", l.iter().map(show).collect::<Vec<_>>().join(",")),
            Value::Dict(d) => format!(
                "{{{}}}",
                d.iter()
                    .map(|(k, v)| format!("{k}:{}", show(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    #[test]
    fn values() {
        check("{ 'a': 'b' }", "{a:'b'}");
        check("{'a':['x',true,false,{}]}", "{a:['x',true,false,{}]}");
        check("# comment\n{ 'a': [] } # trailing\n", "{a:[]}");
        check("{ 'a': 'back\\\\slash' }", "{a:'back\\slash'}");
        check("", "");
        check("'x' ['y']", "'x' ['y']");
    }

    #[test]
    fn doc_blocks() {
        check("##\n# @foo:\n##\n{ 'a': 'b' }", "doc(3) {a:'b'}");
        check("##\n# text\n\n# more\n##", "doc(4)");
        check("##\n# open\n{ 'a': 'b' }", "doc(2) {a:'b'}");
        // The quick scan for the closing line overshoots these: an
        // unterminated block with another block after it, an indented
        // closing line, a second closing line. The exact rule decides.
        check(
            "##\n# open\n{ 'a': 'b' }\n##\n# next\n##\n{ 'c': 'd' }",
            "doc(2) {a:'b'} doc(3) {c:'d'}",
        );
        check(
            "##\n# @x:\n  ##\n{ 'a': 'b' }\n##\n# y\n##",
            "doc(3) {a:'b'} doc(3)",
        );
        check("##\n# x\n  ##\n  ## more\n##", "doc(3) doc(2)");
        check("##\r\n# x\r\n##\r\n{ 'a': 'b' }", "doc(3) {a:'b'}");
    }

    #[test]
    fn errors_match_qemu() {
        check("{ 'a': 1 }", "t.json:1:8: stray '1'");
        check("{ 'a': null }", "t.json:1:8: stray 'null'");
        check("{ 'a': 'b', }", "t.json:1:13: expected string");
        check(
            "[ 'a', ]",
            "t.json:1:8: expected '{', '[', string, or boolean",
        );
        check(
            "[ , 'a' ]",
            "t.json:1:3: expected '{', '[', ']', string, or boolean",
        );
        check("{ 'a' 'b' }", "t.json:1:7: expected ':'");
        check("{ , }", "t.json:1:3: expected string or '}'");
        check("{ 'a': 'b' 'c' }", "t.json:1:12: expected ',' or '}'");
        check("[ 'a' 'b' ]", "t.json:1:7: expected ',' or ']'");
        check("{ 'a': 'b\\x' }", "t.json:1:8: unknown escape \\x");
        check(
            "{ 'a': 'b\u{7f}' }",
            "t.json:1:8: funny character in string",
        );
        check("{ 'a': 'é' }", "t.json:1:8: funny character in string");
        check("{ 'a': 'open\n}", "t.json:1:8: missing terminating \"'\"");
        check("{ 'a': 'b'; }", "t.json:1:11: stray ';'");
        check("{ 'a': truex }", "t.json:1:12: stray 'x'");
        check("{ 'k': 'v',\n  'k': 'v' }", "t.json:2:8: duplicate key 'k'");
        check("\t{ 'a' }", "t.json:1:15: expected ':'");
    }

    #[test]
    fn scanner_hands_pest_expressions_and_maps_positions_back() {
        // Positions after doc blocks, comments and other expressions are
        // the file's, not the expression's.
        check(
            "{ 'a': 'b' }\n##\n# x\n##\n# plain\n\n  { 'c' 'd' }",
            "t.json:7:9: expected ':'",
        );
        check("##\n# x\n##\n[ 'a'", "t.json:4:6: expected ',' or ']'");
        check(
            "##\n# x\n##\n{ 'a': 'b'\n",
            "t.json:4:11: expected ',' or '}'",
        );
        check("'x'\n##\n# y\n##\n{ 'a': 1 }", "t.json:5:8: stray '1'");
        // A doc block may start right after an expression, but not inside.
        check("{ 'a': 'b' } ## x\n##", "{a:'b'} doc(2)");
        check(
            "{ 'a': [ ## x\n ] }",
            "t.json:1:10: expected '{', '[', ']', string, or boolean",
        );
        // Comment lines of a block may be indented or separated by blank
        // lines; the first line that is not a comment ends the block.
        check("##\n  # a\n\n# b\n ##\n'x'", "doc(4) 'x'");
        check("##\n# a\n'x' # c\n##\n", "doc(2) 'x' doc(1)");
        check("# c ## d\n'x'", "'x'");
    }

    #[test]
    fn nesting_is_limited_before_the_stack_overflows() {
        let nest = |n: usize, inner: &str| {
            format!(
                "{{ 'a': {}{inner}{} }}",
                "[".repeat(n - 1),
                "]".repeat(n - 1)
            )
        };
        // 64 levels (the object and 63 arrays) parse; 65 are refused at
        // the bracket too many, however deep the input goes on.
        let ok = nest(MAX_DEPTH, "'x'");
        let got = parse(&Source::new("t.json".into(), ok.clone())).map(|t| t.items.len());
        assert_eq!(got.ok(), Some(1), "{ok}");
        for depth in [MAX_DEPTH + 1, 100_000] {
            check(
                &nest(depth, "'x'"),
                "t.json:1:71: nesting too deep (more than 64 levels of '{' and '[')",
            );
        }
        // An error pest finds first is reported instead; brackets in
        // strings and comments do not count.
        check(
            &nest(MAX_DEPTH + 1, "").replacen("[[", "[1[", 1),
            "t.json:1:9: stray '1'",
        );
        check(
            &format!("{{ 'a': [ '{}' ] }}", "[".repeat(100)),
            &format!("{{a:['{}']}}", "[".repeat(100)),
        );
        check(&format!("{{ 'a': [ # {}\n ] }}", "[".repeat(100)), "{a:[]}");
        // It holds on a thread with the default 2 MiB stack, in this
        // (unoptimised) test build.
        let deep = nest(100_000, "'x'");
        let joined = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let src = Source::new("t.json".into(), deep);
                parse(&src)
                    .map(|t| t.items.len())
                    .map_err(|e| e.message.clone())
            })
            .map(|t| t.join().is_ok());
        assert_eq!(joined.ok(), Some(true));
    }
}
