//! First program 4: several tasks on one connection, and timeouts.
//!
//! ```sh
//! qemu-system-x86_64 -machine pc -display none -qmp unix:/tmp/vm.qmp,server=on,wait=off &
//! cargo run -p qmp-client --example first_concurrency -- /tmp/vm.qmp
//! ```

use std::time::Duration;

use qmp_client::Client;
use qmp_types::qmp::{EventName, QmpCommands as _};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let socket = std::env::args()
        .nth(1)
        .ok_or("usage: first_concurrency QMP_SOCKET")?;
    // Every command times out after 5 s unless told otherwise.
    let qmp = Client::builder()
        .timeout(Some(Duration::from_secs(5)))
        .connect_unix(&socket)
        .await?;

    // A clone is another handle on the same connection: replies are
    // matched to their commands, so the tasks do not wait for each other.
    let mut tasks = Vec::new();
    for task in 0..4 {
        let qmp = qmp.clone();
        tasks.push(tokio::spawn(async move {
            let mut count = 0;
            for _ in 0..10 {
                qmp.query_status().await?;
                count += 1;
            }
            Ok::<_, qmp_client::Error>((task, count))
        }));
    }
    for task in tasks {
        let (task, count) = task.await??;
        println!("task {task}: {count} query-status done");
    }

    // Or run a few different commands at once and wait for all of them.
    let (status, version, kvm) =
        tokio::join!(qmp.query_status(), qmp.query_version(), qmp.query_kvm());
    let (status, version, kvm) = (status?, version?, kvm?);
    let v = version.qemu;
    println!(
        "joined: status {:?}, QEMU {}.{}.{}, KVM enabled: {}",
        status.status, v.major, v.minor, v.micro, kvm.enabled
    );

    // A per-call timeout: `with_timeout` gives a handle on the same
    // connection with another limit. Here a generous one for a large
    // reply...
    let patient = qmp.with_timeout(Some(Duration::from_secs(30)));
    let schema = patient.query_qmp_schema().await?;
    println!("query-qmp-schema: {} entries", schema.len());

    // ...and a short one for an event that will not come (nothing shuts
    // this VM down). Event streams take the timeout of the handle that
    // subscribed.
    let quick = qmp.with_timeout(Some(Duration::from_millis(200)));
    let mut shutdown = quick.subscribe_to([EventName::Shutdown]);
    match shutdown.wait_for(|_| true).await {
        Err(e) if e.is_timeout() => println!("no SHUTDOWN: {e}"),
        other => return Err(format!("expected a timeout, got {other:?}").into()),
    }

    // A timeout fails only its own call: the connection stays usable.
    println!("still connected: {:?}", qmp.query_status().await?.status);
    Ok(())
}
