//! Which area answers a request that passed authentication (and, for a
//! state-changing one with a session, the CSRF check). Each area answers
//! the paths it owns and None for the rest.

use super::context::{Identity, WebContext};
use super::http::{Request, Response};
use super::{api, pages};

pub async fn handle_authenticated(ctx: &WebContext, who: &Identity, req: &Request) -> Response {
    let answer = if req.path.starts_with("/api/") {
        api::handle(ctx, who, req).await
    } else {
        pages::handle(ctx, who, req).await
    };
    answer.unwrap_or_else(Response::not_found)
}
