//! The `[mqtt]` section of the configuration file.

use super::topics;
use super::StatusError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Used when neither `mqtt.device_id` nor a hostname is available.
pub const FALLBACK_DEVICE_ID: &str = "highlightd";

/// MQTT status reporting. Off by default: a box without a broker must not log connection
/// errors forever just because the section exists in the shipped configuration.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Publish status at all.
    pub enabled: bool,
    /// Broker host name or IP address.
    pub host: String,
    /// Broker port (1883 plain, usually 8883 with TLS).
    pub port: u16,
    /// MQTT client id. Unset: `highlightd-<device_id>`, so two daemons on one broker do not
    /// kick each other off (a broker drops the older of two connections with the same id).
    pub client_id: Option<String>,
    /// The name of this box in every topic. Unset: the hostname (`/etc/hostname`, else the
    /// kernel's), else `highlightd`.
    pub device_id: Option<String>,
    /// First topic level(s), e.g. `highlightd` or `venues/arena-3`.
    pub topic_prefix: String,
    /// Broker login; a password needs a user name (MQTT 3.1.1 forbids one without the other).
    pub username: Option<String>,
    pub password: Option<String>,
    /// TLS to the broker; absent means plain TCP.
    pub tls: Option<TlsConfig>,
    /// MQTT keep-alive, seconds. The broker publishes the last will ("offline") after 1.5×
    /// this without a packet from us, so it bounds how long a dead box looks alive.
    pub keep_alive_s: u64,
    /// Republish the retained status this often even without a change, seconds, so `uptime_s`
    /// and `updated_at` show the daemon is alive and not just its last message.
    pub status_interval_s: u64,
    /// How often the daemon publishes stats, seconds (see `StatusHandle::stats_interval`).
    pub stats_interval_s: u64,
    /// Longest wait between reconnection attempts, seconds (the wait starts at 1 s and doubles).
    pub reconnect_max_s: u64,
    /// Publish Home Assistant MQTT discovery configs so the sensors appear by themselves.
    pub home_assistant_discovery: bool,
    /// Home Assistant's discovery prefix (its default is `homeassistant`).
    pub discovery_prefix: String,
}

/// Certificates for TLS. The CA file is required: the broker on a venue network normally has
/// a private CA, and trusting the system store instead would silently accept any public site.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file with the CA certificate(s) that signed the broker's certificate.
    pub ca_file: PathBuf,
    /// PEM client certificate, for brokers that authenticate clients by certificate.
    #[serde(default)]
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            host: "127.0.0.1".into(),
            port: 1883,
            client_id: None,
            device_id: None,
            topic_prefix: "highlightd".into(),
            username: None,
            password: None,
            tls: None,
            keep_alive_s: 30,
            status_interval_s: 30,
            stats_interval_s: 60,
            reconnect_max_s: 60,
            home_assistant_discovery: true,
            discovery_prefix: "homeassistant".into(),
        }
    }
}

/// Written by hand so the password never reaches a log line.
impl std::fmt::Debug for MqttConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttConfig")
            .field("enabled", &self.enabled)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("client_id", &self.client_id)
            .field("device_id", &self.device_id)
            .field("topic_prefix", &self.topic_prefix)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .field("keep_alive_s", &self.keep_alive_s)
            .field("status_interval_s", &self.status_interval_s)
            .field("stats_interval_s", &self.stats_interval_s)
            .field("reconnect_max_s", &self.reconnect_max_s)
            .field("home_assistant_discovery", &self.home_assistant_discovery)
            .field("discovery_prefix", &self.discovery_prefix)
            .finish()
    }
}

impl MqttConfig {
    /// The device id in use: the configured one, else the hostname, else `highlightd`.
    pub fn resolved_device_id(&self) -> String {
        match &self.device_id {
            Some(id) => id.clone(),
            None => hostname().unwrap_or_else(|| FALLBACK_DEVICE_ID.to_string()),
        }
    }

    /// The client id in use: the configured one, else `highlightd-<device_id>`.
    pub fn resolved_client_id(&self) -> String {
        match &self.client_id {
            Some(id) => id.clone(),
            None => format!("highlightd-{}", self.resolved_device_id()),
        }
    }

