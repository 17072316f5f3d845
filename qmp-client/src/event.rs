//! Asynchronous events: the hub the reader feeds and the streams that
//! subscribers poll.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// An event as QEMU sent it, undecoded.
///
/// Deserializes from the full event message
/// `{"event": ..., "data": ..., "timestamp": {...}}`, like a typed event
/// enum does.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RawEvent {
    /// The event's name, e.g. `STOP`.
    pub name: String,
    /// The `data` member; `null` when QEMU sent none.
    pub data: serde_json::Value,
    /// When it happened: seconds and microseconds since the Unix epoch,
    /// both `-1` if QEMU could not read the clock.
    pub timestamp: (i64, i64),
}

impl RawEvent {
    /// Decodes [`RawEvent::data`] as `T`.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] naming the JSON path that does not fit `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, Error> {
        qmp_types::decode(&self.data).map_err(|e| Error::Decode {
            command: self.name.clone(),
            path: e.path().to_owned(),
            message: e.message().to_owned(),
            raw: self.data.to_string(),
        })
    }
}

impl<'de> Deserialize<'de> for RawEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RawEvent, D::Error> {
        let mut m = crate::de::object(d)?;
        let data = m.remove("data").unwrap_or(serde_json::Value::Null);
        let mut timestamp: serde_json::Map<String, serde_json::Value> =
            crate::de::required(&mut m, "timestamp")?;
        Ok(RawEvent {
            name: crate::de::required(&mut m, "event")?,
            data,
            timestamp: (
                crate::de::required(&mut timestamp, "seconds")?,
                crate::de::required(&mut timestamp, "microseconds")?,
            ),
        })
    }
}

/// Why an [`Events`] stream yielded no event.
#[derive(Debug)]
#[non_exhaustive]
pub enum EventError {
    /// The subscriber's buffer was full: this many events (older than the
    /// ones still buffered) were dropped.
    Lagged {
        /// How many events were dropped.
        lost: u64,
    },
    /// One event did not decode as the stream's type; the stream goes on.
    Decode {
        /// The event's name.
        name: String,
        /// The JSON path, in the full event message, that failed.
        path: String,
        /// What the decoder expected.
        message: String,
        /// The full event message.
        raw: serde_json::Value,
    },
    /// The connection was lost and the client is reconnecting (see
    /// [`Builder::reconnect`](crate::Builder::reconnect)): events QEMU
    /// sent meanwhile are not seen, and the events after this one come
    /// from the new connection, maybe from a restarted QEMU. If the client
    /// gives up, the stream ends instead.
    Reconnecting,
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventError::Lagged { lost } => write!(f, "lagged behind: {lost} events lost"),
            EventError::Decode {
                name,
                path,
                message,
                ..
            } => write!(f, "cannot decode event `{name}` at `{path}`: {message}"),
            EventError::Reconnecting => f.write_str("connection lost; reconnecting"),
        }
    }
}

impl std::error::Error for EventError {}

/// One event as the reader hands it out, shared by all subscribers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) message: serde_json::Value,
}

/// What a subscriber's queue holds.
enum Item {
    Event(Arc<Shared>),
    /// The connection was lost here. Never two in a row, so that the
    /// queue stays bounded however often the client reconnects.
    Reconnecting,
}

struct Queue {
    buf: VecDeque<Item>,
    /// How many of `buf` are markers; they do not count against the
    /// capacity, which is in events.
    markers: usize,
    lost: u64,
    closed: bool,
    waker: Option<Waker>,
}

pub(crate) struct Subscriber {
    names: Option<Vec<String>>,
    capacity: usize,
    queue: Mutex<Queue>,
}

impl Subscriber {
    fn wants(&self, name: &str) -> bool {
        self.names
            .as_ref()
            .is_none_or(|n| n.iter().any(|n| n == name))
    }
}

/// The list of subscribers; the reader publishes into it.
#[derive(Default)]
pub(crate) struct Hub {
    subs: Mutex<Vec<Weak<Subscriber>>>,
    closed: Mutex<bool>,
}

impl Hub {
    pub(crate) fn subscribe(&self, names: Option<Vec<String>>, capacity: usize) -> Arc<Subscriber> {
        let closed = *lock(&self.closed);
        let sub = Arc::new(Subscriber {
            names,
            capacity: capacity.max(1),
            queue: Mutex::new(Queue {
                buf: VecDeque::new(),
                markers: 0,
                lost: 0,
                closed,
                waker: None,
            }),
        });
        lock(&self.subs).push(Arc::downgrade(&sub));
        sub
    }

