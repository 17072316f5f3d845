//! First program 7: the automation helpers of `qmp_vm::Vm`: status,
//! pause and resume, a screenshot as PNG, key chords by name.
//!
//! The screenshot needs a display device (a `pc` machine has a VGA card
//! unless `-nodefaults` removes it):
//!
//! ```sh
//! qemu-system-x86_64 -machine pc -display none -qmp unix:/tmp/vm.qmp,server=on,wait=off &
//! cargo run -p qmp-vm --example first_automation -- /tmp/vm.qmp /tmp/screen.png
//! ```

use qmp_client::Client;
use qmp_types::qmp::RunState;
use qmp_vm::{Screendump, Vm};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(socket), Some(png)) = (args.next(), args.next()) else {
        return Err("usage: first_automation QMP_SOCKET SCREENSHOT.png".into());
    };

    let client = Client::connect_unix(&socket).await?;
    // `Vm` borrows the client (or takes it): both share one connection.
    let vm = Vm::new(&client);

    println!("status: {:?}", vm.status().await?.status);

    vm.pause().await?;
    let status = vm.status().await?.status;
    println!("paused: {status:?}");
    if status != RunState::Paused {
        return Err(format!("expected paused, got {status:?}").into());
    }
    vm.resume().await?;
    println!("resumed: {:?}", vm.status().await?.status);

    // PNG or PPM, chosen by the file's extension.
    let (width, height) = vm.screendump(&png, &Screendump::default()).await?;
    println!("screendump: {png} ({width}x{height})");

    // Keys by QKeyCode name or alias, pressed together; `None` holds them
    // for QEMU's default time.
    vm.keys(&["ctrl", "alt", "f2"], None).await?;
    println!("keys: ctrl-alt-f2");
    vm.type_text("hello\n", None).await?;
    println!("typed: hello");
    Ok(())
}
