//! Each fixture schema in `tests/fixtures/` sits next to the Rust the
//! generator writes for it. This test regenerates and diffs them;
//! `UPDATE_EXPECT=1` rewrites them. `qmp-types/tests/snapshots.rs` compiles
//! them.

#[test]
fn snapshots_are_fresh() {
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let fixtures = qapi_codegen::fixtures();
    assert!(fixtures.len() >= 2, "fixtures missing");
    let mut stale = Vec::new();
    for schema in fixtures {
        let expect_path = schema.with_extension("rs");
        let actual = qapi_codegen::fixture(&schema).unwrap();
        let expected = std::fs::read_to_string(&expect_path).unwrap_or_default();
        if actual != expected {
            if update {
                std::fs::write(&expect_path, &actual).unwrap();
            } else {
                let first = actual
                    .lines()
                    .zip(expected.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(actual.lines().count().min(expected.lines().count()));
                stale.push(format!(
                    "{} differs from line {}: got `{}`",
                    expect_path.display(),
                    first + 1,
                    actual.lines().nth(first).unwrap_or("<end>")
                ));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale snapshots (review, then UPDATE_EXPECT=1 cargo test -p qapi-codegen):\n{}",
        stale.join("\n")
    );
}
