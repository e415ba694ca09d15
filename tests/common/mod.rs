//! Helpers for end-to-end tests: a real gateway process on a loopback
//! address of its own, real sipp peers, and the other real programs the
//! tests talk to (dnsmasq, python3 checkers).
//!
//! The usual test: start a gateway with a config, then run sipp peers
//! against it and assert that each of them got what its scenario checks:
//!
//! ```ignore
//! let gw = GatewayProcess::start("127.0.62.1", 35060, &config);
//! Scenario::new(&gw)
//!     .peer(Sipp::new("call_pbx_uas_bye.xml").on("127.0.62.2", 35090), "the PBX hung up")
//!     .caller(Sipp::new("call_cloud_uac_wait_bye.xml").on("127.0.62.7", 35100), "the caller got the BYE")
//!     .run();
//! ```
#![allow(dead_code)]

pub mod audio;
#[allow(dead_code)]
pub mod baresip;
pub mod browser;
mod gateway;
pub mod https;
pub mod jack;
pub mod kamailio_tls;
pub mod linesim;
mod peers;
mod process;
pub mod receiver;
mod rtp;
mod scenario;
mod sipp;

// Each test file uses a part of these.
#[allow(unused_imports)]
pub use gateway::{assert_has_all, Gateway, GatewayProcess};
#[allow(unused_imports)]
pub use peers::{md5_registrar, media_pbx};
#[allow(unused_imports)]
pub use process::{poll, python3, start_dnsmasq, KillOnDrop};
#[allow(unused_imports)]
pub use rtp::pcap_rtp;
#[allow(unused_imports)]
pub use scenario::Scenario;
#[allow(unused_imports)]
pub use sipp::{scenario, Sipp, SippBackground, SippRun};

pub const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
