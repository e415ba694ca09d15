//! Each event sink's delivery figures (a webhook's sender writes them; the
//! status page, `/api/v1/status` and `/metrics` read them).

use std::time::SystemTime;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// The webhook's name (or "mqtt"), as in the outbox.
    pub sink: String,
    /// Events the receiver acknowledged (2xx) since the start.
    pub delivered: u64,
    /// Attempts that failed since the start (each retry counts).
    pub failed: u64,
    /// Of those, attempts refused because the receiver's certificate is
    /// not trusted.
    pub certificate_refused: u64,
    pub last_error: Option<String>,
    pub last_error_at: Option<SystemTime>,
    /// Undelivered events in the outbox.
    pub depth: u64,
    /// When the oldest undelivered event was created.
    pub oldest: Option<SystemTime>,
    /// Events dropped because the outbox was full (all time).
    pub dropped: u64,
}

impl SinkStats {
    /// Seconds the oldest undelivered event has waited at `now`.
    pub fn oldest_age_s(&self, now: SystemTime) -> u64 {
        self.oldest
            .and_then(|o| now.duration_since(o).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// What a receiver answered to a test event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookAnswer {
    pub status: u16,
    /// The start of its body.
    pub body: String,
}

pub type WebhookTestFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<WebhookAnswer, String>> + Send>>;

/// Sends a `test` event to a webhook now (not through the outbox); the
/// gateway provides it, the web layer calls it (the test button).
#[derive(Clone)]
pub struct WebhookTester(
    pub std::sync::Arc<dyn Fn(crate::config::WebhookConfig) -> WebhookTestFuture + Send + Sync>,
);

impl WebhookTester {
    pub async fn send(
        &self,
        webhook: crate::config::WebhookConfig,
    ) -> Result<WebhookAnswer, String> {
        (self.0)(webhook).await
    }
}
