//! The libvirt calls that the `virt` binding does not wrap: QEMU monitor
//! events, domain lifecycle events and the connection's close callback.
//!
//! Every callback only hands a message to a tokio channel with `try_send`
//! (never blocking libvirt's event loop thread) and owns its sender through
//! libvirt's `opaque` pointer, which libvirt gives back to `free_*` when the
//! callback is deregistered.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_longlong, c_uint, c_void};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{mpsc, watch};
use virt::connect::Connect;
use virt::domain::Domain;
use virt_sys as sys;

/// What a domain's callbacks report to its bridge.
#[derive(Debug)]
pub(crate) enum Note {
    /// A QMP event, as the JSON line QEMU would have sent.
    Event(String),
    /// The domain stopped (its QEMU is gone).
    Stopped,
}

/// Starts libvirt's default event loop on a thread of its own, once per
/// process. Events and the close callback need it, and it must be
/// registered before the first connection is opened.
pub(crate) fn ensure_event_loop() -> Result<(), String> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    STARTED
        .get_or_init(|| {
            // libvirt's default error handler prints every error to stderr,
            // including those this crate reports as values.
            virt::error::clear_error_callback();
            virt::event::event_register_default_impl()
                .map_err(|e| format!("cannot register libvirt's event loop: {}", e.message()))?;
            std::thread::Builder::new()
                .name("libvirt-events".into())
                .spawn(|| {
                    loop {
                        if let Err(e) = virt::event::event_run_default_impl() {
                            tracing::warn!(error = e.message(), "libvirt event loop failed");
                            std::thread::sleep(std::time::Duration::from_millis(100));
                        }
                    }
                })
                .map(|_| ())
                .map_err(|e| format!("cannot start libvirt's event thread: {e}"))
        })
        .clone()
}

fn last_error() -> String {
    virt::error::Error::last_error().message().to_string()
}

/// The bridges listening to one domain. libvirt accepts one registration
/// of a callback per domain and connection, so every bridge on that
/// domain shares it.
#[derive(Default)]
pub(crate) struct Fanout {
    subscribers: Mutex<Vec<mpsc::Sender<Note>>>,
}

