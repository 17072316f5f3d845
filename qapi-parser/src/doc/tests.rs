use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;

fn loc(line: u32, col: u32) -> Loc {
    Loc {
        file: "t.json".into(),
        line,
        col,
    }
}

fn doc_line(text: &str, loc: Loc) -> DocLine<'_> {
    DocLine {
        text,
        line: loc.line,
        col: loc.col,
    }
}

/// Splits `input` (lines separated by `|`) into doc lines; the block is
/// closed if its last line starts with `##`.
fn lines(input: &str) -> (Vec<DocLine<'_>>, bool, Loc) {
    let v: Vec<DocLine<'_>> = input
        .split('|')
        .zip(1..)
        .map(|(text, n)| DocLine {
            text,
            line: n,
            col: 1,
        })
        .collect();
    let closed = v.len() > 1 && v.last().is_some_and(|l| l.text.starts_with("##"));
    let n = v.len() as u32;
    (v, closed, loc(n + 1, 1))
}

/// A compact rendering of a doc or error, one item per `; `.
fn render(r: Result<Doc, Error>) -> String {
    let doc = match r {
        Ok(doc) => doc,
        Err(e) => return format!("{}:{}: {}", e.loc.line, e.loc.col, e.message),
    };
    let esc = |s: &str| s.replace('\n', "/");
    let mut out = Vec::new();
    if let Some(s) = &doc.symbol {
        out.push(format!("sym={s}"));
    }
    if !doc.body.is_empty() {
        out.push(format!("body={}", esc(&doc.body)));
    }
    for m in &doc.members {
        out.push(format!("@{}[{}]={}", m.name, m.loc.line, esc(&m.text)));
    }
    for f in &doc.features {
        out.push(format!("feat {}[{}]={}", f.name, f.loc.line, esc(&f.text)));
    }
    for s in &doc.sections {
        let kind = serde_json::to_value(s.kind).unwrap_or_default();
        let kind = kind.as_str().unwrap_or("?").to_owned();
        out.push(format!("{kind}[{}]={}", s.loc.line, esc(&s.text)));
    }
    for e in &doc.examples {
        let mut s = format!("ex[{}]", e.loc.line);
        if let Some(t) = &e.title {
            s.push_str(&format!(" {t:?}"));
        }
        for m in &e.messages {
            let d = match m.direction {
                Direction::Send => "->",
                Direction::Receive => "<-",
            };
            s.push_str(&format!(
                " {d}{}:{} {}",
                m.loc.line,
                m.loc.col,
                esc(&m.json)
            ));
        }
        out.push(s);
    }
    out.join("; ")
}

#[track_caller]
fn check_with(style: DocStyle, input: &str, expect: &str) {
    let (v, closed, end) = lines(input);
    let got = render(parse_doc_with(&v, closed, &end, style));
    assert_eq!(got, expect, "input: {input}");
}

#[track_caller]
fn check(input: &str, expect: &str) {
    check_with(DocStyle::default(), input, expect);
}

/// The byte-wise helpers agree with what they replace: `indent` with
/// counting leading spaces and tabs one by one, the trims with `str`'s,
/// whose whitespace goes beyond ASCII.
#[test]
fn byte_helpers_match_their_definitions() {
    let samples = [
        "",
        "x",
        " ",
        "   x",
        "       x",
        "        x",
        "         x",
        "\t x",
        "        \t  x",
        "\t        x",
        "                ",
        "        ",
        "x  ",
        "x \r",
        "x\r\n\x0b\x0c",
        "x\u{a0}",
        "x \u{3000} ",
        "\u{a0}x",
        "\u{2003}-> {}",
        " \r x",
        "é ",
        " é",
        "\u{85}x\u{85}",
    ];
    for s in samples {
        let blanks = s.bytes().take_while(|&b| b == b' ' || b == b'\t').count();
        assert_eq!(indent(s), blanks, "indent({s:?})");
        assert_eq!(trim_end(s), s.trim_end(), "trim_end({s:?})");
        let ln = Ln {
            text: s,
            idx: 0,
            off: 0,
            ind: indent(s),
        };
        assert_eq!(trim_blanks_start(ln), s.trim_start(), "trim_start({s:?})");
    }
}

