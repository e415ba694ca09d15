//! The box's name in topics when `mqtt.box_id` is not set: derived from
//! /etc/machine-id, which stays the same across restarts and updates of
//! the image. machine-id(5) asks that the id itself not be shown to
//! others, so the topic carries a keyed hash of it, never the id. A
//! system without one gets a random id kept in the data directory.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const MACHINE_ID: &str = "/etc/machine-id";

/// The data directory's own id, where there is no machine id.
pub const BOX_ID_FILE: &str = "box-id";

/// Hex digits of a derived id: 48 bits, unique enough for a fleet.
const DIGITS: usize = 12;

/// `configured`, else from `machine_id` (a path), else from the data
/// directory's `box-id` file (made now when missing).
pub fn box_id(
    configured: Option<&str>,
    machine_id: &Path,
    data_dir: &Path,
) -> Result<String, String> {
    if let Some(id) = configured {
        return Ok(id.to_string());
    }
    if let Some(id) = std::fs::read_to_string(machine_id)
        .ok()
        .and_then(|t| from_machine_id(&t))
    {
        return Ok(id);
    }
    from_data_dir(data_dir)
}

/// HMAC-SHA256 keyed with the machine id over a fixed label, as
/// sd_id128_get_machine_app_specific(3) does for the same reason.
fn from_machine_id(text: &str) -> Option<String> {
    let id = text.trim();
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(id.as_bytes()).ok()?;
    mac.update(b"pbxgate mqtt box id");
    Some(hex(&mac.finalize().into_bytes())[..DIGITS].to_string())
}

fn from_data_dir(dir: &Path) -> Result<String, String> {
    let path = dir.join(BOX_ID_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = text.trim();
        if !id.is_empty()
            && id.len() <= 64
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Ok(id.to_string());
        }
    }
    let mut bytes = [0u8; DIGITS / 2];
    getrandom::getrandom(&mut bytes).map_err(|e| format!("no random numbers for a box id: {e}"))?;
    let id = hex(&bytes);
    std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::write(&path, format!("{id}\n")))
        .map_err(|e| {
            format!(
                "cannot keep the box id in {}: {e}; set mqtt.box_id",
                path.display()
            )
        })?;
    Ok(id)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_configured_or_hashed_from_the_machine_or_kept_in_the_data_dir() {
        let dir = std::env::temp_dir().join(format!("pbxgate-boxid-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mid = dir.join("machine-id");
        std::fs::write(&mid, "3d1219c7c4c5404aaa1f6d2a48adfda4\n").unwrap();
        assert_eq!(box_id(Some("shop-1"), &mid, &dir).unwrap(), "shop-1");
        let a = box_id(None, &mid, &dir).unwrap();
        assert_eq!(a.len(), DIGITS);
        assert!(!"3d1219c7c4c5404aaa1f6d2a48adfda4".contains(&a));
        assert_eq!(box_id(None, &mid, &dir).unwrap(), a, "stable");
        // No (or a bad) machine id: a random one, the same at each start.
        std::fs::write(&mid, "uninitialized\n").unwrap();
        let b = box_id(None, &mid, &dir).unwrap();
        assert_eq!(b.len(), DIGITS);
        assert_ne!(a, b);
        let gone = dir.join("none");
        assert_eq!(box_id(None, &gone, &dir).unwrap(), b);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
