//! Typed QMP and guest agent clients for libvirt-managed QEMU VMs, on any
//! libvirt URI (`qemu:///system`, `qemu+ssh://host/system`,
//! `qemu+tcp://…`, `qemu+tls://…`).
//!
//! libvirt owns each managed VM's monitor; the supported way in is its QEMU
//! passthrough (`virDomainQemuMonitorCommand`, monitor events,
//! `virDomainQemuAgentCommand`). This crate serves QMP over an in-memory
//! stream whose every command goes through that passthrough, and hands the
//! stream to [`qmp_client`]. What you get is therefore an ordinary
//! [`qmp_client::Client`]: typed commands, [`Client::execute_raw`], the
//! same [`qmp_client::Error::Qmp`] errors, bounded typed events, timeouts.
//!
//! - The greeting is made from `query-version`; `qmp_capabilities` is
//!   answered locally (libvirt negotiated long ago) and offers no `oob`.
//! - Commands run on tokio's blocking pool, so concurrent commands run
//!   concurrently and never block the runtime.
//! - Events come from libvirt's monitor event callback, run by libvirt's
//!   event loop on a thread this crate starts once per process.
//! - When the domain stops or the connection is lost, the stream closes and
//!   the client reports [`qmp_client::Error::Disconnected`], as for a QEMU
//!   that went away.
//! - When libvirt itself refuses a command (not QEMU), the error is a
//!   `GenericError` whose description starts with ``libvirt refused `CMD`:``.
//!
//! Using the passthrough marks the domain "tainted" in libvirt's logs
//! (`custom-monitor`): libvirt does not know what the commands changed.
//!
//! # Examples
//!
//! ```no_run
//! use qmp_types::qmp::QmpCommands as _;
//! # async fn f() -> Result<(), qmp_libvirt::Error> {
//! let host = qmp_libvirt::Libvirt::open("qemu+ssh://root@host1/system").await?;
//! let vm = host.connect("web1").await?;
//! println!("{:?}", vm.query_status().await?.status);
//! # Ok(()) }
//! ```
//!
//! [`Client::execute_raw`]: qmp_client::Client::execute_raw

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use qmp_client::{Builder, Client, GuestAgent};
use tokio::sync::watch;
use virt::connect::Connect;
use virt::domain::Domain;

mod bridge;
mod ffi;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A libvirt call failed.
    #[error("libvirt: {what}: {message}")]
    Libvirt {
        /// What was being done.
        what: String,
        /// libvirt's message.
        message: String,
    },
    /// No domain by that name or UUID on that connection.
    #[error("no domain `{domain}` on {uri}{}", if known.is_empty() { String::new() } else { format!(" (domains: {})", known.join(", ")) })]
    NoDomain {
        /// The connection's URI.
        uri: String,
        /// The name or UUID asked for.
        domain: String,
        /// The domains that do exist there.
        known: Vec<String>,
    },
    /// The domain exists but is not running, so it has no monitor.
    #[error("domain `{domain}` on {uri} is not running")]
    NotRunning {
        /// The connection's URI.
        uri: String,
        /// The domain.
        domain: String,
    },
    /// The bridge between QMP and libvirt could not be set up.
    #[error("{0}")]
    Bridge(String),
    /// Speaking QMP over the bridge failed.
    #[error(transparent)]
    Qmp(#[from] qmp_client::Error),
}

impl Error {
    fn libvirt(what: impl Into<String>, e: &virt::error::Error) -> Error {
        Error::Libvirt {
            what: what.into(),
            message: e.message().to_owned(),
        }
    }
}

/// One open libvirt connection, shared by every bridge made from it.
pub(crate) struct Host {
    uri: String,
    conn: Connect,
    /// Turns `true` when libvirt reports the connection lost.
    closed: watch::Receiver<bool>,
    /// Each domain's event registration, by UUID, while a bridge uses it.
    feeds: std::sync::Mutex<HashMap<String, std::sync::Weak<Feed>>>,
}

/// One domain's event registration on one connection, shared by its
/// bridges; deregistered when the last one ends.
pub(crate) struct Feed {
    host: Arc<Host>,
    uuid: String,
    fanout: Arc<ffi::Fanout>,
    watch: Option<ffi::DomainWatch>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        // Under the lock, so that a new registration for this domain never
        // races this deregistration (libvirt refuses a second one).
        let mut feeds = self.host.lock_feeds();
        drop(self.watch.take());
        if feeds.get(&self.uuid).is_some_and(|w| w.strong_count() == 0) {
            feeds.remove(&self.uuid);
        }
    }
}

