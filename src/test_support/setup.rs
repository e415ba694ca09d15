//! Building a core for a test from configuration text, the way the gateway
//! builds its own (`gateway::compile`), on listeners whose addresses the
//! test knows.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::app::{Core, CoreConfig};
use crate::call::{B2buaConfig, ListenerInfo};
use crate::gateway::{compile_toml, Compiled};
use crate::sip::ids::IdGenerator;
use crate::sip::transaction::TimerConfig;
use crate::sip::transport::{ListenerId, Peer, Transport};

use super::stepping::TestCore;

/// The gateway's WAN listener (listener 0) unless a test brings its own.
pub const GATEWAY_WAN: &str = "192.0.2.1:5060";
/// The gateway's LAN listener (listener 1) unless a test brings its own.
pub const GATEWAY_LAN: &str = "10.0.0.1:5080";

/// The User-Agent and Server of test cores.
const USER_AGENT: &str = "pbxgate-test";

/// How to build a test core: its configuration and the seed of its ids.
pub struct Setup {
    compiled: Compiled,
    /// Admission per listener is applied (`with_listeners`).
    admission: bool,
    seed: u64,
    counters_interval: Option<Duration>,
}

impl Setup {
    /// A core configured by `toml` (routes, `[calls]`, `[media]`,
    /// `[emergency]`, `[inbound_auth]`, accounts) on two listeners, `wan` at
    /// `GATEWAY_WAN` and `lan` at `GATEWAY_LAN`, that admit every source.
    pub fn new(toml: &str) -> Setup {
        let listeners = format!(
            "[[listener]]\nname='wan'\nside='wan'\nbind='{GATEWAY_WAN}'\n\
             [[listener]]\nname='lan'\nside='lan'\nbind='{GATEWAY_LAN}'\n"
        );
        Setup::compiled(&format!("{toml}\n{listeners}"), false)
    }

    /// A core on the `[[listener]]`s of `toml` instead, each with its
    /// admission (allow list, rate limits, `admit` mode) as configured.
    pub fn with_listeners(toml: &str) -> Setup {
        Setup::compiled(toml, true)
    }

    fn compiled(toml: &str, admission: bool) -> Setup {
        let compiled = compile_toml(toml).unwrap_or_else(|e| panic!("test config: {e}\n{toml}"));
        Setup {
            compiled,
            admission,
            seed: 3,
            counters_interval: None,
        }
    }

    /// The seed of the core's tags, branches and Call-IDs.
    pub fn seed(mut self, seed: u64) -> Setup {
        self.seed = seed;
        self
    }

    /// Counters are logged this often (off by default).
    pub fn counters_every(mut self, interval: Duration) -> Setup {
        self.counters_interval = Some(interval);
        self
    }

    /// The core, started now.
    pub fn start(self) -> TestCore {
        let now = Instant::now();
        let ids = IdGenerator::from_seed(self.seed);
        let core = Core::new(self.core_config(), ids, now, SystemTime::UNIX_EPOCH);
        TestCore::new(core, now)
    }

    fn core_config(self) -> CoreConfig {
        let Compiled {
            config,
            router,
            admission,
            ..
        } = self.compiled;
        let timers = TimerConfig {
            t1: config.sip.t1(),
            t2: config.sip.t2(),
            t4: config.sip.t4(),
        };
        let listeners = config
            .listeners
            .iter()
            .map(|l| ListenerInfo {
                name: l.name.clone(),
                side: l.side,
                advertised: l.bind,
                public: l.public_address,
                tls_port: None,
                srtp: l.srtp,
            })
            .collect();
        CoreConfig {
            user_agent: USER_AGENT.into(),
            timers,
            listener_sides: config.listeners.iter().map(|l| l.side).collect(),
            inbound_auth: config.inbound_auth.clone(),
            auth_secret: [7; 32],
            calls: B2buaConfig {
                user_agent: USER_AGENT.into(),
                calls: config.calls.clone(),
                listeners,
                router,
                accounts: config.accounts.clone(),
                media: config.media.clone(),
                t1: timers.t1,
                t2: timers.t2,
            },
            admission: if self.admission {
                admission
            } else {
                Vec::new()
            },
            counters_interval: self.counters_interval,
        }
    }
}

/// A UDP peer at `addr` (`ip:port`, or an IP for port 5060) that talks to
/// listener `listener`.
#[track_caller]
pub fn udp(listener: u16, addr: &str) -> Peer {
    let remote = addr
        .parse::<SocketAddr>()
        .or_else(|_| addr.parse().map(|ip| SocketAddr::new(ip, 5060)))
        .unwrap_or_else(|_| panic!("not an address: {addr}"));
    Peer {
        listener: ListenerId(listener),
        transport: Transport::Udp,
        remote,
        connection: None,
    }
}

/// A UDP peer of the WAN listener (listener 0).
pub fn wan(addr: &str) -> Peer {
    udp(0, addr)
}

/// A UDP peer of the LAN listener (listener 1).
pub fn lan(addr: &str) -> Peer {
    udp(1, addr)
}
