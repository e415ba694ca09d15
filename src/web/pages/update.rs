//! The System page's firmware section: both root slots (version, which
//! is booted, which is good), a bundle upload and a reboot button. The
//! upload is sent by assets/update.js straight to `POST
//! /api/v1/system/update` as the request body with the form's CSRF token
//! in the X-CSRF-Token header, so the box streams the file to disk with
//! no multipart body to take apart.

use crate::app::{Slots, UpdateError};
use crate::web::api::update::{pending, slots, UPLOAD_MAX, UPLOAD_PATH};
use crate::web::context::{Identity, WebContext};
use crate::web::html::{csrf_field, esc};

pub async fn section(ctx: &WebContext, who: &Identity) -> String {
    let listed = slots(ctx).await;
    let mut s = String::from(r#"<section id="firmware"><h2>Firmware</h2>"#);
    match &listed {
        Ok(list) => s.push_str(&slots_table(list, pending(ctx).as_deref())),
        Err(e) => s.push_str(&format!(
            r#"<p class="notice warning" id="firmware-unavailable">{}</p>"#,
            esc(&e.to_string())
        )),
    }
    let token = who.csrf.as_deref().unwrap_or("");
    s.push_str(&format!(
        r#"<form id="form-update" data-action="{UPLOAD_PATH}" data-max="{UPLOAD_MAX}"><input type="hidden" id="update-csrf" value="{}"><p>An update bundle (<code>.raucb</code>, at most {} MiB) is checked (its signature, that it is for this board) and installed into the slot that is not running; the box starts it at the next reboot, and comes back to the version running now by itself if the new one does not pass its health check.</p><p><label for="update-file">Bundle</label> <input type="file" id="update-file" accept=".raucb"></p><p><button type="submit" id="update-submit">Install</button></p><p id="update-result" role="status"></p></form><script src="/assets/update.js"></script>"#,
        esc(token),
        UPLOAD_MAX >> 20
    ));
    if !matches!(listed, Err(UpdateError::NotAvailable(_))) {
        s.push_str(&format!(
            r#"<form method="post" action="/system" id="form-reboot">{}<input type="hidden" name="_action" value="reboot"><button type="submit" id="reboot-button">Reboot the box</button></form>"#,
            csrf_field(who)
        ));
    }
    s.push_str("</section>");
    s
}

fn slots_table(list: &Slots, pending: Option<&str>) -> String {
    let mut s = String::from(
        r#"<table id="slots"><thead><tr><th>Slot</th><th>Version</th><th>State</th><th>Installed</th></tr></thead><tbody>"#,
    );
    for slot in &list.slots {
        let mut state = Vec::new();
        if slot.booted {
            state.push("running");
        }
        match slot.good {
            Some(true) => state.push("good"),
            Some(false) => state.push("bad"),
            None => {}
        }
        if pending == Some(slot.name.as_str()) && !slot.booted {
            state.push("starts at the next reboot");
        } else if pending == Some(slot.name.as_str()) {
            state.push("on trial: health check pending");
        }
        s.push_str(&format!(
            r#"<tr data-slot="{}"{}><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&slot.name),
            if slot.booted {
                r#" class="booted""#
            } else {
                ""
            },
            esc(slot.bootname.as_deref().unwrap_or("?")),
            esc(&slot.name),
            // RAUC records versions of what it installed: the running system
            // without one is the image as flashed, another slot without one
            // holds nothing an update put there.
            esc(slot.version.as_deref().unwrap_or(if slot.booted {
                "as flashed"
            } else {
                "nothing installed"
            })),
            esc(&state.join(", ")),
            esc(slot.installed.as_deref().unwrap_or("")),
        ));
    }
    s.push_str("</tbody></table>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::SlotInfo;

    #[test]
    fn a_slot_without_a_version_is_the_image_when_running_and_empty_otherwise() {
        let slot = |name: &str, boot: &str, booted: bool| SlotInfo {
            name: name.into(),
            bootname: Some(boot.into()),
            booted,
            good: Some(booted),
            version: None,
            installed: None,
        };
        let list = Slots {
            compatible: "pbxgate-x86-gateway".into(),
            primary: Some("rootfs.0".into()),
            slots: vec![slot("rootfs.0", "A", true), slot("rootfs.1", "B", false)],
        };
        let table = slots_table(&list, None);
        assert!(
            table.contains("<td>A (rootfs.0)</td><td>as flashed</td><td>running, good</td>"),
            "{table}"
        );
        assert!(
            table.contains("<td>B (rootfs.1)</td><td>nothing installed</td><td>bad</td>"),
            "{table}"
        );
    }
}
