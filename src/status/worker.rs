//! The MQTT thread: drives the rumqttc event loop, moves queued messages to the broker while
//! connected, reconnects with back-off, and republishes what a fresh broker needs (availability,
//! discovery, the latest status) after every connection.
//!
//! One thread does everything, so there is no second thread to coordinate at shutdown and the
//! order of the first messages after a (re)connect is fixed: availability, discovery, status,
//! then queued events. While connected it sleeps in the client's event loop until traffic
//! arrives, a keep-alive ping is due, the status needs refreshing, or a caller queues a
//! message (which notifies it): an idle box wakes only at those intervals, never on a timer
//! of its own.

use super::backoff::Backoff;
use super::outbox::{Message, Outbox};
use super::payload::status_json;
use super::topics::Topics;
use rumqttc::{AsyncClient, ClientError, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tracing::{debug, error, info, warn};

/// How long a poll waits when the client's request channel was full: the event loop drains it
/// and returns on its own, this only bounds the wait should it not.
const TICK: Duration = Duration::from_millis(100);
/// rumqttc gives up a TCP + TLS + CONNECT attempt after this many seconds.
pub(crate) const CONNECT_TIMEOUT_S: u64 = 5;
/// Our own bound on one connection attempt: rumqttc's plus a margin. An attempt is never cut
/// short by a shorter poll, or a slow TLS handshake could never complete.
const CONNECT_WAIT: Duration = Duration::from_secs(CONNECT_TIMEOUT_S + 2);
/// Least time between two status messages: a caller may set the status on every frame, the
/// broker and the dashboards need a few per second at most. Rapid changes are coalesced,
/// the latest one always goes out.
const STATUS_MIN_GAP: Duration = Duration::from_millis(250);
/// A connection that lived this long resets the back-off to 1 s.
const STABLE: Duration = Duration::from_secs(10);
/// At shutdown: time to send what is still queued, then to send "offline" and disconnect.
const FLUSH_BUDGET: Duration = Duration::from_millis(1500);
const DISCONNECT_BUDGET: Duration = Duration::from_millis(1000);

/// The connection as last seen by the MQTT thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// `mqtt.enabled = false`: nothing is ever sent.
    Disabled,
    /// The first attempt is under way.
    Connecting,
    Connected,
    /// Not connected; retrying with back-off. `reason` is the last error.
    Down { reason: String },
    /// Shut down.
    Stopped,
}

/// What the callers and the MQTT thread share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub outbox: Mutex<Outbox>,
    /// Wakes the thread out of a back-off wait at shutdown.
    pub wake: Condvar,
    /// Wakes the thread out of a wait on a live connection: a message was queued, the status
    /// changed, or shutdown. A notification while the thread is busy is kept for its next wait.
    pub notify: tokio::sync::Notify,
    pub stop: AtomicBool,
    pub link: Mutex<Link>,
}

/// A lock that survives a panic elsewhere: the data (a queue, a state) stays usable, and the
/// status reporting must not take the daemon down with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(outbox: Outbox) -> Self {
        Self { outbox: Mutex::new(outbox), wake: Condvar::new(), notify: tokio::sync::Notify::new(), stop: AtomicBool::new(false), link: Mutex::new(Link::Connecting) }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps up to `d`, returning early at shutdown.
    fn wait(&self, d: Duration) {
        let guard = lock(&self.outbox);
        if self.stopping() {
            return;
        }
        let _ = self.wake.wait_timeout(guard, d);
    }

    fn set_link(&self, l: Link) {
        *lock(&self.link) = l;
    }
}

/// A retained or not message for the client.
struct Publish {
    topic: String,
    payload: String,
    qos: QoS,
    retain: bool,
}

enum Sent {
    Yes,
    /// The client's request channel is full: try again after a poll.
    Full,
}

pub(crate) struct Worker {
    pub options: MqttOptions,
    pub shared: Arc<Shared>,
    pub topics: Topics,
    /// Empty when Home Assistant discovery is off.
    pub discovery: Vec<(String, String)>,
    pub version: String,
    pub started: Instant,
    pub status_interval: Duration,
    pub reconnect_max: Duration,
    /// `host:port`, for log lines.
    pub broker: String,
}

/// What one wait on the event loop ended with.
enum Polled {
    Event(Result<Event, ConnectionError>),
    /// The wait's time was up.
    Timeout,
    /// A caller notified the thread.
    Woken,
}

