//! The outbox's "mqtt" sink (docs/events.md, "MQTT"): every event also goes
//! to an MQTT broker as a QoS 1 PUBLISH, so a fleet of boxes reports to one
//! place. `session` is the sans-IO MQTT client, `packet` its codec, `topic`
//! the topics, `box_id` the box's name in them, `sink` and `connect` the
//! shell that does the IO.

mod box_id;
mod connect;
mod packet;
mod session;
mod sink;
mod topic;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::MqttConfig;
use crate::store::Store;
use session::{Session, SessionConfig};

/// Starts the sink's thread for `[mqtt]`, reading the outbox in
/// `data_dir`; returns what the start banner says about it.
pub fn start(
    config: &MqttConfig,
    data_dir: &Path,
    board: crate::app::StatusBoard,
) -> Result<String, String> {
    let broker = config.broker().map_err(|e| e.to_string())?;
    let tls = match broker.tls {
        true => Some(connect::tls_config(config.ca_file.as_deref())?),
        false => None,
    };
    let box_id = box_id::box_id(
        config.box_id.as_deref(),
        Path::new(box_id::MACHINE_ID),
        data_dir,
    )?;
    let store = Store::open(&Store::path_in(data_dir)).map_err(|e| e.to_string())?;
    let login = config
        .username
        .clone()
        .map(|u| (u, config.password.clone().unwrap_or_default()));
    let mut seed = [0u8; 8];
    // Only the back-off jitter comes from it: a fixed seed is no harm.
    let _ = getrandom::getrandom(&mut seed);
    let session = Session::new(
        SessionConfig {
            client_id: format!("pbxgate-{box_id}"),
            login,
            keepalive: Duration::from_secs(config.keepalive_s),
        },
        u64::from_le_bytes(seed),
        Instant::now(),
    );
    let summary = format!(
        "{} as box {box_id} (topics pbxgate/{box_id}/...)",
        config.url
    );
    let sink = sink::Sink {
        broker,
        tls,
        box_id,
        session,
        store,
        board,
        stats: crate::app::SinkStats {
            sink: crate::config::MQTT_SINK.to_string(),
            ..Default::default()
        },
        figures_at: Instant::now(),
    };
    std::thread::Builder::new()
        .name("mqtt".into())
        .spawn(move || smol::block_on(sink.run()))
        .map_err(|e| format!("cannot start its thread: {e}"))?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn mqtt_is_a_sink_only_when_configured() {
        let hooks = "[[webhook]]\nname = \"crm\"\nurl = \"https://crm.example/\"\n";
        let c = Config::from_toml(hooks).unwrap();
        assert_eq!(crate::gateway::sinks_of(&c), ["crm"]);
        let c = Config::from_toml(&format!("{hooks}[mqtt]\nurl = \"mqtt://b:1883\"\n")).unwrap();
        assert_eq!(crate::gateway::sinks_of(&c), ["crm", "mqtt"]);
    }
}
