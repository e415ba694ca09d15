//! The last finished calls' records in memory, newest last (the persisted history is the store's).

use std::collections::VecDeque;

use super::record::CallRecord;

#[derive(Debug)]
pub struct History {
    records: VecDeque<CallRecord>,
    limit: usize,
}

impl History {
    /// Keeps the last `limit` records (0: none).
    pub fn new(limit: usize) -> History {
        History {
            records: VecDeque::new(),
            limit,
        }
    }

    /// Files a finished call's record; the oldest goes when full.
    pub fn push(&mut self, record: CallRecord) {
        if self.limit == 0 {
            return;
        }
        while self.records.len() >= self.limit {
            self.records.pop_front();
        }
        self.records.push_back(record);
    }

    /// Oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &CallRecord> {
        self.records.iter()
    }

    /// The newest record of media session `session`: the media thread's
    /// counters arrive after the call is over.
    pub fn by_media_session(&mut self, session: u64) -> Option<&mut CallRecord> {
        self.records
            .iter_mut()
            .rev()
            .find(|r| r.media_session == Some(session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, session: Option<u64>) -> CallRecord {
        CallRecord {
            id: id.into(),
            direction: super::super::record::CallDirection::Inbound,
            caller_call_id: format!("{id}@cloud"),
            callee_call_id: None,
            from: "caller".into(),
            to: "callee".into(),
            route: None,
            emergency: false,
            target: None,
            retreaver_uuid: None,
            retreaver_key: None,
            retreaver_afid: None,
            retreaver_sid: None,
            x_headers: Vec::new(),
            callee_x_headers: Vec::new(),
            headers_out: Vec::new(),
            diversion: None,
            started: std::time::SystemTime::UNIX_EPOCH,
            answered: None,
            ended: None,
            final_status: None,
            hangup_cause: None,
            hook: None,
            caller_transport: None,
            callee_transport: None,
            media: None,
            media_session: session,
            dtmf_caller: String::new(),
            dtmf_callee: String::new(),
        }
    }

    #[test]
    fn keeps_the_newest_up_to_its_limit() {
        let mut h = History::new(2);
        for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
            h.push(record(id, Some(i as u64)));
        }
        let ids: Vec<&str> = h.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, vec!["b", "c"]);
        assert_eq!(
            h.by_media_session(2).map(|r| r.id.clone()),
            Some("c".into())
        );
        assert!(h.by_media_session(0).is_none(), "pushed out");
        let mut none = History::new(0);
        none.push(record("x", None));
        assert_eq!(none.iter().count(), 0);
    }
}
