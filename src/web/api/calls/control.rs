//! Live call control: a request to the signalling loop (which alone owns
//! the calls) and its answer mapped to an HTTP status, for the API and
//! the call page alike.

use std::time::Duration;

use smol::channel::Sender;

use crate::app::{ControlError, ControlRequest};
use crate::web::context::WebContext;

/// The loop answers a control request within a turn; one that takes this
/// long is stuck, and the page says so instead of hanging.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// What the API and the page do with a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Hangup,
    /// A SIP URI the caller is moved to.
    Transfer(String),
    SendDtmf {
        digits: String,
        to_caller: bool,
    },
}

/// A refused control request: the HTTP status, the field at fault (if
/// any) and a message for a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub field: Option<&'static str>,
    pub message: String,
}

/// Asks the loop to do `action` to call `id`.
pub async fn perform(ctx: &WebContext, id: &str, action: Action, who: &str) -> Result<(), Refusal> {
    let (reply, answer) = smol::channel::bounded(1);
    let (call, who) = (id.to_string(), who.to_string());
    let request = match action {
        Action::Hangup => ControlRequest::Hangup { call, who, reply },
        Action::Transfer(target) => ControlRequest::Transfer {
            call,
            target,
            who,
            reply,
        },
        Action::SendDtmf { digits, to_caller } => ControlRequest::SendDtmf {
            call,
            to_caller,
            digits,
            who,
            reply,
        },
    };
    let answered = ask(&ctx.control, request, answer).await?;
    answered.map_err(|e| refusal(&e))
}

/// Sends `request` and waits for its answer; a loop that is gone or
/// stuck is 503.
pub async fn ask<T>(
    control: &Sender<ControlRequest>,
    request: ControlRequest,
    answer: smol::channel::Receiver<T>,
) -> Result<T, Refusal> {
    let gone = || Refusal {
        status: 503,
        field: None,
        message: "the gateway's signalling loop is not running".into(),
    };
    control.send(request).await.map_err(|_| gone())?;
    let wait = async { answer.recv().await.map_err(|_| gone()) };
    let late = async {
        smol::Timer::after(ANSWER_WITHIN).await;
        Err(Refusal {
            status: 503,
            field: None,
            message: format!(
                "the gateway did not answer within {} s",
                ANSWER_WITHIN.as_secs()
            ),
        })
    };
    futures_lite::future::or(wait, late).await
}

/// 404 no such call, 409 not possible in the call's state, 422 digits
/// that cannot be sent, 503 shutting down.
pub fn refusal(e: &ControlError) -> Refusal {
    let (status, field) = match e {
        ControlError::NoSuchCall(_) => (404, None),
        ControlError::Refused(_) => (409, None),
        ControlError::BadDigits(_) => (422, Some("digits")),
        ControlError::ShuttingDown => (503, None),
    };
    Refusal {
        status,
        field,
        message: e.to_string(),
    }
}

/// Checks a transfer target before it goes to the loop: a SIP URI.
pub fn check_target(target: &str) -> Result<(), Refusal> {
    let t = target.trim();
    let lower = t.to_ascii_lowercase();
    let ok = (lower.starts_with("sip:") || lower.starts_with("sips:"))
        && t.len() > 5
        && t.len() <= 512
        && !t
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    if ok {
        Ok(())
    } else {
        Err(Refusal {
            status: 422,
            field: Some("target"),
            message: "target must be a SIP URI, such as sip:201@192.168.1.20".into(),
        })
    }
}

/// Reads the `leg` field: "caller" or "callee".
pub fn parse_leg(leg: &str) -> Result<bool, Refusal> {
    match leg.trim() {
        "caller" => Ok(true),
        "callee" => Ok(false),
        _ => Err(Refusal {
            status: 422,
            field: Some("leg"),
            message: "leg must be 'caller' or 'callee'".into(),
        }),
    }
}
