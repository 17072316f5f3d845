//! `check` and `dump`: run the QAPI parser on schema files.

use qapi_parser::Options;

pub(crate) const CHECK_USAGE: &str = "\
usage: cargo xtask check [--strict] FILE...

Parses and checks each QAPI root schema FILE with the files it includes and
prints its entity counts, as QEMU's checker counts them. Stops at the first
invalid schema with its diagnostic.

  --strict   QEMU 10.2's documentation layout rules too
";

pub(crate) const DUMP_USAGE: &str = "\
usage: cargo xtask dump FILE

Prints the checked model of the QAPI root schema FILE as JSON.
";

/// An error naming an option the task does not know, with its usage.
fn unknown_option(task: &str, arg: &str, usage: &str) -> String {
    format!("{task}: unknown option '{arg}' (a file named so: ./{arg})\n{usage}")
}

/// Parses and checks each root schema in `args` (`--strict` selects QEMU
/// 10.2's rules), printing one line of entity counts per file, in QEMU's
/// counting. Stops at the first invalid schema with its diagnostic.
pub(crate) fn check(args: &[String]) -> Result<(), String> {
    for line in check_lines(args)? {
        println!("{line}");
    }
    Ok(())
}

/// The lines `check` prints.
pub(crate) fn check_lines(args: &[String]) -> Result<Vec<String>, String> {
    let mut strict = false;
    let mut files = Vec::new();
    for arg in args {
        match arg.as_str() {
            "--strict" => strict = true,
            a if a.starts_with('-') => return Err(unknown_option("check", a, CHECK_USAGE)),
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        return Err(CHECK_USAGE.to_owned());
    }
    let options = if strict {
        Options::qemu_10_2()
    } else {
        Options::default()
    };
    files
        .iter()
        .map(|file| {
            qapi_parser::parse_file_with(file, &options)
                .map(|schema| schema.counts().to_string())
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Prints the checked model of one schema as pretty JSON.
pub(crate) fn dump(files: &[String]) -> Result<(), String> {
    let [file] = files else {
        return Err(DUMP_USAGE.to_owned());
    };
    if file.starts_with('-') {
        return Err(unknown_option("dump", file, DUMP_USAGE));
    }
    let schema = qapi_parser::parse_file(file).map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&schema).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> String {
        qemu_test_support::shared().display().to_string()
    }

    #[test]
    fn prints_qemus_counts_one_line_per_file() {
        let s = shared();
        let args = [
            format!("{s}/qemu/7.2/qga/qapi-schema.json"),
            format!("{s}/qemu/10.2/qapi/qapi-schema.json"),
        ];
        assert_eq!(
            check_lines(&args).expect("valid"),
            [
                "42 commands, 0 events, 32 structs, 3 unions, 1 alternates, 7 enums",
                "244 commands, 57 events, 479 structs, 43 unions, 6 alternates, 182 enums",
            ]
        );
    }

    #[test]
    fn invalid_schema_gives_the_located_diagnostic() {
        let s = shared();
        let file = format!("{s}/qapi-tests/missing-colon.json");
        let err = check_lines(std::slice::from_ref(&file)).expect_err("invalid");
        assert!(
            err.starts_with(&format!("{file}:1:10: expected ':'\n")),
            "{err}"
        );
    }

    #[test]
    fn strict_adds_qemu_10_2_layout_rules() {
        let s = shared();
        let file = format!("{s}/qapi-tests/doc-long-line.json");
        assert!(check_lines(std::slice::from_ref(&file)).is_ok());
        let strict = [String::from("--strict"), file.clone()];
        let err = check_lines(&strict).expect_err("too long");
        assert!(
            err.contains("documentation line longer than 70 characters"),
            "{err}"
        );
    }
}
