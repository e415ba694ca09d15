//! Firmware updates on the appliance: the RAUC shell (`Rauc`, the
//! `Updater` the web page uses) and the boot-time health check that
//! confirms a new slot or sends the box back to the old one. See
//! docs/updates.md.

pub mod health;
mod rauc;

use std::sync::Arc;

pub use rauc::{parse_status, Rauc, SYSTEM_CONF};

use crate::app::SharedUpdater;

/// The box's updater: RAUC with its system configuration. Where there is
/// none (a checkout, a container) every call says updates need the
/// appliance image.
pub fn system_updater() -> SharedUpdater {
    Arc::new(Rauc::default())
}
