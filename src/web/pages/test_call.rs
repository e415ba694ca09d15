//! (To be written: see src/web/mod.rs for the areas.)

use crate::web::context::{Identity, WebContext};
use crate::web::http::{Request, Response};

pub async fn handle(_ctx: &WebContext, _who: &Identity, _req: &Request) -> Option<Response> {
    None
}