    /// Whether anyone listens; lets the reader skip parsing events.
    pub(crate) fn is_empty(&self) -> bool {
        lock(&self.subs).is_empty()
    }

    pub(crate) fn publish(&self, event: Shared) {
        let event = Arc::new(event);
        let mut subs = lock(&self.subs);
        subs.retain(|weak| {
            let Some(sub) = weak.upgrade() else {
                return false;
            };
            if sub.wants(&event.name) {
                let mut q = lock(&sub.queue);
                if q.buf.len() - q.markers >= sub.capacity {
                    q.drop_oldest_event();
                }
                q.buf.push_back(Item::Event(event.clone()));
                if let Some(w) = q.waker.take() {
                    w.wake();
                }
            }
            true
        });
    }

    /// Tells every subscriber, in order with the events, that the
    /// connection was lost and the client is reconnecting.
    pub(crate) fn mark_reconnecting(&self) {
        let mut subs = lock(&self.subs);
        subs.retain(|weak| {
            let Some(sub) = weak.upgrade() else {
                return false;
            };
            let mut q = lock(&sub.queue);
            if !matches!(q.buf.back(), Some(Item::Reconnecting)) {
                q.buf.push_back(Item::Reconnecting);
                q.markers += 1;
            }
            if let Some(w) = q.waker.take() {
                w.wake();
            }
            true
        });
    }

    /// Ends every stream once its buffer is drained.
    pub(crate) fn close(&self) {
        *lock(&self.closed) = true;
        for sub in lock(&self.subs).drain(..).filter_map(|w| w.upgrade()) {
            let mut q = lock(&sub.queue);
            q.closed = true;
            if let Some(w) = q.waker.take() {
                w.wake();
            }
        }
    }
}

impl Queue {
    /// Makes room for an event: drops the oldest one and counts it lost.
    /// Markers stay (they are few: never two in a row).
    fn drop_oldest_event(&mut self) {
        let Some(i) = self.buf.iter().position(|i| matches!(i, Item::Event(_))) else {
            return;
        };
        self.buf.remove(i);
        self.lost += 1;
        // Two markers that met say no more than one.
        if i > 0
            && matches!(self.buf.get(i - 1), Some(Item::Reconnecting))
            && matches!(self.buf.get(i), Some(Item::Reconnecting))
        {
            self.buf.remove(i);
            self.markers -= 1;
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A stream of events, decoded as `E`.
///
/// Yields `Ok(event)` for each event, [`EventError::Lagged`] when events
/// were dropped because the buffer was full,
/// [`EventError::Decode`] for an event that does not decode as `E` (the
/// stream goes on), and [`EventError::Reconnecting`] where a client with a
/// [reconnect policy](crate::Builder::reconnect) lost its connection. It
/// ends when the connection closes (for good, with a reconnect policy).
///
/// Each subscriber has its own bounded buffer, so a slow subscriber never
/// delays command replies or other subscribers. Created by
/// [`Client::subscribe`](crate::Client::subscribe).
#[must_use = "streams do nothing unless polled"]
pub struct Events<E = RawEvent> {
    sub: Arc<Subscriber>,
    timeout: Option<Duration>,
    _decode: PhantomData<fn() -> E>,
}

impl<E> fmt::Debug for Events<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("names", &self.sub.names)
            .finish_non_exhaustive()
    }
}

impl<E: DeserializeOwned> Events<E> {
    pub(crate) fn new(sub: Arc<Subscriber>, timeout: Option<Duration>) -> Events<E> {
        Events {
            sub,
            timeout,
            _decode: PhantomData,
        }
    }

    /// The same subscription, decoding each full event message as `F`
    /// (for example a generated `Event` enum).
    pub fn typed<F: DeserializeOwned>(self) -> Events<F> {
        Events {
            sub: self.sub,
            timeout: self.timeout,
            _decode: PhantomData,
        }
    }

