//! The packed path of [`super::parse`], for files without errors.
//!
//! pest pays for every rule it tries, and the exact path's grammar tries
//! a blank, a range of blanks and a comment after every token, and a named
//! rule beside every punctuation mark for its error messages: about 1,100
//! instructions per token. Here a scanner copies each expression's tokens
//! into one buffer (a file's expressions are a quarter of its text; doc
//! blocks are split out as on the exact path), leaving out the blanks and
//! plain comments between them, and pest parses the whole buffer in one
//! call with the `packed_*` rules, which are literals and nothing else.
//! Each run of copied text remembers where it came from, so that every
//! position in the tree is the file's.
//!
//! Nothing here reports an error. The scanner gives up on anything that is
//! not a token of the language in its place, and the builder on anything
//! the exact path would refuse; the caller then parses the file again on
//! the exact path. Dropping blanks cannot join two tokens into a third:
//! strings are quoted, and a letter is accepted only as a whole `true` or
//! `false`, so `tr ue` is given up on, not read as `true`.
//!
//! Strings are taken only when plain (printable ASCII, no escape), as all
//! of QEMU's are: the builder then borrows them from the file without
//! looking at them again. A file with another string, valid or not, is
//! parsed on the exact path.

use pest::Parser as _;

use super::{
    DocBlock, Grammar, Item, MAX_DEPTH, Rule, Scratch, Source, Strings, Tree, build_tree,
    count_newlines, doc_block, is_blank, skip_blanks,
};

/// How much packed text one pest call parses at most, unless a single
/// expression is longer: pest's token queue grows with its input, and a
/// queue for all of `block-core.json` would be reallocated and copied a
/// dozen times, to over a megabyte.
const CHUNK: usize = 8 << 10;

/// The file's items, or `None` if the exact path must parse it.
pub(super) fn parse(src: &Source) -> Option<Tree<'_>> {
    let text = src.text.as_str();
    let mut packed = Packed {
        // Expressions are about a quarter of a schema file, and all of
        // some small ones.
        text: String::with_capacity(text.len() / 2),
        runs: Vec::with_capacity(text.len() / 32),
        copied_to: usize::MAX,
    };
    let mut tree = Tree::default();
    // The doc blocks, in order, each with the number of expressions
    // before it; where each chunk of whole expressions ends.
    let mut docs: Vec<(usize, DocBlock)> = Vec::new();
    let mut chunks = Vec::new();
    let mut chunk_start = 0;
    let mut exprs = 0;
    let mut pos = skip_blanks(text, 0);
    while pos < text.len() {
        if text.as_bytes().get(pos..pos + 2) == Some(b"##") {
            if tree.doc_lines.capacity() == 0 {
                // Doc blocks are lines of the rest of the file: counting
                // them (many bytes at a time) saves growing the buffer a
                // dozen times.
                let lines = count_newlines(text.as_bytes().get(pos..).unwrap_or_default());
                tree.doc_lines.reserve_exact(lines as usize + 1);
            }
            let block;
            (block, pos) = doc_block(text, pos, &mut tree.doc_lines);
            docs.push((exprs, block));
        } else {
            pos = skip_blanks(text, packed.expression(text, pos)?);
            exprs += 1;
            if packed.text.len() - chunk_start >= CHUNK {
                chunk_start = packed.text.len();
                chunks.push(chunk_start);
            }
        }
    }
    if chunk_start < packed.text.len() {
        chunks.push(packed.text.len());
    }

    tree.items.reserve_exact(exprs + docs.len());
    let items = &mut tree.items;
    let mut docs = docs.into_iter().peekable();
    let mut seen = 0;
    let mut runs = RunCursor {
        runs: &packed.runs,
        next: 0,
    };
    let mut scratch = Scratch::default();
    let mut start = 0;
    for end in chunks {
        let pairs = Grammar::parse(Rule::packed_file, packed.text.get(start..end)?).ok()?;
        let at = |p: usize| runs.file_offset(start + p);
        build_tree(
            src,
            pairs.tokens(),
            at,
            Strings::Plain,
            &mut scratch,
            &mut |node| {
                while let Some((_, block)) = docs.next_if(|(before, _)| *before == seen) {
                    items.push(Item::Doc(block));
                }
                items.push(Item::Expr(node));
                seen += 1;
            },
        )
        .ok()?;
        start = end;
    }
    // The scanner and pest agree on where expressions start and end.
    if seen != exprs {
        return None;
    }
    items.extend(docs.map(|(_, block)| Item::Doc(block)));
    Some(tree)
}

