//! What an administrator asks of a call in progress (the web page and the
//! JSON API): hang it up, move its caller elsewhere, send it digits. The
//! call is named by its record id, the one the status page and the history
//! show.

use super::*;
use crate::call::anchor::media_side;
use crate::media::dtmf::inject::{Digits, DigitsError};

/// Why a request about a call cannot be carried out.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallControlError {
    #[error("no call in progress has the id '{0}'")]
    NoSuchCall(String),
    #[error("{0}")]
    NotPossible(String),
    /// The digits asked for cannot be sent as written.
    #[error("{0}")]
    Digits(#[from] DigitsError),
}

impl B2bua {
    /// The internal number of the call whose record id is `id`.
    fn call_by_record(&self, id: &str) -> Result<u64, CallControlError> {
        self.calls
            .values()
            .find(|c| c.record.id == id)
            .map(|c| c.id)
            .ok_or_else(|| CallControlError::NoSuchCall(id.to_string()))
    }

    /// Ends call `id` on every leg: BYE to the answered ones, CANCEL to a
    /// callee still ringing, and a final response to a caller not yet
    /// answered.
    pub fn hang_up(
        &mut self,
        tx: &mut TransactionLayer,
        id: &str,
        now: Instant,
    ) -> Result<(), CallControlError> {
        let cid = self.call_by_record(id)?;
        self.with_call(tx, cid, now, |b, tx, call| {
            info!(call = %call.record.id, "call hung up by the administrator");
            b.end_call(tx, call, None, HangupCause::Administrator, now);
            if !call.caller().final_sent {
                b.fail_caller(
                    tx,
                    call,
                    480,
                    "Temporarily Unavailable (ended by the administrator)",
                    None,
                    now,
                );
            }
        });
        Ok(())
    }

    /// Moves the caller of call `id` to `target` (a SIP URI), as a blind
    /// transfer: the target is called; when it answers, the caller is
    /// re-INVITEd to its media and the current callee gets a BYE. If the
    /// target refuses, the caller stays where it was.
    pub fn transfer(
        &mut self,
        tx: &mut TransactionLayer,
        id: &str,
        target: &str,
        now: Instant,
    ) -> Result<(), CallControlError> {
        let uri = match Uri::parse(target.trim()) {
            Ok(Uri::Sip(u)) => u,
            _ => {
                return Err(CallControlError::NotPossible(format!(
                    "'{target}' is not a sip: URI"
                )))
            }
        };
        let cid = self.call_by_record(id)?;
        let mut outcome = Ok(());
        self.with_call(tx, cid, now, |b, tx, call| {
            outcome = b.start_admin_transfer(tx, call, uri, now);
        });
        outcome
    }

    /// Sends `digits` (0-9, *, #, A-D; at most 32) to the caller of call
    /// `id` (`to_caller`) or to its callee, in the media the gateway
    /// relays to that leg: as RFC 4733 events where the leg negotiated
    /// them, as tones in its audio otherwise (`media::dtmf::inject`).
    pub fn send_dtmf(
        &mut self,
        id: &str,
        to_caller: bool,
        digits: &str,
    ) -> Result<(), CallControlError> {
        let cid = self.call_by_record(id)?;
        let digits = Digits::parse(digits)?;
        let Some(call) = self.calls.get(&cid) else {
            return Err(CallControlError::NoSuchCall(id.to_string()));
        };
        let Some(m) = call.media.as_ref() else {
            return Err(CallControlError::NotPossible(
                "the call's media does not pass through the gateway ([calls] sdp = \"passthrough\", \
                 or an offer without SDP), so it cannot send digits into it"
                    .into(),
            ));
        };
        let callee = call
            .callee
            .filter(|l| call.legs[*l].state == LegState::Confirmed)
            .filter(|_| call.legs[0].state == LegState::Confirmed)
            .ok_or_else(|| CallControlError::NotPossible("the call is not answered yet".into()))?;
        let leg = if to_caller { 0 } else { callee };
        let to = media_side(leg);
        if !self.anchor.send_digits(cid, m, to, digits) {
            return Err(CallControlError::NotPossible(
                "the call's media is not negotiated yet (no SDP answer)".into(),
            ));
        }
        // The count, not the digits: they may be a PIN or a card number.
        let count = digits.as_slice().len();
        info!(call = %call.record.id, to = if to_caller { "caller" } else { "callee" }, count, "the administrator sends digits");
        Ok(())
    }

    fn start_admin_transfer(
        &mut self,
        tx: &mut TransactionLayer,
        call: &mut Call,
        uri: SipUri,
        now: Instant,
    ) -> Result<(), CallControlError> {
        let callee = call
            .callee
            .filter(|l| call.legs[*l].state == LegState::Confirmed)
            .filter(|_| call.legs[0].state == LegState::Confirmed)
            .ok_or_else(|| CallControlError::NotPossible("the call is not answered yet".into()))?;
        if call.transfer.is_some() {
            return Err(CallControlError::NotPossible(
                "a transfer of this call is already under way".into(),
            ));
        }
        let from_target = call.legs[callee].target.clone().unwrap_or_default();
        info!(call = %call.record.id, from = %from_target, to = %uri, "the administrator transfers the caller");
        self.stats.transfers += 1;
        let spec = CalleeSpec {
            uri,
            transport: call.legs[callee].sip().transport,
            credentials: None,
            identity: None,
            extra_headers: Vec::new(),
            diversion: Some(format!("<{from_target}>;reason=deflection;counter=1")),
            referred_by: None,
            dtmf: DtmfMode::Auto,
            srtp: SrtpMode::Off,
        };
        call.transfer = Some(Transfer {
            referrer: callee,
            leg: call.legs.len(),
            notify: false,
        });
        self.start_callee(tx, call, spec, now)
            .map(|_| ())
            .map_err(|why| {
                call.transfer = None;
                CallControlError::NotPossible(format!("cannot call the transfer target: {why}"))
            })
    }
}
