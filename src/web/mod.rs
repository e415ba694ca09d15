//! The local web page and the JSON API, as handlers from a parsed request
//! to a response. The HTTPS server (sockets, TLS, the allow list checked
//! before the handshake) is a gateway shell, `gateway::web`; it parses a
//! request into `Request`, calls `handle`, and writes the `Response` back.
//! See docs/web.md (for users) and docs/api.md (the API).
//!
//! Areas, each in its own folder under pages/ and api/:
//! - auth/: login, first password, sessions, CSRF, rate limit, API tokens;
//! - status (page and `/api/v1/status`), `/healthz`, `/metrics`;
//! - calls: the history, a call's page, CSV; live call control;
//! - config: every section's page and API, saves, the audit list;
//! - test a call; system (log tail, backup and restore, restart).

pub mod addresses;
pub mod api;
pub mod assets;
pub mod auth;
pub mod context;
pub mod forms;
pub mod html;
pub mod http;
pub mod pages;
pub mod routes;
pub mod serve;

pub use context::{Identity, WebContext};
pub use http::{Method, Request, Response};
pub use routes::handle_authenticated;
pub use serve::serve;