#[test]
fn doc_grammar() {
    // Free-form documentation.
    check("##|##", "");
    check("##|# = Heading|#|# text|##", "body== Heading//text");
    check("##|# text|# = late|##", "body=text/= late");
    check(
        "##|# freeform|# @note: foo|##",
        "3:1: '@note:' not allowed in free-form documentation",
    );
    check("##|# text|# @var {x}|##", "body=text/@var {x}");
    check("##|# @var {x}|##", "2:1: line should end with ':'");
    check(
        "##|#|# @foo:|##",
        "3:1: '@foo:' not allowed in free-form documentation",
    );
    // Opening, closing and line prefix.
    check(
        "## x|##",
        "1:1: junk after '##' at start of documentation comment",
    );
    check(
        "##|#|## x",
        "3:1: junk after '##' at end of documentation comment",
    );
    check(
        "##|# text|#",
        "4:1: documentation comment must end with '##'",
    );
    check("##|# a|#b|##", "3:1: missing space after #");
    check("##|#\tb|##", "2:1: missing space after #");
    check("##|# text   |##", "body=text");
    // The symbol line.
    check("##|# @foo:|##", "sym=foo");
    check("##|# @foo|##", "2:1: line should end with ':'");
    check("##|# @:|##", "2:1: name required after '@'");
    check("##|# @foo: x|##", "2:1: line should end with ':'");
    check(
        "##|# @foo:|# = Head|##",
        "3:1: unexpected '=' markup in definition documentation",
    );
    // Body, members, features.
    check(
        "##|# @foo:|#|# Intro.|#|# More.|##",
        "sym=foo; body=Intro.//More.",
    );
    check(
        "##|# @foo:|# @a: one|# @b: two|##",
        "sym=foo; @a[3]=one; @b[4]=two",
    );
    check(
        "##|# @foo:|# @a:|#     one|#     two|##",
        "sym=foo; @a[3]=one/two",
    );
    check(
        "##|# @foo:|# @a: one|#     two|#|#     three|##",
        "sym=foo; @a[3]=one/two//three",
    );
    check(
        "##|# @foo:|# @a: one|#       two|##",
        "sym=foo; @a[3]=one/two",
    );
    check("##|# @foo:|# @a: one|# two|##", "sym=foo; @a[3]=one/two");
    check(
        "##|# @foo:|# @a: one|#|# two|##",
        "sym=foo; @a[3]=one; plain[5]=two",
    );
    check(
        "##|# @foo:|# @a: one|#|# two|#|# @b: x|##",
        "7:1: description of '@b:' follows a section",
    );
    check("##|# @foo:|# @:|##", "3:1: invalid parameter name");
    check(
        "##|# @foo:|# @a: x|# @a: y|##",
        "4:1: 'a' parameter name duplicated",
    );
    check("##|# @foo:|# @a:|##", "sym=foo; @a[3]=");
    check("##|# @foo:|# @a : x|##", "sym=foo; @a [3]=x");
    check("##|# @foo:|# Intro|# @a: x|##", "sym=foo; body=Intro/@a: x");
    check(
        "##|# @foo:|#|# Features:|# @f: x|#|# @g:|#     y|##",
        "sym=foo; feat f[5]=x; feat g[7]=y",
    );
    check(
        "##|# @foo:|#|# Features:|#|# @f: x|##",
        "sym=foo; feat f[6]=x",
    );
    check(
        "##|# @foo:|#|# Features:|#|# not a description|##",
        "6:1: feature descriptions expected",
    );
    check(
        "##|# @foo:|#|# Features:|##",
        "5:1: feature descriptions expected",
    );
    check(
        "##|# @foo:|# Features:|# @f: x|#|# Features:|##",
        "6:1: duplicated 'Features:' line",
    );
    check(
        "##|# @foo:|# Features:|# @f: x|# @f: y|##",
        "5:1: 'f' parameter name duplicated",
    );
    check(
        "##|# @foo:|# @a: x|# Features:|# @a: y|##",
        "sym=foo; @a[3]=x; feat a[5]=y",
    );
    // Tagged sections.
    check(
        "##|# @foo:|# Returns: x|# Since: 1.0|##",
        "sym=foo; returns[3]=x; since[4]=1.0",
    );
    check(
        "##|# @foo:|# Since: 1.0|#|# Since: 2|##",
        "5:1: duplicated 'Since' section",
    );
    check(
        "##|# @foo:|# Returns: 0|#|# Returns: 1|##",
        "5:1: duplicated 'Returns' section",
    );
    check(
        "##|# @foo:|# Errors: a|# Errors: b|##",
        "4:1: duplicated 'Errors' section",
    );
    check(
        "##|# @foo:|#|# Errors:|##",
        "4:1: text required after 'Errors:'",
    );
    check("##|# @foo:|# TODO:|##", "3:1: text required after 'Todo:'");
    check(
        "##|# @foo:|# Errors:|#     - a|#     - b|##",
        "sym=foo; errors[3]=- a/- b",
    );
    check("##|# @foo:|# TODO: x|#     y|##", "sym=foo; todo[3]=x/y");
    check("##|# @foo:|# Since:1.0|##", "sym=foo; since[3]=1.0");
    check("##|# @foo:|# since: 7.1|##", "sym=foo; body=since: 7.1");
    check("##|# @foo:|# Since : 7.1|##", "sym=foo; body=Since : 7.1");
    check(
        "##|# @foo:|# Intro|# Since: 1|##",
        "sym=foo; body=Intro/Since: 1",
    );
    check(
        "##|# @foo:|# TODO: x|#|# @b: y|##",
        "5:1: description of '@b:' follows a section",
    );
    check(
        "##|# @foo:|# Since: 1|#|# para|#|# Returns: x|##",
        "sym=foo; since[3]=1; plain[5]=para; returns[7]=x",
    );
    check(
        "##|# @foo:|# Returns: x|#|# para|#|# Since: 1|##",
        "sym=foo; returns[3]=x; plain[5]=para; since[7]=1",
    );
    check(
        "##|# @foo:|# Returns: - a|#          - b|# Notes: c|##",
        "sym=foo; returns[3]=- a/- b; note[5]=c",
    );
    check("##|# @foo:|# Note:: x|##", "sym=foo; body=Note:: x");
    // Older releases' Note/Example sections run to the next tag.
    check(
        "##|# @foo:|# Notes: a|#|# b|# Since: 1|##",
        "sym=foo; note[3]=a//b; since[6]=1",
    );
    check("##|# @foo:|# Note:|##", "3:1: text required after 'Note:'");
    check(
        "##|# @foo:|# Example:|#|# -> { \"execute\": \"x\",|#      \"arguments\": {} }|# <- { \"return\": {} }|#|# text|#|# <- {|#      \"a\": 1 }|##",
        "sym=foo; example[3]=-> { \"execute\": \"x\",/     \"arguments\": {} }/<- { \"return\": {} }//text//<- {/     \"a\": 1 }; ex[3] ->5:3 { \"execute\": \"x\",/  \"arguments\": {} } <-7:3 { \"return\": {} } <-11:3 {/  \"a\": 1 }",
    );
    check(
        "##|# @foo:|# Example: -> \"a\"|##",
        "sym=foo; example[3]=-> \"a\"; ex[3] ->3:12 \"a\"",
    );
    check(
        "##|# @foo:|# Examples:|# ->|#    { }|##",
        "sym=foo; example[3]=->/   { }; ex[3] ->4:3 { }",
    );
    // rST directives.
    check(
        "##|# @foo:|# @a: x|#|# .. note:: n1|#    n2|#|# after|##",
        "sym=foo; @a[3]=x; note[5]=n1/n2; plain[8]=after",
    );
    check(
        "##|# @foo:|# Since: 1|#|# .. qmp-example::|#|#     -> { \"execute\": \"x\" }|#     <- { \"return\": {} }|##",
        "sym=foo; since[3]=1; example[5]=-> { \"execute\": \"x\" }/<- { \"return\": {} }; ex[5] ->7:7 { \"execute\": \"x\" } <-8:7 { \"return\": {} }",
    );
    check(
        "##|# @foo:|# Since: 1|#|# .. qmp-example::|#    :annotated:|#    :title: T t|#|#    Text::|#|#     -> \"a\"|#|#    More.|#|# Tail|##",
        "sym=foo; since[3]=1; example[5]=Text::// -> \"a\"//More.; plain[15]=Tail; ex[5] \"T t\" ->11:7 \"a\"",
    );
    check(
        "##|# @foo:|# Since: 1|#|# .. qmp-example::|#|#     <- { \"return\": [|#          ...|#        ] }|##",
        "sym=foo; since[3]=1; example[5]=<- { \"return\": [/     .../   ] }; ex[5] <-7:7 { \"return\": [/  .../] }",
    );
    check(
        "##|# @foo:|#|# .. qmp-example::|#|#     -> \"x\"|##",
        "sym=foo; body=.. qmp-example:://    -> \"x\"; ex[4] ->6:7 \"x\"",
    );
    check(
        "##|# @foo:|# Since: 1|#|# Examples::|#|#  -> x|##",
        "sym=foo; since[3]=1; plain[5]=Examples::// -> x",
    );
}

