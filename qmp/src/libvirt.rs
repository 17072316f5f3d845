//! `--libvirt URI --domain NAME`: libvirt-managed VMs, through the
//! `qmp-libvirt` bridge, when this `qmp` is built with the `libvirt`
//! feature; a clear error naming the feature otherwise.

use std::time::Duration;

use qmp_client::{Builder, Client, GuestAgent};

use crate::CliResult;
#[cfg(not(feature = "libvirt"))]
use crate::Failure;

#[cfg(not(feature = "libvirt"))]
fn missing() -> Failure {
    Failure::msg(
        "this qmp was built without libvirt support: rebuild it with the `libvirt` feature \
         (`cargo install qmp-cli --features libvirt`; needs libvirt's development files, on \
         Debian `libvirt-dev` and `pkg-config`)",
    )
}

#[cfg(not(feature = "libvirt"))]
pub(crate) async fn connect(_uri: &str, _domain: &str, _builder: Builder) -> CliResult<Client> {
    Err(missing())
}

#[cfg(not(feature = "libvirt"))]
pub(crate) async fn guest_agent(
    _uri: &str,
    _domain: &str,
    _timeout: Option<Duration>,
) -> CliResult<GuestAgent> {
    Err(missing())
}

#[cfg(not(feature = "libvirt"))]
pub(crate) async fn list(_uri: &str, _json: bool) -> CliResult {
    Err(missing())
}

#[cfg(feature = "libvirt")]
pub(crate) use with_libvirt::*;

#[cfg(feature = "libvirt")]
mod with_libvirt {
    use super::*;
    use crate::{Failure, chain, print};
    use qmp_types::qmp::QmpCommands as _;
    use serde_json::{Value, json};

    fn failure(what: &str, e: qmp_libvirt::Error) -> Failure {
        match e {
            qmp_libvirt::Error::Qmp(e) => Failure::from(e),
            e => Failure::msg(format!("{what}: {}", chain(&e))),
        }
    }

    async fn open(uri: &str) -> CliResult<qmp_libvirt::Libvirt> {
        qmp_libvirt::Libvirt::open(uri)
            .await
            .map_err(|e| failure("cannot connect to libvirt", e))
    }

    pub(crate) async fn connect(uri: &str, domain: &str, builder: Builder) -> CliResult<Client> {
        open(uri)
            .await?
            .connect_with(domain, builder)
            .await
            .map_err(|e| failure(&format!("cannot reach `{domain}` through {uri}"), e))
    }

    pub(crate) async fn guest_agent(
        uri: &str,
        domain: &str,
        timeout: Option<Duration>,
    ) -> CliResult<GuestAgent> {
        open(uri)
            .await?
            .guest_agent(domain, timeout)
            .await
            .map_err(|e| failure(&format!("guest agent of `{domain}` through {uri}"), e))
    }

    /// `qmp list --libvirt URI`: each domain with its run state (QEMU's,
    /// asked over QMP, for running ones).
    pub(crate) async fn list(uri: &str, json: bool) -> CliResult {
        let host = open(uri).await?;
        let domains = host
            .domains()
            .await
            .map_err(|e| failure("cannot list the domains", e))?;
        let mut rows = Vec::new();
        for d in domains {
            let status = if d.active {
                let builder = Client::builder()
                    .check_commands(false)
                    .timeout(Some(Duration::from_secs(5)));
                match host.connect_with(&d.name, builder).await {
                    Ok(c) => match c.query_status().await {
                        Ok(st) => st.status.to_string(),
                        Err(_) => "unknown".into(),
                    },
                    Err(_) => "unreachable".into(),
                }
            } else {
                "shut-off".into()
            };
            rows.push(json!({ "name": d.name, "status": status, "uuid": d.uuid }));
        }
        let list = Value::Array(rows);
        print(json, &list, || {
            let mut out = vec![format!("{:<24} {:<12} UUID", "NAME", "STATUS")];
            for r in list.as_array().into_iter().flatten() {
                out.push(format!(
                    "{:<24} {:<12} {}",
                    r["name"].as_str().unwrap_or(""),
                    r["status"].as_str().unwrap_or(""),
                    r["uuid"].as_str().unwrap_or(""),
                ));
            }
            out.join("\n")
        });
        Ok(())
    }
}
