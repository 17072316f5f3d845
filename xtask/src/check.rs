//! `check` and `dump`: run the QAPI parser on schema files.

/// Parses and checks each root schema in `files`, printing its entity counts
/// (QEMU's counting). Stops at the first invalid schema with its diagnostic.
pub(crate) fn check(args: &[String]) -> Result<(), String> {
    let strict = args.iter().any(|a| a == "--strict");
    let files: Vec<&String> = args.iter().filter(|a| *a != "--strict").collect();
    if files.is_empty() {
        return Err("usage: cargo xtask check [--strict] FILE...".to_owned());
    }
    let options = if strict {
        qapi_parser::Options::qemu_10_2()
    } else {
        qapi_parser::Options::default()
    };
    for file in files {
        let schema = qapi_parser::parse_file_with(file, &options).map_err(|e| e.to_string())?;
        println!("{}", schema.counts());
    }
    Ok(())
}

/// Prints the checked model of one schema as pretty JSON.
pub(crate) fn dump(files: &[String]) -> Result<(), String> {
    let [file] = files else {
        return Err("usage: cargo xtask dump FILE".to_owned());
    };
    let schema = qapi_parser::parse_file(file).map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&schema).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}
