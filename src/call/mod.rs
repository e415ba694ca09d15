//! The call path: the B2BUA that turns a call arriving on one side into a
//! call on the other, the legs and dialogs it holds, and the call record.

mod addressing;
mod anchor;
mod b2bua;
#[allow(clippy::module_inception)]
mod call;
mod dialog;
mod history;
mod late_acks;
mod leg;
mod record;
mod timers;

#[cfg(test)]
mod tests;

pub use addressing::{ListenerInfo, LINE_LISTENER_BASE};
pub use b2bua::{B2bua, B2buaConfig, CallControlError, CallStats, Outcomes, CALL_ALLOW};
pub use dialog::Dialog;
pub use record::{CallDirection, CallRecord, HangupCause, LegMediaStats, MediaSummary, DTMF_KEPT};
