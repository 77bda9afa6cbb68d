//! When the daemon scans its ingest folder: which file-system events are worth a scan, and a
//! schedule that turns any number of them into a few scans a second.
//!
//! Why this exists: a scan opens the ingest folder, and the file watcher reports opens and
//! reads like any other event. A loop that rescanned on every event rescanned on its own scans,
//! about 1,600 times a second on an empty folder. Here only events that can change what is in
//! the folder count, and the scans they ask for are coalesced: while one is pending, more
//! events add nothing, and two event-driven scans are never closer than a minimum gap. The
//! periodic rescan stays the safety net, so a missed or filtered event costs at most one scan
//! interval.
//!
//! Plain functions and a plain type over `Instant`s: the daemon feeds them, the tests drive
//! them with made-up clocks.

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind};
use std::path::Path;
use std::time::{Duration, Instant};

/// Least time between two scans asked for by file-system events: at most four such scans a
/// second, whatever arrives. Short enough that a drop is noticed at once by a person watching.
pub const EVENT_SCAN_GAP: Duration = Duration::from_millis(250);

/// Whether an event of this kind can change what is in a folder: a file or folder created,
/// closed after writing, renamed or moved, removed; or the watcher lost events (`Other` with
/// the rescan flag is handled by [`wants_scan`]). Opens, reads, closes after reading, data
/// writes still under way (the close that ends them counts) and metadata changes do not.
pub fn changes_contents(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Name(_)) => true,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        // `Any` is what a backend sends when it cannot tell: assume the worst.
        EventKind::Any | EventKind::Modify(ModifyKind::Any) => true,
        EventKind::Access(_) | EventKind::Modify(_) | EventKind::Other => false,
    }
}

/// Whether `event` (reported by a watcher on `ingest`) should wake a scan: its kind can change
/// the folder's contents and at least one of its paths is outside the daemon's own `done/` and
/// `failed/` (which a scan never looks at, and which every finished job writes to). An event
/// that says the watcher dropped events always does.
pub fn wants_scan(event: &Event, ingest: &Path) -> bool {
    if event.need_rescan() {
        return true;
    }
    if !changes_contents(&event.kind) {
        return false;
    }
    event.paths.is_empty() || event.paths.iter().any(|p| !in_reserved(p, ingest))
}

/// Whether `path` is `ingest/done`, `ingest/failed` or under them.
fn in_reserved(path: &Path, ingest: &Path) -> bool {
    path.strip_prefix(ingest)
        .ok()
        .and_then(|rel| rel.components().next())
        .and_then(|c| c.as_os_str().to_str())
        .is_some_and(|first| super::watch::RESERVED.contains(&first))
}

/// When the next scan is due. A scan is due `interval` after the previous one (the periodic
/// safety net), or, once an event asked for one, `min_gap` after the previous one (or at once
/// when that is longer ago). Events while a scan is pending add nothing.
#[derive(Debug, Clone)]
pub struct ScanSchedule {
    interval: Duration,
    min_gap: Duration,
    last: Option<Instant>,
    pending: bool,
}

impl ScanSchedule {
    /// A schedule whose first scan is due at once (files present at start-up).
    pub fn new(interval: Duration, min_gap: Duration) -> Self {
        Self { interval, min_gap, last: None, pending: false }
    }

    /// An event asked for a scan.
    pub fn event(&mut self) {
        self.pending = true;
    }

    /// Whether a scan asked for by an event is waiting.
    pub fn pending(&self) -> bool {
        self.pending
    }

    /// When the next scan is due (in the past or now: run it).
    pub fn next_due(&self) -> Option<Instant> {
        let last = self.last?;
        let wait = if self.pending { self.min_gap.min(self.interval) } else { self.interval };
        Some(last + wait)
    }