#[test]
fn description_indentation() {
    // The first continuation line sets the indentation; the next line,
    // unless blank, may not be indented less. Members, features and
    // tagged sections alike, in every release's reading.
    for style in [DocStyle::default(), DocStyle::STRICT] {
        check_with(
            style,
            "##|# @foo:|# @a: one|#     two|#   three|##",
            "5:1: unexpected de-indent (expected at least 4 spaces)",
        );
        check_with(
            style,
            "##|# @foo:|# @a: one|#   two|# three|##",
            "5:1: unexpected de-indent (expected at least 2 spaces)",
        );
        check_with(
            style,
            "##|# @foo:|# @a:|#|#    two|#  three|##",
            "6:1: unexpected de-indent (expected at least 3 spaces)",
        );
        check_with(
            style,
            "##|# @foo:|# Features:|# @f: x|#    y|#  z|##",
            "6:1: unexpected de-indent (expected at least 3 spaces)",
        );
        check_with(
            style,
            "##|# @foo:|# Returns: x|#     y|#   z|##",
            "5:1: unexpected de-indent (expected at least 4 spaces)",
        );
        check_with(
            style,
            "##|# @foo:|# @a: one|#     two|#   @b: x|##",
            "5:1: unexpected de-indent (expected at least 4 spaces)",
        );
        // A blank line between, or a description next, is no de-indent.
        check_with(
            style,
            "##|# @foo:|# @a: one|#     two|#|# three|##",
            "sym=foo; @a[3]=one/two; plain[6]=three",
        );
        check_with(
            style,
            "##|# @foo:|# @a: one|#     two|# @b: x|##",
            "sym=foo; @a[3]=one/two; @b[5]=x",
        );
        check_with(
            style,
            "##|# @foo:|# @a: one|#     two|#       three|##",
            "sym=foo; @a[3]=one/two/  three",
        );
    }
    // Later on, 10.2 ends the description at a line indented less; older
    // releases' schemas line continuations up with the text after
    // `@name: ` and go on.
    check_with(
        DocStyle::STRICT,
        "##|# @foo:|# @a: one|#     two|#     three|#   four|##",
        "sym=foo; @a[3]=one/two/three; plain[6]=four",
    );
    check(
        "##|# @foo:|# @a: one|#     two|#     three|#   four|##",
        "sym=foo; @a[3]=one/  two/  three/four",
    );
    // So do they at a line that starts another section; 10.2 does not.
    check_with(
        DocStyle::STRICT,
        "##|# @foo:|# Returns: - a|#          - b|# Since: 1|##",
        "5:1: unexpected de-indent (expected at least 9 spaces)",
    );
    check(
        "##|# @foo:|# Returns: - a|#          - b|# Since: 1|##",
        "sym=foo; returns[3]=- a/- b; since[5]=1",
    );
}

