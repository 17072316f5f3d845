//! Parses and checks one schema and prints its counts: the parser alone,
//! for profiling without the rest of the workspace, e.g.
//!
//! ```sh
//! cargo build --release -p qemu-qapi-parser --example check
//! valgrind --tool=callgrind target/release/examples/check \
//!     ../shared/qemu/10.2/qapi/qapi-schema.json
//! ```

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: check SCHEMA.json");
        std::process::exit(2);
    };
    match qapi_parser::parse_file(&path) {
        Ok(schema) => println!("{}", schema.counts()),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