/// Moves offsets in the packed text to the file, for offsets asked for
/// in increasing order.
struct RunCursor<'r> {
    runs: &'r [(usize, usize)],
    /// The run of the last offset asked for.
    next: usize,
}

impl RunCursor<'_> {
    fn file_offset(&mut self, packed: usize) -> usize {
        while self.runs.get(self.next + 1).is_some_and(|r| r.0 <= packed) {
            self.next += 1;
        }
        let (from, to) = self.runs.get(self.next).copied().unwrap_or_default();
        to + (packed - from)
    }
}

/// The expressions of a file without blanks and comments between tokens.
struct Packed {
    text: String,
    /// Where each run of text copied from one place starts: offset in
    /// `text`, offset in the file.
    runs: Vec<(usize, usize)>,
    /// The file offset the last run ends at: a copy that starts there
    /// extends it.
    copied_to: usize,
}

impl Packed {
    /// Copies `text[from..to]`.
    fn copy(&mut self, text: &str, from: usize, to: usize) -> Option<()> {
        if from != self.copied_to {
            self.runs.push((self.text.len(), from));
        }
        self.text.push_str(text.get(from..to)?);
        self.copied_to = to;
        Some(())
    }

    /// Copies the tokens of the expression at `start` (not a blank) and
    /// returns the offset after its last token, or `None` at anything the
    /// exact path must look at: a character that starts no token, a `##`
    /// inside brackets, a string that does not end on its line, an
    /// unbalanced bracket, nesting past [`MAX_DEPTH`], the end of the file
    /// inside brackets.
    fn expression(&mut self, text: &str, start: usize) -> Option<usize> {
        // Indexing under `i < len`: this runs over every byte of every
        // expression, and in a build script's unoptimised build each
        // `get` is a call.
        let bytes = text.as_bytes();
        let mut depth = 0usize;
        let mut i = start;
        loop {
            if i >= bytes.len() {
                return None;
            }
            match bytes[i] {
                b'\'' => {
                    let end = string_end(bytes, i)?;
                    self.copy(text, i, end)?;
                    i = end;
                }
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return None;
                    }
                    self.copy(text, i, i + 1)?;
                    i += 1;
                }
                b'}' | b']' if depth > 0 => {
                    depth -= 1;
                    self.copy(text, i, i + 1)?;
                    i += 1;
                }
                b',' | b':' if depth > 0 => {
                    self.copy(text, i, i + 1)?;
                    i += 1;
                }
                b't' if bytes[i..].starts_with(b"true") => {
                    self.copy(text, i, i + 4)?;
                    i += 4;
                }
                b'f' if bytes[i..].starts_with(b"false") => {
                    self.copy(text, i, i + 5)?;
                    i += 5;
                }
                b if depth > 0 && is_blank(b) => i += 1,
                b'#' if depth > 0 && bytes.get(i + 1) != Some(&b'#') => {
                    i = memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |n| i + n);
                }
                _ => return None,
            }
            if depth == 0 {
                return Some(i);
            }
        }
    }
}