#[test]
fn sections_of_10_2() {
    let strict = DocStyle::STRICT;
    // An unindented line right after `@name: text` ends the description.
    check_with(
        strict,
        "##|# @foo:|# @a: one|# two|##",
        "sym=foo; @a[3]=one; plain[4]=two",
    );
    // Members and features need text.
    check_with(
        strict,
        "##|# @foo:|# @a:|##",
        "3:1: text required after 'Member:'",
    );
    check_with(
        strict,
        "##|# @foo:|# Features:|# @f:|##",
        "4:1: text required after 'Feature:'",
    );
    check_with(strict, "##|# @foo:|# @a:|#   x|##", "sym=foo; @a[3]=x");
    // The old Note and Example sections are gone.
    check_with(
        strict,
        "##|# @foo:|# Notes: x|##",
        "3:1: The 'Notes' section is no longer supported",
    );
    check_with(
        strict,
        "##|# @foo:|# Example: x|##",
        "3:1: The 'Example' section is no longer supported",
    );
    check_with(strict, "##|# @foo:|# Note:: x|##", "sym=foo; body=Note:: x");
}

#[test]
fn doc_style() {
    let strict = DocStyle::STRICT;
    let long = format!("##|# @foo:|# {}|##", "x".repeat(69));
    check_with(
        strict,
        &long,
        "3:1: documentation line longer than 70 characters",
    );
    let ok = format!("##|# @foo:|# {}|##", "x".repeat(68));
    check_with(strict, &ok, &format!("sym=foo; body={}", "x".repeat(68)));
    let url = format!("##|# @foo:|#   https://{}|##", "x".repeat(80));
    check_with(
        strict,
        &url,
        &format!("sym=foo; body=https://{}", "x".repeat(80)),
    );
    check_with(
        strict,
        "##|# A. B|##",
        "2:5: Use two spaces between sentences",
    );
    check_with(strict, "##|# A.  B|##", "body=A.  B");
    check_with(strict, "##|# e.g. Foo|##", "body=e.g. Foo");
    check_with(strict, "##|# 1. Foo|##", "body=1. Foo");
    check_with(strict, "##|#   2. Foo|##", "body=2. Foo");
    check_with(
        strict,
        "##|# 10. Foo|##",
        "2:6: Use two spaces between sentences",
    );
    check_with(strict, "##|# a. b|##", "body=a. b");
    check_with(
        strict,
        "##|# Why? (Because)|##",
        "2:7: Use two spaces between sentences",
    );
    check("##|# A. B|##", "body=A. B");
}

