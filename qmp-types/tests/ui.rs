//! What callers write compiles; what they get wrong does not, with a
//! readable error (see `tests/ui/*.stderr`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass-*.rs");
    t.compile_fail("tests/ui/fail-*.rs");
}
