//! A QMP connection has no guest-agent commands.
use qmp_types::qga::GuestAgentCommands as _;

async fn ping(qmp: &qmp_client::Client) {
    let _ = qmp.guest_ping().await;
}

fn main() {}
