//! UNISAL on a thread of its own, beside the other networks and the decoder.
//!
//! Saliency is the most expensive network per call and the one whose operators parallelise
//! worst inside ONNX Runtime (on two cores its second intra-op thread buys ~1.4×, against ~2×
//! for the detectors). Running it on its own thread, one frame behind the detectors, lets the
//! two cores work on different frames instead of splitting every operator, and lets the
//! detectors use the time UNISAL would otherwise hold the whole machine for. On a Jetson the
//! saliency network and the detectors then queue on the GPU back to back instead of in turn.
//!
//! The results are exactly those of running the networks in turn: one worker takes the frames
//! in order and answers in that order, and [`Reorder`] hands the frames back to the caller in
//! frame order, each with its map, so everything downstream (subject fusion, which depends on
//! the previous subject) sees the same sequence as before.

use super::{FrameDetections, SaliencyMap, SaliencyNet};
use crate::infer::InferError;
use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;

/// Frames the worker may be behind before [`SaliencyWorker::submit`] blocks: enough to keep
/// it busy while the detectors run, small enough that pictures do not pile up in memory.
const IN_FLIGHT: usize = 2;

type Answer = Result<SaliencyMap, InferError>;

/// One picture for the worker: packed RGB rows.
pub struct Picture {
    pub rgb: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// The saliency network on a thread it owns for the life of the worker (one per set of
/// networks, like the sessions, see `engine::POOL`: a thread per video would leave a malloc
/// arena per video behind).
/// Dropped, it finishes the pictures already queued and joins the thread.
pub struct SaliencyWorker {
    jobs: Option<SyncSender<Picture>>,
    answers: Receiver<Answer>,
    /// Pictures submitted and not yet answered.
    in_flight: usize,
    thread: Option<JoinHandle<()>>,
}

impl SaliencyWorker {
    pub fn spawn(mut net: SaliencyNet) -> std::io::Result<SaliencyWorker> {
        let (jobs, job_rx) = mpsc::sync_channel::<Picture>(IN_FLIGHT);
        let (answer_tx, answers) = mpsc::channel::<Answer>();
        let thread = std::thread::Builder::new().name("saliency".into()).spawn(move || {
            for p in job_rx {
                if answer_tx.send(net.detect(&p.rgb, p.width, p.height)).is_err() {
                    break;
                }
            }
        })?;
        Ok(SaliencyWorker { jobs: Some(jobs), answers, in_flight: 0, thread: Some(thread) })
    }

    /// Queues a picture; blocks while [`IN_FLIGHT`] are waiting. `false` when the worker has
    /// stopped (it panicked): the caller then gets no map for this picture.
    pub fn submit(&mut self, p: Picture) -> bool {
        let sent = self.jobs.as_ref().is_some_and(|j| j.send(p).is_ok());
        self.in_flight += usize::from(sent);
        sent
    }

    /// The next answer if one is ready.
    pub fn try_answer(&mut self) -> Option<Answer> {
        self.next(false)
    }

    /// The next answer, waiting for it; `None` when none is due (or the thread is gone).
    pub fn answer(&mut self) -> Option<Answer> {
        self.next(true)
    }

    fn next(&mut self, wait: bool) -> Option<Answer> {
        if self.in_flight == 0 {
            return None;
        }
        let got = if wait {
            self.answers.recv().ok()
        } else {
            match self.answers.try_recv() {
                Ok(a) => Some(a),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => None,
            }
        };
        // Nothing came although answers were due: the thread is gone, none will come.
        self.in_flight = if got.is_some() { self.in_flight - 1 } else { 0 };
        got
    }

    /// Waits for and discards every answer still due: what a video that stopped half-way (a
    /// decode error) left queued must not reach the next one.
    pub fn settle(&mut self) {
        while self.answer().is_some() {}
    }
}

impl Drop for SaliencyWorker {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A sampled frame waiting for its saliency map before it can be handed on.
#[derive(Debug)]
pub struct Waiting<T> {
    /// What the caller keeps with the frame (its position, flags).
    pub tag: T,
    pub dets: FrameDetections,
    /// A map was asked for and has not come back yet.
    pub needs_map: bool,
}

/// Frames in order, each released once its map (if it asked for one) has arrived. Pure
/// bookkeeping, no threads: maps come in the order they were asked for, so the oldest frame
/// still waiting is always the one the next map belongs to.
#[derive(Debug)]
pub struct Reorder<T> {
    queue: VecDeque<Waiting<T>>,
}

impl<T> Default for Reorder<T> {
    fn default() -> Self {
        Reorder { queue: VecDeque::new() }
    }
}

impl<T> Reorder<T> {
    pub fn push(&mut self, tag: T, dets: FrameDetections, needs_map: bool) {
        self.queue.push_back(Waiting { tag, dets, needs_map });
    }