/// The offset after the closing quote of the string whose opening quote
/// is at `start`, if it holds only printable ASCII and no backslash, as
/// every string in QEMU's schemas does. Others (an escape, a character
/// QEMU refuses, no closing quote on the line) are left to the exact path,
/// which decodes or reports them.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    // A byte loop rather than a search: strings are a dozen bytes long,
    // and each byte is checked anyway.
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => return Some(i + 1),
            b'\\' => return None,
            b' '..=b'~' => i += 1,
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::{Source, Tree, parse_exact};

    /// The file on the packed path (`None` where it is left to the exact
    /// path), and on the exact path (`None` where that finds an error).
    /// Trees compare with every position and doc line.
    fn both(src: &Source) -> (Option<Tree<'_>>, Option<Tree<'_>>) {
        (super::parse(src), parse_exact(src).ok())
    }

    fn source(text: &str) -> Source {
        Source::new("t.json".into(), text.into())
    }

    #[test]
    fn valid_files_take_the_packed_path_and_agree_with_the_exact_one() {
        for text in [
            "{ 'a': 'b' }",
            "# c\n{ 'a' : [ 'x' , true,false, {} ] } # t\n",
            "\t{\t'a'\r\n:\n# c ## d\n'b'}",
            "##\n# @foo:\n##\n{ 'a': 'b' }\n##\n# free\n##\n",
            "##\n# open\n{ 'a': 'b' }\n##\n# next\n##\n{ 'c': 'd' }",
            "{ 'a': 'b' } ## x\n##",
            "'x' true ['y']",
            "",
        ] {
            let src = source(text);
            let (packed, exact) = both(&src);
            assert!(packed.is_some(), "{text:?}");
            assert_eq!(packed, exact, "{text:?}");
        }
    }

    #[test]
    fn anything_else_is_left_to_the_exact_path() {
        for text in [
            // Tokens that blanks would join, or that are no tokens.
            "{ 'a': tr ue }",
            "{ 'a': truex }",
            "{ 'a': 1 }",
            "}",
            "{ 'a': 'b' }}",
            ", 'a'",
            // Valid, but with an escape: the exact path decodes it.
            "{ 'a': 'back\\\\slash' }",
            // Strings and comments the exact path must word.
            "{ 'a': 'open\n}",
            "{ 'a': 'b\\x' }",
            "{ 'a': 'b\u{7f}' }",
            "{ 'é': 'b' }",
            "{ 'a': [ ## x\n ] }",
            // Structure.
            "{ 'a' 'b' }",
            "{ 'a': 'b', }",
            "{ 'k': 'v', 'k': 'v' }",
            "{ 'a': [ 'b' ",
            &format!("{}'x'{}", "[".repeat(65), "]".repeat(65)),
        ] {
            assert!(super::parse(&source(text)).is_none(), "{text:?}");
        }
        // Nesting up to the limit is still packed.
        let deep = format!("{}'x'{}", "[".repeat(64), "]".repeat(64));
        let src = source(&deep);
        let (packed, exact) = both(&src);
        assert!(packed.is_some() && packed == exact);
    }

    /// Truncated and mutated copies of real files: wherever the packed
    /// path takes one, it agrees with the exact path.
    #[test]
    fn both_paths_agree_on_damaged_files() {
        let dir = qemu_test_support::shared().join("qemu/10.2/qapi");
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n.max(1) as u64) as usize
        };
        let pieces: &[&str] = &[
            "'", "{", "}", "[", "]", ",", ":", "#", "##", "\n", " ", "true", "x", "\\", "\u{e9}",
        ];
        let mut packed_taken = 0;
        for name in ["block-core.json", "ui.json", "common.json", "pragma.json"] {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (QEMU_SDK_SHARED?)", path.display()));
            for _ in 0..40 {
                let mut t = text.clone();
                for _ in 0..1 + next(3) {
                    let at = (0..=next(t.len()))
                        .rev()
                        .find(|&i| t.is_char_boundary(i))
                        .unwrap_or(0);
                    match next(3) {
                        0 => t.truncate(at),
                        1 => t.insert_str(at, pieces[next(pieces.len())]),
                        _ => {
                            let end = (at + 1..=t.len())
                                .find(|&i| t.is_char_boundary(i))
                                .unwrap_or(t.len());
                            t.replace_range(at..end, "");
                        }
                    }
                }
                assert!(super::super::paths_agree(&t), "{name}: {t:?}");
                packed_taken += usize::from(super::parse(&source(&t)).is_some());
            }
        }
        // Blanks, newlines and truncations after a whole expression leave
        // a file valid: the packed path was compared, not only skipped.
        assert!(packed_taken >= 20, "packed path took {packed_taken} of 160");
    }

    /// Every file of every schema in `../shared` (QEMU's releases and its
    /// test suite): where the packed path parses a file, it builds the same
    /// items at the same positions as the exact path; and it parses every
    /// file the exact path parses.
    #[test]
    fn both_paths_agree_on_qemus_schemas() {
        let shared = qemu_test_support::shared();
        let mut dirs = vec![shared.join("qapi-tests")];
        for release in ["7.2", "10.0", "10.2"] {
            for sub in ["qapi", "qga", "storage-daemon/qapi"] {
                dirs.push(shared.join("qemu").join(release).join(sub));
            }
        }
        dirs.push(shared.join("qemu/6.1-snapshot/qapi"));
        let mut files = 0;
        for dir in dirs {
            let entries = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{}: {e} (QEMU_SDK_SHARED?)", dir.display()));
            for entry in entries {
                let path = entry.expect("directory entry").path();
                if path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let src = source(&text);
                match both(&src) {
                    (Some(packed), exact) => assert_eq!(Some(packed), exact, "{}", path.display()),
                    (None, exact) => {
                        assert!(exact.is_none(), "{}: valid, not packed", path.display())
                    }
                }
                files += 1;
            }
        }
        assert!(files > 300, "only {files} schema files read");
    }
}