impl Fanout {
    /// Adds a bridge; it hears from the next callback on.
    pub(crate) fn add(&self, tx: mpsc::Sender<Note>) {
        self.lock().push(tx);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<mpsc::Sender<Note>>> {
        self.subscribers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `note` to every bridge, forgetting those that ended. A bridge
    /// whose queue is full loses it (never block libvirt's event thread).
    fn send(&self, note: impl Fn() -> Note) {
        self.lock().retain(|tx| match tx.try_send(note()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!("a bridge is not keeping up: dropping a QMP event");
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }
}

unsafe extern "C" fn free_fanout(opaque: *mut c_void) {
    // SAFETY: `opaque` is an `Arc<Fanout>` leaked by `DomainWatch::register`;
    // libvirt calls this once per registration, after its last callback.
    drop(unsafe { Arc::from_raw(opaque.cast::<Fanout>().cast_const()) });
}

unsafe extern "C" fn on_monitor_event(
    _conn: sys::virConnectPtr,
    _dom: sys::virDomainPtr,
    event: *const c_char,
    seconds: c_longlong,
    micros: c_uint,
    details: *const c_char,
    opaque: *mut c_void,
) {
    if event.is_null() || opaque.is_null() {
        return;
    }
    // SAFETY: libvirt passes NUL-terminated strings valid for the call, and
    // the `opaque` registered below.
    let (name, details, fanout) = unsafe {
        (
            CStr::from_ptr(event).to_string_lossy(),
            (!details.is_null()).then(|| CStr::from_ptr(details).to_string_lossy()),
            &*opaque.cast::<Fanout>(),
        )
    };
    let data = details
        .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    let line = serde_json::json!({
        "event": name,
        "data": data,
        "timestamp": { "seconds": seconds, "microseconds": micros },
    })
    .to_string();
    fanout.send(|| Note::Event(line.clone()));
}

unsafe extern "C" fn on_lifecycle(
    _conn: sys::virConnectPtr,
    _dom: sys::virDomainPtr,
    event: c_int,
    _detail: c_int,
    opaque: *mut c_void,
) {
    if opaque.is_null() || event as u32 != sys::VIR_DOMAIN_EVENT_STOPPED {
        return;
    }
    // SAFETY: the `opaque` registered below.
    let fanout = unsafe { &*opaque.cast::<Fanout>() };
    // A full queue loses the news, but then a command that fails finds
    // the domain stopped and closes the bridge all the same.
    fanout.send(|| Note::Stopped);
}

/// Callback registrations for one domain; deregistered on drop.
pub(crate) struct DomainWatch {
    conn: Connect,
    monitor_id: c_int,
    lifecycle_id: c_int,
}

impl DomainWatch {
    /// Registers for `dom`'s QEMU monitor events and for its lifecycle
    /// events; both report to `fanout`.
    pub(crate) fn register(
        conn: &Connect,
        dom: &Domain,
        fanout: &Arc<Fanout>,
    ) -> Result<DomainWatch, String> {
        let monitor_tx = Arc::into_raw(fanout.clone()).cast_mut().cast::<c_void>();
        // SAFETY: valid connection and domain pointers; a NULL event name
        // means every event; libvirt owns `monitor_tx` from here on and
        // frees it with `free_fanout`. Should registration fail, that
        // reference is leaked rather than risk a double free.
        let monitor_id = unsafe {
            sys::virConnectDomainQemuMonitorEventRegister(
                conn.as_ptr(),
                dom.as_ptr(),
                std::ptr::null(),
                Some(on_monitor_event),
                monitor_tx,
                Some(free_fanout),
                0,
            )
        };
        if monitor_id < 0 {
            return Err(format!(
                "cannot subscribe to QEMU monitor events: {}",
                last_error()
            ));
        }
        let lifecycle_tx = Arc::into_raw(fanout.clone()).cast_mut().cast::<c_void>();
        type Lifecycle =
            unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, c_int, c_int, *mut c_void);
        type Generic = unsafe extern "C" fn(sys::virConnectPtr, sys::virDomainPtr, *mut c_void);
        // SAFETY: libvirt calls a lifecycle callback through the generic
        // type with the lifecycle signature; this cast is how its C API is
        // meant to be used.
        let generic = unsafe { std::mem::transmute::<Lifecycle, Generic>(on_lifecycle) };
        // SAFETY: as above; libvirt owns `lifecycle_tx` from here on.
        let lifecycle_id = unsafe {
            sys::virConnectDomainEventRegisterAny(
                conn.as_ptr(),
                dom.as_ptr(),
                sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE as c_int,
                Some(generic),
                lifecycle_tx,
                Some(free_fanout),
            )
        };
        if lifecycle_id < 0 {
            let why = last_error();
            // SAFETY: the id was returned by the registration above.
            unsafe { sys::virConnectDomainQemuMonitorEventDeregister(conn.as_ptr(), monitor_id) };
            return Err(format!(
                "cannot subscribe to domain lifecycle events: {why}"
            ));
        }
        Ok(DomainWatch {
            conn: conn.clone(),
            monitor_id,
            lifecycle_id,
        })
    }
}

impl Drop for DomainWatch {
    fn drop(&mut self) {
        // SAFETY: ids returned by the registrations on this connection. A
        // failure (the connection is already closed) leaves nothing to do.
        unsafe {
            sys::virConnectDomainQemuMonitorEventDeregister(self.conn.as_ptr(), self.monitor_id);
            sys::virConnectDomainEventDeregisterAny(self.conn.as_ptr(), self.lifecycle_id);
        }
    }
}

unsafe extern "C" fn free_closed_sender(opaque: *mut c_void) {
    // SAFETY: the `Box<watch::Sender<bool>>` leaked by `watch_close`.
    drop(unsafe { Box::from_raw(opaque.cast::<watch::Sender<bool>>()) });
}

unsafe extern "C" fn on_close(_conn: sys::virConnectPtr, _reason: c_int, opaque: *mut c_void) {
    if opaque.is_null() {
        return;
    }
    // SAFETY: the `opaque` registered by `watch_close`.
    let tx = unsafe { &*opaque.cast::<watch::Sender<bool>>() };
    tx.send_replace(true);
}

/// Registers the connection's close callback (libvirt allows one per
/// connection); the returned receiver turns `true` when the connection is
/// lost.
pub(crate) fn watch_close(conn: &Connect) -> Result<watch::Receiver<bool>, String> {
    let (tx, rx) = watch::channel(false);
    let opaque = Box::into_raw(Box::new(tx)).cast::<c_void>();
    // SAFETY: a valid connection; libvirt owns `opaque` once registered.
    let ret = unsafe {
        sys::virConnectRegisterCloseCallback(
            conn.as_ptr(),
            Some(on_close),
            opaque,
            Some(free_closed_sender),
        )
    };
    if ret < 0 {
        let why = last_error();
        // SAFETY: libvirt did not take `opaque`: it is still ours to free.
        unsafe { free_closed_sender(opaque) };
        return Err(format!("cannot watch the connection: {why}"));
    }
    Ok(rx)
}

/// Undoes `watch_close`, before the connection is closed.
pub(crate) fn unwatch_close(conn: &Connect) {
    // SAFETY: a valid connection and the callback registered on it.
    unsafe { sys::virConnectUnregisterCloseCallback(conn.as_ptr(), Some(on_close)) };
}
