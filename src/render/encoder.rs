//! Which H.264 encoder renders the short: the Jetson's hardware encoder where GStreamer has it,
//! x264 otherwise. A pure choice over element names, so it is tested without the hardware.

/// An H.264 encoder and what it needs in front of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoder {
    /// `nvv4l2h264enc`, fed NVMM buffers through `nvvidconv`.
    JetsonHardware,
    /// `x264enc` with a speed preset.
    X264 { preset: String },
}

impl Encoder {
    pub fn element(&self) -> &'static str {
        match self {
            Encoder::JetsonHardware => "nvv4l2h264enc",
            Encoder::X264 { .. } => "x264enc",
        }
    }
}

/// Picks the encoder from the element names GStreamer has.
pub fn choose(available: &[&str], force_software: bool, x264_preset: &str) -> Option<Encoder> {
    let has = |n: &str| available.contains(&n);
    if !force_software && has("nvv4l2h264enc") && has("nvvidconv") {
        return Some(Encoder::JetsonHardware);
    }
    has("x264enc").then(|| Encoder::X264 { preset: x264_preset.to_string() })
}

/// The first AAC encoder GStreamer has, best first.
pub fn choose_aac(available: &[&str]) -> Option<&'static str> {
    ["fdkaacenc", "avenc_aac", "voaacenc"].into_iter().find(|n| available.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jetson_encoder_when_present() {
        let names = ["nvv4l2h264enc", "nvvidconv", "x264enc"];
        assert_eq!(choose(&names, false, "veryfast"), Some(Encoder::JetsonHardware));
        assert_eq!(choose(&names, true, "veryfast"), Some(Encoder::X264 { preset: "veryfast".into() }));
    }

    #[test]
    fn x264_elsewhere_and_none_without_encoders() {
        assert_eq!(choose(&["x264enc"], false, "fast").map(|e| e.element()), Some("x264enc"));
        // The encoder alone is not enough on a Jetson: it needs nvvidconv for NVMM input.
        assert_eq!(choose(&["nvv4l2h264enc", "x264enc"], false, "fast").map(|e| e.element()), Some("x264enc"));
        assert_eq!(choose(&[], false, "fast"), None);
    }

    #[test]
    fn aac_preference() {
        assert_eq!(choose_aac(&["voaacenc", "avenc_aac"]), Some("avenc_aac"));
        assert_eq!(choose_aac(&[]), None);
    }
}
