//! Which sinks take which events: each webhook by its `events` filter,
//! and "mqtt" when `[mqtt]` is configured. The gateway builds the list
//! from the configuration; the history writer appends an event once per
//! sink that wants it, so no sink configured means nothing appended.

use crate::config::{Config, EventsConfig};
use crate::store::{NewEvent, OutboxLimits};

use super::Event;

/// The event names a sink takes; empty: every event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkFilter {
    pub events: Vec<String>,
}

impl SinkFilter {
    pub fn all() -> SinkFilter {
        SinkFilter::default()
    }

    pub fn wants(&self, event: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event)
    }
}

/// The sinks and the outbox's bounds, as the history writer uses them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSinks {
    /// Sink name (a webhook's `name`, "mqtt") and what it takes.
    pub sinks: Vec<(String, SinkFilter)>,
    pub limits: OutboxLimits,
}

impl Default for EventSinks {
    fn default() -> Self {
        EventSinks::from_events_config(&EventsConfig::default(), Vec::new())
    }
}

impl EventSinks {
    /// Every `[[webhook]]` with its filter, and "mqtt" (every event) when
    /// `[mqtt]` is set.
    pub fn from_config(config: &Config) -> EventSinks {
        let mut sinks: Vec<(String, SinkFilter)> = config
            .webhooks
            .iter()
            .map(|w| {
                (
                    w.name.clone(),
                    SinkFilter {
                        events: w.events.clone(),
                    },
                )
            })
            .collect();
        if config.mqtt.is_some() {
            sinks.push((crate::config::MQTT_SINK.to_string(), SinkFilter::all()));
        }
        EventSinks::from_events_config(&config.events, sinks)
    }

    pub fn from_events_config(events: &EventsConfig, sinks: Vec<(String, SinkFilter)>) -> Self {
        EventSinks {
            sinks,
            limits: OutboxLimits {
                max_events: events.max_events,
                max_bytes: events.max_mib.saturating_mul(1024 * 1024),
            },
        }
    }

    /// The outbox rows of `events`: each once, for the sinks that want
    /// it; an event no sink wants is not kept.
    pub fn outbox_rows(&self, events: &[Event]) -> Vec<NewEvent> {
        events
            .iter()
            .filter_map(|e| {
                let sinks: Vec<String> = self
                    .sinks
                    .iter()
                    .filter(|(_, f)| f.wants(e.event.name()))
                    .map(|(n, _)| n.clone())
                    .collect();
                (!sinks.is_empty()).then(|| NewEvent {
                    event_id: e.id.clone(),
                    call_key: e.order_key().to_string(),
                    created: std::time::SystemTime::now(),
                    body: e.to_json(),
                    sinks,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::EventKind;

    #[test]
    fn each_sink_gets_what_its_filter_wants() {
        let sinks = EventSinks::from_events_config(
            &EventsConfig::default(),
            vec![
                (
                    "crm".into(),
                    SinkFilter {
                        events: vec!["hangup".into()],
                    },
                ),
                ("mqtt".into(), SinkFilter::all()),
            ],
        );
        let mut a = Event::new(
            EventKind::NewCall,
            "1".into(),
            std::time::SystemTime::UNIX_EPOCH,
            true,
        );
        a.call_id = Some("c1".into());
        let b = Event {
            event: EventKind::Hangup,
            id: "2".into(),
            ..a.clone()
        };
        let rows = sinks.outbox_rows(&[a, b]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].sinks, vec!["mqtt".to_string()]);
        assert_eq!(rows[1].sinks, vec!["crm".to_string(), "mqtt".to_string()]);
        assert_eq!(rows[1].call_key, "c1");
        assert_eq!(sinks.limits.max_bytes, 64 * 1024 * 1024);
        assert!(EventSinks::default().outbox_rows(&rows_of_one()).is_empty());
    }

    fn rows_of_one() -> Vec<Event> {
        vec![Event::new(
            EventKind::Answer,
            "3".into(),
            std::time::SystemTime::UNIX_EPOCH,
            true,
        )]
    }
}
