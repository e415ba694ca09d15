//! The JSON API under `/api/v1/` (docs/api.md): everything the pages do.
//! Errors are `{"error": ..., "field": ...}` with a 4xx status.

pub mod calls;
pub mod config;
pub mod status;
pub mod system;
pub mod test_call;
pub mod update;
pub mod webhooks;

use super::context::{Identity, WebContext};
use super::http::{Request, Response};

pub async fn handle(ctx: &WebContext, who: &Identity, req: &Request) -> Option<Response> {
    if let Some(r) = status::handle(ctx, who, req).await {
        return Some(r);
    }
    if let Some(r) = calls::handle(ctx, who, req).await {
        return Some(r);
    }
    if let Some(r) = config::handle(ctx, who, req).await {
        return Some(r);
    }
    if let Some(r) = test_call::handle(ctx, who, req).await {
        return Some(r);
    }
    if let Some(r) = webhooks::handle(ctx, who, req).await {
        return Some(r);
    }
    if let Some(r) = update::handle(ctx, who, req).await {
        return Some(r);
    }
    system::handle(ctx, who, req).await
}
