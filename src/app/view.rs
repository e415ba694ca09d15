//! The types a `Snapshot` holds, named here for the layers above the core
//! (the web page) that read them but may not name `call` or `sip`.

pub use crate::call::{
    CallDirection, CallRecord, CallStats, HangupCause, LegMediaStats, MediaSummary,
};
pub use crate::routing::Explanation;
pub use crate::sip::registration::{RegistrationState, RegistrationStatus};
