//! Truncated and mutated real schemas: the parser never panics and every
//! rejection points at a line of a file it read. Every other input is read
//! with QEMU 10.2's doc rules, so that both readings of doc comments (and
//! the scanner that splits them out) are exercised.

use std::collections::BTreeMap;

use qapi_parser::Options;

/// A small deterministic PRNG (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The files of one real schema tree, by the path the parser asks for.
/// Each mutated file is parsed as the root (with its includes): that reaches
/// every rule at a fraction of the cost of the whole schema.
fn corpus() -> (String, BTreeMap<String, String>) {
    let dir = qemu_test_support::shared().join("qemu/10.2/qapi");
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("10.2 qapi dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("readable");
            files.insert(path.to_string_lossy().into_owned(), text);
        }
    }
    let root = dir.join("qapi-schema.json").to_string_lossy().into_owned();
    (root, files)
}

/// The options for the `n`th input: the default and 10.2's rules in turn.
fn options(n: usize) -> Options {
    if n.is_multiple_of(2) {
        Options::default()
    } else {
        Options::qemu_10_2()
    }
}

/// Parses `root` with `files` as the file system; asserts the outcome is a
/// schema or an error located in one of the files, within its lines.
fn parse_checked(root: &str, files: &BTreeMap<String, String>, options: &Options, what: &str) {
    let mut read = |p: &str| {
        files
            .get(p)
            .cloned()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    };
    let Err(e) = qapi_parser::parse_with(root, options, &mut read) else {
        return;
    };
    if e.message.starts_with("can't read") {
        return;
    }
    let text = files
        .get(&*e.loc.file)
        .unwrap_or_else(|| panic!("{what}: error names an unknown file:\n{e}"));
    let lines = text.lines().count().max(1) as u32;
    assert!(
        e.loc.line >= 1 && e.loc.line <= lines + 1 && e.loc.col >= 1,
        "{what}: error outside the file ({lines} lines):\n{e}"
    );
    let rendered = e.to_string();
    assert!(
        rendered.starts_with(&format!("{}:{}:{}: ", e.loc.file, e.loc.line, e.loc.col)),
        "{what}: first line is not path:line:col: {rendered}"
    );
}

const NOISE: [&str; 19] = [
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "'",
    "\\",
    "#",
    "##\n",
    "\n",
    "true",
    "1",
    "é",
    "\t",
    "@x:",
    "  ",
    "\n#   ",
    "\n# @y: z\n#     w\n",
];

#[test]
fn truncated_files_give_located_errors() {
    let (_, files) = corpus();
    let names: Vec<String> = files.keys().cloned().collect();
    for name in &names {
        let text = &files[name];
        for k in 1..=12 {
            let mut cut = text.len() * k / 13;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let mut mutated = files.clone();
            mutated.insert(name.clone(), text[..cut].to_owned());
            parse_checked(name, &mutated, &options(k), &format!("{name} cut at {cut}"));
        }
    }
}

#[test]
fn mutated_files_give_located_errors() {
    let (root, files) = corpus();
    // The corpus itself is valid, so every rejection below is the mutation's.
    let mut read = |p: &str| {
        files
            .get(p)
            .cloned()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    };
    for n in 0..2 {
        if let Err(e) = qapi_parser::parse_with(&root, &options(n), &mut read) {
            panic!("unmutated corpus rejected with {:?}:\n{e}", options(n));
        }
    }
    let names: Vec<String> = files.keys().cloned().collect();
    let mut rng = Rng(0x005e_ed0f_9a91);
    for round in 0..600 {
        let name = &names[rng.below(names.len())];
        let mut text = files[name].clone();
        for _ in 0..1 + rng.below(3) {
            let mut at = rng.below(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match rng.below(3) {
                0 => text.insert_str(at, NOISE[rng.below(NOISE.len())]),
                1 => {
                    let mut end = (at + 1 + rng.below(40)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(at..end, "");
                }
                _ => {
                    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
                    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i + 1);
                    let line = text[line_start..line_end].to_owned();
                    text.insert_str(line_start, &line);
                }
            }
        }
        let mut mutated = files.clone();
        mutated.insert(name.clone(), text);
        parse_checked(
            name,
            &mutated,
            &options(round),
            &format!("round {round}, {name}"),
        );
    }
}
