//! The calls the SDK promises: positional methods, the command struct,
//! one `execute` by value or by reference, each on its own protocol.
#![allow(dead_code)]

use qmp_client::{Client, GuestAgent};
use qmp_types::qga::GuestAgentCommands as _;
use qmp_types::qmp::commands::SendKey;
use qmp_types::qmp::{Event, EventName, KeyValue, QKeyCode, QmpCommands as _};

async fn qmp(client: &Client) -> Result<(), qmp_client::Error> {
    let keys = vec![KeyValue::from(QKeyCode::Ctrl)];
    client.send_key(keys, Some(100)).await?;
    client.send_key([QKeyCode::Ctrl, QKeyCode::Alt], None).await?;
    let cmd = SendKey::new([QKeyCode::Digit1]).with_hold_time(100);
    client.execute(&cmd).await?;
    client.execute(cmd).await?;
    let _path = client.qom_get("/machine", "type").await?;
    let mut events = client
        .subscribe_to([EventName::Stop, EventName::Resume])
        .typed::<Event>();
    if let Some(Ok(Event::Stop)) = events.next().await {}
    Ok(())
}

async fn agent(ga: &GuestAgent) -> Result<(), qmp_client::Error> {
    ga.guest_ping().await
}

fn main() {}
