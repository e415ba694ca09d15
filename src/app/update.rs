//! Firmware updates as the web page and the health check see them: an
//! `Updater` checks a bundle file, installs it into the slot that is not
//! booted, lists the slots, marks the booted one good or bad, and reboots.
//! The appliance's implementation drives RAUC (`gateway::update`); a build
//! without it answers `NotAvailable`.
//!
//! The vocabulary follows embedded-svc's `ota` traits (a booted slot, an
//! update slot, marking the running slot valid or invalid), but not the
//! traits themselves: docs/dependencies.md says why.

use std::path::Path;
use std::sync::Arc;

/// What a bundle says of itself, after its signature was checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleInfo {
    /// RAUC's `compatible`: `pbxgate-BOARD`.
    pub compatible: String,
    pub version: String,
    pub description: Option<String>,
}

/// One root slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    /// RAUC's slot name, e.g. `rootfs.0`.
    pub name: String,
    /// The boot loader's name of it: `A` or `B`.
    pub bootname: Option<String>,
    pub booted: bool,
    /// The boot loader's flag: `Some(true)` good, `Some(false)` bad.
    pub good: Option<bool>,
    /// The version of the bundle last installed into it (none for the
    /// slot the image was flashed with).
    pub version: Option<String>,
    /// When that bundle was installed (RAUC's timestamp).
    pub installed: Option<String>,
}

/// The slots and what the box is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slots {
    /// This box's `compatible`: `pbxgate-BOARD`.
    pub compatible: String,
    /// The slot the boot loader tries first at the next boot.
    pub primary: Option<String>,
    pub slots: Vec<SlotInfo>,
}

impl Slots {
    pub fn booted(&self) -> Option<&SlotInfo> {
        self.slots.iter().find(|s| s.booted)
    }

    /// The root slot that is not booted (where a bundle goes).
    pub fn other(&self) -> Option<&SlotInfo> {
        self.slots.iter().find(|s| !s.booted)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    #[error("no RAUC on this system: updates need the appliance image ({0})")]
    NotAvailable(String),
    #[error("bundle signature not trusted: {0}")]
    NotTrusted(String),
    #[error("bundle is for {bundle}, this box is {system}")]
    WrongBoard { bundle: String, system: String },
    #[error("not an update bundle: {0}")]
    NotABundle(String),
    #[error("the update bundle is over {0} MiB")]
    TooBig(u64),
    #[error("another update is being installed; try again when it has finished")]
    Busy,
    #[error("{0}")]
    Failed(String),
}

impl UpdateError {
    /// The HTTP status the API answers with.
    pub fn status(&self) -> u16 {
        match self {
            UpdateError::NotAvailable(_) => 503,
            UpdateError::NotTrusted(_) | UpdateError::WrongBoard { .. } => 422,
            UpdateError::NotABundle(_) => 415,
            UpdateError::TooBig(_) => 413,
            UpdateError::Busy => 409,
            UpdateError::Failed(_) => 500,
        }
    }
}

/// The box's update machinery. Calls block (they run programs): the web
/// handlers call them on the blocking pool.
pub trait Updater: Send + Sync {
    /// Checks a bundle file: its signature against the box's keyring and
    /// that it is for this board. Installs nothing.
    fn check(&self, bundle: &Path) -> Result<BundleInfo, UpdateError>;
    /// Installs a bundle into the slot that is not booted and makes that
    /// slot the one the next boot tries.
    fn install(&self, bundle: &Path) -> Result<(), UpdateError>;
    fn slots(&self) -> Result<Slots, UpdateError>;
    /// Marks the booted slot good (it keeps its place) or bad (the boot
    /// loader leaves it at the next boot).
    fn mark_booted(&self, good: bool) -> Result<(), UpdateError>;
    /// Marks the slot that is not booted bad (after a rollback).
    fn mark_other_bad(&self) -> Result<(), UpdateError>;
    /// Boots a slot this many times without it being marked good before
    /// the boot loader falls back to the other (1-3).
    fn set_boot_attempts(&self, attempts: u8) -> Result<(), UpdateError>;
    /// Reboots the box (through logind).
    fn reboot(&self) -> Result<(), UpdateError>;
}

pub type SharedUpdater = Arc<dyn Updater>;