    /// Whether a frame is waiting for a map.
    pub fn wants_map(&self) -> bool {
        self.queue.iter().any(|w| w.needs_map)
    }

    /// Gives the next map to the oldest frame waiting for one. Returns `false` (and drops the
    /// map) when no frame asked for one.
    pub fn map_arrived(&mut self, map: SaliencyMap) -> bool {
        match self.queue.iter_mut().find(|w| w.needs_map) {
            Some(w) => {
                w.dets.saliency = Some(map);
                w.needs_map = false;
                true
            }
            None => false,
        }
    }

    /// The oldest frame, if it has all it waits for.
    pub fn pop_ready(&mut self) -> Option<(T, FrameDetections)> {
        if self.queue.front().is_some_and(|w| !w.needs_map) {
            self.queue.pop_front().map(|w| (w.tag, w.dets))
        } else {
            None
        }
    }

    /// Every frame still queued, in order, whether or not its map came (the map is then
    /// missing, as when the network failed).
    pub fn drain(&mut self) -> impl Iterator<Item = (T, FrameDetections)> + '_ {
        self.queue.drain(..).map(|w| (w.tag, w.dets))
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn map(v: f32) -> SaliencyMap {
        SaliencyMap { width: 1, height: 1, data: vec![v] }
    }

    #[test]
    fn frames_wait_for_their_own_map_and_leave_in_order() {
        let mut r = Reorder::default();
        r.push(0, FrameDetections::default(), true);
        r.push(1, FrameDetections::default(), false);
        r.push(2, FrameDetections::default(), true);
        assert!(r.pop_ready().is_none(), "frame 0 waits for its map");
        assert!(r.map_arrived(map(0.5)));
        let (t, d) = r.pop_ready().expect("frame 0 ready");
        assert_eq!((t, d.saliency), (0, Some(map(0.5))));
        assert_eq!(r.pop_ready().map(|(t, d)| (t, d.saliency)), Some((1, None)));
        assert!(r.pop_ready().is_none(), "frame 2 waits");
        assert!(r.map_arrived(map(0.25)));
        assert_eq!(r.pop_ready().map(|(t, d)| (t, d.saliency)), Some((2, Some(map(0.25)))));
        assert!(r.is_empty() && !r.map_arrived(map(1.0)));
    }

    proptest! {
        /// Whatever the pattern of frames asking for a map and however late the maps come, the
        /// frames leave in the order they came and frame i gets the map asked for by frame i.
        #[test]
        fn order_and_pairing_hold(asks in proptest::collection::vec(any::<bool>(), 0..40), lag in 0usize..5) {
            let mut r = Reorder::default();
            let mut out = Vec::new();
            let mut pending_maps: VecDeque<usize> = VecDeque::new();
            for (i, &ask) in asks.iter().enumerate() {
                r.push(i, FrameDetections::default(), ask);
                if ask { pending_maps.push_back(i); }
                while pending_maps.len() > lag {
                    let j = pending_maps.pop_front().expect("non-empty");
                    prop_assert!(r.map_arrived(map(j as f32)));
                }
                while let Some(x) = r.pop_ready() { out.push(x); }
            }
            while let Some(j) = pending_maps.pop_front() {
                prop_assert!(r.map_arrived(map(j as f32)));
            }
            while let Some(x) = r.pop_ready() { out.push(x); }
            prop_assert!(r.is_empty());
            prop_assert_eq!(out.len(), asks.len());
            for (k, (i, d)) in out.iter().enumerate() {
                prop_assert_eq!(*i, k);
                prop_assert_eq!(d.saliency.clone(), asks[k].then(|| map(k as f32)));
            }
        }
    }
}