struct Session {
    client: AsyncClient,
    eventloop: EventLoop,
    /// Drives the event loop on this thread (one thread, no worker pool).
    rt: tokio::runtime::Runtime,
    up: bool,
    connected_at: Instant,
    /// `None` right after a connect: the status goes out at once then.
    last_status_sent: Option<Instant>,
    /// Availability and discovery waiting to go out after a connect.
    resync: VecDeque<Publish>,
    /// The last connection failure logged, so a retry that fails the same way is not logged.
    last_logged: Option<String>,
    backoff: Backoff,
}

impl Worker {
    pub fn run(self) {
        let shared = self.shared.clone();
        let broker = self.broker.clone();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_inner()));
        if result.is_err() {
            error!(broker = %broker, "MQTT status thread failed; status reporting is off until restart");
        }
        shared.set_link(Link::Stopped);
    }

    fn run_inner(self) {
        // A small request channel: what sits in it when the connection drops is lost (a new
        // clean session discards it), while our own queue keeps messages across outages.
        let (client, mut eventloop) = AsyncClient::new(self.options.clone(), 16);
        let mut net = eventloop.network_options();
        net.set_connection_timeout(CONNECT_TIMEOUT_S);
        eventloop.set_network_options(net);
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                error!(broker = %self.broker, "cannot start the MQTT event loop: {e}; status reporting is off until restart");
                return;
            }
        };
        let now = Instant::now();
        let mut s = Session { client, eventloop, rt, up: false, connected_at: now, last_status_sent: None, resync: VecDeque::new(), last_logged: None, backoff: Backoff::new(self.reconnect_max) };
        let mut next_attempt = now;
        loop {
            if self.shared.stopping() {
                self.finish(&mut s);
                return;
            }
            if !s.up {
                let now = Instant::now();
                if now < next_attempt {
                    self.shared.wait(next_attempt - now);
                    continue;
                }
                // Not wakeable: a connection attempt is never cut short by a queued message.
                match self.poll(&mut s, CONNECT_WAIT, false) {
                    Polled::Event(Ok(Event::Incoming(Packet::ConnAck(_)))) => self.on_connected(&mut s),
                    Polled::Event(Ok(_)) | Polled::Woken => {}
                    Polled::Event(Err(ConnectionError::RequestsDone)) => return,
                    Polled::Event(Err(e)) => next_attempt = self.on_connect_failed(&mut s, &e),
                    Polled::Timeout => next_attempt = self.on_connect_failed(&mut s, &ConnectionError::NetworkTimeout),
                }
            } else {
                let full = self.feed(&mut s);
                let wait = if full { TICK } else { self.idle_wait(&s) };
                match self.poll(&mut s, wait, true) {
                    Polled::Event(Ok(_)) | Polled::Timeout | Polled::Woken => {}
                    Polled::Event(Err(ConnectionError::RequestsDone)) => return,
                    Polled::Event(Err(e)) => next_attempt = self.on_lost(&mut s, &e),
                }
                if s.up && s.last_status_sent.is_some_and(|t| t.elapsed() >= self.status_interval) {
                    lock(&self.shared.outbox).mark_status_dirty();
                }
            }
        }
    }

    /// Waits up to `d` for the event loop (network traffic, keep-alive) and, when `wakeable`,
    /// for a caller's notification.
    fn poll(&self, s: &mut Session, d: Duration, wakeable: bool) -> Polled {
        let Session { rt, eventloop, .. } = s;
        let notify = &self.shared.notify;
        rt.block_on(async {
            tokio::select! {
                biased;
                ev = eventloop.poll() => Polled::Event(ev),
                _ = notify.notified(), if wakeable => Polled::Woken,
                _ = tokio::time::sleep(d) => Polled::Timeout,
            }
        })
    }

    /// How long a live connection with nothing to send may sleep: until a coalesced status
    /// change may go out, else until the periodic status refresh. Keep-alive pings are the
    /// event loop's own timer; queued messages notify the thread.
    fn idle_wait(&self, s: &Session) -> Duration {
        let Some(sent) = s.last_status_sent else { return TICK };
        let gap = if lock(&self.shared.outbox).status_dirty() { STATUS_MIN_GAP } else { self.status_interval };
        (sent + gap).saturating_duration_since(Instant::now()).max(Duration::from_millis(1))
    }

    fn on_connected(&self, s: &mut Session) {
        s.up = true;
        s.connected_at = Instant::now();
        s.last_logged = None;
        s.last_status_sent = None;
        self.shared.set_link(Link::Connected);
        info!(broker = %self.broker, topic = %self.topics.availability, "MQTT connected");
        // A broker that restarted without persistence has lost every retained message, and
        // Home Assistant may have restarted too: send what makes the box visible again.
        s.resync.clear();
        s.resync.push_back(Publish { topic: self.topics.availability.clone(), payload: "online".into(), qos: QoS::AtLeastOnce, retain: true });
        for (topic, payload) in &self.discovery {
            s.resync.push_back(Publish { topic: topic.clone(), payload: payload.clone(), qos: QoS::AtLeastOnce, retain: true });
        }
        let mut ob = lock(&self.shared.outbox);
        ob.mark_status_dirty();
        ob.mark_retained_dirty();
    }

    /// Logs a failed attempt when it differs from the previous one; returns the next attempt.
    fn on_connect_failed(&self, s: &mut Session, e: &ConnectionError) -> Instant {
        let reason = describe(e);
        let delay = s.backoff.next_delay();
        if s.last_logged.as_deref() != Some(reason.as_str()) {
            if matches!(e, ConnectionError::ConnectionRefused(_)) {
                error!(broker = %self.broker, "MQTT {reason}; retrying with back-off up to {} s", self.reconnect_max.as_secs());
            } else {
                warn!(broker = %self.broker, "MQTT cannot connect: {reason}; retrying with back-off up to {} s", self.reconnect_max.as_secs());
            }
            s.last_logged = Some(reason.clone());
        } else {
            debug!(broker = %self.broker, "MQTT cannot connect: {reason}; next attempt in {} s", delay.as_secs());
        }
        self.shared.set_link(Link::Down { reason });
        Instant::now() + delay
    }

    fn on_lost(&self, s: &mut Session, e: &ConnectionError) -> Instant {
        s.up = false;
        s.resync.clear();
        if s.connected_at.elapsed() >= STABLE {
            s.backoff.reset();
        }
        let reason = format!("connection lost: {}", describe(e));
        warn!(broker = %self.broker, "MQTT {reason}; reconnecting");
        self.shared.set_link(Link::Down { reason });
        s.last_logged = None;
        Instant::now() + s.backoff.next_delay()
    }

    fn try_send(s: &Session, p: &Publish) -> Sent {
        match s.client.try_publish(p.topic.as_str(), p.qos, p.retain, p.payload.as_bytes()) {
            Ok(()) => Sent::Yes,
            Err(ClientError::TryRequest(_)) => Sent::Full,
            // Only an invalid topic gets here, which the topic checks exclude: drop it.
            Err(e) => {
                debug!(topic = %p.topic, "MQTT publish rejected: {e}");
                Sent::Yes
            }
        }
    }

    /// Hands as much as the client takes: resync messages, then the status, then the queue.
    /// True when the client's channel was full and something is still waiting.
    fn feed(&self, s: &mut Session) -> bool {
        while let Some(p) = s.resync.front() {
            if let Sent::Full = Self::try_send(s, p) {
                return true;
            }
            s.resync.pop_front();
        }
        let mut ob = lock(&self.shared.outbox);
        if ob.status_dirty() && s.last_status_sent.is_none_or(|t| t.elapsed() >= STATUS_MIN_GAP) {
            let status = ob.take_status();
            let payload = status_json(&status, self.started.elapsed().as_secs(), &self.version, SystemTime::now());
            if let Sent::Full = Self::try_send(s, &Publish { topic: self.topics.status.clone(), payload, qos: QoS::AtLeastOnce, retain: true }) {
                ob.mark_status_dirty();
                return true;
            }
            s.last_status_sent = Some(Instant::now());
        }
        while let Some((topic, payload)) = ob.next_retained() {
            if let Sent::Full = Self::try_send(s, &Publish { topic: topic.clone(), payload, qos: QoS::AtLeastOnce, retain: true }) {
                return true;
            }
            ob.retained_sent(&topic);
        }
        let mut full = false;
        while let Some(m) = ob.front() {
            let p = Publish { topic: m.topic.clone(), payload: m.payload.clone(), qos: m.qos, retain: false };
            if let Sent::Full = Self::try_send(s, &p) {
                full = true;
                break;
            }
            ob.pop_front();
        }
        let dropped = ob.take_dropped();
        drop(ob);
        if dropped > 0 {
            warn!(broker = %self.broker, "MQTT queue was full: dropped the {dropped} oldest event/stats messages");
        }
        full
    }

    fn idle(&self, s: &mut Session) -> bool {
        s.resync.is_empty() && {
            let ob = lock(&self.shared.outbox);
            ob.len() == 0 && !ob.status_dirty() && !ob.retained_pending()
        }
    }

    /// Sends what is queued, then "offline", then DISCONNECT (so the broker drops the will),
    /// each within its budget. Without a connection there is nothing to do: the broker already
    /// published the will, or will when it notices.
    fn finish(&self, s: &mut Session) {
        if s.up {
            let deadline = Instant::now() + FLUSH_BUDGET;
            while !self.idle(s) && Instant::now() < deadline {
                self.feed(s);
                if let Polled::Event(Err(_)) = self.poll(s, Duration::from_millis(20), false) {
                    s.up = false;
                    break;
                }
            }
        }
        if s.up {
            let deadline = Instant::now() + DISCONNECT_BUDGET;
            let offline = Publish { topic: self.topics.availability.clone(), payload: "offline".into(), qos: QoS::AtLeastOnce, retain: true };
            let mut offline_sent = false;
            let mut disconnect_sent = false;
            let mut disconnect_written = false;
            while Instant::now() < deadline {
                if !offline_sent {
                    offline_sent = matches!(Self::try_send(s, &offline), Sent::Yes);
                }
                if offline_sent && !disconnect_sent {
                    disconnect_sent = s.client.try_disconnect().is_ok();
                }
                // After DISCONNECT, read until the broker closes the socket: closing it first
                // with acknowledgements still unread makes the kernel send a reset, and the
                // broker may then drop the last packets (our "offline" among them) unread.
                match self.poll(s, Duration::from_millis(50), false) {
                    Polled::Event(Ok(Event::Outgoing(Outgoing::Disconnect))) => disconnect_written = true,
                    Polled::Event(Ok(_)) | Polled::Timeout | Polled::Woken => {}
                    Polled::Event(Err(_)) => break,
                }
            }
            if disconnect_written {
                info!(broker = %self.broker, "MQTT disconnected (published offline)");
            } else {
                warn!(broker = %self.broker, "MQTT shutdown: could not confirm \"offline\" was sent; the broker's last will covers it");
            }
        } else {
            info!(broker = %self.broker, "MQTT status stopped while not connected");
        }
    }
}