    /// The next event, or `None` once the connection has closed and every
    /// buffered event was taken. Waits as long as it takes (no timeout;
    /// see [`wait_for`](Events::wait_for) for one).
    ///
    /// The same as [`StreamExt::next`](https://docs.rs/futures/latest/futures/stream/trait.StreamExt.html#method.next)
    /// on the [`Stream`](futures_core::Stream) this also is, without
    /// importing anything.
    ///
    /// ```no_run
    /// # async fn f(qmp: qmp_client::Client) {
    /// use qmp_types::qmp::{Event, EventName};
    /// let mut events = qmp.subscribe_to([EventName::Stop, EventName::Resume]).typed::<Event>();
    /// while let Some(event) = events.next().await {
    ///     match event {
    ///         Ok(Event::Stop) => println!("paused"),
    ///         Ok(other) => println!("{}", other.name()),
    ///         Err(e) => eprintln!("{e}"),
    ///     }
    /// }
    /// # }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: events not yet taken stay buffered.
    pub async fn next(&mut self) -> Option<Result<E, EventError>> {
        std::future::poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// Waits for the first event that `matches` accepts, skipping others
    /// and lost-event reports, within the client's default timeout.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] if none arrives in time, [`Error::Disconnected`] if
    /// the connection closes first (or is lost, with a
    /// [reconnect policy](crate::Builder::reconnect): the awaited event may
    /// have been missed; calling again waits on the new connection),
    /// [`Error::Decode`] if an event does not decode as `E`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: events not yet taken stay buffered.
    pub async fn wait_for(&mut self, mut matches: impl FnMut(&E) -> bool) -> Result<E, Error> {
        let timeout = self.timeout;
        let wait = async {
            loop {
                match std::future::poll_fn(|cx| self.poll_next_event(cx)).await {
                    None | Some(Err(EventError::Reconnecting)) => {
                        return Err(Error::Disconnected { status: None });
                    }
                    Some(Ok(e)) if matches(&e) => return Ok(e),
                    Some(Ok(_)) | Some(Err(EventError::Lagged { .. })) => {}
                    Some(Err(EventError::Decode {
                        name,
                        path,
                        message,
                        raw,
                    })) => {
                        return Err(Error::Decode {
                            command: name,
                            path,
                            message,
                            raw: raw.to_string(),
                        });
                    }
                }
            }
        };
        match timeout {
            Some(after) => tokio::time::timeout(after, wait)
                .await
                .map_err(|_| Error::Timeout { after })?,
            None => wait.await,
        }
    }

    fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<E, EventError>>> {
        let next = {
            let mut q = lock(&self.sub.queue);
            if q.lost > 0 {
                let lost = std::mem::take(&mut q.lost);
                return Poll::Ready(Some(Err(EventError::Lagged { lost })));
            }
            match q.buf.pop_front() {
                Some(Item::Event(e)) => e,
                Some(Item::Reconnecting) => {
                    q.markers -= 1;
                    return Poll::Ready(Some(Err(EventError::Reconnecting)));
                }
                None if q.closed => return Poll::Ready(None),
                None => {
                    q.waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        };
        let _span = tracing::trace_span!("qmp.event", name = %next.name).entered();
        Poll::Ready(Some(qmp_types::decode(&next.message).map_err(|e| {
            EventError::Decode {
                name: next.name.clone(),
                path: e.path().to_owned(),
                message: e.message().to_owned(),
                raw: next.message.clone(),
            }
        })))
    }
}

impl<E: DeserializeOwned> futures_core::Stream for Events<E> {
    type Item = Result<E, EventError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_event(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `script` to a hub with one subscriber of `capacity`: `M`
    /// marks a reconnect, any other word is an event of that name. Then
    /// checks what the subscriber reads: `lost=N`, `M` or event names.
    fn check(capacity: usize, script: &str, expect: &str) {
        let hub = Hub::default();
        let sub = hub.subscribe(None, capacity);
        for word in script.split_whitespace() {
            match word {
                "M" => hub.mark_reconnecting(),
                name => hub.publish(Shared {
                    name: name.to_owned(),
                    message: serde_json::json!({
                        "event": name,
                        "timestamp": { "seconds": 0, "microseconds": 0 },
                    }),
                }),
            }
        }
        hub.close();
        let mut events: Events<RawEvent> = Events::new(sub, None);
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut got = Vec::new();
        loop {
            match events.poll_next_event(&mut cx) {
                Poll::Ready(None) => break,
                Poll::Ready(Some(Ok(e))) => got.push(e.name),
                Poll::Ready(Some(Err(EventError::Lagged { lost }))) => {
                    got.push(format!("lost={lost}"))
                }
                Poll::Ready(Some(Err(EventError::Reconnecting))) => got.push("M".into()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(got.join(" "), expect);
    }

    #[test]
    fn reconnect_markers() {
        check(4, "A M B", "A M B");
        // Repeated losses with no event between read as one.
        check(4, "A M M M B", "A M B");
        // A full queue drops the oldest event, never a marker.
        check(2, "A M B C", "lost=1 M B C");
        // Markers that meet when the event between them is dropped merge.
        check(2, "M A M B C", "lost=1 M B C");
        check(1, "M", "M");
    }
}
