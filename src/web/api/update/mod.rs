//! Firmware updates over the API (docs/updates.md, docs/api.md):
//! `POST /api/v1/system/update` takes a RAUC bundle as the request body,
//! streamed to the data directory (never held in memory, at most
//! `UPLOAD_MAX`), checks it (signature, board), installs it into the slot
//! that is not booted and says what happens next; `GET
//! /api/v1/system/slots` lists both slots; `POST /api/v1/system/reboot`
//! reboots into the new one. The uploaded file is removed whatever the
//! outcome.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use futures_lite::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use serde_json::{json, Value};

use crate::app::{BundleInfo, SharedUpdater, Slots, UpdateError};
use crate::web::context::{Identity, WebContext};
use crate::web::http::{Method, Request, Response};

pub const UPLOAD_PATH: &str = "/api/v1/system/update";
/// The largest bundle taken: a root slot's image is a few hundred MiB.
pub const UPLOAD_MAX: u64 = 512 * 1024 * 1024;
/// Where the answer has gone out before the box goes down.
const REBOOT_AFTER: Duration = Duration::from_secs(2);
/// The slot an update went to, until the health check confirms it (the
/// health check's `PENDING_FILE`).
pub const PENDING_FILE: &str = "update-pending";

/// One upload or installation at a time per data directory (per box):
/// RAUC installs one bundle at a time, and two uploads would need twice
/// the room.
static BUSY: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

pub fn is_upload(req: &Request) -> bool {
    req.method == Method::Post && req.path == UPLOAD_PATH
}

/// The routes other than the upload's (a test's request carries the body
/// in memory: it is streamed from there the same way).
pub async fn handle(ctx: &WebContext, who: &Identity, req: &Request) -> Option<Response> {
    Some(match (req.method, req.path.as_str()) {
        (Method::Post, UPLOAD_PATH) => receive(ctx, who, req, &req.body[..]).await,
        (Method::Get, "/api/v1/system/slots") => match slots(ctx).await {
            Ok(s) => Response::json(200, &slots_json(&s, &pending(ctx))),
            Err(e) => refused(&e),
        },
        (Method::Post, "/api/v1/system/reboot") => match reboot_soon(ctx, who).await {
            Ok(()) => Response::json(202, &json!({ "rebooting": true })),
            Err(e) => refused(&e),
        },
        (_, UPLOAD_PATH | "/api/v1/system/reboot") => Response::api_error(405, None, "use POST"),
        (_, "/api/v1/system/slots") => Response::api_error(405, None, "use GET"),
        _ => return None,
    })
}

pub fn refused(e: &UpdateError) -> Response {
    Response::api_error(e.status(), None, &e.to_string())
}

fn updater(ctx: &WebContext) -> Result<SharedUpdater, UpdateError> {
    ctx.updater
        .clone()
        .ok_or_else(|| UpdateError::NotAvailable("this server has no updater".into()))
}

pub async fn slots(ctx: &WebContext) -> Result<Slots, UpdateError> {
    let u = updater(ctx)?;
    smol::unblock(move || u.slots()).await
}

