//! Limits and behaviour of the B2BUA that apply to every call.

use serde::{Deserialize, Serialize};

use super::checks::{check_at_most, check_range};
use super::error::ConfigError;
use super::history::HistoryConfig;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallsConfig {
    /// Calls in progress at most; the next one is answered 503 with
    /// Retry-After so the platform tries elsewhere.
    pub max_concurrent: usize,
    /// The Retry-After of that 503, in seconds.
    pub retry_after_s: u32,
    /// A target that sends nothing at all (not even 100 Trying) within this
    /// time is taken as dead and the next target is tried.
    pub failover_timeout_ms: u64,
    /// 3xx redirects followed per call at most.
    pub max_redirects: u32,
    /// How SDP crosses the gateway: `anchor` (the gateway's own address
    /// and ports on each leg, RTP relayed through it) or `passthrough`
    /// (bodies relayed unchanged; the two ends exchange RTP directly).
    pub sdp: SdpMode,
    /// Replaced by `[history] max_calls` (the history is kept in the data
    /// directory now); read so old files still load (see `warnings`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpMode {
    Anchor,
    Passthrough,
}

impl Default for CallsConfig {
    fn default() -> Self {
        CallsConfig {
            max_concurrent: 200,
            retry_after_s: 5,
            failover_timeout_ms: 4000,
            max_redirects: 3,
            sdp: SdpMode::Anchor,
            history: None,
        }
    }
}

impl CallsConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range("calls.max_concurrent", self.max_concurrent, 1..=100_000, "")?;
        if self.retry_after_s > 3600 {
            return Err(ConfigError::invalid(
                "calls.retry_after_s",
                format!("{} is more than an hour (3600)", self.retry_after_s),
            ));
        }
        check_range(
            "calls.failover_timeout_ms",
            self.failover_timeout_ms,
            200..=60_000,
            " ms",
        )?;
        check_at_most(
            "calls.max_redirects",
            self.max_redirects,
            10,
            "; redirect loops are cut there",
        )?;
        Ok(())
    }

    /// What an admin should change: the old in-memory `history`. Its value
    /// is not carried over: every file earlier versions wrote says 500,
    /// which bounded a list in memory, not what the card keeps.
    pub fn warnings(&self, history: &HistoryConfig) -> Vec<String> {
        match self.history {
            None => Vec::new(),
            Some(n) => vec![format!(
                "calls.history is replaced by history.max_calls: calls are kept in the data \
                 directory's database now; calls.history = {n} is ignored and \
                 [history] max_calls = {} applies; remove calls.history",
                history.max_calls
            )],
        }
    }
}
