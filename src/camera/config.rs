//! `[[cameras]]` entries of the configuration file: one per live source.
//!
//! Checked once at start-up (like the rest of the configuration), so a typo in a camera never
//! surfaces hours later as a reconnect loop. Errors name the key as `cameras[N].key` and, when
//! the file is at hand, the line of that key (or of the entry's `[[cameras]]` header).

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How an RTSP camera carries its RTP packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Interleaved in the RTSP TCP connection: works through NAT and firewalls, no loss.
    #[default]
    Tcp,
    /// Separate UDP ports: lower latency on a clean LAN, packets may be lost.
    Udp,
}

/// Container of the recorded segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentFormat {
    /// MPEG-TS: a segment cut short by a crash or power loss stays playable.
    #[default]
    Mpegts,
    /// MP4: smaller and more widely playable, but unreadable unless finalised.
    Mp4,
}

impl SegmentFormat {
    pub fn extension(self) -> &'static str {
        match self {
            SegmentFormat::Mpegts => "ts",
            SegmentFormat::Mp4 => "mp4",
        }
    }

    /// The GStreamer muxer that writes it.
    pub fn muxer(self) -> &'static str {
        match self {
            SegmentFormat::Mpegts => "mpegtsmux",
            SegmentFormat::Mp4 => "mp4mux",
        }
    }
}

/// The ring buffer of one camera's recording.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordingConfig {
    /// Folder of the segments; empty: `<serve.state_dir>/cameras/<name>/segments`.
    pub dir: PathBuf,
    /// Length of one segment, seconds (cut at the first key frame after it).
    pub segment_s: f64,
    /// `mpegts` or `mp4`.
    pub format: SegmentFormat,
    /// Most bytes the finalised segments may take; the oldest go first.
    pub quota_bytes: u64,
    /// Segments older than this are deleted, seconds; 0: no age limit.
    pub max_age_s: u64,
}

impl Default for RecordingConfig {
    fn default() -> Self {
        Self { dir: PathBuf::new(), segment_s: 4.0, format: SegmentFormat::Mpegts, quota_bytes: 2 << 30, max_age_s: 24 * 3600 }
    }
}

/// One camera.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Short name: one MQTT topic level and a folder name (letters, digits, `-`, `_`).
    pub name: String,
    /// `rtsp://host[:port]/path`, `http(s)://host/path.m3u8` (HLS), `v4l2:///dev/videoN` or
    /// `file:///path?loop=true`.
    pub url: String,
    /// RTSP only: `tcp` or `udp`.
    #[serde(default)]
    pub transport: Transport,
    /// File holding `user:password` on its first line, for RTSP authentication. Kept out of
    /// the URL so it never reaches a log line or an MQTT payload.
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// Target ratios (width, height) of the crop metadata written for each highlight.
    #[serde(default = "default_ratios")]
    pub target_ratios: Vec<[u32; 2]>,
    /// No buffer for this long is a stall: the connection is dropped and made again, seconds.
    #[serde(default = "default_stall_s")]
    pub stall_s: f64,
    /// Longest wait between reconnection attempts, seconds (1 s, doubling, with jitter).
    #[serde(default = "default_reconnect_max_s")]
    pub reconnect_max_s: f64,
    /// A moment is decided at most this long after it ends, seconds.
    #[serde(default = "default_decision_delay_s")]
    pub decision_delay_s: f64,
    /// Run the highlight analysis on the recorded segments (off: record only).
    #[serde(default = "default_true")]
    pub analyse: bool,
    /// Seconds of recording kept before and after a moment in its clip.
    #[serde(default = "default_margin_s")]
    pub clip_margin_s: f64,
    /// Also render each moment's reframed short, one per target ratio (`[render]` settings),
    /// so that a highlight is ready to post without a `highlightd render` by hand. Off by
    /// default: it encodes, which costs a box that records many cameras far more than the
    /// analysis.
    #[serde(default)]
    pub render: bool,
    #[serde(default)]
    pub recording: RecordingConfig,
}