    /// Whether a scan should run at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.next_due().is_none_or(|t| now >= t)
    }

    /// A scan started at `now`; it sees every change made before, so a pending request is met.
    pub fn scanned(&mut self, now: Instant) {
        self.last = Some(now);
        self.pending = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, MetadataKind, RemoveKind, RenameMode};
    use notify::event::Flag;
    use proptest::prelude::*;
    use std::path::PathBuf;

    fn ev(kind: EventKind, paths: &[&str]) -> Event {
        paths.iter().fold(Event::new(kind), |e, p| e.add_path(PathBuf::from(p)))
    }

    #[test]
    fn only_events_that_change_contents_count() {
        for kind in [
            EventKind::Create(CreateKind::File),
            EventKind::Create(CreateKind::Folder),
            EventKind::Remove(RemoveKind::File),
            EventKind::Modify(ModifyKind::Name(RenameMode::From)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Any,
        ] {
            assert!(changes_contents(&kind), "{kind:?}");
        }
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Read),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Access(AccessKind::Any),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
            EventKind::Other,
        ] {
            assert!(!changes_contents(&kind), "{kind:?}");
        }
    }

    #[test]
    fn the_scans_own_open_of_the_folder_wakes_nothing() {
        let open = ev(EventKind::Access(AccessKind::Open(AccessMode::Any)), &["/in"]);
        assert!(!wants_scan(&open, Path::new("/in")));
    }

    #[test]
    fn the_daemons_own_folders_wake_nothing_but_a_move_out_of_ingest_does() {
        let ingest = Path::new("/in");
        let create = |p: &str| ev(EventKind::Create(CreateKind::File), &[p]);
        assert!(wants_scan(&create("/in/a.mp4"), ingest));
        assert!(wants_scan(&create("/in/9x16/a.mp4"), ingest));
        assert!(wants_scan(&create("/in/donekey.mp4"), ingest));
        assert!(!wants_scan(&create("/in/done/a.mp4"), ingest));
        assert!(!wants_scan(&create("/in/failed/a.mp4.error.txt"), ingest));
        assert!(!wants_scan(&create("/in/done/contest/jsonl/x.jsonl"), ingest));
        let moved = ev(EventKind::Modify(ModifyKind::Name(RenameMode::Both)), &["/in/a.mp4", "/in/done/a.mp4"]);
        assert!(wants_scan(&moved, ingest));
        assert!(wants_scan(&ev(EventKind::Remove(RemoveKind::Any), &[]), ingest));
    }

    #[test]
    fn lost_events_always_ask_for_a_scan() {
        let overflow = Event::new(EventKind::Other).set_flag(Flag::Rescan);
        assert!(wants_scan(&overflow, Path::new("/in")));
    }

    #[test]
    fn schedule_first_scan_at_once_then_periodic_and_coalesced_events() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut s = ScanSchedule::new(Duration::from_secs(2), ms(250));
        assert!(s.due(t0));
        s.scanned(t0);
        assert!(!s.due(t0 + ms(1999)));
        assert!(s.due(t0 + ms(2000)));
        // An event right after a scan waits for the gap; more events add nothing.
        s.event();
        s.event();
        assert_eq!(s.next_due(), Some(t0 + ms(250)));
        assert!(!s.due(t0 + ms(100)));
        s.scanned(t0 + ms(250));
        assert!(!s.pending());
        assert_eq!(s.next_due(), Some(t0 + ms(2250)));
        // An event long after the last scan is served at once.
        s.event();
        assert!(s.due(t0 + ms(2000)));
        // A periodic interval shorter than the gap is never slowed down by an event.
        let mut fast = ScanSchedule::new(ms(100), ms(250));
        fast.scanned(t0);
        fast.event();
        assert_eq!(fast.next_due(), Some(t0 + ms(100)));
    }

    /// Drives a schedule the way the daemon's loop does: events at the given offsets, the loop
    /// waking at every event and at every due time, scanning when due.
    fn simulate(interval_ms: u64, gap_ms: u64, events_ms: &[u64], horizon_ms: u64) -> (Vec<u64>, Vec<u64>) {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut s = ScanSchedule::new(Duration::from_millis(interval_ms), Duration::from_millis(gap_ms));
        let mut events = events_ms.to_vec();
        events.sort_unstable();
        let mut scans = Vec::new();
        let mut now = 0u64;
        let mut next_event = 0;
        loop {
            while next_event < events.len() && events[next_event] <= now {
                s.event();
                next_event += 1;
            }
            if s.due(at(now)) {
                s.scanned(at(now));
                scans.push(now);
            }
            let due = s.next_due().map(|d| d.duration_since(t0).as_millis() as u64).unwrap_or(now);
            let wake = events.get(next_event).copied().map_or(due, |e| e.min(due));
            if wake > horizon_ms {
                return (scans, events);
            }
            now = wake.max(now);
        }
    }

    proptest! {
        /// However many events arrive, event-driven scans are at least the gap apart (so the
        /// count over any window is bounded), and every event is followed by a scan within the
        /// gap: coalescing never loses a change.
        #[test]
        fn scans_are_bounded_and_no_event_is_left_unscanned(
            interval_ms in 100u64..5_000,
            gap_ms in 50u64..1_000,
            events in proptest::collection::vec(0u64..3_000, 0..2_000),
        ) {
            let horizon = 3_000 + interval_ms.max(gap_ms) + 1;
            let (scans, events) = simulate(interval_ms, gap_ms, &events, horizon);
            let min_apart = gap_ms.min(interval_ms);
            for w in scans.windows(2) {
                prop_assert!(w[1] - w[0] >= min_apart, "scans {} and {} closer than {min_apart} ms", w[0], w[1]);
            }
            let in_storm = scans.iter().filter(|&&t| t <= 3_000).count() as u64;
            prop_assert!(in_storm <= 1 + 3_000 / min_apart, "{in_storm} scans in 3 s");
            for e in events {
                prop_assert!(scans.iter().any(|&t| t >= e && t <= e + min_apart), "event at {e} ms not scanned within {min_apart} ms: {scans:?}");
            }
        }
    }
}
