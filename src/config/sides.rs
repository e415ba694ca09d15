//! The two words listeners, accounts and routes share: which side of the
//! box something faces, and which transport it speaks. Kept apart so the
//! files that use them import down to here, not across to each other.

use serde::{Deserialize, Serialize};

/// Which side of the box a listener faces: the cloud (`wan`) or the PBX (`lan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Wan,
    Lan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportName {
    Udp,
    Tcp,
    Tls,
}
