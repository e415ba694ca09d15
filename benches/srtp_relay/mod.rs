//! `relay_load srtp CALLS SECONDS MODE [rtpengine NG_PORT PID]`, for
//! `bench/srtp.sh`: the SRTP↔RTP relay's CPU per packet.
//!
//! MODE `plain`: both legs RTP. MODE `srtp`: the caller's leg is SRTP
//! (AES_CM_128_HMAC_SHA1_80, SDES-style keys: one per direction), the
//! callee's plain RTP, so the relay decrypts one way and encrypts the
//! other. The load (`load.rs`) runs on CPU 1 and does its own SRTP there.
//!
//! Without `rtpengine`: pbxgate's real media engine in this process (one
//! session per call, keys given with `MediaCommand::SetSrtp` before the
//! caller's `SetRemote`, as the call anchor does), its thread on CPU 0;
//! the relay's figure is that thread's CPU time (schedstat).
//! With `rtpengine NG_PORT PID`: the calls are set up on that rtpengine
//! over ng (offer from the caller with `RTP/SAVP` and an `a=crypto` line,
//! `transport-protocol: RTP/AVP` so the callee is offered plain RTP; the
//! answer's `a=crypto` is the key rtpengine sends to the caller with), and
//! the relay's figure is the CPU time of all rtpengine's threads.
//!
//! Prints one line: `srtp_relay relay=… mode=… calls=… sent=… relayed=…
//! lost=… refused=… wrong=… relay_refused=… ns_per_packet=… …`.

mod load;
mod ng;

use std::net::SocketAddr;

use pbxgate::media::leg_crypto::LegKeys;
use pbxgate::media::messages::{MediaCommand, MediaEvent};
use pbxgate::media::srtp::sdes::CryptoAttribute;
use pbxgate::media::srtp::{MasterKey, SrtpContext, Suite, MASTER_LEN};

use ng::{Ng, B};

const WARM_S: f64 = 4.0;
const SUITE: Suite = Suite::AesCm128HmacSha1_80;

/// A key for the bench: the load's random source is good enough here
/// (the relay's own keys come from the OS in the product).
fn bench_key(rng: &mut fastrand::Rng) -> MasterKey {
    let mut b = [0u8; MASTER_LEN];
    rng.fill(&mut b);
    MasterKey::from_bytes(&b)
}

pub fn main(args: &[String]) {
    let (calls, secs, srtp, engine) = match args {
        [c, s, m, rest @ ..] => {
            let srtp = match m.as_str() {
                "plain" => false,
                "srtp" => true,
                _ => super::usage(),
            };
            let engine = match rest {
                [] => None,
                [e, port, pid] if e == "rtpengine" => Some((
                    port.parse::<u16>().unwrap_or_else(|_| super::usage()),
                    pid.parse::<u32>().unwrap_or_else(|_| super::usage()),
                )),
                _ => super::usage(),
            };
            (
                c.parse::<usize>().unwrap_or_else(|_| super::usage()),
                s.parse::<f64>().unwrap_or_else(|_| super::usage()),
                srtp,
                engine,
            )
        }
        _ => super::usage(),
    };
    if calls == 0 || calls > 2 * super::CALLS_PER_ADDRESS {
        super::usage();
    }
    let mut rng = fastrand::Rng::with_seed(3711);
    let mut streams = load::bind(calls);
    let mode = if srtp { "srtp" } else { "plain" };
    match engine {
        None => through_pbxgate(&mut streams, &mut rng, secs, srtp, mode),
        Some((port, pid)) => through_rtpengine(&mut streams, &mut rng, secs, srtp, mode, port, pid),
    }
}

