use qmp_types::qmp::{KeyValue, QKeyCode, QmpCommands};

async fn press(client: &impl QmpCommands) {
    let _ = client
        .send_key(vec![KeyValue::Qcode(QKeyCode::Ctrl)], Some("100ms"))
        .await;
}

fn main() {}
