//! The bounded queue between the callers and the MQTT thread. Callers never wait on the
//! network: they only touch this under a short lock. When it is full the oldest event or stats
//! message goes (a monitor cares about now, not about a backlog), while the status is not
//! queued at all: only its latest value is kept, and it is always sent.

use super::payload::Status;
use rumqttc::QoS;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// A non-retained message waiting to be handed to the client.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    pub topic: String,
    pub payload: String,
    pub qos: QoS,
}

/// Jobs remembered for progress throttling; more means a caller never reports an end, and the
/// map is simply restarted rather than grown.
const MAX_TRACKED_JOBS: usize = 1024;

#[derive(Debug)]
pub(crate) struct Outbox {
    cap: usize,
    queue: VecDeque<Message>,
    status: Status,
    status_dirty: bool,
    dropped: u64,
    progress_gap: Duration,
    last_progress: HashMap<String, Instant>,
    /// Retained messages other than the status (one per topic, e.g. each camera's state):
    /// only the latest payload of a topic is kept, and all are sent again after a reconnect.
    retained: std::collections::BTreeMap<String, String>,
    retained_dirty: std::collections::BTreeSet<String>,
}

impl Outbox {
    /// `cap`: most queued messages; `progress_gap`: least time between two progress events of
    /// one job. Starts with an idle status waiting to be sent, so the retained status exists as
    /// soon as the first connection is up.
    pub fn new(cap: usize, progress_gap: Duration) -> Self {
        Self {
            cap: cap.max(1),
            queue: VecDeque::new(),
            status: Status::idle(),
            status_dirty: true,
            dropped: 0,
            progress_gap,
            last_progress: HashMap::new(),
            retained: Default::default(),
            retained_dirty: Default::default(),
        }
    }

    /// Queues `m`, dropping the oldest message when full.
    pub fn push(&mut self, m: Message) {
        while self.queue.len() >= self.cap {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(m);
    }

    pub fn front(&self) -> Option<&Message> {
        self.queue.front()
    }

    pub fn pop_front(&mut self) -> Option<Message> {
        self.queue.pop_front()
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Replaces the status; true when it changed. An unchanged status is not marked to be sent
    /// (the periodic refresh sends it anyway), so a caller may set it on a timer for free.
    pub fn set_status(&mut self, s: Status) -> bool {
        if s == self.status {
            return false;
        }
        self.status = s;
        self.status_dirty = true;
        true
    }

    /// Asks for the latest status to be sent again (reconnect, periodic refresh).
    pub fn mark_status_dirty(&mut self) {
        self.status_dirty = true;
    }

    pub fn status_dirty(&self) -> bool {
        self.status_dirty
    }

    /// The latest status, clearing the "to send" mark.
    pub fn take_status(&mut self) -> Status {
        self.status_dirty = false;
        self.status.clone()
    }

    /// Messages dropped since the last call.
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }

    /// Whether a progress event of `job_id` at `now` is far enough from the previous one.
    pub fn admit_progress(&mut self, job_id: &str, now: Instant) -> bool {
        if let Some(last) = self.last_progress.get(job_id) {
            if now.saturating_duration_since(*last) < self.progress_gap {
                return false;
            }
        }
        if self.last_progress.len() >= MAX_TRACKED_JOBS {
            self.last_progress.clear();
        }
        self.last_progress.insert(job_id.to_string(), now);
        true
    }

    /// Sets the retained payload of `topic`; true when it changed (and is now to be sent).
    pub fn set_retained(&mut self, topic: &str, payload: String) -> bool {
        if self.retained.get(topic) == Some(&payload) {
            return false;
        }
        self.retained.insert(topic.to_string(), payload);
        self.retained_dirty.insert(topic.to_string());
        true
    }

    /// After a (re)connect: every retained payload is to be sent again.
    pub fn mark_retained_dirty(&mut self) {
        self.retained_dirty = self.retained.keys().cloned().collect();
    }

    pub fn retained_pending(&self) -> bool {
        !self.retained_dirty.is_empty()
    }

    /// The next retained (topic, payload) to send, without clearing its mark.
    pub fn next_retained(&self) -> Option<(String, String)> {
        let t = self.retained_dirty.iter().next()?;
        self.retained.get(t).map(|p| (t.clone(), p.clone()))
    }

    /// `topic` was handed to the client.
    pub fn retained_sent(&mut self, topic: &str) {
        self.retained_dirty.remove(topic);
    }

    /// A job ended: its next run starts with a fresh progress throttle.
    pub fn forget_job(&mut self, job_id: &str) {
        self.last_progress.remove(job_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::payload::State;

    fn msg(i: usize) -> Message {
        Message { topic: "t".into(), payload: i.to_string(), qos: QoS::AtLeastOnce }
    }

    #[test]
    fn full_queue_drops_oldest_and_counts() {
        let mut o = Outbox::new(3, Duration::ZERO);
        for i in 0..5 {
            o.push(msg(i));
        }
        assert_eq!(o.len(), 3);
        assert_eq!(o.take_dropped(), 2);
        assert_eq!(o.take_dropped(), 0);
        let left: Vec<String> = std::iter::from_fn(|| o.pop_front()).map(|m| m.payload).collect();
        assert_eq!(left, ["2", "3", "4"]);
    }

    #[test]
    fn latest_status_always_kept() {
        let mut o = Outbox::new(1, Duration::ZERO);
        assert!(o.status_dirty(), "initial idle status is to be sent");
        assert_eq!(o.take_status(), Status::idle());
        assert!(!o.status_dirty());
        for q in 0..100 {
            let _ = o.set_status(Status { state: State::Busy, queue_depth: q, running: vec![] });
            o.push(msg(q));
        }
        assert!(o.status_dirty());
        assert_eq!(o.take_status().queue_depth, 99);
        o.mark_status_dirty();
        assert_eq!(o.take_status().queue_depth, 99, "a resend is the same latest status");
    }

    #[test]
    fn setting_the_same_status_again_sends_nothing() {
        let mut o = Outbox::new(1, Duration::ZERO);
        let _ = o.take_status();
        assert!(!o.set_status(Status::idle()), "a timer refreshing an unchanged status");
        assert!(!o.status_dirty());
        let busy = Status { state: State::Busy, queue_depth: 1, running: vec![] };
        assert!(o.set_status(busy.clone()));
        assert!(o.status_dirty());
        let _ = o.take_status();
        assert!(!o.set_status(busy));
        assert!(!o.status_dirty());
    }

    #[test]
    fn progress_is_throttled_per_job() {
        let mut o = Outbox::new(10, Duration::from_secs(5));
        let t0 = Instant::now();
        assert!(o.admit_progress("a", t0));
        assert!(!o.admit_progress("a", t0 + Duration::from_secs(1)));
        assert!(o.admit_progress("b", t0 + Duration::from_secs(1)));
        assert!(o.admit_progress("a", t0 + Duration::from_secs(5)));
        o.forget_job("a");
        assert!(o.admit_progress("a", t0 + Duration::from_secs(6)));
    }
}