/// One line for a human, naming what to fix for refusals.
pub(crate) fn describe(e: &ConnectionError) -> String {
    match e {
        ConnectionError::ConnectionRefused(code) => {
            let why = match code {
                ConnectReturnCode::BadUserNamePassword => "bad user name or password (check mqtt.username / mqtt.password)",
                ConnectReturnCode::NotAuthorized => "not authorised (check mqtt.username / mqtt.password)",
                ConnectReturnCode::BadClientId => "client id rejected (check mqtt.client_id)",
                ConnectReturnCode::ServiceUnavailable => "service unavailable",
                ConnectReturnCode::RefusedProtocolVersion => "MQTT 3.1.1 not supported",
                ConnectReturnCode::Success => "unexpected answer",
            };
            format!("broker refused the connection: {why}")
        }
        ConnectionError::NetworkTimeout => format!("no answer within {CONNECT_TIMEOUT_S} s"),
        e => e.to_string(),
    }
}

/// A queued event or stats message.
pub(crate) fn message(topic: &str, payload: String, qos: QoS) -> Message {
    Message { topic: topic.to_string(), payload, qos }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_keys_to_check() {
        let s = describe(&ConnectionError::ConnectionRefused(ConnectReturnCode::NotAuthorized));
        assert!(s.contains("refused") && s.contains("mqtt.password"), "{s}");
        let s = describe(&ConnectionError::ConnectionRefused(ConnectReturnCode::BadClientId));
        assert!(s.contains("mqtt.client_id"), "{s}");
        assert!(describe(&ConnectionError::NetworkTimeout).contains("no answer"));
    }
}
