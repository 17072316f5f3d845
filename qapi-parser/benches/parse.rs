//! Parse and check QEMU 10.2's QMP schema (all 40-odd files it includes),
//! read from memory so that the figure is the parser's alone; and, in the
//! same run, qapi-rs's parser (`qapi-parser` 0.11 on crates.io) over the
//! same files, which reads the definitions and checks nothing.
//!
//! `cargo bench -p qemu-qapi-parser --bench parse`

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
    let parse = || {
        let mut read = |p: &str| {
            files
                .get(p)
                .cloned()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        };
        qapi_parser::parse_with(&root, &options, &mut read).expect("valid schema")
    };
    // qapi-rs reads every definition it understands and stops at the
    // first it does not; the count shows how far it got.
    let (specs, failed) = qapi_rs(&files, &root);
    println!(
        "qapi-rs: {} definitions read, {failed} files stopped early",
        specs.len()
    );
    assert!(specs.len() > 1000, "qapi-rs read only {}", specs.len());

    // Each side's result is dropped outside the timed part: freeing it is
    // the caller's cost, not parsing's. Criterion keeps the results of a
    // batch until it ends, so each run writes its result to memory that
    // has not been touched yet, as a program that parses once does.
    c.bench_function("parse+check 10.2 qapi-schema.json", |b| {
        b.iter_with_large_drop(parse)
    });
    c.bench_function("qapi-rs 0.11 10.2 qapi-schema.json", |b| {
        b.iter_with_large_drop(|| qapi_rs(&files, &root))
    });
    // The same with each result dropped at once, inside the timed part:
    // the next run reuses the memory while it is warm, as a program that
    // parses many schemas in a loop does.
    c.bench_function("parse+check+drop 10.2 qapi-schema.json", |b| {
        b.iter(|| drop(parse()))
    });
    c.bench_function("qapi-rs 0.11+drop 10.2 qapi-schema.json", |b| {
        b.iter(|| drop(qapi_rs(&files, &root)))
    });
}

/// qapi-rs's own way through a schema (as its tests do): strip comments,
/// read the definitions, follow includes. Returns the definitions read
/// (kept, as our parser keeps its model) and the number of files it could
/// not read to the end.
fn qapi_rs(files: &HashMap<String, String>, root: &str) -> (Vec<qapi_rs_parser::Spec>, usize) {
    use qapi_rs_parser::{Parser, Spec};

    let mut todo = vec![root.to_owned()];
    let mut seen = std::collections::HashSet::new();
    let (mut specs, mut failed) = (Vec::new(), 0);
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let Some(text) = files.get(&path) else {
            failed += 1;
            continue;
        };
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        for spec in Parser::from_string(Parser::strip_comments(text)) {
            match spec {
                Ok(Spec::Include(inc)) => todo.push(format!("{dir}/{}", inc.include)),
                Ok(spec) => specs.push(spec),
                Err(_) => {
                    failed += 1;
                    break;
                }
            }
        }
    }
    (specs, failed)
}

criterion_group!(benches, bench);
criterion_main!(benches);
