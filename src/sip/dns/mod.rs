//! RFC 3263 §4 server location for the client side (registrar, outbound
//! proxy, SIP trunks): from a SIP URI to the ordered `(transport, address)`
//! targets to try in turn.
//!
//! - [`ServerLocator`] is the sans-IO machine: it hands out DNS questions
//!   ([`Query`]), takes answers ([`Answer`]) with the time, and produces a
//!   [`TargetList`]. SRV records are ordered per RFC 2782 with an injected
//!   random source; answers are kept in a [`DnsCache`] for their TTL.
//! - [`wire`] turns questions into DNS messages and replies into answers
//!   (hickory-proto does the encoding), [`resolv_conf`] reads the system's
//!   nameservers, and [`Resolver`] is the async shell on smol that sends
//!   the questions over UDP (TCP when a reply is truncated).
//!
//! Not done: NAPTR (RFC 3263 §4.1 lets a client that knows its transports
//! go straight to SRV), resolv.conf `search`/`ndots` (SIP domains are
//! fully qualified), and using the additional section of SRV replies (each
//! SRV target is asked for separately).
//!
//! ```no_run
//! use pbxgate::sip::dns::{Resolver, ResolverConfig};
//! use pbxgate::sip::message::Uri;
//!
//! let resolver = Resolver::new(ResolverConfig::from_system().unwrap());
//! let uri = Uri::parse("sip:example.com").unwrap();
//! let mut targets = smol::block_on(resolver.locate(&uri)).unwrap();
//! while let Some(target) = targets.next() {
//!     println!("try {target}");
//! }
//! ```

mod cache;
mod error;
mod locator;
mod record;
pub mod resolv_conf;
mod resolver;
mod srv;
mod target;
pub mod wire;

#[cfg(test)]
mod locator_tests;

pub use cache::{DnsCache, DEFAULT_CAPACITY, MAX_TTL};
pub use error::DnsError;
pub use locator::{AddressFamilies, ServerLocator, SIPS_PORT, SIP_PORT};
pub use record::{Answer, Query, Record, RecordData, RecordType};
pub use resolv_conf::ResolverConfig;
pub use resolver::Resolver;
pub use target::{Failure, ServerTarget, TargetList};
