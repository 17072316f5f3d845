//! First program 1: status, stop, event, continue.
//!
//! Connects to a running QEMU, prints its run state, stops the guest and
//! waits for the `STOP` event that QEMU sends, then lets it run again.
//!
//! ```sh
//! qemu-system-x86_64 -machine pc -display none -qmp unix:/tmp/vm.qmp,server=on,wait=off &
//! cargo run -p qmp-client --example first_status -- /tmp/vm.qmp
//! ```

use qmp_client::Client;
// The generated commands are methods of this trait: bring it into scope.
use qmp_types::qmp::{Event, EventName, QmpCommands as _};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let socket = std::env::args()
        .nth(1)
        .ok_or("usage: first_status QMP_SOCKET")?;

    let qmp = Client::connect_unix(&socket).await?;
    println!("connected to QEMU {}", qmp.version());

    let status = qmp.query_status().await?;
    println!("status: {:?} (running: {})", status.status, status.running);

    // Subscribe before stopping, so that the event cannot be missed. The
    // event names are an enum: a typo does not compile.
    let mut events = qmp.subscribe_to([EventName::Stop]).typed::<Event>();
    qmp.stop().await?;
    match events.next().await {
        Some(Ok(Event::Stop)) => println!("event: STOP"),
        other => return Err(format!("expected STOP, got {other:?}").into()),
    }
    println!("status: {:?}", qmp.query_status().await?.status);

    qmp.cont().await?;
    println!("status: {:?}", qmp.query_status().await?.status);
    Ok(())
}
