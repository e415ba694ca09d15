//! Transaction matching keys: RFC 3261 §17.2.3 (server), its RFC 2543
//! fallback, §17.1.3 (client) and §9.2 (CANCEL to the INVITE it cancels).
//!
//! A key is built once per message (one allocation per string part) and
//! then used for hash-map lookups, so matching never scans transactions.

use crate::sip::message::{Method, Request, Response, Via};

/// Identifies a server transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ServerKey {
    /// RFC 3261 §17.2.3: the top Via branch (with the magic cookie), its
    /// sent-by, and the method, with ACK standing for INVITE. Call-ID and
    /// CSeq number are added: a retransmission, its CANCEL and the ACK of
    /// a non-2xx all share them, so matching is unchanged for compliant
    /// peers, while a peer that reuses one branch for different requests
    /// (seen with broken clients) gets each of them answered instead of
    /// having the later ones absorbed as retransmissions.
    Rfc3261 {
        branch: Box<str>,
        sent_by: Box<str>,
        method: Method,
        call_id: Box<str>,
        cseq: u32,
    },
    /// The RFC 2543 fallback for a top Via without an RFC 3261 branch.
    Rfc2543(Box<Rfc2543Key>),
}

/// RFC 3261 §17.2.3, RFC 2543 rules: Request-URI, From tag, To tag,
/// Call-ID, CSeq and top Via. An ACK keeps `method: Ack` and carries the To
/// tag of the final response, so it finds the INVITE through the alias
/// registered when that response was sent (see [`ServerKey::ack_alias`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Rfc2543Key {
    request_uri: Box<str>,
    from_tag: Option<Box<str>>,
    to_tag: Option<Box<str>>,
    call_id: Box<str>,
    cseq: u32,
    method: Method,
    top_via: Box<str>,
}

impl ServerKey {
    /// The key of a received request and its parsed top Via (which the
    /// caller needs for response routing). Fails only on a request that
    /// message validation would have refused.
    pub fn for_request(req: &Request) -> Result<(ServerKey, Via), String> {
        let via = req.headers.top_via()?;
        let key = if via.has_rfc3261_branch() {
            let branch = via.branch().unwrap_or_default();
            let mut sent_by = via.sent_by_key();
            // Host names compare case-insensitively (RFC 3261 §19.1.4).
            sent_by.make_ascii_lowercase();
            let method = match req.method {
                Method::Ack => Method::Invite,
                ref m => m.clone(),
            };
            let cseq = req.headers.cseq()?;
            let call_id = req.headers.call_id().ok_or("missing Call-ID header")?;
            ServerKey::Rfc3261 {
                branch: branch.into(),
                sent_by: sent_by.into(),
                method,
                call_id: call_id.into(),
                cseq: cseq.seq,
            }
        } else {
            let cseq = req.headers.cseq()?;
            let call_id = req.headers.call_id().ok_or("missing Call-ID header")?;
            ServerKey::Rfc2543(Box::new(Rfc2543Key {
                request_uri: req.uri.to_string().into(),
                from_tag: req.headers.from_tag().map(String::into_boxed_str),
                to_tag: req.headers.to_tag().map(String::into_boxed_str),
                call_id: call_id.into(),
                cseq: cseq.seq,
                method: req.method.clone(),
                top_via: via.to_string().into(),
            }))
        };
        Ok((key, via))
    }

    pub fn is_rfc2543(&self) -> bool {
        matches!(self, ServerKey::Rfc2543(_))
    }

    /// RFC 3261 §9.2: the key of the INVITE a CANCEL with this key would
    /// cancel. The CANCEL carries the INVITE's branch (or, for RFC 2543, its
    /// Request-URI, tags, Call-ID, CSeq number and top Via); only the method
    /// differs.
    pub fn cancelled_invite(&self) -> ServerKey {
        match self {
            ServerKey::Rfc3261 {
                branch,
                sent_by,
                call_id,
                cseq,
                ..
            } => ServerKey::Rfc3261 {
                branch: branch.clone(),
                sent_by: sent_by.clone(),
                method: Method::Invite,
                call_id: call_id.clone(),
                cseq: *cseq,
            },
            ServerKey::Rfc2543(k) => ServerKey::Rfc2543(Box::new(Rfc2543Key {
                method: Method::Invite,
                ..(**k).clone()
            })),
        }
    }

