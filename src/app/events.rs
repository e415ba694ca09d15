//! Call and registration events derived from what the core already
//! reports: each call record change (the history writer's feed) is
//! compared with what was last emitted for that call, and each
//! registration's status with its last reported state.
//!
//! Why derive from the records rather than have the B2BUA announce each
//! event: the record is already the one account of a call that the
//! history keeps, so the events cannot tell a story the history does not,
//! and the call layer needs no second notification path. The record
//! marks every transition an event needs: `started` (newCall), `answered`
//! (answer), digits added to `dtmf_caller`/`dtmf_callee` (one dtmf each),
//! `ended`/`hangup_cause` (hangup); a forward or transfer ends
//! one record and starts another with the same caller Call-ID and a
//! diversion, which is how `origCallId` is found.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Instant, SystemTime};

use crate::call::{CallRecord, HangupCause};
use crate::events::call_fields::call_event;
use crate::events::model::event_id;
use crate::events::{DtmfSide, Event, EventKind, RegistrationState};
use crate::sip::ids::IdGenerator;
use crate::sip::registration::{RegistrationState as SipState, RegistrationStatus};

use super::call_row;

/// Ended calls remembered so that changes after the end (the media
/// counters arrive when the media thread closes the session) emit nothing.
const ENDED_KEPT: usize = 4096;

/// Forwards and transfers waiting for their new record, at most.
const DIVERTED_KEPT: usize = 4096;

pub struct EventTracker {
    ids: IdGenerator,
    /// The wall clock at a monotonic instant (the core's), for events a
    /// record has no time for.
    epoch: (Instant, SystemTime),
    /// The wall clock was synced when `epoch` was read (the first report).
    epoch_synced: Option<bool>,
    clock_synced: bool,
    /// `[events] headers`: copied from the INVITE into `headers`.
    headers: Vec<String>,
    live: HashMap<String, Live>,
    ended: HashSet<String>,
    ended_order: VecDeque<String>,
    /// Caller Call-ID → the call a forward or transfer ended.
    diverted: HashMap<String, String>,
    diverted_order: VecDeque<String>,
    /// Account → the state last reported.
    registrations: HashMap<String, RegistrationState>,
}

#[derive(Default)]
struct Live {
    answered: bool,
    orig_call_id: Option<String>,
    /// Digits of `dtmf_caller` and `dtmf_callee` already reported.
    dtmf_reported: [usize; 2],
}

impl EventTracker {
    pub fn new(ids: IdGenerator, now: Instant, wall: SystemTime) -> EventTracker {
        EventTracker {
            ids,
            epoch: (now, wall),
            epoch_synced: None,
            clock_synced: false,
            headers: Vec::new(),
            live: HashMap::new(),
            ended: HashSet::new(),
            ended_order: VecDeque::new(),
            diverted: HashMap::new(),
            diverted_order: VecDeque::new(),
            registrations: HashMap::new(),
        }
    }

    pub fn set_headers(&mut self, headers: Vec<String>) {
        self.headers = headers;
    }

    /// What the shell reads of the kernel's clock state (`events::clock`).
    /// Event times are the wall clock read at the core's start plus the
    /// monotonic time since, so they are only as good as that first read:
    /// a clock that syncs later does not make them right.
    pub fn set_clock_synced(&mut self, synced: bool) {
        let at_epoch = *self.epoch_synced.get_or_insert(synced);
        self.clock_synced = at_epoch && synced;
    }

    fn wall(&self, now: Instant) -> SystemTime {
        self.epoch.1 + now.saturating_duration_since(self.epoch.0)
    }

    fn new_id(&mut self) -> String {
        event_id(self.ids.bytes())
    }

