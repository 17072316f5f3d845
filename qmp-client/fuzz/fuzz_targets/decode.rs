//! Fuzzes the QMP wire decoder: line framing with a small size limit and
//! message classification, over arbitrarily chunked input.
//!
//! Run with `cargo +nightly fuzz run decode` from `qmp-client/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    qmp_client::__private::fuzz_decode(data);
});
