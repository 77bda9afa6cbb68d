//! Reconnection back-off: 1 s, 2 s, 4 s … up to a maximum, so a fleet of boxes does not
//! hammer a broker that is restarting, yet a short outage costs about a second.

use std::time::Duration;

/// The wait before attempt number `failures + 1`: `min(2^failures, max)` seconds.
pub fn backoff_delay(failures: u32, max: Duration) -> Duration {
    let secs = if failures >= 63 { u64::MAX } else { 1u64 << failures };
    Duration::from_secs(secs).min(max)
}

/// Consecutive failures and the next wait.
#[derive(Debug, Clone)]
pub struct Backoff {
    failures: u32,
    max: Duration,
}

impl Backoff {
    pub fn new(max: Duration) -> Self {
        Self { failures: 0, max: max.max(Duration::from_secs(1)) }
    }

    /// The wait after one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let d = backoff_delay(self.failures, self.max);
        self.failures = self.failures.saturating_add(1);
        d
    }

    /// Back to 1 s. Done only after a connection stayed up for a while: a broker that accepts
    /// and then drops us at once (say, a duplicate client id) must still see the waits grow.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_maximum() {
        let mut b = Backoff::new(Duration::from_secs(60));
        let seq: Vec<u64> = (0..10).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(seq, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn never_overflows() {
        assert_eq!(backoff_delay(63, Duration::from_secs(60)), Duration::from_secs(60));
        assert_eq!(backoff_delay(64, Duration::from_secs(60)), Duration::from_secs(60));
        assert_eq!(backoff_delay(u32::MAX, Duration::from_secs(5)), Duration::from_secs(5));
        assert_eq!(backoff_delay(0, Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(backoff_delay(3, Duration::from_secs(2)), Duration::from_secs(2));
        let mut b = Backoff::new(Duration::ZERO);
        assert_eq!(b.next_delay(), Duration::from_secs(1), "a zero maximum still waits a second");
    }
}
