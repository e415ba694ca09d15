//! The headers the B2BUA writes itself on each leg. Letting configuration
//! copy or add them would break the dialog (Via, CSeq, Contact...) or leak
//! credentials meant for another hop (Authorization), so routing refuses
//! them at load and never emits them.

use crate::sip::message::HeaderName;

pub const OWNED_HEADERS: &[HeaderName] = &[
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::Contact,
    HeaderName::Route,
    HeaderName::RecordRoute,
    HeaderName::MaxForwards,
    HeaderName::ContentLength,
    HeaderName::ContentType,
    HeaderName::Authorization,
    HeaderName::ProxyAuthorization,
];

/// Whether the B2BUA owns `name` (compact forms included: `HeaderName`
/// already maps `v`, `i`, `l`... to their full names).
pub fn is_owned(name: &HeaderName) -> bool {
    OWNED_HEADERS.contains(name)
}
