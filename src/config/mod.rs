//! The gateway's configuration: one typed `Config`, validated as a whole,
//! stored as TOML in the data directory. The web page and JSON API (later)
//! edit the same model through `ConfigStore`.

mod account;
mod calls;
mod changes;
mod checks;
mod defaults;
mod edit;
mod emergency;
mod error;
mod events;
mod history;
mod inbound_auth;
mod line;
mod media;
mod mqtt;
mod network;
mod route;
#[cfg(test)]
pub mod sample;
mod schema;
mod sides;
mod srtp;
mod store;
mod system;
mod tls;
mod update;
mod web;

pub use account::AccountConfig;
pub use calls::{CallsConfig, SdpMode};
pub use changes::{changed_sections, restart_fields, Effect, FIELD_EFFECTS};
pub use checks::{check_name, check_unique};
pub use defaults::DEFAULT_CONFIG_TOML;
pub use edit::{edit_toml, EditError};
pub use emergency::{EmergencyConfig, MAX_EMERGENCY_NUMBERS, MAX_EMERGENCY_NUMBER_LEN};
pub use error::ConfigError;
pub use events::{EventsConfig, WebhookConfig, WebhookFormat, EVENT_NAMES};
pub use history::{HistoryConfig, MAX_HISTORY_CALLS};
pub use inbound_auth::{InboundAuthConfig, InboundUser, DIGEST_ALGORITHMS};
pub use line::{
    valid_line_name, LineConfig, DEFAULT_DIGIT_TIMEOUT_MS, DEFAULT_RING_CADENCE, EXTENSION_MAX,
    LINE_NAME_MAX,
};
pub use media::{DtmfMode, MediaConfig, SourceMode};
pub use mqtt::{BrokerAddress, MqttConfig, MQTT_SINK};
pub use network::{valid_interface, IfAddress, NetworkConfig, NetworkMode, MAX_DNS};
pub use route::{
    HeaderActionConfig, HeaderActionKind, MatchConfig, RouteConfig, RouteFrom, TargetConfig,
};
pub use schema::{
    default_allow, AdmitMode, Config, DenyAction, DnsConfig, ListenerConfig, LogConfig, SipConfig,
};
pub use sides::{Side, TransportName};
pub use srtp::{SrtpMode, SDES_NEEDS_TLS};
pub use store::{Checked, ConfigStore, Loaded, WideMode, CONFIG_FILE_MODE};
pub use system::SystemConfig;
pub use tls::TlsConfig;
pub use update::UpdateConfig;
pub use web::WebConfig;
