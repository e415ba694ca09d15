//! The hangups a start owes: calls the history still shows in progress
//! were cut by a crash or power loss, so nobody saw them end. Each gets a
//! `hangup` (cause `normalClearing`, detail `gatewayRestart`), appended in
//! the transaction that marks the row interrupted.

use std::time::SystemTime;

use crate::store::CallRow;

use super::call_fields::call_event;
use super::model::{Cause, Event, EventKind, GATEWAY_RESTART};

/// The hangup of `row`, a call the last run did not see end. Its end is
/// unknown, so the event has no `duration`; `at` is this start.
pub fn restart_hangup(
    row: &CallRow,
    id: String,
    at: SystemTime,
    clock_synced: bool,
    headers: &[String],
) -> Event {
    let mut e = call_event(EventKind::Hangup, id, at, clock_synced, row, headers);
    e.cause = Some(Cause::NormalClearing);
    e.cause_detail = Some(GATEWAY_RESTART.to_string());
    e.duration = None;
    e.status = None;
    e
}