#[test]
fn layout_rules_skip_literal_blocks_as_qemu_does() {
    let strict = DocStyle::STRICT;
    let x = "x".repeat(69);
    // A literal block opens at a line that is just `::` or
    // `.. qmp-example::`; its lines are not checked.
    for opener in ["::", "  ::", ".. qmp-example::", "..  qmp-example ::"] {
        let input = format!("##|# {opener}|#|#    {x}|#    A. B|##");
        let (v, closed, end) = lines(&input);
        let got = parse_doc_with(&v, closed, &end, strict);
        assert!(got.is_ok(), "{input}: {got:?}");
    }
    // Text ending in `::`, other directives and openers with more on the
    // line open none.
    for opener in [
        "Text::",
        ".. code-block::",
        ".. qmp-example:: x",
        "..qmp-example::",
    ] {
        check_with(
            strict,
            &format!("##|# {opener}|#|#    {x}|##"),
            "4:1: documentation line longer than 70 characters",
        );
    }
    // The first line sets the block's indentation; a line indented less
    // ends it and is checked.
    check_with(
        strict,
        &format!("##|# ::|#|#    a|#      {x}|#   {x}|##"),
        "6:1: documentation line longer than 70 characters",
    );
}

fn target<'a>(meta: &'a str, loc: &'a Loc, members: &[&'a str]) -> DocTarget<'a> {
    DocTarget {
        meta,
        name: "foo",
        loc,
        members: members.to_vec(),
        features: Vec::new(),
        has_returns: false,
        doc_required: false,
        exception: false,
        strict: true,
    }
}

#[track_caller]
fn check_target(input: &str, t: &DocTarget<'_>, expect: &str) {
    let (v, closed, end) = lines(input);
    let doc = match parse_doc(&v, closed, &end) {
        Ok(doc) => doc,
        Err(e) => panic!("{input}: {e}"),
    };
    let got = match check_doc(&doc, t) {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("{}: {}", e.loc.line, e.message),
    };
    assert_eq!(got, expect, "input: {input}");
}

