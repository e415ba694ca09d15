//! Tests of `LineEndpoint`, stepping time.
