//! First program 5: commands that fail, matched on QEMU's error class.
//!
//! ```sh
//! qemu-system-x86_64 -machine pc -display none -qmp unix:/tmp/vm.qmp,server=on,wait=off &
//! cargo run -p qmp-client --example first_error -- /tmp/vm.qmp
//! ```

use qmp_client::{Client, Error};
use qmp_types::qmp::{QapiErrorClass, QmpCommands as _};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let socket = std::env::args()
        .nth(1)
        .ok_or("usage: first_error QMP_SOCKET")?;
    let qmp = Client::connect_unix(&socket).await?;

    // A device model QEMU does not have: most failures are GenericError,
    // with a description meant for people, not for parsing.
    match qmp.device_add("no-such-device-model", None, None).await {
        Err(Error::Qmp {
            class: QapiErrorClass::GenericError,
            desc,
        }) => println!("device_add: GenericError: {desc}"),
        other => return Err(format!("expected GenericError, got {other:?}").into()),
    }

    // Unplugging a device that does not exist has a class of its own.
    match qmp.device_del("no-such-id").await {
        Err(Error::Qmp {
            class: QapiErrorClass::DeviceNotFound,
            desc,
        }) => println!("device_del: DeviceNotFound: {desc}"),
        other => return Err(format!("expected DeviceNotFound, got {other:?}").into()),
    }

    // Or take whatever class comes and print it.
    if let Err(Error::Qmp { class, desc }) = qmp.qom_get("/machine", "no-such-property").await {
        println!("qom-get: {class}: {desc}");
    }
    Ok(())
}
