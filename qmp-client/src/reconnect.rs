//! The reconnect policy: when a client that lost its connection tries
//! again, and when it stops trying.

use std::time::Duration;

/// The shortest wait between two attempts, so that a zero delay does not
/// spin.
const MIN_DELAY: Duration = Duration::from_millis(10);

/// When and for how long a [`Client`](crate::Client) makes a new
/// connection after losing one, e.g. because QEMU was restarted on the
/// same socket. Given to [`Builder::reconnect`](crate::Builder::reconnect).
///
/// After a loss the client waits [`initial_delay`](Reconnect::initial_delay),
/// tries, and doubles the wait after each failed attempt up to
/// [`max_delay`](Reconnect::max_delay), until it has been trying for
/// [`give_up_after`](Reconnect::give_up_after). The defaults are 100 ms,
/// 5 s and 60 s.
///
/// # Examples
///
/// ```no_run
/// # async fn f() -> Result<(), qmp_client::Error> {
/// use std::time::Duration;
/// use qmp_client::{Client, Reconnect};
///
/// let qmp = Client::builder()
///     .reconnect(Reconnect::new().give_up_after(Some(Duration::from_secs(30))))
///     .connect_unix("/run/qemu/vm1.qmp")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconnect {
    pub(crate) initial_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) give_up_after: Option<Duration>,
}

impl Default for Reconnect {
    fn default() -> Reconnect {
        Reconnect {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            give_up_after: Some(Duration::from_secs(60)),
        }
    }
}

impl Reconnect {
    /// The default policy: first attempt 100 ms after the loss, the wait
    /// doubling up to 5 s between attempts, giving up after 60 s.
    pub fn new() -> Reconnect {
        Reconnect::default()
    }

    /// How long to wait after the loss before the first attempt (100 ms).
    pub fn initial_delay(mut self, delay: Duration) -> Reconnect {
        self.initial_delay = delay;
        self
    }

    /// The longest wait between two attempts (5 s); each failed attempt
    /// doubles the wait up to this. Attempts are never closer than
    /// 10 ms, whatever the settings.
    pub fn max_delay(mut self, delay: Duration) -> Reconnect {
        self.max_delay = delay;
        self
    }

    /// How long after the loss the client stops trying and is finally
    /// disconnected (60 s); `None` tries for ever.
    pub fn give_up_after(mut self, limit: Option<Duration>) -> Reconnect {
        self.give_up_after = limit;
        self
    }

    /// The wait after one of `delay` failed.
    pub(crate) fn next_delay(&self, delay: Duration) -> Duration {
        let cap = self.max_delay.max(self.initial_delay).max(MIN_DELAY);
        delay.saturating_mul(2).clamp(MIN_DELAY, cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: Reconnect, expect: &[u64]) {
        let mut delay = policy.initial_delay;
        let mut got = Vec::new();
        for _ in 0..expect.len() {
            got.push(u64::try_from(delay.as_millis()).unwrap());
            delay = policy.next_delay(delay);
        }
        assert_eq!(got, expect);
    }

    #[test]
    fn delays() {
        check(
            Reconnect::new(),
            &[100, 200, 400, 800, 1600, 3200, 5000, 5000],
        );
        check(
            Reconnect::new()
                .initial_delay(Duration::from_millis(10))
                .max_delay(Duration::from_millis(30)),
            &[10, 20, 30, 30],
        );
        // A cap below the first delay keeps the first delay.
        check(
            Reconnect::new()
                .initial_delay(Duration::from_millis(50))
                .max_delay(Duration::from_millis(10)),
            &[50, 50],
        );
        // Zero delays still leave 10 ms between attempts.
        check(
            Reconnect::new()
                .initial_delay(Duration::ZERO)
                .max_delay(Duration::ZERO),
            &[0, 10, 10],
        );
    }
}
