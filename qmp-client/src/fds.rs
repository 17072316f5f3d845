//! File descriptor passing: `SCM_RIGHTS` ancillary data sent with the bytes
//! of one command, which is how QEMU's `getfd` and `add-fd` receive a
//! descriptor.

use std::io;
use std::os::fd::OwnedFd;

use tokio::io::AsyncWrite;
use tokio::net::UnixStream;

/// The writing half of a connection, and whether it is a Unix socket, the
/// only kind of stream that carries file descriptors.
pub(crate) trait Sink: AsyncWrite + Send + Unpin + 'static {
    /// The Unix socket under this writer, if it is one.
    fn unix(&self) -> Option<&UnixStream> {
        None
    }
}

impl Sink for tokio::net::unix::OwnedWriteHalf {
    fn unix(&self) -> Option<&UnixStream> {
        Some(self.as_ref())
    }
}

impl Sink for tokio::net::tcp::OwnedWriteHalf {}

impl<S: AsyncWrite + Send + 'static> Sink for tokio::io::WriteHalf<S> {}

/// Duplicates `fds`, so that the writer task owns what it sends and closes
/// its copies once they are sent (or the message is dropped unsent).
#[cfg(feature = "fd-passing")]
pub(crate) fn duplicate(fds: &[std::os::fd::BorrowedFd<'_>]) -> io::Result<Vec<OwnedFd>> {
    fds.iter().map(|fd| fd.try_clone_to_owned()).collect()
}

/// Sends `bytes` on `socket` with `fds` attached to them, once the socket
/// is writable. Returns how many bytes went out: at least one, with the
/// descriptors; the caller writes the rest as usual.
#[cfg(feature = "fd-passing")]
pub(crate) async fn send(socket: &UnixStream, bytes: &[u8], fds: &[OwnedFd]) -> io::Result<usize> {
    use std::io::IoSlice;
    use std::mem::MaybeUninit;
    use std::os::fd::{AsFd, BorrowedFd};

    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    use tokio::io::Interest;

    let fds: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len()))];
    loop {
        socket.writable().await?;
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
            return Err(io::Error::other(
                "too many file descriptors for one message",
            ));
        }
        let sent = socket.try_io(Interest::WRITABLE, || {
            rustix::net::sendmsg(
                socket,
                &[IoSlice::new(bytes)],
                &mut control,
                SendFlags::NOSIGNAL,
            )
            .map_err(io::Error::from)
        });
        match sent {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

/// Without the `fd-passing` feature no message carries descriptors (the
/// methods that take them are not compiled), so this is never reached.
#[cfg(not(feature = "fd-passing"))]
pub(crate) async fn send(_: &UnixStream, _: &[u8], _: &[OwnedFd]) -> io::Result<usize> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(feature = "fd-helpers")]
mod helpers {
    use std::os::fd::BorrowedFd;

    use qmp_types::qmp::AddfdInfo;
    use qmp_types::qmp::commands::{AddFd, Getfd};

    use crate::{Client, Error};

    impl Client {
        /// Passes `fd` to QEMU under `name` (`getfd`), for the commands
        /// that take a descriptor by name (`netdev_add`'s `fd`, `migrate`'s
        /// `fd:NAME`, `add_client`). `closefd` closes it in QEMU.
        ///
        /// This takes precedence over the generated
        /// `QmpCommands::getfd`, which cannot attach the descriptor.
        ///
        /// # Errors
        ///
        /// [`Error::Qmp`] if QEMU refuses the name (one starting with a
        /// digit), and those of [`Client::execute_with_fds`].
        ///
        /// # Cancel safety
        ///
        /// As for [`Client::execute_with_fds`].
        pub async fn getfd(&self, name: &str, fd: BorrowedFd<'_>) -> Result<(), Error> {
            self.execute_with_fds(Getfd::new(name), &[fd]).await?;
            Ok(())
        }

        /// Adds `fd` to a file descriptor set (`add-fd`): to `fdset_id`, or
        /// to a new set when `None`, with an optional free-form `opaque`
        /// note. Returns the set's id and the descriptor's number in QEMU;
        /// QEMU opens `/dev/fdset/ID` from the set by matching access mode,
        /// so open the file as QEMU will (read-write for a writable disk).
        ///
        /// The generated `QmpCommands::remove_fd` and
        /// `QmpCommands::query_fdsets` remove and list them. This takes
        /// precedence over the generated `QmpCommands::add_fd`, which
        /// cannot attach the descriptor.
        ///
        /// # Errors
        ///
        /// [`Error::Qmp`] if QEMU refuses the set, and those of
        /// [`Client::execute_with_fds`].
        ///
        /// # Cancel safety
        ///
        /// As for [`Client::execute_with_fds`].
        #[doc(alias = "add-fd")]
        pub async fn add_fd(
            &self,
            fd: BorrowedFd<'_>,
            fdset_id: Option<i64>,
            opaque: Option<&str>,
        ) -> Result<AddfdInfo, Error> {
            let mut command = AddFd::new();
            if let Some(id) = fdset_id {
                command = command.with_fdset_id(id);
            }
            if let Some(opaque) = opaque {
                command = command.with_opaque(opaque);
            }
            self.execute_with_fds(command, &[fd]).await
        }
    }
}
