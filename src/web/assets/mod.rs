//! The page's style and script, embedded in the binary: the box needs no
//! network and no build step for them.

use super::http::Response;

const STYLE: &str = include_str!("style.css");
const STATUS_JS: &str = include_str!("status.js");
const RESTORE_JS: &str = include_str!("restore.js");
const UPDATE_JS: &str = include_str!("update.js");

pub fn get(name: &str) -> Option<Response> {
    let (body, kind) = match name {
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        "status.js" => (STATUS_JS, "text/javascript; charset=utf-8"),
        "restore.js" => (RESTORE_JS, "text/javascript; charset=utf-8"),
        "update.js" => (UPDATE_JS, "text/javascript; charset=utf-8"),
        _ => return None,
    };
    Some(Response::new(200, kind, body))
}
