//! Event names are checked by the compiler.
use qmp_types::qmp::EventName;

fn subscribe(qmp: &qmp_client::Client) {
    let _ = qmp.subscribe_to([EventName::Stpo]);
}

fn main() {}