fn default_ratios() -> Vec<[u32; 2]> {
    vec![[9, 16]]
}
fn default_stall_s() -> f64 {
    10.0
}
fn default_reconnect_max_s() -> f64 {
    30.0
}
fn default_decision_delay_s() -> f64 {
    10.0
}
fn default_true() -> bool {
    true
}
fn default_margin_s() -> f64 {
    2.0
}

/// Where a camera's pictures come from, parsed from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceUrl {
    /// An RTSP camera or server (`rtsp://` or `rtsps://`).
    Rtsp(String),
    /// A local file, replayed from the start at its end when `looped` (tests, demos).
    File { path: PathBuf, looped: bool },
    /// A local capture device (`v4l2:///dev/videoN`): USB camera, capture card.
    V4l2 { device: PathBuf },
    /// An HLS playlist (`http(s)://…/….m3u8`), live or not: a camera behind a cloud service
    /// or a media server that only publishes HLS.
    Hls(String),
}

/// A camera entry that cannot work; `key` is `cameras[N].key`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{key}`{} {message}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
pub struct CameraConfigError {
    pub key: String,
    pub line: Option<usize>,
    pub message: String,
}

impl CameraConfig {
    /// The source its URL names.
    pub fn source(&self) -> Result<SourceUrl, String> {
        parse_url(&self.url)
    }

    /// The recording folder (`recording.dir`, or under `state_dir`).
    pub fn segments_dir(&self, state_dir: &Path) -> PathBuf {
        if self.recording.dir.as_os_str().is_empty() {
            state_dir.join("cameras").join(&self.name).join("segments")
        } else {
            self.recording.dir.clone()
        }
    }

    /// The URL as it may be logged: without anything after `@` in the authority (should a
    /// user have put credentials there despite the check) and without the query.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

/// `scheme://[user@]host/path?query` → `scheme://host/path`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "(invalid url)".into() };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let path = path.split('?').next().unwrap_or("");
    format!("{scheme}://{host}/{path}")
}

/// The URL forms a camera may have, for error messages.
const SCHEMES: &str = "rtsp://…, rtsps://…, http(s)://…/….m3u8, v4l2:///dev/videoN or file:///…";

/// The host part of a network URL (`rest` is what follows `scheme://`): present, and without
/// user info, which would end up in logs; `credentials` says where they go instead.
fn check_authority(rest: &str, credentials: &str) -> Result<(), String> {
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err(credentials.into());
    }
    if authority.is_empty() {
        return Err("has no host".into());
    }
    Ok(())
}

fn parse_url(url: &str) -> Result<SourceUrl, String> {
    let Some((scheme, rest)) = url.split_once("://") else { return Err(format!("must be {SCHEMES}")) };
    match scheme.to_ascii_lowercase().as_str() {
        "rtsp" | "rtsps" => {
            check_authority(rest, "must not contain credentials: put them in `credentials_file`, which is never logged")?;
            Ok(SourceUrl::Rtsp(url.to_string()))
        }
        "file" => {
            let (path, query) = rest.split_once('?').map_or((rest, ""), |(p, q)| (p, q));
            if !path.starts_with('/') {
                return Err("file:// needs an absolute path (file:///…)".into());
            }
            let mut looped = false;
            for kv in query.split('&').filter(|s| !s.is_empty()) {
                match kv {
                    "loop=true" => looped = true,
                    "loop=false" => looped = false,
                    other => return Err(format!("unknown query `{other}` (only loop=true|false)")),
                }
            }
            Ok(SourceUrl::File { path: PathBuf::from(path), looped })
        }
        "v4l2" => {
            if !rest.starts_with("/dev/") || rest.contains('?') || rest.len() <= "/dev/".len() {
                return Err("v4l2:// needs a device path: v4l2:///dev/videoN".into());
            }
            Ok(SourceUrl::V4l2 { device: PathBuf::from(rest) })
        }
        "http" | "https" => {
            check_authority(rest, "must not contain credentials (a token in the query is never logged)")?;
            let path = rest.split(['?', '#']).next().unwrap_or("");
            if !path.to_ascii_lowercase().ends_with(".m3u8") {
                return Err(format!("{scheme}:// sources must be HLS playlists (a path ending in .m3u8)"));
            }
            Ok(SourceUrl::Hls(url.to_string()))
        }
        _ => Err(format!("must be {SCHEMES}")),
    }
}

