//! `check` and `dump`: run the QAPI parser on schema files.

/// Parses and checks each root schema in `files`, printing its entity counts
/// (QEMU's counting). Stops at the first invalid schema with its diagnostic.
pub(crate) fn check(files: &[String]) -> Result<(), String> {
    if files.is_empty() {
        return Err("usage: cargo xtask check FILE...".to_owned());
    }
    for file in files {
        let schema = qapi_parser::parse_file(file).map_err(|e| e.to_string())?;
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
