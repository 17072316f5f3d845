//! The generated API through the client, as callers write it: what must
//! compile does, and what is wrong fails with a readable error (see
//! `tests/ui/*.stderr`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass-*.rs");
    t.compile_fail("tests/ui/fail-*.rs");
}
