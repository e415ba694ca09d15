//! Topics: `pbxgate/<box-id>/calls/<callId>/<event>` for call events and
//! `pbxgate/<box-id>/registration` for registrations (docs/events.md).

/// Where an id is cut in a topic (bytes): a topic is at most 65,535 bytes
/// (MQTT 3.1.1 §4.7.3) and brokers often allow far fewer.
const MAX_ID: usize = 128;

/// `id` as one topic level: the wildcards `+` and `#` (§4.7.1), the level
/// separator `/` and NUL or control characters (§1.5.3) become `_`, an
/// empty id is `_`, a long one is cut.
pub fn level(id: &str) -> String {
    let mut out = String::with_capacity(id.len().min(MAX_ID));
    for c in id.chars() {
        let c = if matches!(c, '+' | '#' | '/') || c.is_control() {
            '_'
        } else {
            c
        };
        if out.len() + c.len_utf8() > MAX_ID {
            break;
        }
        out.push(c);
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// The topic of an outbox entry: its call (`call_key`, the event's
/// `callId`) and the event's name from its JSON body.
pub fn for_event(box_id: &str, call_key: &str, body: &str) -> String {
    let event = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("event")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "event".into());
    if event == "registration" {
        return format!("pbxgate/{}/registration", level(box_id));
    }
    format!(
        "pbxgate/{}/calls/{}/{}",
        level(box_id),
        level(call_key),
        level(&event)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_events_and_registrations_have_their_topics() {
        assert_eq!(
            for_event(
                "shop-17",
                "a84b4c76e66710",
                r#"{"event":"hangup","callId":"x"}"#
            ),
            "pbxgate/shop-17/calls/a84b4c76e66710/hangup"
        );
        assert_eq!(
            for_event("shop-17", "registration", r#"{"event":"registration"}"#),
            "pbxgate/shop-17/registration"
        );
        assert_eq!(for_event("b", "c", "not json"), "pbxgate/b/calls/c/event");
    }

    #[test]
    fn ids_are_made_topic_safe() {
        assert_eq!(level("a/b+c#d\0e\r\nf"), "a_b_c_d_e__f");
        assert_eq!(level(""), "_");
        assert_eq!(level("überweisung@host"), "überweisung@host");
        let long = "é".repeat(100);
        let cut = level(&long);
        assert!(cut.len() <= MAX_ID && cut.chars().all(|c| c == 'é'));
        let t = for_event("b", "x/y#", r#"{"event":"new+Call/"}"#);
        assert_eq!(t, "pbxgate/b/calls/x_y_/new_Call_");
        // Exactly five levels, none a wildcard.
        assert_eq!(t.split('/').count(), 5);
    }
}
