//! A guest-agent connection has no QMP commands, through `execute` either.
use qmp_types::qmp::commands::QueryStatus;

async fn status(ga: &qmp_client::GuestAgent) {
    let _ = ga.execute(QueryStatus::new()).await;
}

fn main() {}
