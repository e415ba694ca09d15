//! The commands that open one call's session on the real media engine, as
//! `benches/relay_load.rs` and `tests/media_alloc.rs` both drive it (they
//! take this file with `#[path]`: a bench and an integration test are
//! crates of their own with no other module in common).

use std::net::SocketAddr;
use std::time::Duration;

use pbxgate::media::g711::Law;
use pbxgate::media::latch::SourceRules;
use pbxgate::media::messages::MediaCommand;
use pbxgate::media::relay::{LegSide, Remote, Transcode};

/// Opens `session` on the relay's ports `local` (caller's, callee's) for
/// the far ends `remote` (caller, callee), ended after `timeout` of
/// silence. With `transcode` the caller sends PCMU (0) and the callee PCMA
/// (8), each translated for the other.
pub fn open_commands(
    session: u64,
    local: (SocketAddr, SocketAddr),
    remote: (SocketAddr, SocketAddr),
    timeout: Duration,
    transcode: bool,
) -> Vec<MediaCommand> {
    let mut commands = vec![MediaCommand::Open {
        session,
        caller_local: local.0,
        callee_local: local.1,
        timeout,
        sources: SourceRules::default(),
    }];
    for (side, at) in [(LegSide::Caller, remote.0), (LegSide::Callee, remote.1)] {
        commands.push(MediaCommand::SetRemote {
            session,
            side,
            remote: Remote::at(at),
        });
    }
    if transcode {
        for (side, from_pt, from, to_pt) in [
            (LegSide::Caller, 0, Law::Ulaw, 8),
            (LegSide::Callee, 8, Law::Alaw, 0),
        ] {
            commands.push(MediaCommand::SetTranscode {
                session,
                side,
                transcode: Some(Transcode {
                    from_pt,
                    from,
                    to_pt,
                }),
            });
        }
    }
    commands
}
