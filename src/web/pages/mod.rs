//! The pages (server-rendered HTML; forms post back to the page).

pub mod calls;
pub mod config;
pub mod status;
pub mod system;
pub mod test_call;
pub mod update;
pub mod webhook_test;

use super::context::{Identity, WebContext};
use super::http::{Request, Response};

pub async fn handle(ctx: &WebContext, who: &Identity, req: &Request) -> Option<Response> {
    if let Some(r) = status::handle(ctx, who, req).await {
        return Some(r);
    }
    if let Some(r) = calls::handle(ctx, who, req).await {
        return Some(r);
    }
    if let Some(r) = test_call::handle(ctx, who, req).await {
        return Some(r);
    }
    if let Some(r) = config::handle(ctx, who, req).await {
        return Some(r);
    }
    if let Some(r) = webhook_test::handle(ctx, who, req).await {
        return Some(r);
    }
    system::handle(ctx, who, req).await
}
