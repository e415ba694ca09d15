//! Call and registration events (docs/events.md): the model every sink
//! formats from, which sinks take which events, the wall clock's health,
//! and the hangups a restart owes to calls a crash cut.

pub mod call_fields;
pub mod clock;
pub mod model;
pub mod restart;
pub mod sinks;
pub mod wire;

pub use model::{Cause, Direction, DtmfSide, Event, EventKind, RegistrationState, Xph};
pub use sinks::{EventSinks, SinkFilter};