    /// Range and syntax checks serde cannot express; the error names the key (`mqtt.…`).
    /// Checked even when `enabled = false`, so a mistake shows before the day it is switched on.
    pub fn check(&self) -> Result<(), StatusError> {
        let bad = |key: &'static str, message: String| Err(StatusError::Config { key, message });
        let host = self.host.trim();
        if host.is_empty() || host.len() != self.host.len() || host.contains(char::is_whitespace) || host.contains('/') {
            return bad("mqtt.host", "must be a host name or IP address, without spaces, scheme or port".into());
        }
        if self.port == 0 {
            return bad("mqtt.port", "must be between 1 and 65535".into());
        }
        if let Some(id) = &self.client_id {
            if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
                return bad("mqtt.client_id", "must be 1 to 256 characters without control characters".into());
            }
        }
        if let Some(id) = &self.device_id {
            if let Err(e) = topics::check_segment(id) {
                return bad("mqtt.device_id", e.to_string());
            }
        }
        if let Err(e) = topics::check_prefix(&self.topic_prefix) {
            return bad("mqtt.topic_prefix", e.to_string());
        }
        if let Err(e) = topics::check_prefix(&self.discovery_prefix) {
            return bad("mqtt.discovery_prefix", e.to_string());
        }
        match (&self.username, &self.password) {
            (Some(u), _) if u.is_empty() => return bad("mqtt.username", "must not be empty (leave it out for no login)".into()),
            (None, Some(_)) => return bad("mqtt.password", "needs mqtt.username".into()),
            _ => {}
        }
        if let Some(tls) = &self.tls {
            if tls.ca_file.as_os_str().is_empty() {
                return bad("mqtt.tls.ca_file", "must name a PEM file".into());
            }
            if tls.client_cert.is_some() != tls.client_key.is_some() {
                return bad("mqtt.tls.client_cert / mqtt.tls.client_key", "must be given together".into());
            }
        }
        for (key, v, max) in [
            ("mqtt.keep_alive_s", self.keep_alive_s, 3600),
            ("mqtt.status_interval_s", self.status_interval_s, 86_400),
            ("mqtt.stats_interval_s", self.stats_interval_s, 86_400),
            ("mqtt.reconnect_max_s", self.reconnect_max_s, 3600),
        ] {
            if !(1..=max).contains(&v) {
                return bad(key, format!("must be between 1 and {max} seconds"));
            }
        }
        Ok(())
    }
}

/// The machine's hostname, if it is usable as a topic segment.
fn hostname() -> Option<String> {
    ["/etc/hostname", "/proc/sys/kernel/hostname"].into_iter().find_map(|p| {
        let text = std::fs::read_to_string(p).ok()?;
        let name = text.lines().next()?.trim().to_string();
        topics::check_segment(&name).ok().map(|_| name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MqttConfig, String> {
        let cfg: MqttConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.check().map_err(|e| e.to_string())?;
        Ok(cfg)
    }

    #[test]
    fn defaults_are_valid_and_disabled() {
        let cfg = MqttConfig::default();
        assert!(!cfg.enabled);
        cfg.check().unwrap();
        assert_eq!(parse("").unwrap(), cfg);
        let id = cfg.resolved_device_id();
        assert!(topics::check_segment(&id).is_ok(), "{id}");
        assert_eq!(cfg.resolved_client_id(), format!("highlightd-{id}"));
    }

    #[test]
    fn full_section_parses() {
        let cfg = parse(
            r#"
            enabled = true
            host = "broker.lan"
            port = 8883
            device_id = "cam-7"
            topic_prefix = "venues/arena"
            username = "u"
            password = "p"
            keep_alive_s = 10
            home_assistant_discovery = false
            [tls]
            ca_file = "/etc/highlightd/ca.pem"
            "#,
        )
        .unwrap();
        assert_eq!(cfg.resolved_device_id(), "cam-7");
        assert_eq!(cfg.resolved_client_id(), "highlightd-cam-7");
        assert_eq!(cfg.tls.as_ref().map(|t| t.ca_file.clone()), Some(PathBuf::from("/etc/highlightd/ca.pem")));
        assert!(!format!("{cfg:?}").contains("\"p\""), "password must not be printed");
    }

    #[test]
    fn unknown_key_is_an_error() {
        let err = parse("hots = \"x\"\n").unwrap_err();
        assert!(err.contains("hots"), "{err}");
        let err = parse("[tls]\nca_file = \"a\"\nclient_crt = \"b\"\n").unwrap_err();
        assert!(err.contains("client_crt"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("port = 0", "mqtt.port"),
            ("host = \"\"", "mqtt.host"),
            ("host = \"mqtt://x\"", "mqtt.host"),
            ("device_id = \"a/b\"", "mqtt.device_id"),
            ("device_id = \"a+\"", "mqtt.device_id"),
            ("device_id = \"\"", "mqtt.device_id"),
            ("topic_prefix = \"a/#\"", "mqtt.topic_prefix"),
            ("topic_prefix = \"a//b\"", "mqtt.topic_prefix"),
            ("topic_prefix = \"\"", "mqtt.topic_prefix"),
            ("discovery_prefix = \"+\"", "mqtt.discovery_prefix"),
            ("password = \"p\"", "mqtt.password"),
            ("username = \"\"", "mqtt.username"),
            ("keep_alive_s = 0", "mqtt.keep_alive_s"),
            ("status_interval_s = 0", "mqtt.status_interval_s"),
            ("stats_interval_s = 0", "mqtt.stats_interval_s"),
            ("reconnect_max_s = 0", "mqtt.reconnect_max_s"),
            ("client_id = \"\"", "mqtt.client_id"),
            ("[tls]\nca_file = \"a\"\nclient_cert = \"c\"", "mqtt.tls.client_cert"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(key), "{text}: {err}");
        }
    }
}