    /// For an RFC 2543 INVITE key: the key its ACK will have once a final
    /// response with To tag `to_tag` was sent (§17.2.3: the ACK matches
    /// "the To tag of the response sent by the server transaction"). RFC
    /// 3261 keys need no alias: the ACK carries the INVITE's branch.
    pub fn ack_alias(&self, to_tag: Option<&str>) -> Option<ServerKey> {
        match self {
            ServerKey::Rfc3261 { .. } => None,
            ServerKey::Rfc2543(k) => Some(ServerKey::Rfc2543(Box::new(Rfc2543Key {
                method: Method::Ack,
                to_tag: to_tag.map(Into::into),
                ..(**k).clone()
            }))),
        }
    }
}

/// Identifies a client transaction (RFC 3261 §17.1.3): the branch of the
/// top Via and the CSeq method, which tells an INVITE from the CANCEL that
/// shares its branch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    pub branch: Box<str>,
    pub method: Method,
}

impl ClientKey {
    /// The key of a response we received, or why it has none.
    pub fn for_response(resp: &Response) -> Result<ClientKey, String> {
        let via = resp.headers.top_via()?;
        let branch = via.branch().ok_or("top Via has no branch")?;
        let cseq = resp.headers.cseq()?;
        Ok(ClientKey {
            branch: branch.into(),
            method: cseq.method,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse_message, Framing, SipMessage};

    fn req(text: &str) -> Request {
        match parse_message(text.replace('\n', "\r\n").as_bytes(), Framing::Datagram) {
            Ok(SipMessage::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    fn with(method: &str, via: &str, to: &str) -> Request {
        req(&format!(
            "{method} sip:bob@example.com SIP/2.0\n\
             Via: {via}\n\
             From: <sip:alice@example.com>;tag=f1\n\
             To: {to}\n\
             Call-ID: c1@h\n\
             CSeq: 7 {method}\n\
             Max-Forwards: 70\n\n"
        ))
    }

    fn key(r: &Request) -> ServerKey {
        ServerKey::for_request(r).unwrap().0
    }

    #[test]
    fn rfc3261_ack_and_invite_share_a_key_cancel_does_not() {
        let via = "SIP/2.0/UDP Host.Example.com;branch=z9hG4bK1";
        let invite = key(&with("INVITE", via, "<sip:bob@example.com>"));
        let ack = key(&with("ACK", via, "<sip:bob@example.com>;tag=t9"));
        let cancel = key(&with("CANCEL", via, "<sip:bob@example.com>"));
        assert_eq!(invite, ack);
        assert_ne!(invite, cancel);
        assert_eq!(cancel.cancelled_invite(), invite);
        // sent-by: case-insensitive host, default port filled in.
        let other_case = key(&with(
            "INVITE",
            "SIP/2.0/UDP host.example.COM:5060;branch=z9hG4bK1",
            "<sip:bob@example.com>",
        ));
        assert_eq!(invite, other_case);
    }

    #[test]
    fn rfc2543_ack_matches_through_the_alias() {
        let via = "SIP/2.0/UDP h:5060";
        let invite = key(&with("INVITE", via, "<sip:bob@example.com>"));
        let ack = key(&with("ACK", via, "<sip:bob@example.com>;tag=t9"));
        assert_ne!(invite, ack);
        assert_eq!(invite.ack_alias(Some("t9")), Some(ack));
        assert!(matches!(invite, ServerKey::Rfc2543(_)));
    }

    #[test]
    fn bare_cookie_falls_back_to_rfc2543() {
        let k = key(&with(
            "OPTIONS",
            "SIP/2.0/UDP h;branch=z9hG4bK",
            "<sip:bob@example.com>",
        ));
        assert!(matches!(k, ServerKey::Rfc2543(_)));
    }
}