    /// The events of a step's record changes, in order, each with the
    /// record it belongs to. A transferred call's hangup follows the new
    /// call's newCall (and answer), as sipgate.io reports a transfer, so
    /// it rides with the new record.
    pub fn on_records(
        &mut self,
        records: Vec<CallRecord>,
        now: Instant,
    ) -> Vec<(CallRecord, Vec<Event>)> {
        let mut out: Vec<(CallRecord, Vec<Event>)> = Vec::with_capacity(records.len());
        // Hangups of transferred calls: caller Call-ID, own output index.
        let mut held: Vec<(String, usize, Event)> = Vec::new();
        for r in records {
            let mut events = Vec::new();
            if self.ended.contains(&r.id) {
                out.push((r, events));
                continue;
            }
            let row = call_row(&r);
            let make = |me: &mut Self, kind: EventKind, at: SystemTime| {
                let id = me.new_id();
                call_event(kind, id, at, me.clock_synced, &row, &me.headers)
            };
            let mut live = match self.live.remove(&r.id) {
                Some(l) => l,
                None => {
                    let orig_call_id = self.diverted.remove(&r.caller_call_id);
                    let mut e = make(self, EventKind::NewCall, r.started);
                    e.orig_call_id = orig_call_id.clone();
                    events.push(e);
                    Live {
                        answered: false,
                        orig_call_id,
                        dtmf_reported: [0, 0],
                    }
                }
            };
            if let Some(at) = r.answered.filter(|_| !live.answered) {
                live.answered = true;
                let mut e = make(self, EventKind::Answer, at);
                e.orig_call_id = live.orig_call_id.clone();
                events.push(e);
            }
            // Digits pressed since the last change, one event each, before
            // a hangup that comes in the same change. The media thread
            // batches them, so their time is when they were filed.
            let at = self.wall(now);
            for (i, (side, digits)) in [
                (DtmfSide::Caller, &r.dtmf_caller),
                (DtmfSide::Callee, &r.dtmf_callee),
            ]
            .into_iter()
            .enumerate()
            {
                let new = digits.get(live.dtmf_reported[i]..).unwrap_or("");
                for d in new.chars() {
                    let mut e = make(self, EventKind::Dtmf, at);
                    e.orig_call_id = live.orig_call_id.clone();
                    e.dtmf = Some(d.to_string());
                    e.dtmf_side = Some(side);
                    events.push(e);
                }
                live.dtmf_reported[i] = digits.len();
            }
            if let Some(pos) = held.iter().position(|(c, _, _)| *c == r.caller_call_id) {
                let (_, _, e) = held.remove(pos);
                events.push(e);
            }
            if r.ended.is_some() || r.hangup_cause.is_some() {
                let at = r.ended.unwrap_or_else(|| self.wall(now));
                let mut e = make(self, EventKind::Hangup, at);
                e.orig_call_id = live.orig_call_id.clone();
                self.remember_ended(&r.id);
                match r.hangup_cause {
                    Some(HangupCause::Forwarded) => {
                        self.remember_diverted(&r.caller_call_id, &r.id);
                        events.push(e);
                    }
                    Some(HangupCause::Transferred) => {
                        self.remember_diverted(&r.caller_call_id, &r.id);
                        held.push((r.caller_call_id.clone(), out.len(), e));
                    }
                    _ => events.push(e),
                }
            } else {
                self.live.insert(r.id.clone(), live);
            }
            out.push((r, events));
        }
        // A transfer whose new record did not come in this step: the
        // hangup goes with its own record.
        for (_, i, e) in held {
            if let Some((_, events)) = out.get_mut(i) {
                events.push(e);
            }
        }
        out
    }

    /// The body a routing hook is POSTed: the call's newCall fields as
    /// JSON, under an id of its own (the request is not an event
    /// delivery; receivers de-duplicate events, not hook calls).
    pub fn hook_body(&mut self, record: &CallRecord) -> String {
        let id = self.new_id();
        call_event(
            EventKind::NewCall,
            id,
            record.started,
            self.clock_synced,
            &call_row(record),
            &self.headers,
        )
        .to_json()
    }

    fn remember_ended(&mut self, id: &str) {
        if self.ended_order.len() >= ENDED_KEPT {
            if let Some(old) = self.ended_order.pop_front() {
                self.ended.remove(&old);
            }
        }
        self.ended.insert(id.to_string());
        self.ended_order.push_back(id.to_string());
    }

    fn remember_diverted(&mut self, caller_call_id: &str, id: &str) {
        if self.diverted_order.len() >= DIVERTED_KEPT {
            if let Some(old) = self.diverted_order.pop_front() {
                self.diverted.remove(&old);
            }
        }
        self.diverted
            .insert(caller_call_id.to_string(), id.to_string());
        self.diverted_order.push_back(caller_call_id.to_string());
    }

    /// A registration event for each account whose state went up or
    /// down since the last report. Registering (a first try or a refresh)
    /// changes nothing: only a grant is up, only a failure or the
    /// un-REGISTER at shutdown is down.
    pub fn on_registrations(
        &mut self,
        statuses: &[RegistrationStatus],
        now: Instant,
    ) -> Vec<Event> {
        let mut out = Vec::new();
        for s in statuses {
            let (state, reason) = match &s.state {
                SipState::Registered { .. } => (RegistrationState::Up, None),
                SipState::Failing { reason, .. } => (RegistrationState::Down, Some(reason.clone())),
                SipState::Unregistered => {
                    (RegistrationState::Down, Some("unregistered".to_string()))
                }
                SipState::Starting | SipState::Registering => continue,
            };
            if self.registrations.get(&s.account) == Some(&state) {
                continue;
            }
            self.registrations.insert(s.account.clone(), state);
            let id = self.new_id();
            out.push(Event::registration(
                id,
                self.wall(now),
                self.clock_synced,
                &s.account,
                state,
                reason,
            ));
        }
        out
    }
}
