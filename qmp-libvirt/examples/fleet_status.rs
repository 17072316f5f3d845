//! Runs one typed query, `query-status`, on every running domain of every
//! libvirt URI given, all at once, and prints one line per domain:
//!
//! ```text
//! cargo run -p qmp-libvirt --example fleet_status -- qemu:///system qemu+ssh://root@host2/system
//! qemu:///system web1 running
//! qemu+ssh://root@host2/system db1 paused
//! ```
//!
//! A URI or domain that fails prints its error on that line instead; the
//! exit status is 1 if any did.

use std::process::ExitCode;

use qmp_libvirt::Hosts;
use qmp_types::qmp::QmpCommands as _;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let uris: Vec<String> = std::env::args().skip(1).collect();
    if uris.is_empty() {
        eprintln!("usage: fleet_status URI...");
        return ExitCode::from(2);
    }
    let hosts = std::sync::Arc::new(Hosts::new());
    // Every domain of every URI, queried concurrently.
    let mut tasks = Vec::new();
    for uri in uris {
        let host = match hosts.host(&uri).await {
            Ok(h) => h,
            Err(e) => {
                tasks.push(tokio::spawn(async move {
                    (uri, "-".into(), Err(e.to_string()))
                }));
                continue;
            }
        };
        let domains = match host.domains().await {
            Ok(d) => d,
            Err(e) => {
                tasks.push(tokio::spawn(async move {
                    (uri, "-".into(), Err(e.to_string()))
                }));
                continue;
            }
        };
        for d in domains.into_iter().filter(|d| d.active) {
            let (host, uri) = (host.clone(), uri.clone());
            tasks.push(tokio::spawn(async move {
                let status = async {
                    let vm = host.connect(&d.name).await?;
                    Ok::<_, qmp_libvirt::Error>(vm.query_status().await?.status)
                };
                let result = status
                    .await
                    .map(|s| s.to_string())
                    .map_err(|e| e.to_string());
                (uri, d.name, result)
            }));
        }
    }
    let mut failed = false;
    for task in tasks {
        let Ok((uri, name, result)) = task.await else {
            failed = true;
            continue;
        };
        match result {
            Ok(status) => println!("{uri} {name} {status}"),
            Err(e) => {
                failed = true;
                println!("{uri} {name} error: {e}");
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
