#![allow(dead_code)]

use qmp_types::qmp::{Event, KeyValue, QKeyCode, QmpCommands};

async fn press(client: &impl QmpCommands) {
    let keys = vec![KeyValue::Qcode(QKeyCode::Ctrl), KeyValue::from(QKeyCode::Alt)];
    let _ = client.send_key(keys, Some(100)).await;
}

fn on_event(event: &Event) -> &'static str {
    match event {
        Event::Stop => "stopped",
        Event::Shutdown(data) if data.guest => "guest shut down",
        Event::Unknown { .. } => "unknown",
        _ => "other",
    }
}

fn main() {
    let _ = on_event;
}
