//! Fuzzes the whole parser: grammar, checks and doc comments. The input is
//! the root file; it may include `a.json` and `b.json`, which are the two
//! halves of the input, so include handling is reached too.
//!
//! Run with `RUSTC_BOOTSTRAP=1 cargo fuzz run parse --sanitizer none` from
//! `qapi-parser/` (or `cargo +nightly fuzz run parse`); seed the corpus
//! with real schemas (e.g. `cp ../../shared/qemu/10.2/qapi/*.json
//! fuzz/corpus/parse/`) for deep coverage.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The syntax layer's packed path (valid files) builds what its exact
    // path builds, and leaves every error to it. (`cargo fuzz` builds with
    // `--cfg fuzzing`; a plain `cargo check` of this crate does not.)
    #[cfg(fuzzing)]
    assert!(qapi_parser::fuzz_syntax_paths_agree(text));
    let mid = text.len() / 2;
    let split = (0..=mid)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let (a, b) = text.split_at(split);
    let mut read = |path: &str| match path {
        "root.json" => Ok(text.to_owned()),
        "a.json" => Ok(a.to_owned()),
        "b.json" => Ok(b.to_owned()),
        _ => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    };
    // Both readings of doc comments: the default, and QEMU 10.2's rules
    // for inputs of odd length.
    let options = if !text.len().is_multiple_of(2) {
        qapi_parser::Options::qemu_10_2()
    } else {
        qapi_parser::Options::default()
    };
    if let Err(e) = qapi_parser::parse_with("root.json", &options, &mut read) {
        // Every error names a place in a file that was read.
        assert!(e.loc.line >= 1 || e.message.starts_with("can't read"));
    }
});
