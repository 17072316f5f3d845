//! First program 3: press Ctrl+Alt+F2.
//!
//! ```sh
//! qemu-system-x86_64 -machine pc -display none -qmp unix:/tmp/vm.qmp,server=on,wait=off &
//! cargo run -p qmp-client --example first_send_key -- /tmp/vm.qmp
//! ```

use qmp_client::Client;
use qmp_types::qmp::{QKeyCode, QmpCommands as _};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let socket = std::env::args()
        .nth(1)
        .ok_or("usage: first_send_key QMP_SOCKET")?;
    let qmp = Client::connect_unix(&socket).await?;

    // The keys are pressed together, in this order, held for the given
    // time in milliseconds (`None`: QEMU's default, 100 ms), then
    // released in reverse order.
    qmp.send_key([QKeyCode::Ctrl, QKeyCode::Alt, QKeyCode::F2], Some(100))
        .await?;
    println!("sent ctrl-alt-f2");
    Ok(())
}
