//! QEMU's own schema test suite (`shared/qapi-tests`): every case whose
//! `.err` is empty is accepted; every other case is rejected at the
//! `file:line` (and column, where QEMU gives one) that its `.err` names.
//! The cases are found by walking the directory, so new cases are picked up
//! without touching this file. The suite is QEMU 10.2's, so it runs with
//! 10.2's rules.

use std::path::Path;

/// The first location in QEMU's expected error: (file name, line, column).
fn expected_location(err: &str) -> Option<(String, u32, Option<u32>)> {
    for line in err.lines() {
        if line.starts_with("In file included from") {
            continue;
        }
        // "path/name.json:LINE[:COL]: message" or "name.json: In struct 'X':"
        let Some(json_end) = line.find(".json:") else {
            continue;
        };
        let file = &line[..json_end + 5];
        let rest = &line[json_end + 6..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let Ok(lnum) = digits.parse() else { continue };
        let rest = &rest[digits.len()..];
        let col = rest
            .strip_prefix(':')
            .map(|r| {
                r.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|c| c.parse().ok());
        let name = Path::new(file).file_name()?.to_string_lossy().into_owned();
        return Some((name, lnum, col));
    }
    None
}

#[test]
fn qemu_schema_suite() {
    let dir = qemu_test_support::shared().join("qapi-tests");
    let mut cases: Vec<_> = std::fs::read_dir(&dir)
        .expect("qapi-tests readable")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "err"))
        .collect();
    cases.sort();
    assert!(
        cases.len() > 100,
        "expected QEMU's suite, found {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    let (mut accepted, mut rejected) = (0, 0);
    for err_path in &cases {
        let expected = std::fs::read_to_string(err_path).expect(".err readable");
        let json = err_path.with_extension("json");
        let name = json
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let result = qapi_parser::parse_file_with(&json, &qapi_parser::Options::qemu_10_2());
        if !json.exists() {
            // A case shipped without its input: all we can check is that
            // the missing file is reported as such.
            match &result {
                Err(e) if e.message.starts_with("can't read schema file") => {
                    eprintln!(
                        "note: {name} is missing from the suite; only its absence was checked"
                    );
                    continue;
                }
                _ => failures.push(format!("{name}: missing input not reported: {result:?}")),
            }
            continue;
        }
        match (expected.trim().is_empty(), result) {
            (true, Ok(_)) => accepted += 1,
            (true, Err(e)) => failures.push(format!("{name}: should be accepted, got:\n{e}")),
            (false, Ok(_)) => {
                failures.push(format!("{name}: should be rejected with:\n{expected}"))
            }
            (false, Err(e)) => {
                rejected += 1;
                match expected_location(&expected) {
                    // Errors without a location (an unreadable root file)
                    // must say the same thing.
                    None => {
                        let message = e.message.replace(&*json.to_string_lossy(), &name);
                        if message != expected.trim() {
                            failures.push(format!(
                                "{name}: expected {:?}, got {:?}",
                                expected.trim(),
                                e.message
                            ));
                        }
                    }
                    Some((file, line, col)) => {
                        let got_file = Path::new(&*e.loc.file)
                            .file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned();
                        let col_ok = col.is_none_or(|c| c == e.loc.col);
                        if got_file != file || e.loc.line != line || !col_ok {
                            failures.push(format!(
                                "{name}: expected error at {file}:{line}{}, got:\n{e}\nQEMU:\n{expected}",
                                col.map(|c| format!(":{c}")).unwrap_or_default()
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree with QEMU:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    assert!(
        accepted > 5 && rejected > 100,
        "accepted {accepted}, rejected {rejected}"
    );
}
