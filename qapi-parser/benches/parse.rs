//! Parse and check QEMU 10.2's QMP schema (all 40-odd files it includes),
//! read from memory so that the figure is the parser's alone.
//!
//! `cargo bench -p qapi-parser --bench parse`

use std::collections::HashMap;

use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let dir = qemu_test_support::shared().join("qemu/10.2/qapi");
    let files: HashMap<String, String> = std::fs::read_dir(&dir)
        .expect("10.2 schema")
        .filter_map(|e| {
            let p = e.ok()?.path();
            let text = std::fs::read_to_string(&p).ok()?;
            Some((p.to_string_lossy().into_owned(), text))
        })
        .collect();
    let root = dir.join("qapi-schema.json").to_string_lossy().into_owned();
    let options = qapi_parser::Options::default();
    c.bench_function("parse+check 10.2 qapi-schema.json", |b| {
        // The model is dropped outside the timed part: freeing it is the
        // caller's cost, not parsing's.
        b.iter_with_large_drop(|| {
            let mut read = |p: &str| {
                files
                    .get(p)
                    .cloned()
                    .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
            };
            qapi_parser::parse_with(&root, &options, &mut read).expect("valid schema")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
