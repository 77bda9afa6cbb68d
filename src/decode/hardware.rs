//! Which decoders decodebin may pick. Hardware decoders win by rank where GStreamer sees them
//! (nvv4l2decoder on a Jetson, NVDEC, VA-API, V4L2 stateless); `force_software` demotes them
//! so decodebin falls back to the software decoders (avdec_*).
//!
//! The policy is a pure function over (name, klass, rank) triples so that it can be tested
//! with a made-up registry on machines that have none of these elements.

/// One decoder as the registry describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoderFactory {
    pub name: String,
    pub klass: String,
    pub rank: i32,
}

/// Name prefixes of hardware video decoders whose klass does not always say "Hardware".
const HARDWARE_PREFIXES: &[&str] = &["nvv4l2", "nvh26", "nvav1", "nvvp", "nvmpeg", "nvjpeg", "vaapi", "va", "v4l2", "msdk", "qsv", "d3d11", "vtdec", "amc", "omx"];

/// Whether a decoder factory drives dedicated hardware.
pub fn is_hardware(name: &str, klass: &str) -> bool {
    if klass.contains("Hardware") {
        return true;
    }
    let is_video_decoder = klass.contains("Decoder") && (klass.contains("Video") || klass.contains("Image"));
    // Software decoders are named `avdec_*`, `openh264dec`, `dav1ddec`…: none has these prefixes.
    is_video_decoder
        && HARDWARE_PREFIXES.iter().any(|p| name.starts_with(p))
        && (name.ends_with("dec") || name.contains("decoder"))
}

/// The rank changes to apply: with `force_software`, every hardware decoder goes to rank 0
/// (NONE), which decodebin never autoplugs; otherwise nothing changes.
pub fn rank_changes(factories: &[DecoderFactory], force_software: bool) -> Vec<(String, i32)> {
    if !force_software {
        return Vec::new();
    }
    factories
        .iter()
        .filter(|f| f.rank > 0 && is_hardware(&f.name, &f.klass))
        .map(|f| (f.name.clone(), 0))
        .collect()
}

/// The decoder decodebin would pick for a format among `candidates` (all able to decode it):
/// the highest rank after `rank_changes`, ties broken by name as GStreamer does.
pub fn expected_choice(candidates: &[DecoderFactory], force_software: bool) -> Option<&DecoderFactory> {
    let changes = rank_changes(candidates, force_software);
    let rank_of = |f: &DecoderFactory| changes.iter().find(|(n, _)| *n == f.name).map_or(f.rank, |c| c.1);
    candidates
        .iter()
        .filter(|f| rank_of(f) > 0)
        .max_by(|a, b| rank_of(a).cmp(&rank_of(b)).then_with(|| b.name.cmp(&a.name)))
}

/// Applies the policy to the live GStreamer registry (process-wide) and returns the names of
/// the hardware decoders it sees.
pub fn apply(force_software: bool) -> Result<Vec<String>, gstreamer::glib::Error> {
    use gstreamer as gst;
    use gst::prelude::*;
    gst::init()?;
    let registry = gst::Registry::get();
    let factories: Vec<(gst::ElementFactory, DecoderFactory)> = registry
        .features(gst::ElementFactory::static_type())
        .into_iter()
        .filter_map(|f| f.downcast::<gst::ElementFactory>().ok())
        .filter(|f| f.metadata(gst::ELEMENT_METADATA_KLASS).is_some_and(|k| k.contains("Decoder")))
        .map(|f| {
            let d = DecoderFactory {
                name: f.name().to_string(),
                klass: f.metadata(gst::ELEMENT_METADATA_KLASS).unwrap_or_default().to_string(),
                rank: f.rank().into_glib(),
            };
            (f, d)
        })
        .collect();
    let plain: Vec<DecoderFactory> = factories.iter().map(|(_, d)| d.clone()).collect();
    // `rank_changes` only ever demotes to NONE.
    for (name, _) in rank_changes(&plain, force_software) {
        if let Some((f, _)) = factories.iter().find(|(_, d)| d.name == name) {
            f.set_rank(gst::Rank::NONE);
            tracing::info!(decoder = %name, "hardware decoder disabled by configuration");
        }
    }
    Ok(plain.iter().filter(|d| is_hardware(&d.name, &d.klass)).map(|d| d.name.clone()).collect())
}

use gstreamer::glib::translate::IntoGlib;

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, klass: &str, rank: i32) -> DecoderFactory {
        DecoderFactory { name: name.into(), klass: klass.into(), rank }
    }

    fn jetson_like() -> Vec<DecoderFactory> {
        vec![
            f("avdec_h264", "Codec/Decoder/Video", 256),
            f("nvv4l2decoder", "Codec/Decoder/Video", 257),
            f("openh264dec", "Decoder/Video", 64),
        ]
    }

    #[test]
    fn hardware_detection() {
        assert!(is_hardware("nvv4l2decoder", "Codec/Decoder/Video"));
        assert!(is_hardware("vah264dec", "Codec/Decoder/Video/Hardware"));
        assert!(is_hardware("vaapih264dec", "Codec/Decoder/Video"));
        assert!(is_hardware("v4l2slh264dec", "Codec/Decoder/Video"));
        assert!(!is_hardware("avdec_h264", "Codec/Decoder/Video"));
        assert!(!is_hardware("openh264dec", "Decoder/Video"));
        assert!(!is_hardware("vorbisdec", "Codec/Decoder/Audio"));
    }

    #[test]
    fn hardware_wins_by_rank_where_present() {
        assert_eq!(expected_choice(&jetson_like(), false).map(|d| d.name.as_str()), Some("nvv4l2decoder"));
    }

    #[test]
    fn force_software_falls_back_to_avdec() {
        assert_eq!(expected_choice(&jetson_like(), true).map(|d| d.name.as_str()), Some("avdec_h264"));
        assert_eq!(rank_changes(&jetson_like(), true), vec![("nvv4l2decoder".to_string(), 0)]);
    }

    #[test]
    fn without_hardware_nothing_changes() {
        let sw = vec![f("avdec_h264", "Codec/Decoder/Video", 256)];
        assert!(rank_changes(&sw, true).is_empty());
        assert_eq!(expected_choice(&sw, false).map(|d| d.name.as_str()), Some("avdec_h264"));
    }
}