#[test]
fn doc_checks() {
    let def = loc(20, 1);
    let floc = loc(21, 3);
    let t = target("command", &def, &["a"]);
    check_target("##|# @foo:|# @a: a|##", &t, "ok");
    check_target(
        "##|# @foo:|# @a: a|# @b: b|##",
        &t,
        "4: documented member 'b' does not exist",
    );
    let t2 = target("alternate", &def, &["a", "b"]);
    check_target(
        "##|# @foo:|# @a: a|# @b: b|# @aa: a|# @bb: b|##",
        &t2,
        "5: documented members 'aa', 'bb' do not exist",
    );
    check_target(
        "##|# @bar:|##",
        &t,
        "20: documentation comment is for 'bar'",
    );
    check_target("##|# text|##", &t, "1: definition documentation required");
    check_target(
        "##|# @foo:|# Returns: x|##",
        &t,
        "3: 'Returns' section, but command doesn't return anything",
    );
    let with_returns = DocTarget {
        has_returns: true,
        ..target("command", &def, &[])
    };
    check_target(
        "##|# @foo:|# Returns: x|# Errors: y|##",
        &with_returns,
        "ok",
    );
    let st = target("struct", &def, &[]);
    check_target(
        "##|# @foo:|# Returns: x|##",
        &st,
        "3: 'Returns' section is only valid for commands",
    );
    check_target(
        "##|# @foo:|# Errors: x|##",
        &st,
        "3: 'Errors' section is only valid for commands",
    );
    check_target(
        "##|# @foo:|#|# Features:|# @a: a|##",
        &st,
        "5: documented feature 'a' does not exist",
    );
    let feats = DocTarget {
        features: vec![("undoc", &floc), ("doc", &floc)],
        ..target("command", &def, &[])
    };
    check_target(
        "##|# @foo:|#|# Features:|# @doc: d|##",
        &feats,
        "21: feature 'undoc' lacks documentation",
    );
    // Undocumented members: only with doc-required, and not for exceptions.
    let e = target("enum", &def, &["one", "two"]);
    check_target("##|# @foo:|# @one: x|##", &e, "ok");
    let req = DocTarget {
        doc_required: true,
        ..target("enum", &def, &["one", "two"])
    };
    check_target(
        "##|# @foo:|# @one: x|##",
        &req,
        "20: value 'two' lacks documentation",
    );
    let alt = DocTarget {
        doc_required: true,
        ..target("alternate", &def, &["i", "b"])
    };
    check_target(
        "##|# @foo:|# @i: x|##",
        &alt,
        "20: branch 'b' lacks documentation",
    );
    let exc = DocTarget {
        exception: true,
        ..req.clone()
    };
    check_target("##|# @foo:|# @one: x|##", &exc, "ok");
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "json") {
            out.push(path);
        }
    }
    out.sort();
}

/// The column of byte `at` of `line`, tabs advancing to the next multiple
/// of 8 (plus one).
fn col_of(line: &str, at: usize) -> u32 {
    let mut col = 1;
    for c in line.get(..at).unwrap_or("").chars() {
        col = if c == '\t' {
            (col - 1) / 8 * 8 + 9
        } else {
            col + 1
        };
    }
    col
}

struct Block<'a> {
    lines: Vec<DocLine<'a>>,
    closed: bool,
    end: Loc,
}

/// Extracts the `##` blocks of a schema file the way QEMU's lexer sees
/// them: a block starts at a comment starting with `##` and ends at the next
/// one; blank lines inside are skipped, anything else cuts it short.
fn blocks<'a>(file: &str, src: &'a str) -> Vec<Block<'a>> {
    let text: Vec<&str> = src.split('\n').collect();
    let n = text.len();
    let at = |i: usize| {
        let l = text.get(i).copied().unwrap_or("");
        let t = l.trim_start_matches([' ', '\t']);
        (t, col_of(l, l.len() - t.len()))
    };
    let mk = |i: usize, col: u32| Loc {
        file: file.into(),
        line: i as u32 + 1,
        col,
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let (t, col) = at(i);
        if !t.starts_with("##") {
            i += 1;
            continue;
        }
        let mut lines = vec![doc_line(t, mk(i, col))];
        let mut j = i + 1;
        let (closed, end) = loop {
            if j >= n || (j + 1 == n && text.get(j).is_some_and(|l| l.is_empty())) {
                // End of file: QEMU points just past the last line's text.
                let last = j.saturating_sub(1);
                let len = text.get(last).map_or(0, |l| l.len());
                break (
                    false,
                    mk(last, col_of(text.get(last).copied().unwrap_or(""), len)),
                );
            }
            let (u, ucol) = at(j);
            j += 1;
            if u.trim().is_empty() {
                continue;
            }
            if u.starts_with('#') {
                lines.push(doc_line(u, mk(j - 1, ucol)));
                if u.starts_with("##") {
                    break (true, mk(j - 1, ucol));
                }
                continue;
            }
            break (false, mk(j - 1, ucol));
        };
        out.push(Block { lines, closed, end });
        i = j;
    }
    out
}

#[derive(Default, Debug)]
struct Counts {
    docs: usize,
    examples: usize,
    send: usize,
    receive: usize,
    json_ok: usize,
}

