//! Why a job did not finish, sorted into what a later try can fix and what it cannot.
//!
//! The daemon used to send every failure to `failed/`, so a full output disk turned every
//! drop of the night into a failed one that an operator had to put back by hand. Now:
//! - **transient**: the cause lies in this machine, not in the input (no space, an I/O error,
//!   GStreamer or the networks not loading). The job stays queued with a back-off recorded
//!   in the store and runs again; it is never failed for good.
//! - **permanent**: the input itself is at fault (not a video, a bad sidecar, a path leading
//!   out of the ingest folder). Another try would fail the same way: `failed/` with the reason.

use crate::decode::DecodeError;
use crate::engine::EngineError;
use crate::ingest::open::OpenError;
use crate::render::RenderError;
use crate::write::WriteError;
use std::time::Duration;

/// A job's failure with its reason, for logs, the store and `failed/<name>.error.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth trying again later, unchanged.
    Transient(String),
    /// The input is at fault.
    Permanent(String),
}

impl Failure {
    /// A failure of this machine's own storage while reading or writing: transient when the
    /// OS says the disk is full, over quota, read-only or failing; permanent otherwise (a
    /// file gone or unreadable for its own reasons).
    pub fn of_io(e: &std::io::Error, reason: String) -> Failure {
        match e.raw_os_error() {
            Some(libc::ENOSPC | libc::EDQUOT | libc::EIO | libc::EROFS | libc::ENOMEM | libc::EAGAIN | libc::EINTR) => Failure::Transient(reason),
            _ => Failure::Permanent(reason),
        }
    }
}

/// Writing an output: whatever goes wrong there is the output folder's problem, never the
/// input's, so always transient (the operator frees space or fixes permissions; the job then
/// goes through without anyone putting it back).
impl From<WriteError> for Failure {
    fn from(e: WriteError) -> Self {
        Failure::Transient(e.to_string())
    }
}

impl From<OpenError> for Failure {
    fn from(e: OpenError) -> Self {
        match &e {
            OpenError::Io { source, .. } => Failure::of_io(source, e.to_string()),
            _ => Failure::Permanent(e.to_string()),
        }
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        match &e {
            // Networks that do not load (a missing library, a model file being replaced)
            // are this machine's state, not the video's.
            EngineError::Networks { .. } => Failure::Transient(e.to_string()),
            EngineError::Decode(DecodeError::Init { .. }) => Failure::Transient(e.to_string()),
            // Permanent, not transient: a transient job is never failed for good, so a video
            // that always outlives its deadline would hold a worker for the whole deadline,
            // again and again, forever. The deadline is generous (10 × the duration + 300 s
            // by default), so outliving it says the input is at fault (timestamps that never
            // reach the end, a lying duration), not a briefly busy machine; an operator who
            // disagrees moves it back from failed/.
            EngineError::Decode(DecodeError::Deadline { .. }) => Failure::Permanent(e.to_string()),
            EngineError::Decode(_) => Failure::Permanent(e.to_string()),
            // The picture's size and the ratio are the drop's: no later try changes them.
            EngineError::Window { .. } => Failure::Permanent(e.to_string()),
        }
    }
}

impl From<RenderError> for Failure {
    fn from(e: RenderError) -> Self {
        match &e {
            RenderError::Write { source, .. } => Failure::of_io(source, e.to_string()),
            RenderError::NoEncoder { .. } => Failure::Transient(e.to_string()),
            _ => Failure::Permanent(e.to_string()),
        }
    }
}

/// How long a job waits before its next try after `deferrals` transient failures: 2 s (or
/// `max`, if smaller) doubling per try, capped at `max`.
pub fn backoff(deferrals: u32, max: Duration) -> Duration {
    let base = Duration::from_secs(2).min(max);
    base.saturating_mul(1u32 << deferrals.min(20)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_transient_a_missing_file_permanent() {
        let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert!(matches!(Failure::of_io(&full, "x".into()), Failure::Transient(_)));
        let eio = std::io::Error::from_raw_os_error(libc::EIO);
        assert!(matches!(Failure::of_io(&eio, "x".into()), Failure::Transient(_)));
        let gone = std::io::Error::from_raw_os_error(libc::ENOENT);
        assert!(matches!(Failure::of_io(&gone, "x".into()), Failure::Permanent(_)));
        let w = WriteError { path: "/out/a".into(), source: std::io::Error::from_raw_os_error(libc::EACCES) };
        assert!(matches!(Failure::from(w), Failure::Transient(r) if r.contains("/out/a")));
        let bad = EngineError::Decode(DecodeError::NoVideo { path: "/in/a.mp4".into() });
        assert!(matches!(Failure::from(bad), Failure::Permanent(r) if r.contains("/in/a.mp4")));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let max = Duration::from_secs(300);
        assert_eq!(backoff(0, max), Duration::from_secs(2));
        assert_eq!(backoff(3, max), Duration::from_secs(16));
        assert_eq!(backoff(40, max), max);
        assert_eq!(backoff(0, Duration::from_millis(500)), Duration::from_millis(500));
    }
}
