//! Tests of the jitter buffer, stepping time.
