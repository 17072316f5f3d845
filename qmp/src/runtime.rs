//! Where VMs live: the private runtime directory and its file names.
//!
//! `$XDG_RUNTIME_DIR/qmp/` (or `/tmp/qmp-UID/` without it), mode 0700,
//! holds for each VM `NAME`:
//!
//! | file | what |
//! | --- | --- |
//! | `NAME.sock` | the QMP socket clients use: QEMU's monitor, or the daemon's proxy |
//! | `.NAME.qemu.sock` | QEMU's monitor while the daemon proxies it |
//! | `NAME.ga.sock` | the guest agent's socket (`qmp launch --ga`) |
//! | `NAME.pid`, `NAME.log` | QEMU's pid and output (`qmp launch`) |
//!
//! and `daemon.ctl`, `daemon.pid`, `daemon.log` for the daemon.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use qmp_vm::{Error, Result};

/// The current user's id.
pub(crate) fn uid() -> u32 {
    rustix::process::getuid().as_raw()
}

/// The runtime directory, created (0700) if missing.
///
/// # Errors
///
/// [`Error::File`] if it cannot be created, or exists with another owner
/// or with access for others.
pub(crate) fn dir() -> Result<PathBuf> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("qmp"),
        _ => std::env::temp_dir().join(format!("qmp-{}", uid())),
    };
    ensure_private(&dir)?;
    Ok(dir)
}

/// Creates `dir` with mode 0700 if missing; checks it is ours and closed
/// to others.
///
/// # Errors
///
/// As for [`dir`].
pub(crate) fn ensure_private(dir: &Path) -> Result<()> {
    let file_err = |source| Error::File {
        path: dir.display().to_string(),
        source,
    };
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(file_err(e)),
    }
    let meta = std::fs::metadata(dir).map_err(file_err)?;
    if meta.uid() != uid() {
        return Err(file_err(std::io::Error::other(format!(
            "owned by uid {}, not by this user ({})",
            meta.uid(),
            uid()
        ))));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(file_err)?;
    }
    Ok(())
}

/// Checks a VM name: letters, digits, `_` and `-`.
///
/// # Errors
///
/// What is wrong with it, as a message.
pub(crate) fn check_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        || name.starts_with('-')
    {
        return Err(format!(
            "bad VM name `{name}`: use 1 to 64 letters, digits, `_` or `-`"
        ));
    }
    if name == "daemon" {
        return Err("`daemon` is reserved".into());
    }
    Ok(())
}

/// The QMP socket of VM `name`.
pub(crate) fn vm_socket(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.sock"))
}

/// Where QEMU's own monitor socket is moved while the daemon proxies it.
pub(crate) fn hidden_socket(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.qemu.sock"))
}

/// The guest agent socket of VM `name`.
pub(crate) fn ga_socket(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.ga.sock"))
}

/// QEMU's pid file for VM `name`.
pub(crate) fn pid_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.pid"))
}

/// QEMU's log for VM `name`.
pub(crate) fn log_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.log"))
}

/// The daemon's control socket.
pub(crate) fn daemon_ctl(dir: &Path) -> PathBuf {
    dir.join("daemon.ctl")
}

/// The daemon's pid file.
pub(crate) fn daemon_pid(dir: &Path) -> PathBuf {
    dir.join("daemon.pid")
}

/// The daemon's log.
pub(crate) fn daemon_log(dir: &Path) -> PathBuf {
    dir.join("daemon.log")
}

/// The names of the VMs with a socket in `dir`, sorted.
pub(crate) fn vm_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let vm = name.strip_suffix(".sock")?;
            check_name(vm).ok()?;
            Some(vm.to_owned())
        })
        .collect();
    names.sort();
    names
}

/// Reads a pid file; `None` if missing, malformed or the process is gone.
pub(crate) fn live_pid(path: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("vm1").is_ok());
        assert!(check_name("my_vm-2").is_ok());
        for bad in ["", "a.b", "a/b", "-x", "daemon", "sp ace"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        let d = Path::new("/r");
        assert_eq!(vm_socket(d, "a"), Path::new("/r/a.sock"));
        assert_eq!(hidden_socket(d, "a"), Path::new("/r/.a.qemu.sock"));
    }
}
