//! The ALSA shell of a line's audio (cargo feature `alsa`): the device
//! layer (`pcm.rs`: open, negotiate, xrun recovery), sample conversion
//! (`convert.rs`), resampling for devices without 8 kHz (`resample.rs`),
//! kernel arrival stamps of RTP (`stamp.rs`),
//! and the line's audio thread (`worker.rs`), which drives the sans-IO
//! `LineEndpoint` with the devices' clocks and the RTP socket.

mod convert;
mod pcm;
mod resample;
mod stamp;
mod worker;

pub(crate) use worker::Worker;