/// Checks every camera; `text` (the configuration file) gives the errors a line.
pub fn check_all(cameras: &[CameraConfig], text: Option<&str>) -> Result<(), CameraConfigError> {
    let mut names = std::collections::HashSet::new();
    for (i, c) in cameras.iter().enumerate() {
        let bad = |field: &str, message: String| CameraConfigError { key: format!("cameras[{i}].{field}"), line: text.and_then(|t| line_of(t, i, field)), message };
        if c.name.is_empty() || c.name.len() > 64 || !c.name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
            return Err(bad("name", "must be 1–64 letters, digits, `-` or `_` (it is a topic level and a folder name)".into()));
        }
        if !names.insert(c.name.as_str()) {
            return Err(bad("name", format!("`{}` is used by two cameras", c.name)));
        }
        let source = c.source().map_err(|m| bad("url", m))?;
        // souphttpsrc would send them for the playlist only, hlsdemux not for the fragments.
        if matches!(source, SourceUrl::Hls(_)) && c.credentials_file.is_some() {
            return Err(bad("credentials_file", "is for rtsp:// cameras: an HLS source takes none (a token in the URL's query is never logged)".into()));
        }
        if c.target_ratios.is_empty() || c.target_ratios.iter().any(|r| r.contains(&0) || r[0] > 8 * r[1] || r[1] > 8 * r[0]) {
            return Err(bad("target_ratios", "must list ratios such as [[9, 16]], each between 1:8 and 8:1".into()));
        }
        let secs = [
            ("stall_s", c.stall_s, 1.0, 600.0),
            ("reconnect_max_s", c.reconnect_max_s, 1.0, 3600.0),
            ("decision_delay_s", c.decision_delay_s, 1.0, 600.0),
            ("clip_margin_s", c.clip_margin_s, 0.0, 60.0),
            ("recording.segment_s", c.recording.segment_s, 1.0, 600.0),
        ];
        for (field, v, lo, hi) in secs {
            if !(lo..=hi).contains(&v) {
                return Err(bad(field, format!("must be between {lo} and {hi} seconds")));
            }
        }
        // A moment that runs to a segment's end is only decided once the next segment is in.
        if c.decision_delay_s < 2.0 * c.recording.segment_s {
            return Err(bad("decision_delay_s", format!("must be at least twice recording.segment_s ({} s): a moment is decided from whole segments", c.recording.segment_s)));
        }
        if c.render && !c.analyse {
            return Err(bad("render", "needs `analyse = true`: a short is rendered from a moment the analysis found".into()));
        }
        if c.recording.quota_bytes < 1 << 20 {
            return Err(bad("recording.quota_bytes", "must be at least 1048576 (1 MiB)".into()));
        }
    }
    Ok(())
}

