//! Home Assistant discovery for the cameras: per camera, sensors read from its retained
//! `cameras/<name>/state` payload, announced next to the daemon's own sensors and under the
//! same device, so a camera appears in Home Assistant by itself, with its state, frame rates,
//! dropped frames, recording size and last moment.
//!
//! Object ids are `camera_<name>_<sensor>` (camera names are letters, digits, `-` and `_`,
//! all valid in a discovery topic), unique ids `highlightd_<node_id>_camera_<name>_<sensor>`.

use super::payload::{discovery_device, DiscoverySensor};
use super::topics::{discovery_node_id, discovery_topic, Topics};
use serde_json::{json, Value};

/// The camera sensors: (sensor, name, value template, extra config).
fn sensors() -> [(&'static str, &'static str, &'static str, Value); 6] {
    [
        ("state", "state", "{{ value_json.state }}", json!({ "device_class": "enum", "options": ["connecting", "live", "reconnecting", "error", "stopped"], "icon": "mdi:cctv" })),
        ("fps", "fps", "{{ value_json.fps }}", json!({ "unit_of_measurement": "fps", "state_class": "measurement", "icon": "mdi:speedometer" })),
        ("analysed_fps", "analysed fps", "{{ value_json.analysed_fps }}", json!({ "unit_of_measurement": "fps", "state_class": "measurement", "icon": "mdi:speedometer-slow" })),
        ("dropped", "dropped frames", "{{ value_json.dropped }}", json!({ "unit_of_measurement": "frames", "state_class": "total_increasing", "icon": "mdi:filmstrip-off" })),
        ("recording_bytes", "recording", "{{ value_json.recording_bytes }}", json!({ "device_class": "data_size", "unit_of_measurement": "B", "state_class": "measurement" })),
        ("last_moment", "last moment", "{{ value_json.last_moment.end if value_json.last_moment else None }}", json!({ "device_class": "timestamp", "icon": "mdi:star-shooting" })),
    ]
}

/// `<prefix>/<device_id>/cameras/<camera>/state`, from the box's topics.
pub fn camera_state_topic(topics: &Topics, camera: &str) -> String {
    let base = topics.status.strip_suffix("/status").unwrap_or(&topics.status);
    format!("{base}/cameras/{camera}/state")
}

/// Discovery messages (topic, retained JSON config) for every sensor of every camera.
pub fn camera_discovery_configs(discovery_prefix: &str, device_id: &str, topics: &Topics, version: &str, cameras: &[String]) -> Vec<(String, String)> {
    let node = discovery_node_id(device_id);
    let device = discovery_device(device_id, version);
    let mut out = Vec::new();
    for camera in cameras {
        let state_topic = camera_state_topic(topics, camera);
        for (sensor, name, template, extra) in sensors() {
            let object_id = format!("camera_{camera}_{sensor}");
            let name = format!("{camera} {name}");
            let sensor = DiscoverySensor { node: &node, object_id: &object_id, name: &name, state_topic: &state_topic, template, availability: &topics.availability, device: &device };
            out.push((discovery_topic(discovery_prefix, device_id, &object_id), sensor.config(&extra)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_sensors_per_camera_on_its_state_topic() {
        let t = Topics::new("hl", "jet.son").unwrap();
        let cfgs = camera_discovery_configs("homeassistant", "jet.son", &t, "0.1.0", &["door".into(), "yard".into()]);
        assert_eq!(cfgs.len(), 12);
        assert_eq!(cfgs[0].0, "homeassistant/sensor/jet_son/camera_door_state/config");
        assert_eq!(cfgs[11].0, "homeassistant/sensor/jet_son/camera_yard_last_moment/config");
        let v: Value = serde_json::from_str(&cfgs[3].1).unwrap();
        assert_eq!(v["state_topic"], "hl/jet.son/cameras/door/state");
        assert_eq!(v["unique_id"], "highlightd_jet_son_camera_door_dropped");
        assert_eq!(v["device"]["identifiers"][0], "highlightd_jet_son");
        assert_eq!(v["availability_topic"], "hl/jet.son/availability");
        assert!(camera_discovery_configs("homeassistant", "x", &t, "0", &[]).is_empty());
    }
}