impl Host {
    fn lock_feeds(&self) -> std::sync::MutexGuard<'_, HashMap<String, std::sync::Weak<Feed>>> {
        self.feeds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Subscribes a new bridge to `dom`'s events, registering with libvirt
    /// if no bridge listens yet. Blocks (asks libvirt).
    pub(crate) fn subscribe(
        self: &Arc<Host>,
        dom: &Domain,
        tx: tokio::sync::mpsc::Sender<ffi::Note>,
    ) -> Result<Arc<Feed>, Error> {
        let uuid = dom
            .get_uuid_string()
            .map_err(|e| Error::libvirt("the domain's UUID", &e))?;
        let mut feeds = self.lock_feeds();
        let feed = match feeds.get(&uuid).and_then(std::sync::Weak::upgrade) {
            Some(feed) => feed,
            None => {
                let fanout = Arc::new(ffi::Fanout::default());
                let watch =
                    ffi::DomainWatch::register(&self.conn, dom, &fanout).map_err(Error::Bridge)?;
                let feed = Arc::new(Feed {
                    host: self.clone(),
                    uuid: uuid.clone(),
                    fanout,
                    watch: Some(watch),
                });
                feeds.insert(uuid, Arc::downgrade(&feed));
                feed
            }
        };
        feed.fanout.add(tx);
        Ok(feed)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // Closing the last reference may talk to the daemon: on tokio's
        // blocking pool when there is a runtime. Dropping this reference
        // while `last` holds another is only a count.
        let mut last = self.conn.clone();
        let _ = self.conn.close();
        let mut close = move || {
            ffi::unwatch_close(&last);
            let _ = last.close();
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(close)),
            Err(_) => close(),
        }
    }
}

/// A domain as [`Libvirt::domains`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DomainInfo {
    /// The domain's name.
    pub name: String,
    /// Its UUID.
    pub uuid: String,
    /// Whether it runs (and so has a monitor).
    pub active: bool,
}

/// A connection to one libvirt URI, from which to reach its domains'
/// monitors and guest agents.
///
/// Cheap to clone; clones share the connection, which closes when the last
/// clone and the last client made from it are gone. Any number of clients,
/// on any number of domains, can be used at once.
#[derive(Clone)]
pub struct Libvirt {
    host: Arc<Host>,
}

impl std::fmt::Debug for Libvirt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Libvirt")
            .field("uri", &self.host.uri)
            .finish_non_exhaustive()
    }
}

/// Runs a blocking libvirt call on tokio's blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Bridge(format!("libvirt call failed: {e}")))
}

impl Libvirt {
    /// Opens a read-write connection to `uri`, e.g. `qemu:///system` or
    /// `qemu+ssh://root@host/system` (libvirt's URI syntax; authentication
    /// is libvirt's: SSH keys, TLS certificates, SASL configured for it).
    ///
    /// # Errors
    ///
    /// [`Error::Libvirt`] if libvirt cannot connect.
    pub async fn open(uri: &str) -> Result<Libvirt, Error> {
        ffi::ensure_event_loop().map_err(Error::Bridge)?;
        let uri = uri.to_owned();
        blocking(move || {
            let conn =
                Connect::open(Some(&uri)).map_err(|e| Error::libvirt(format!("open {uri}"), &e))?;
            // Keepalive pings let libvirt notice a dead remote host and run
            // the close callback; drivers without keepalive refuse, harmlessly.
            let _ = conn.set_keep_alive(5, 3);
            let closed = match ffi::watch_close(&conn) {
                Ok(rx) => rx,
                Err(why) => {
                    let mut conn = conn;
                    let _ = conn.close();
                    return Err(Error::Bridge(why));
                }
            };
            Ok(Libvirt {
                host: Arc::new(Host {
                    uri,
                    conn,
                    closed,
                    feeds: Default::default(),
                }),
            })
        })
        .await?
    }

    /// The URI this connection was opened with.
    pub fn uri(&self) -> &str {
        &self.host.uri
    }

    /// The domains of this connection, running or not, sorted by name.
    ///
    /// # Errors
    ///
    /// [`Error::Libvirt`] if libvirt cannot list them.
    pub async fn domains(&self) -> Result<Vec<DomainInfo>, Error> {
        let host = self.host.clone();
        blocking(move || {
            let doms = host
                .conn
                .list_all_domains(0)
                .map_err(|e| Error::libvirt(format!("list the domains of {}", host.uri), &e))?;
            let mut list: Vec<DomainInfo> = doms
                .iter()
                .map(|d| DomainInfo {
                    name: d.get_name().unwrap_or_default(),
                    uuid: d.get_uuid_string().unwrap_or_default(),
                    active: d.is_active().unwrap_or(false),
                })
                .collect();
            list.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(list)
        })
        .await?
    }

