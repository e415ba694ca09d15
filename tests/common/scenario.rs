//! The skeleton of most end-to-end tests: sipp peers that wait for a
//! running gateway (PBXes, registrars), sipp callers that call it, and
//! every one of them ending as its scenario expects.

use std::time::Duration;

use super::gateway::GatewayProcess;
use super::sipp::Sipp;

/// Sipp peers and callers around one running gateway.
pub struct Scenario<'g> {
    gw: &'g GatewayProcess,
    peers: Vec<(Sipp, String)>,
    callers: Vec<(Sipp, String)>,
    timeout: Duration,
}

impl<'g> Scenario<'g> {
    pub fn new(gw: &'g GatewayProcess) -> Scenario<'g> {
        Scenario {
            gw,
            peers: Vec::new(),
            callers: Vec::new(),
            timeout: Duration::from_secs(60),
        }
    }

    /// A sipp that waits for the gateway (a PBX, a registrar): started
    /// before the callers, in the order given; after them it must end
    /// with success (`what` says what that shows).
    pub fn peer(mut self, sipp: Sipp, what: &str) -> Scenario<'g> {
        self.peers.push((sipp, what.into()));
        self
    }

    /// A sipp that calls the gateway, at its WAN address unless the sipp
    /// says where: run after the peers, one after the other, each to end
    /// with success.
    pub fn caller(mut self, sipp: Sipp, what: &str) -> Scenario<'g> {
        let sipp = match sipp.remote() {
            Some(_) => sipp,
            None => sipp.to(self.gw.wan()),
        };
        self.callers.push((sipp, what.into()));
        self
    }

    /// How long each sipp may take (60 s unless set).
    pub fn timeout(mut self, timeout: Duration) -> Scenario<'g> {
        self.timeout = timeout;
        self
    }

    /// Starts the peers, runs the callers, asserts that every sipp ended
    /// with success: the callers' first, then the peers' in order.
    pub fn run(self) {
        self.run_while(|| ())
    }

    /// As `run`, with the callers on a thread of their own while `during`
    /// runs (a test that owns media sockets sends and listens there);
    /// returns what `during` returned.
    pub fn run_while<R>(self, during: impl FnOnce() -> R) -> R {
        let timeout = self.timeout;
        let peers: Vec<_> = self
            .peers
            .into_iter()
            .map(|(sipp, what)| (sipp.start(), what))
            .collect();
        let (callers, whats): (Vec<Sipp>, Vec<String>) = self.callers.into_iter().unzip();
        let calls = std::thread::spawn(move || {
            callers
                .into_iter()
                .map(|sipp| sipp.run(timeout))
                .collect::<Vec<_>>()
        });
        let result = during();
        let runs = calls.join().expect("the callers' thread");
        for (run, what) in runs.iter().zip(&whats) {
            run.assert_success(what);
        }
        for (peer, what) in peers {
            peer.wait(timeout).assert_success(&what);
        }
        result
    }
}