#[test]
fn doc_real_schemas() {
    let root = qemu_test_support::shared().join("qemu");
    let mut files = Vec::new();
    json_files(&root, &mut files);
    assert!(
        files.len() > 100,
        "too few schema files under {}",
        root.display()
    );
    let mut failures = Vec::new();
    let mut strict_failures: BTreeMap<String, usize> = BTreeMap::new();
    let mut counts: BTreeMap<String, Counts> = BTreeMap::new();
    for path in &files {
        let src =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let rel = path.strip_prefix(&root).unwrap_or(path);
        let name = rel.display().to_string();
        let mut parts = rel.iter().map(|p| p.to_string_lossy().into_owned());
        let release = parts.next().unwrap_or_default();
        let area = parts.next().unwrap_or_default();
        for b in blocks(&name, &src) {
            let doc = match parse_doc(&b.lines, b.closed, &b.end) {
                Ok(doc) => doc,
                Err(e) => {
                    failures.push(e.to_string());
                    continue;
                }
            };
            if parse_doc_with(&b.lines, b.closed, &b.end, DocStyle::STRICT).is_err() {
                *strict_failures.entry(release.clone()).or_default() += 1;
            }
            let key = format!("{release} {area}");
            let c = counts.entry(key).or_default();
            c.docs += 1;
            c.examples += doc.examples.len();
            for m in doc.examples.iter().flat_map(|e| &e.messages) {
                match m.direction {
                    Direction::Send => c.send += 1,
                    Direction::Receive => c.receive += 1,
                }
                if serde_json::from_str::<serde_json::Value>(&m.json).is_ok() {
                    c.json_ok += 1;
                }
            }
        }
    }
    for (key, c) in &counts {
        println!(
            "{key}: {} docs, {} examples, {} sent, {} received, {} valid JSON",
            c.docs, c.examples, c.send, c.receive, c.json_ok
        );
    }
    println!("blocks breaking 10.2's layout rules, by release: {strict_failures:?}");
    assert!(
        failures.is_empty(),
        "{} blocks rejected:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for release in ["7.2", "10.0", "10.2"] {
        let c = counts
            .get(&format!("{release} qapi"))
            .unwrap_or_else(|| panic!("no {release} qapi schema"));
        // About 200 of each per release (QEMU's own count of `-> ` lines).
        assert!(c.send >= 180, "{release}: only {} sent messages", c.send);
        assert!(
            c.receive >= 220,
            "{release}: only {} received messages",
            c.receive
        );
        assert!(
            c.json_ok * 100 >= (c.send + c.receive) * 90,
            "{release}: too little valid JSON"
        );
    }
    assert_eq!(
        strict_failures.get("10.2"),
        None,
        "10.2 breaks its own layout rules"
    );
}

#[test]
fn doc_qapi_tests() {
    let dir = qemu_test_support::shared().join("qapi-tests");
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    let mut seen = 0;
    for path in files.iter().filter(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("doc-"))
    }) {
        seen += 1;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let src = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let err = std::fs::read_to_string(path.with_extension("err"))
            .unwrap_or_else(|e| panic!("{name}.err: {e}"));
        // The first line naming a position: `file:line[:col]: message`.
        let expect = err.lines().find_map(|l| {
            let rest = l.strip_prefix(&name)?.strip_prefix(':')?;
            let (line, rest) = rest.split_once(':')?;
            let line: u32 = line.parse().ok()?;
            match rest.split_once(':') {
                Some((col, msg)) if col.parse::<u32>().is_ok() => {
                    Some((line, col.parse::<u32>().ok(), msg.trim().to_owned()))
                }
                _ => Some((line, None, rest.trim().to_owned())),
            }
        });
        let got = blocks(&name, &src)
            .iter()
            .find_map(|b| parse_doc_with(&b.lines, b.closed, &b.end, DocStyle::STRICT).err());
        match (got, expect) {
            (None, Some((line, Some(col), msg))) => {
                panic!("{name}: accepted, QEMU reports {line}:{col}: {msg}")
            }
            (None, _) => {}
            (Some(e), Some((line, col, msg))) => {
                assert_eq!(e.loc.line, line, "{name}: {e}");
                if let Some(col) = col {
                    assert_eq!(e.loc.col, col, "{name}: {e}");
                }
                assert_eq!(e.message, msg.lines().next().unwrap_or(""), "{name}");
            }
            (Some(e), None) => panic!("{name}: rejected, QEMU accepts: {e}"),
        }
    }
    assert!(seen >= 25, "only {seen} doc-*.json tests found");
}