fn through_pbxgate(
    streams: &mut [load::Stream],
    rng: &mut fastrand::Rng,
    secs: f64,
    srtp: bool,
    mode: &str,
) {
    let calls = streams.len() / 2;
    let (cmd, events, tid) = super::start_engine();
    let peers: Vec<(SocketAddr, SocketAddr)> =
        streams.chunks(2).map(|c| (c[0].to, c[1].to)).collect();
    let keys: Vec<LegKeys> = if srtp {
        (0..calls)
            .map(|_| LegKeys {
                suite: SUITE,
                ours: bench_key(rng),
                theirs: bench_key(rng),
            })
            .collect()
    } else {
        Vec::new()
    };
    let dests = super::open_calls(&cmd, &events, &peers, false, &keys);
    for (s, d) in streams.iter_mut().zip(&dests) {
        s.to = *d;
    }
    for (i, k) in keys.iter().enumerate() {
        // The caller seals with its own key (the relay's `theirs`) and
        // opens with the relay's (`ours`).
        streams[2 * i].tx = Some(SrtpContext::new(k.suite, &k.theirs));
        streams[2 * i].rx = Some(SrtpContext::new(k.suite, &k.ours));
    }
    let w = load::run(streams, WARM_S, secs, &|| super::thread_cpu_ns(tid));
    let mut relay_refused = 0;
    for i in 0..calls {
        let _ = cmd.send_blocking(MediaCommand::Close {
            session: i as u64 + 1,
        });
    }
    let mut closed = 0;
    while closed < calls {
        match events.recv_blocking() {
            Ok(MediaEvent::Closed { caller, callee, .. }) => {
                relay_refused += caller.dropped_auth + callee.dropped_auth;
                closed += 1;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    report("pbxgate", mode, calls, &w, &relay_refused.to_string());
}

/// One line of SDP's `m=`/`c=` of the relay's side and its `a=crypto`.
struct Media {
    at: SocketAddr,
    crypto: Option<CryptoAttribute>,
}

fn sdp(addr: SocketAddr, sess: usize, crypto: Option<&CryptoAttribute>) -> String {
    let (proto, line) = match crypto {
        Some(c) => ("RTP/SAVP", format!("a=crypto:{}\r\n", c.to_value())),
        None => ("RTP/AVP", String::new()),
    };
    format!(
        "v=0\r\no=- {sess} 1 IN IP4 {ip}\r\ns=bench\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} {proto} 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n{line}a=sendrecv\r\n",
        ip = addr.ip(),
        port = addr.port()
    )
}

/// Where rtpengine wants the media of the SDP it returned, and its key.
fn media(reply: &B, what: &str, want_proto: &str) -> Result<Media, String> {
    if reply.get("result") != Some("ok") {
        return Err(format!(
            "{what}: {} {}",
            reply.get("result").unwrap_or("?"),
            reply.get("error-reason").unwrap_or("")
        ));
    }
    let body = reply.get("sdp").ok_or(format!("{what}: no sdp"))?;
    let mut ip = None;
    let mut port = None;
    let mut crypto = None;
    for line in body.lines() {
        if let Some(c) = line.strip_prefix("c=IN IP4 ") {
            ip = Some(c.trim().to_string());
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            let f: Vec<&str> = m.split_whitespace().collect();
            if f.get(1) != Some(&want_proto) {
                return Err(format!("{what}: wanted {want_proto}:\n{body}"));
            }
            port = f.first().and_then(|p| p.parse::<u16>().ok());
        } else if let Some(c) = line.strip_prefix("a=crypto:") {
            if crypto.is_none() {
                crypto = Some(
                    CryptoAttribute::parse(c.trim())
                        .map_err(|e| format!("{what}: a=crypto: {e}:\n{body}"))?,
                );
            }
        }
    }
    let at = format!("{}:{}", ip.unwrap_or_default(), port.unwrap_or(0))
        .parse()
        .map_err(|_| format!("{what}: no address in:\n{body}"))?;
    Ok(Media { at, crypto })
}

fn through_rtpengine(
    streams: &mut [load::Stream],
    rng: &mut fastrand::Rng,
    secs: f64,
    srtp: bool,
    mode: &str,
    port: u16,
    pid: u32,
) {
    super::pin(1);
    let calls = streams.len() / 2;
    let mut ng = Ng::new(port);
    let fail = |e: String| -> ! {
        eprintln!("relay_load: rtpengine: {e}");
        std::process::exit(1)
    };
    let t0 = std::time::Instant::now();
    for i in 0..calls {
        let (caller, callee) = (streams[2 * i].to, streams[2 * i + 1].to);
        let cid = format!("srtp-{}-{i}", std::process::id());
        let mine = srtp.then(|| CryptoAttribute::new(1, SUITE, bench_key(rng)));
        let mut offer = vec![
            ("command".into(), B::s("offer")),
            ("call-id".into(), B::s(&cid)),
            ("from-tag".into(), B::s("caller")),
            ("sdp".into(), B::Str(sdp(caller, 2 * i + 1, mine.as_ref()))),
            (
                "replace".into(),
                B::List(vec![B::s("origin"), B::s("session-connection")]),
            ),
            ("ICE".into(), B::s("remove")),
        ];
        if srtp {
            offer.push(("transport-protocol".into(), B::s("RTP/AVP")));
            offer.push(("DTLS".into(), B::s("off")));
        }
        let to_callee = ng
            .call(&B::Dict(offer))
            .and_then(|r| media(&r, "offer", "RTP/AVP"))
            .unwrap_or_else(|e| fail(e));
        let answer = B::Dict(vec![
            ("command".into(), B::s("answer")),
            ("call-id".into(), B::s(&cid)),
            ("from-tag".into(), B::s("caller")),
            ("to-tag".into(), B::s("callee")),
            ("sdp".into(), B::Str(sdp(callee, 2 * i + 2, None))),
            (
                "replace".into(),
                B::List(vec![B::s("origin"), B::s("session-connection")]),
            ),
            ("ICE".into(), B::s("remove")),
        ]);
        let proto = if srtp { "RTP/SAVP" } else { "RTP/AVP" };
        let to_caller = ng
            .call(&answer)
            .and_then(|r| media(&r, "answer", proto))
            .unwrap_or_else(|e| fail(e));
        if let Some(mine) = mine {
            let theirs = to_caller
                .crypto
                .unwrap_or_else(|| fail("the answer to the caller has no a=crypto".into()));
            if theirs.suite != SUITE {
                fail(format!("the answer chose {}", theirs.suite));
            }
            streams[2 * i].tx = Some(SrtpContext::new(SUITE, &mine.key));
            streams[2 * i].rx = Some(SrtpContext::new(SUITE, &theirs.key));
        }
        streams[2 * i].to = to_caller.at;
        streams[2 * i + 1].to = to_callee.at;
    }
    eprintln!(
        "# rtpengine: {calls} calls ({mode}) set up over ng in {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    let w = load::run(streams, WARM_S, secs, &|| process_cpu_ns(pid));
    report("rtpengine", mode, calls, &w, "-");
}

/// CPU time of every thread of process `pid`, in ns (schedstat).
fn process_cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|f| f.parse::<u64>().ok())
        })
        .sum()
}

fn report(relay: &str, mode: &str, calls: usize, w: &load::Window, relay_refused: &str) {
    let ns = w.relay_cpu_ns as f64 / w.received.max(1) as f64;
    println!(
        "srtp_relay relay={relay} mode={mode} calls={calls} sent={} relayed={} lost={} refused={} \
         wrong={} send_errors={} relay_refused={relay_refused} ns_per_packet={ns:.0} \
         relay_cpu_pct={:.1} load_cpu_pct={:.1} late_max_us={} window_s={:.2}",
        w.sent,
        w.received,
        w.sent as i64 - w.received as i64,
        w.refused,
        w.wrong,
        w.send_errors,
        100.0 * w.relay_cpu_ns as f64 / 1e9 / w.window_s,
        100.0 * w.load_cpu_ns as f64 / 1e9 / w.window_s,
        w.late_max_us,
        w.window_s
    );
}
