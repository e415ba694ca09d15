//! DTMF: RFC 4733 telephone-events and an in-band (Goertzel) detector
//! meeting ITU-T Q.24, plus tone generation.
