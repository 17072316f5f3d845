//! First program 6: the guest agent (`qemu-ga`): ping, info, and running
//! a program in the guest with its output.
//!
//! QEMU exposes a guest's agent as a socket on the host (`-chardev
//! socket,path=/tmp/vm.ga,server=on,wait=off,id=ga0 -device virtio-serial
//! -device virtserialport,chardev=ga0,name=org.qemu.guest_agent.0`). To
//! try it without a guest, run `qemu-ga` itself on a Unix socket: the
//! "guest" is then this machine.
//!
//! ```sh
//! qemu-ga -m unix-listen -p /tmp/ga.sock -t /tmp &
//! cargo run -p qmp-vm --example first_guest_agent -- /tmp/ga.sock
//! ```

use qmp_vm::Agent;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let socket = std::env::args()
        .nth(1)
        .ok_or("usage: first_guest_agent QGA_SOCKET")?;
    let ga = Agent::connect(&socket).await?;

    ga.ping().await?;
    println!("ping: the agent answers");

    let info = ga.info().await?;
    let enabled = info.supported_commands.iter().filter(|c| c.enabled).count();
    println!("qemu-ga {}: {enabled} commands enabled", info.version);

    // Runs the program in the guest, waits for it to end and returns what
    // it printed, as bytes (guest-exec, then guest-exec-status until it
    // has exited).
    let out = ga.exec("/bin/uname", ["-r"], None).await?;
    println!(
        "uname -r exited with {:?}: {}",
        out.exit_code,
        String::from_utf8_lossy(&out.stdout).trim_end()
    );
    if out.exit_code != Some(0) {
        return Err("uname failed".into());
    }
    Ok(())
}
