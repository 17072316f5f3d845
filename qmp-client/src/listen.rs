//! Listen mode: the client binds a Unix socket and QEMU connects to it.

use std::path::{Path, PathBuf};

use crate::{Builder, Client, Error};

/// A Unix socket that QEMU connects to, for a monitor in client mode:
/// `-qmp unix:PATH,server=off`, or in long form
/// `-chardev socket,id=mon,path=PATH,server=off -mon chardev=mon,mode=control`
/// (from QEMU 11.1, `-object monitor-qmp,id=qmp0,chardev=mon` instead of
/// the deprecated `-mon`).
///
/// Listening first and starting QEMU second removes the race of connecting
/// to a socket QEMU has not created yet. Made by [`Builder::listen_unix`];
/// each [`accept`](Listener::accept) gives a [`Client`] with the builder's
/// settings (its [reconnect policy](Builder::reconnect) aside: the client
/// cannot make QEMU connect again).
///
/// Dropping the listener closes it and removes the socket file; clients
/// already accepted are unaffected.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> Result<(), qmp_client::Error> {
/// let listener = qmp_client::Client::builder().listen_unix("/tmp/vm1.qmp").await?;
/// let qemu = tokio::process::Command::new("qemu-system-x86_64")
///     .args(["-machine", "none", "-nodefaults", "-display", "none"])
///     .args(["-qmp", "unix:/tmp/vm1.qmp,server=off"])
///     .kill_on_drop(true)
///     .spawn()?;
/// let qmp = listener.accept().await?;
/// println!("QEMU {} connected", qmp.version());
/// # drop(qemu); Ok(()) }
/// ```
#[derive(Debug)]
pub struct Listener {
    socket: tokio::net::UnixListener,
    path: PathBuf,
    settings: Builder,
}

impl Builder {
    /// Binds a Unix socket at `path` for QEMU to connect to (listen mode;
    /// see [`Listener`]).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the socket cannot be bound, e.g. because `path`
    /// exists (a file there is never removed: it may be another program's).
    pub async fn listen_unix(self, path: impl AsRef<Path>) -> Result<Listener, Error> {
        let path = path.as_ref().to_owned();
        let socket = tokio::net::UnixListener::bind(&path).map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot listen on {}: {e}", path.display()),
            ))
        })?;
        Ok(Listener {
            socket,
            path,
            settings: self.without_reconnect(),
        })
    }
}

impl Listener {
    /// Waits for QEMU to connect, then reads its greeting and negotiates
    /// as [`Builder::connect_stream`] does. The connection can pass file
    /// descriptors ([`Client::execute_with_fds`]).
    ///
    /// It waits as long as it takes for a connection; wrap it in
    /// [`tokio::time::timeout`] to bound that. Each call accepts one
    /// connection.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if accepting fails; those of
    /// [`Builder::connect_stream`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe while waiting for a connection; once one is accepted,
    /// dropping the future drops it.
    pub async fn accept(&self) -> Result<Client, Error> {
        let stream = self.accept_stream().await?;
        self.settings.clone().connect_unix_stream(stream).await
    }

    /// Waits for a connection, without speaking QMP on it.
    pub(crate) async fn accept_stream(&self) -> Result<tokio::net::UnixStream, Error> {
        Ok(self.socket.accept().await?.0)
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
