use qmp_types::qmp::{KeyValue, QKeyCode};

fn main() {
    let _ = KeyValue::Qcode(QKeyCode::Ctlr);
}