    /// Finds a running domain by name or UUID.
    async fn target(&self, domain: &str) -> Result<bridge::Target, Error> {
        let host = self.host.clone();
        let key = domain.to_owned();
        let found = blocking(move || {
            let by_name = Domain::lookup_by_name(&host.conn, &key);
            let dom = match by_name {
                Ok(d) => Some(d),
                Err(_) => Domain::lookup_by_uuid_string(&host.conn, &key).ok(),
            };
            dom.map(|d| {
                let active = d.is_active();
                let name = d.get_name().unwrap_or_else(|_| key.clone());
                (d, active, name)
            })
        })
        .await?;
        let Some((dom, active, name)) = found else {
            let known = self
                .domains()
                .await
                .map(|l| l.into_iter().map(|d| d.name).collect())
                .unwrap_or_default();
            return Err(Error::NoDomain {
                uri: self.host.uri.clone(),
                domain: domain.to_owned(),
                known,
            });
        };
        match active {
            Ok(true) => Ok(bridge::Target {
                host: self.host.clone(),
                dom,
                name,
            }),
            Ok(false) => Err(Error::NotRunning {
                uri: self.host.uri.clone(),
                domain: name,
            }),
            Err(e) => Err(Error::libvirt(format!("the state of `{name}`"), &e)),
        }
    }

    /// A QMP client for a running domain (by name or UUID), with
    /// [`Client::builder`]'s defaults.
    ///
    /// # Errors
    ///
    /// [`Error::NoDomain`], [`Error::NotRunning`], [`Error::Libvirt`],
    /// [`Error::Qmp`] if the negotiation fails.
    pub async fn connect(&self, domain: &str) -> Result<Client, Error> {
        self.connect_with(domain, Client::builder()).await
    }

    /// A QMP client for a running domain, with the settings of `builder`
    /// (timeouts, event buffer…; out-of-band execution is never offered).
    ///
    /// # Errors
    ///
    /// As for [`Libvirt::connect`].
    pub async fn connect_with(&self, domain: &str, builder: Builder) -> Result<Client, Error> {
        let target = self.target(domain).await?;
        let stream = bridge::open_qmp(target).await?;
        Ok(builder.connect_stream(stream).await?)
    }

    /// A guest agent client for a running domain, through libvirt's agent
    /// channel (the domain needs an `org.qemu.guest_agent.0` channel and a
    /// running agent). `timeout` limits each command (`None`: no limit).
    ///
    /// # Errors
    ///
    /// [`Error::NoDomain`], [`Error::NotRunning`], [`Error::Libvirt`].
    /// That the agent is not connected shows on the first command, as a
    /// [`qmp_client::Error::Qmp`] saying libvirt refused it.
    pub async fn guest_agent(
        &self,
        domain: &str,
        timeout: Option<Duration>,
    ) -> Result<GuestAgent, Error> {
        let target = self.target(domain).await?;
        let stream = bridge::open_agent(target, timeout);
        Ok(GuestAgent::connect_stream(stream, timeout).await?)
    }
}

/// Connections to several libvirt URIs, each opened on first use and then
/// shared: one object to drive many domains on many hosts.
///
/// # Examples
///
/// ```no_run
/// use qmp_types::qmp::QmpCommands as _;
/// # async fn f() -> Result<(), qmp_libvirt::Error> {
/// let hosts = qmp_libvirt::Hosts::new();
/// let a = hosts.connect("qemu+ssh://root@host1/system", "web1");
/// let b = hosts.connect("qemu+ssh://root@host2/system", "db1");
/// let (a, b) = tokio::try_join!(a, b)?;
/// a.stop().await?;
/// b.stop().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct Hosts {
    /// One slot per URI, so that opening one URI never waits for another.
    open: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Libvirt>>>>>,
}

impl Hosts {
    /// No connection yet.
    pub fn new() -> Hosts {
        Hosts::default()
    }

    /// The connection to `uri`, opened if needed. A connection that libvirt
    /// reported lost is opened again.
    ///
    /// # Errors
    ///
    /// Those of [`Libvirt::open`].
    pub async fn host(&self, uri: &str) -> Result<Libvirt, Error> {
        let slot = self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(uri.to_owned())
            .or_default()
            .clone();
        let mut slot = slot.lock().await;
        if let Some(h) = slot.as_ref()
            && !*h.host.closed.borrow()
        {
            return Ok(h.clone());
        }
        let h = Libvirt::open(uri).await?;
        *slot = Some(h.clone());
        Ok(h)
    }

    /// A QMP client for `domain` on `uri`; see [`Libvirt::connect`].
    ///
    /// # Errors
    ///
    /// Those of [`Libvirt::open`] and [`Libvirt::connect`].
    pub async fn connect(&self, uri: &str, domain: &str) -> Result<Client, Error> {
        self.host(uri).await?.connect(domain).await
    }

    /// A guest agent client for `domain` on `uri`; see
    /// [`Libvirt::guest_agent`].
    ///
    /// # Errors
    ///
    /// Those of [`Libvirt::open`] and [`Libvirt::guest_agent`].
    pub async fn guest_agent(
        &self,
        uri: &str,
        domain: &str,
        timeout: Option<Duration>,
    ) -> Result<GuestAgent, Error> {
        self.host(uri).await?.guest_agent(domain, timeout).await
    }
}