/// The line (1-based) of `field` in the `n`-th `[[cameras]]` entry of `text`, else of the
/// entry's header. `recording.x` is looked up as `x` under `[cameras.recording]`.
fn line_of(text: &str, n: usize, field: &str) -> Option<usize> {
    let key = field.rsplit('.').next().unwrap_or(field);
    let mut seen: Option<usize> = None;
    let mut header = None;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if l.starts_with("[[cameras]]") {
            seen = Some(seen.map_or(0, |s| s + 1));
            if seen == Some(n) {
                header = Some(i + 1);
            }
            continue;
        }
        if seen != Some(n) {
            continue;
        }
        if l.starts_with('[') && !l.starts_with("[cameras.") {
            break;
        }
        if let Some((k, _)) = l.split_once('=') {
            if k.trim() == key {
                return Some(i + 1);
            }
        }
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cam(name: &str, url: &str) -> CameraConfig {
        toml::from_str(&format!("name = \"{name}\"\nurl = \"{url}\"\n")).unwrap()
    }

    #[test]
    fn urls_are_parsed_and_credentials_refused() {
        assert_eq!(parse_url("rtsp://10.0.0.2:554/live").unwrap(), SourceUrl::Rtsp("rtsp://10.0.0.2:554/live".into()));
        assert_eq!(parse_url("file:///srv/a.mp4?loop=true").unwrap(), SourceUrl::File { path: "/srv/a.mp4".into(), looped: true });
        assert!(parse_url("rtsp://admin:secret@cam/live").unwrap_err().contains("credentials_file"));
        assert_eq!(parse_url("v4l2:///dev/video0").unwrap(), SourceUrl::V4l2 { device: "/dev/video0".into() });
        assert!(parse_url("v4l2://dev/video0").unwrap_err().contains("v4l2:///dev/videoN"));
        assert!(parse_url("v4l2:///dev/").is_err());
        assert!(parse_url("v4l2:///dev/video0?x=1").is_err());
        assert_eq!(parse_url("https://cam/live.m3u8?token=x").unwrap(), SourceUrl::Hls("https://cam/live.m3u8?token=x".into()));
        assert!(parse_url("http://cam/video.mjpg").unwrap_err().contains(".m3u8"));
        assert!(parse_url("http://u:p@cam/live.m3u8").unwrap_err().contains("credentials"));
        assert!(parse_url("file://rel/a.mp4").is_err());
        assert!(parse_url("ftp://x").is_err());
    }

    #[test]
    fn redaction_drops_user_info_and_query() {
        assert_eq!(redact("rtsp://u:p@cam:554/live?token=x"), "rtsp://cam:554/live");
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let text = "[serve]\nmax_jobs = 1\n\n[[cameras]]\nname = \"a\"\nurl = \"rtsp://x/y\"\n\n[[cameras]]\nname = \"b\"\nurl = \"rtsp://u:p@x/y\"\n";
        let cams = vec![cam("a", "rtsp://x/y"), cam("b", "rtsp://u:p@x/y")];
        let e = check_all(&cams, Some(text)).unwrap_err();
        assert_eq!(e.key, "cameras[1].url");
        assert_eq!(e.line, Some(10));
        let cams = vec![cam("a", "rtsp://x/y"), cam("a", "rtsp://x/z")];
        assert!(check_all(&cams, None).unwrap_err().message.contains("two cameras"));
        let mut c = cam("a", "rtsp://x/y");
        c.recording.segment_s = 0.1;
        let text = "[[cameras]]\nname = \"a\"\nurl = \"rtsp://x/y\"\n[cameras.recording]\nsegment_s = 0.1\n";
        let e = check_all(&[c], Some(text)).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("cameras[0].recording.segment_s", Some(5)));
        let text = "[[cameras]]\nname = \"a\"\nurl = \"http://x/live.mp4\"\n";
        let e = check_all(&[cam("a", "http://x/live.mp4")], Some(text)).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("cameras[0].url", Some(3)));
        assert!(e.message.contains("HLS"), "{e}");
        let text = "[[cameras]]\nname = \"a\"\nurl = \"http://x/live.m3u8\"\ncredentials_file = \"/etc/c\"\n";
        let mut c = cam("a", "http://x/live.m3u8");
        c.credentials_file = Some("/etc/c".into());
        let e = check_all(&[c], Some(text)).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("cameras[0].credentials_file", Some(4)));
        let text = "[[cameras]]\nname = \"a\"\nurl = \"rtsp://x/y\"\nanalyse = false\nrender = true\n";
        let c: CameraConfig = toml::from_str(text.trim_start_matches("[[cameras]]\n")).unwrap();
        let e = check_all(&[c], Some(text)).unwrap_err();
        assert_eq!((e.key.as_str(), e.line), ("cameras[0].render", Some(5)));
        assert!(!cam("a", "rtsp://x/y").render, "render is off by default");
    }
}
