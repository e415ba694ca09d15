//! SDP (RFC 4566) and the offer/answer rules of RFC 3264 the gateway needs.
