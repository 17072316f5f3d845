use qmp_types::qmp::QmpCommands;

async fn press(client: &impl QmpCommands) {
    let _ = client.send_key(Some(100)).await;
}

fn main() {}
