//! First program 2: hot-plug a USB keyboard, then unplug it.
//!
//! Needs a machine with a USB controller:
//!
//! ```sh
//! qemu-system-x86_64 -machine pc -display none -device qemu-xhci \
//!     -qmp unix:/tmp/vm.qmp,server=on,wait=off &
//! cargo run -p qmp-client --example first_hotplug -- /tmp/vm.qmp
//! ```

use qmp_client::{Client, RawEvent};
use qmp_types::qmp::commands::{DeviceAdd, DeviceDel};
use qmp_types::qmp::{EventName, QmpCommands as _};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let socket = std::env::args()
        .nth(1)
        .ok_or("usage: first_hotplug QMP_SOCKET")?;
    let qmp = Client::connect_unix(&socket).await?;

    // `device_add` takes the driver, then optional members. The command
    // struct reads better: required members in `new`, the rest by name,
    // and device properties (which QEMU's schema does not list) with
    // `with_property`.
    let add = DeviceAdd::new("usb-kbd")
        .with_id("kbd1")
        .with_property("port", "1");
    qmp.execute(add).await?;
    println!("added usb-kbd with id kbd1");

    // The device is in the QOM tree under /machine/peripheral.
    let path = "/machine/peripheral/kbd1";
    let kind = qmp.qom_get(path, "type").await?;
    println!("{path} is a {kind}");

    // Unplugging is asynchronous: QEMU sends DEVICE_DELETED once the
    // device is gone (at once for USB; PCI waits for the guest).
    // `execute_and_wait` subscribes before sending, so the event cannot be
    // missed.
    let (_, event) = qmp
        .execute_and_wait(
            DeviceDel::new("kbd1"),
            &[EventName::DeviceDeleted.as_str()],
            |e: &RawEvent| e.data["device"] == "kbd1",
        )
        .await?;
    println!("event: {} {}", event.name, event.data);

    // Asking for it again fails: the device is gone.
    match qmp.qom_get(path, "type").await {
        Err(e) => println!("{path} is gone: {e}"),
        Ok(v) => return Err(format!("{path} is still there: {v}").into()),
    }
    Ok(())
}
