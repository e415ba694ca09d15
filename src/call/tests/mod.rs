//! The B2BUA through the core's sans-IO interface, stepping time: what
//! leaves towards which peer, and when. One file per call path; this one
//! is the network they share: the platform (`CLOUD`) calls in on the WAN
//! listener, route `q` sends the call to the PBX's queue at `PBX1`, then
//! at `PBX2`.

mod anchoring;
mod answer;
mod auth;
mod cancel;
mod control;
mod emergency;
mod hangup;
mod hook;
mod records;
mod redirect;
mod reinvite;
mod session_timer;
mod setup;
mod srtp;
mod transfer;

use crate::call::HangupCause;
use crate::sip::message::{HeaderName, Response};
use crate::test_support::{
    answer, lan, request, sdp, wan, FarEnd, Sent, Setup, Step, TestCore, GATEWAY_WAN,
};

const CLOUD: &str = "198.51.100.7:5060";
const PBX1: &str = "10.0.0.21:5060";
const PBX2: &str = "10.0.0.22:5060";

/// `[calls]` for tests of signalling: bodies pass unchanged (anchoring has
/// its own tests, `anchoring.rs`).
const PASSTHROUGH: &str = "sdp = 'passthrough'\n";

/// A core with route `q` and `calls` (lines of `[calls]`).
fn route_q(calls: &str) -> Setup {
    Setup::new(&format!(
        "[calls]\n{calls}\n\
         [[route]]\nname='q'\ntargets=[{{ uri='sip:q1@{PBX1}' }}, {{ uri='sip:q2@{PBX2}' }}]\n"
    ))
}

/// Where the platform and the PBX want their RTP.
const CLOUD_RTP: &str = "198.51.100.7:30000";
const PBX1_RTP: &str = "10.0.0.21:40000";

/// The platform's offer: PCMA and telephone-event.
fn cloud_sdp() -> String {
    sdp(CLOUD_RTP, "8 101", "sendrecv")
}

/// The PBX's answer: PCMU and telephone-event at another number.
fn pbx_sdp() -> String {
    sdp(PBX1_RTP, "0 100", "sendrecv")
}

/// The platform's INVITE `n` (Call-ID `cloud-call-{n}`) with its offer.
fn cloud_invite(n: u32) -> String {
    request(
        "INVITE",
        CLOUD,
        &format!("sip:+18885550000@{GATEWAY_WAN}"),
        &format!("cloud-call-{n}"),
        "X-PH-RetreaverAFID: 5678\r\n",
        Some(&cloud_sdp()),
    )
}

/// The platform's INVITE 1, and the INVITE the core sends to `PBX1` for it.
fn dial(gw: &mut TestCore) -> (String, Sent) {
    let invite = cloud_invite(1);
    let to_pbx = gw.receive(&invite, wan(CLOUD)).one(PBX1, "INVITE").clone();
    (invite, to_pbx)
}

/// Why the last call in the records ended.
fn hangup_cause(gw: &TestCore) -> Option<HangupCause> {
    gw.call_records().pop().expect("a call record").hangup_cause
}

/// `out` hung up both ends of the call.
#[track_caller]
fn assert_both_hung_up(out: &Step) {
    assert!(
        out.count(CLOUD, "BYE") > 0 && out.count(PBX1, "BYE") > 0,
        "{out:?}"
    );
}

/// A call the platform made and the PBX at `PBX1` answered, ACKed.
struct Up {
    caller: FarEnd,
    callee: FarEnd,
    /// The core's 200 to the caller.
    ok: Sent,
    /// The PBX's 200, to send again.
    pbx_ok: Response,
}

impl Up {
    /// Both ends, the callee's first when `callee_first`.
    fn ends(&mut self, callee_first: bool) -> (&mut FarEnd, &mut FarEnd) {
        match callee_first {
            true => (&mut self.callee, &mut self.caller),
            false => (&mut self.caller, &mut self.callee),
        }
    }
}

/// Brings call 1 up: the platform's INVITE, the PBX's 200 (with
/// `headers` added), the platform's ACK, which must reach the PBX.
fn call_up(gw: &mut TestCore, headers: &[(HeaderName, &str)]) -> Up {
    let (invite, to_pbx) = dial(gw);
    let mut pbx_ok = answer(&to_pbx, 200, "pbx1", Some(&pbx_sdp()));
    for (name, value) in headers {
        pbx_ok.headers.push(name.clone(), *value);
    }
    let callee = FarEnd::callee(&to_pbx, "pbx1");
    let out = gw.receive(&pbx_ok, lan(PBX1));
    let ok = out.one(CLOUD, "SIP/2.0 200").clone();
    let mut caller = FarEnd::caller(&invite, &ok);
    let out = gw.receive(&caller.ack(&ok), wan(CLOUD));
    out.one(PBX1, "ACK");
    Up {
        caller,
        callee,
        ok,
        pbx_ok,
    }
}
