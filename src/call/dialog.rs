//! One side's view of a SIP dialog (RFC 3261 §12): the identifiers, the
//! sequence numbers and where in-dialog requests go.

use crate::sip::message::{HeaderName, Method, NameAddr, Request, Response, Uri};
use crate::sip::transport::Peer;

#[derive(Clone, Debug)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    /// Known once the far end answered with a tag (UAC) or from the start (UAS).
    pub remote_tag: Option<String>,
    /// Our From (as UAC) or To (as UAS) header value, without its tag.
    pub local_addr: String,
    /// The far end's header value, without its tag.
    pub remote_addr: String,
    pub local_cseq: u32,
    pub remote_cseq: Option<u32>,
    /// The far end's Contact: the Request-URI of in-dialog requests.
    pub remote_target: Uri,
    /// Route headers for in-dialog requests, in the order they are sent.
    pub route_set: Vec<String>,
    /// Where in-dialog requests are sent: the address the far end talks to
    /// us from, which also works behind a NAT that rewrote its Contact.
    pub peer: Peer,
}

impl Dialog {
    /// The dialog a received initial INVITE creates, with `local_tag` as
    /// the To tag of our answers.
    pub fn for_uas(invite: &Request, local_tag: &str, peer: Peer) -> Result<Dialog, String> {
        let h = &invite.headers;
        let from = h.from_addr()?;
        let to = h.to_addr()?;
        let remote_target =
            contact_uri(h.get(&HeaderName::Contact)).unwrap_or_else(|| from.uri.clone());
        Ok(Dialog {
            call_id: h.call_id().ok_or("missing Call-ID")?.to_string(),
            local_tag: local_tag.to_string(),
            remote_tag: from.tag().map(str::to_string),
            local_addr: without_tag(&to),
            remote_addr: without_tag(&from),
            local_cseq: 0,
            remote_cseq: h.cseq().ok().map(|c| c.seq),
            remote_target,
            // §12.1.1: the UAS keeps the Record-Route values in order.
            route_set: h
                .values(&HeaderName::RecordRoute)
                .map(str::to_string)
                .collect(),
            peer,
        })
    }

    /// The dialog a 1xx-with-tag or 2xx to our INVITE creates or confirms.
    pub fn update_from_response(&mut self, resp: &Response) {
        if let Some(tag) = resp.headers.to_tag() {
            self.remote_tag = Some(tag);
        }
        if let Some(uri) = contact_uri(resp.headers.get(&HeaderName::Contact)) {
            self.remote_target = uri;
        }
        let rr: Vec<String> = resp
            .headers
            .values(&HeaderName::RecordRoute)
            .map(str::to_string)
            .collect();
        if !rr.is_empty() {
            // §12.1.2: the UAC uses the Record-Route values in reverse.
            self.route_set = rr.into_iter().rev().collect();
        }
    }

    /// A new in-dialog request (not ACK: see `ack`), with the next CSeq.
    /// The caller adds Via, Contact and the body.
    pub fn request(&mut self, method: Method) -> Request {
        self.local_cseq += 1;
        let seq = self.local_cseq;
        self.build(method, seq)
    }

    /// The ACK for a 2xx to the INVITE with CSeq `seq` (§13.2.2.4).
    pub fn ack(&self, seq: u32) -> Request {
        self.build(Method::Ack, seq)
    }

    fn build(&self, method: Method, seq: u32) -> Request {
        let mut r = Request::new(method.clone(), self.remote_target.clone());
        let h = &mut r.headers;
        for route in &self.route_set {
            h.push(HeaderName::Route, route.as_str());
        }
        h.push(HeaderName::MaxForwards, "70");
        h.push(
            HeaderName::From,
            format!("{};tag={}", self.local_addr, self.local_tag),
        );
        h.push(
            HeaderName::To,
            match &self.remote_tag {
                Some(t) => format!("{};tag={t}", self.remote_addr),
                None => self.remote_addr.clone(),
            },
        );
        h.push(HeaderName::CallId, self.call_id.as_str());
        h.push(HeaderName::CSeq, format!("{seq} {method}"));
        r
    }

    /// Checks and records the CSeq of a request from the far end; false for
    /// one that is out of order (§12.2.2: answered 500).
    pub fn accept_remote_cseq(&mut self, seq: u32, method: &Method) -> bool {
        // ACK and CANCEL reuse the number of the request they belong to.
        if matches!(method, Method::Ack | Method::Cancel) {
            return true;
        }
        match self.remote_cseq {
            Some(last) if seq <= last => false,
            _ => {
                self.remote_cseq = Some(seq);
                true
            }
        }
    }
}

/// A header value without its `tag` parameter.
pub fn without_tag(na: &NameAddr) -> String {
    let mut na = na.clone();
    na.params.remove("tag");
    na.to_string()
}

/// The URI of the first Contact value, if it parses.
pub fn contact_uri(value: Option<&str>) -> Option<Uri> {
    let first = crate::sip::message::split_list(value?).next()?;
    NameAddr::parse(first, "Contact").ok().map(|na| na.uri)
}
