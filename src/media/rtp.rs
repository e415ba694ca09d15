//! RTP and RTCP packets (RFC 3550): parsing and rewriting in place.
