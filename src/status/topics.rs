//! Topic names. Everything of one box lives under `<prefix>/<device_id>/`, so one
//! subscription (`<prefix>/+/status`, `<prefix>/<device_id>/#`) covers a fleet or a box.

/// Why a prefix or device id cannot be part of a topic name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("must not be empty")]
    Empty,
    #[error("must not contain the MQTT wildcards `+` or `#`")]
    Wildcard,
    #[error("must not contain empty levels (a leading, trailing or doubled `/`)")]
    EmptyLevel,
    #[error("must not contain `/` (it is one topic level)")]
    Slash,
    #[error("must not start with `$` (reserved for the broker's own topics)")]
    Dollar,
    #[error("must not contain spaces or control characters")]
    Control,
    #[error("must be at most {0} bytes")]
    TooLong(usize),
}

const MAX_PREFIX: usize = 512;
const MAX_SEGMENT: usize = 128;

/// A topic prefix: one or more non-empty levels separated by `/`.
pub fn check_prefix(prefix: &str) -> Result<(), TopicError> {
    check_common(prefix, MAX_PREFIX)?;
    if prefix.split('/').any(str::is_empty) {
        return Err(TopicError::EmptyLevel);
    }
    Ok(())
}

/// A single topic level (the device id).
pub fn check_segment(segment: &str) -> Result<(), TopicError> {
    check_common(segment, MAX_SEGMENT)?;
    if segment.contains('/') {
        return Err(TopicError::Slash);
    }
    Ok(())
}

fn check_common(s: &str, max: usize) -> Result<(), TopicError> {
    if s.is_empty() {
        return Err(TopicError::Empty);
    }
    if s.len() > max {
        return Err(TopicError::TooLong(max));
    }
    if s.contains(['+', '#']) {
        return Err(TopicError::Wildcard);
    }
    // Spaces are legal in MQTT but break `mosquitto_sub -v` output and shell scripts.
    if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(TopicError::Control);
    }
    if s.starts_with('$') {
        return Err(TopicError::Dollar);
    }
    Ok(())
}

/// The topics of one box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// `<prefix>/<device_id>/availability`: retained `online` / `offline`.
    pub availability: String,
    /// `<prefix>/<device_id>/status`: retained JSON.
    pub status: String,
    /// `<prefix>/<device_id>/events`: one JSON message per job event.
    pub events: String,
    /// `<prefix>/<device_id>/stats`: periodic JSON.
    pub stats: String,
}

impl Topics {
    pub fn new(prefix: &str, device_id: &str) -> Result<Self, TopicError> {
        check_prefix(prefix)?;
        check_segment(device_id)?;
        let t = |leaf: &str| format!("{prefix}/{device_id}/{leaf}");
        Ok(Self { availability: t("availability"), status: t("status"), events: t("events"), stats: t("stats") })
    }
}

/// Home Assistant only accepts `[A-Za-z0-9_-]` in the node id of a discovery topic; a hostname
/// may also hold dots, so every other character becomes `_`.
pub fn discovery_node_id(device_id: &str) -> String {
    device_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect()
}

/// `<discovery_prefix>/sensor/<node_id>/<object_id>/config`.
pub fn discovery_topic(discovery_prefix: &str, device_id: &str, object_id: &str) -> String {
    format!("{discovery_prefix}/sensor/{}/{object_id}/config", discovery_node_id(device_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_under_prefix_and_device() {
        let t = Topics::new("venues/arena", "cam-1").unwrap();
        assert_eq!(t.availability, "venues/arena/cam-1/availability");
        assert_eq!(t.status, "venues/arena/cam-1/status");
        assert_eq!(t.events, "venues/arena/cam-1/events");
        assert_eq!(t.stats, "venues/arena/cam-1/stats");
    }

    #[test]
    fn rejects_wildcards_and_empty_levels() {
        for p in ["", "a/", "/a", "a//b", "a/+", "a/#", "#", "+", "a b", "$SYS", "a\0b"] {
            assert!(Topics::new(p, "dev").is_err(), "prefix {p:?}");
        }
        for d in ["", "a/b", "+", "#", "a#", "x+y", "/", "a\nb"] {
            assert!(Topics::new("highlightd", d).is_err(), "device {d:?}");
        }
        assert_eq!(check_prefix("a//b"), Err(TopicError::EmptyLevel));
        assert_eq!(check_segment("a/b"), Err(TopicError::Slash));
        assert_eq!(check_segment("a#"), Err(TopicError::Wildcard));
        assert!(check_segment(&"x".repeat(129)).is_err());
    }

    proptest::proptest! {
        /// Whatever the configuration says, an accepted topic is a valid MQTT topic name with
        /// exactly the prefix's levels plus two, and a subscriber's `+`/`#` filters match it.
        #[test]
        fn accepted_topics_are_well_formed(prefix in "[a-z/+#$ ]{0,12}", device in "[a-z./+#]{0,8}") {
            if let Ok(t) = Topics::new(&prefix, &device) {
                for topic in [&t.availability, &t.status, &t.events, &t.stats] {
                    proptest::prop_assert!(!topic.contains(['+', '#']));
                    proptest::prop_assert!(topic.split('/').all(|l| !l.is_empty()));
                    proptest::prop_assert_eq!(topic.split('/').count(), prefix.split('/').count() + 2);
                }
                let node = discovery_node_id(&device);
                proptest::prop_assert!(node.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
            }
        }
    }

    #[test]
    fn discovery_topics_are_home_assistant_safe() {
        assert_eq!(discovery_node_id("jetson.lan"), "jetson_lan");
        assert_eq!(discovery_topic("homeassistant", "cam-1", "fps"), "homeassistant/sensor/cam-1/fps/config");
        assert_eq!(discovery_topic("ha", "a.b", "state"), "ha/sensor/a_b/state/config");
    }
}