/// The slot an installed update waits in, if any.
pub fn pending(ctx: &WebContext) -> Option<String> {
    std::fs::read_to_string(ctx.data_dir.join(PENDING_FILE))
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

pub fn slots_json(s: &Slots, pending: &Option<String>) -> Value {
    json!({
        "compatible": s.compatible,
        "primary": s.primary,
        "pending": pending,
        "slots": s.slots.iter().map(|x| json!({
            "name": x.name,
            "bootname": x.bootname,
            "booted": x.booted,
            "good": x.good,
            "version": x.version,
            "installed": x.installed,
        })).collect::<Vec<_>>(),
    })
}

/// The upload: spooled, checked, installed; the answer says what next.
pub async fn receive<R: AsyncRead + Unpin>(
    ctx: &WebContext,
    who: &Identity,
    req: &Request,
    body: R,
) -> Response {
    let updater = match updater(ctx) {
        Ok(u) => u,
        Err(e) => return refused(&e),
    };
    let Some(_busy) = Busy::take(&ctx.data_dir) else {
        return refused(&UpdateError::Busy);
    };
    let declared = req
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > UPLOAD_MAX) {
        return refused(&UpdateError::TooBig(UPLOAD_MAX >> 20));
    }
    // RAUC takes only files named .raucb.
    let path = ctx
        .data_dir
        .join(format!("update-upload-{:016x}.raucb", fastrand::u64(..)));
    let _remove = Remove(path.clone());
    match spool(body, &path, UPLOAD_MAX).await {
        Ok(0) => {
            return Response::api_error(
                400,
                None,
                "the request has no body: send the .raucb file as the body",
            )
        }
        Ok(_) => {}
        Err(e) => return refused(&e),
    }
    let reboot = req.query_value("reboot") == Some("true");
    let (p, u) = (path.clone(), updater.clone());
    let done = smol::unblock(move || install(&*u, &p)).await;
    let (info, slot) = match done {
        Ok(x) => x,
        Err(e) => {
            tracing::warn!(who = %who.who, "update refused: {e}");
            return refused(&e);
        }
    };
    let pending_path = ctx.data_dir.join(PENDING_FILE);
    if let Err(e) = std::fs::write(&pending_path, format!("{}\n", slot.0)) {
        tracing::warn!("update: cannot write {}: {e}", pending_path.display());
    }
    tracing::warn!(who = %who.who, version = %info.version, slot = %slot.0, "update installed; it is started at the next boot");
    let update = ctx.config().update;
    let next = format!(
        "Installed into slot {} ({}). Reboot to start it{}: it then has {} boot{} to pass its health check (SIP listeners answer, web page up, configuration loaded) within {} s; otherwise the box comes back to the version running now by itself.",
        slot.1.as_deref().unwrap_or("?"),
        slot.0,
        if reboot { " (rebooting now)" } else { ": POST /api/v1/system/reboot" },
        update.boot_attempts,
        if update.boot_attempts == 1 { "" } else { "s" },
        update.health_timeout_s,
    );
    let mut rebooting = false;
    if reboot {
        match reboot_soon(ctx, who).await {
            Ok(()) => rebooting = true,
            Err(e) => tracing::warn!("update: reboot failed: {e}"),
        }
    }
    Response::json(
        200,
        &json!({
            "installed": { "version": info.version, "compatible": info.compatible },
            "slot": slot.0,
            "bootname": slot.1,
            "next": next,
            "rebooting": rebooting,
        }),
    )
}

/// Check, find the slot it goes to, install.
fn install(
    u: &dyn crate::app::Updater,
    bundle: &Path,
) -> Result<(BundleInfo, (String, Option<String>)), UpdateError> {
    let info = u.check(bundle)?;
    let slots = u.slots()?;
    let other = slots
        .other()
        .map(|s| (s.name.clone(), s.bootname.clone()))
        .ok_or_else(|| UpdateError::Failed("RAUC shows no slot to install into".into()))?;
    u.install(bundle)?;
    Ok((info, other))
}

/// Copies `body` into a new file at `path`, refusing past `max` bytes.
async fn spool<R: AsyncRead + Unpin>(
    mut body: R,
    path: &Path,
    max: u64,
) -> Result<u64, UpdateError> {
    let io = |e: std::io::Error| UpdateError::Failed(format!("cannot store the upload: {e}"));
    let mut file = smol::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(io)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = body
            .read(&mut buf)
            .await
            .map_err(|e| UpdateError::Failed(format!("the upload broke off: {e}")))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > max {
            return Err(UpdateError::TooBig(max >> 20));
        }
        file.write_all(&buf[..n]).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(total)
}

/// Reboots after `REBOOT_AFTER`, so the answer leaves first; only a box
/// whose RAUC answers (never a developer's machine running a checkout).
pub async fn reboot_soon(ctx: &WebContext, who: &Identity) -> Result<(), UpdateError> {
    slots(ctx).await?;
    let u = updater(ctx)?;
    tracing::warn!(who = %who.who, "reboot asked for");
    smol::spawn(async move {
        smol::Timer::after(REBOOT_AFTER).await;
        if let Err(e) = smol::unblock(move || u.reboot()).await {
            tracing::error!("reboot failed: {e}");
        }
    })
    .detach();
    Ok(())
}

struct Busy(PathBuf);

impl Busy {
    fn take(dir: &Path) -> Option<Busy> {
        let mut set = BUSY.lock().unwrap_or_else(|p| p.into_inner());
        set.get_or_insert_with(HashSet::new)
            .insert(dir.to_path_buf())
            .then(|| Busy(dir.to_path_buf()))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut set = BUSY.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = set.as_mut() {
            s.remove(&self.0);
        }
    }
}

/// Removes the uploaded file whatever happened (installed, refused, or
/// the connection dropped mid-way).
struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests;
