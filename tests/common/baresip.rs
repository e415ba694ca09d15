//! baresip, a real softphone for the end-to-end tests: Debian bookworm's
//! `baresip-core` 1.0.0 (tests/run.sh installs it), run headless with a
//! config directory the test writes (`-f DIR`: `config`, `accounts`).
//!
//! What baresip 1.0 offers and what is used:
//! - No sound card. `aufile` plays a WAV file (8 kHz, mono, S16LE) as the
//!   microphone; in 1.0 it is an audio *source* only, and when the file
//!   ends baresip reports an audio error and hangs the call up, so give
//!   the file enough trailing silence for the whole call. `aubridge` is
//!   the audio player (a device nothing reads: a sink without hardware).
//!   `sndfile` is an audio filter that records what baresip hears
//!   (decoded) to `DIR/dump-<time>-dec.wav` and what it sends to
//!   `...-enc.wav` ([`BaresipProcess::heard`]).
//! - `g711` for PCMU/PCMA; the account line limits the offer
//!   (`audio_codecs=`), so both legs can use the same codec and the audio
//!   can be compared byte for byte.
//! - Commands over `ctrl_tcp` (netstring-framed JSON on a TCP port of its
//!   own), which also reports events (`CALL_ESTABLISHED`, `CALL_CLOSED`);
//!   the commands themselves are the `menu` module's: `dial`, `hangup`,
//!   `sndcode` (RFC 4733 digits when the answer has telephone-event,
//!   else SIP INFO), and `quit`. The `stdio`/`cons` UIs take single keys
//!   and report nothing a test can wait for, so they are not used.
//! - `sip_listen IP:PORT` binds SIP on UDP and TCP at PORT and TLS at
//!   PORT+1. `net_interface IP` (an address works in 1.0, not only an
//!   interface name) puts IP in the SDP. baresip 1.0 binds its RTP
//!   sockets to the wildcard address (in `rtp_ports`), so its RTP leaves
//!   from 127.0.0.1: the gateway learns that source (`[media] source =
//!   "learn"`, the default). Its outgoing TCP/TLS connections are not
//!   bound either and leave from 127.0.0.1 too.
//! - `.transport("tls")` and `.media_encryption("srtp")` (or
//!   `"srtp-mand"`) are for the gateway's TLS + SDES-SRTP test (issue
//!   21): they add `;transport=tls` and `;mediaenc=srtp` to the account
//!   and load the `srtp` module. baresip 1.0 appends the account URI's
//!   parameters to every URI it dials (`;transport=tls` given twice if the
//!   dialled URI has it too), so dial plain `sip:` URIs ([`uri`]). Tried
//!   by hand against tests/peers/kamailio_tls_registrar.sh: the INVITE
//!   goes over TLS from 127.0.0.1, baresip 1.0 does not verify the
//!   server's certificate (no CA configured, accepted), and `srtp` starts.
//!
//! [`uri`]: BaresipProcess::uri
//!
//! ```ignore
//! let phone = Baresip::new("127.0.250.7", 35300).rtp_ports(46100, 46119).play(&pcm).start();
//! phone.dial(&phone.uri("q", "127.0.250.1:35060"));
//! phone.wait_event("CALL_ESTABLISHED", Duration::from_secs(10));
//! phone.send_digits("12#");
//! phone.hangup();
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::process::{poll, KillOnDrop};

/// Where Debian installs baresip's modules.
const MODULE_PATH: &str = "/usr/lib/baresip/modules";

/// How to start a baresip: its addresses, its account and what it plays.
pub struct Baresip {
    ip: String,
    sip_port: u16,
    ctrl_port: u16,
    rtp_ports: (u16, u16),
    user: String,
    codecs: String,
    transport: Option<String>,
    media_encryption: Option<String>,
    play: Vec<i16>,
}

impl Baresip {
    /// A UA on ip:sip_port (TLS on sip_port+1) taking commands on
    /// ip:sip_port+10, user `alice`, offering PCMU only, playing one
    /// second of silence unless told otherwise.
    pub fn new(ip: &str, sip_port: u16) -> Baresip {
        Baresip {
            ip: ip.into(),
            sip_port,
            ctrl_port: sip_port + 10,
            rtp_ports: (46100, 46119),
            user: "alice".into(),
            codecs: "PCMU".into(),
            transport: None,
            media_encryption: None,
            play: vec![0; 8000],
        }
    }

    /// RTP (and RTCP) ports. They are bound on every address: keep the
    /// range apart from every other test's ports.
    pub fn rtp_ports(mut self, min: u16, max: u16) -> Baresip {
        self.rtp_ports = (min, max);
        self
    }

    /// The codecs the account offers, in order (`audio_codecs=`, e.g.
    /// "PCMU,PCMA").
    pub fn codecs(mut self, codecs: &str) -> Baresip {
        self.codecs = codecs.into();
        self
    }

    /// SIP transport of the account, and so of every call ("tls").
    pub fn transport(mut self, transport: &str) -> Baresip {
        self.transport = Some(transport.into());
        self
    }

    /// The account's media encryption ("srtp", "srtp-mand"): SDES keys in
    /// the SDP (RFC 4568), so only over TLS.
    pub fn media_encryption(mut self, kind: &str) -> Baresip {
        self.media_encryption = Some(kind.into());
        self
    }

    /// 8 kHz mono samples the microphone plays from the call's start; the
    /// call ends when they do.
    pub fn play(mut self, pcm: &[i16]) -> Baresip {
        self.play = pcm.to_vec();
        self
    }

    fn config(&self, dir: &Path) -> String {
        let (ip, dir) = (&self.ip, dir.display());
        let mut modules = vec!["g711", "aufile", "aubridge", "sndfile", "ctrl_tcp"];
        if self.media_encryption.is_some() {
            modules.push("srtp");
        }
        let modules: String = modules
            .iter()
            .map(|m| format!("module\t\t{m}.so\n"))
            .collect();
        format!(
            "poll_method\t\tepoll\n\
             sip_listen\t\t{ip}:{sip}\n\
             net_interface\t\t{ip}\n\
             audio_source\t\taufile,{dir}/play.wav\n\
             audio_player\t\taubridge,nowhere\n\
             audio_alert\t\taubridge,nowhere\n\
             audio_path\t\t{dir}\n\
             ausrc_srate\t\t8000\nauplay_srate\t\t8000\n\
             ausrc_channels\t\t1\nauplay_channels\t\t1\n\
             rtp_ports\t\t{rtp_min}-{rtp_max}\n\
             rtp_timeout\t\t0\n\
             module_path\t\t{MODULE_PATH}\n\
             {modules}\
             module_app\t\taccount.so\n\
             module_app\t\tmenu.so\n\
             ctrl_tcp_listen\t\t{ip}:{ctrl}\n\
             snd_path\t\t{dir}\n",
            sip = self.sip_port,
            rtp_min = self.rtp_ports.0,
            rtp_max = self.rtp_ports.1,
            ctrl = self.ctrl_port,
        )
    }

    /// One account, never registering (`regint=0`): it only calls.
    fn accounts(&self) -> String {
        let transport = self
            .transport
            .as_ref()
            .map(|t| format!(";transport={t}"))
            .unwrap_or_default();
        let mediaenc = self
            .media_encryption
            .as_ref()
            .map(|m| format!(";mediaenc={m}"))
            .unwrap_or_default();
        format!(
            "<sip:{}@{}{transport}>;regint=0;audio_codecs={}{mediaenc}\n",
            self.user, self.ip, self.codecs
        )
    }

    /// Writes the config directory, starts baresip, waits until it takes
    /// commands.
    pub fn start(self) -> BaresipProcess {
        let dir = std::env::temp_dir().join(format!(
            "pbxgate-baresip-{}-{}-{}",
            std::process::id(),
            self.ip,
            self.sip_port
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("baresip dir");
        std::fs::write(dir.join("config"), self.config(&dir)).expect("config");
        std::fs::write(dir.join("accounts"), self.accounts()).expect("accounts");
        write_wav(&dir.join("play.wav"), &self.play);
        let child = Command::new("baresip")
            .arg("-f")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout.log")).expect("file"))
            .stderr(std::fs::File::create(dir.join("stderr.log")).expect("file"))
            .spawn()
            .expect("baresip must be installed (tests/run.sh installs baresip-core)");
        let mut p = BaresipProcess {
            child: KillOnDrop::new(child),
            dir,
            ctrl: None,
            messages: Arc::new(Mutex::new(Vec::new())),
            token: 0,
        };
        let ctrl = (self.ip.as_str(), self.ctrl_port);
        let stream = poll(Duration::from_secs(10), || TcpStream::connect(ctrl).ok())
            .unwrap_or_else(|| panic!("baresip takes no commands on {ctrl:?}{}", p.output()));
        p.read_messages(stream.try_clone().expect("clone"));
        p.ctrl = Some(stream);
        p
    }
}

/// A running baresip; killed when dropped (its directory is kept if the
/// test failed).
pub struct BaresipProcess {
    child: KillOnDrop,
    pub dir: PathBuf,
    ctrl: Option<TcpStream>,
    /// Responses and events from ctrl_tcp, in arrival order.
    messages: Arc<Mutex<Vec<Value>>>,
    token: u64,
}

impl BaresipProcess {
    /// `sip:user@host_port`, to dial: baresip adds the account's
    /// transport itself.
    pub fn uri(&self, user: &str, host_port: &str) -> String {
        format!("sip:{user}@{host_port}")
    }

    pub fn dial(&mut self, uri: &str) {
        self.command("dial", uri);
    }

    pub fn hangup(&mut self) {
        self.command("hangup", "");
    }

    /// Keys pressed in the current call: RFC 4733 events when the answer
    /// has telephone-event.
    pub fn send_digits(&mut self, digits: &str) {
        self.command("sndcode", digits);
    }

    /// Sends a command and waits for its response; asserts it succeeded.
    pub fn command(&mut self, command: &str, params: &str) -> Value {
        self.token += 1;
        let token = format!("t{}", self.token);
        let json = serde_json::json!({"command": command, "params": params, "token": token});
        let body = json.to_string();
        let frame = format!("{}:{body},", body.len());
        self.ctrl
            .as_mut()
            .expect("ctrl")
            .write_all(frame.as_bytes())
            .expect("baresip's ctrl_tcp");
        let response = self.wait_for(Duration::from_secs(5), |m| {
            m["response"] == true && m["token"] == token.as_str()
        });
        let response =
            response.unwrap_or_else(|| panic!("no answer to {command}{}", self.output()));
        assert!(
            response["ok"] == true,
            "baresip refused {command} {params}: {response}{}",
            self.output()
        );
        response
    }

    /// Waits for an event of `kind` ("CALL_ESTABLISHED", "CALL_CLOSED");
    /// returns it.
    pub fn wait_event(&self, kind: &str, timeout: Duration) -> Value {
        self.wait_for(timeout, |m| m["event"] == true && m["type"] == kind)
            .unwrap_or_else(|| {
                panic!(
                    "baresip reported no {kind} within {timeout:?}; events: {:?}{}",
                    self.messages.lock().unwrap(),
                    self.output()
                )
            })
    }

    fn wait_for(&self, timeout: Duration, f: impl Fn(&Value) -> bool) -> Option<Value> {
        poll(timeout, || {
            self.messages.lock().unwrap().iter().find(|m| f(m)).cloned()
        })
    }

    /// Reads ctrl_tcp's netstrings (`LEN:JSON,`) on a thread of its own.
    fn read_messages(&self, mut stream: TcpStream) {
        let messages = self.messages.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some((value, used)) = netstring(&buf) {
                    buf.drain(..used);
                    if let Some(v) = value {
                        messages.lock().unwrap().push(v);
                    }
                }
            }
        });
    }

    /// What baresip heard in the call (decoded, as `sndfile` recorded it),
    /// once the call has closed.
    pub fn heard(&self) -> Vec<i16> {
        let wav = std::fs::read_dir(&self.dir)
            .expect("baresip dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .unwrap_or_else(|| panic!("sndfile recorded nothing{}", self.output()));
        read_wav(&wav)
    }

    /// baresip's stdout and stderr, for failure messages.
    pub fn output(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.join(n)).unwrap_or_default();
        format!(
            "\nbaresip in {}\nstdout:\n{}\nstderr:\n{}",
            self.dir.display(),
            read("stdout.log").replace('\r', "\n"),
            read("stderr.log")
        )
    }

    pub fn exited(&mut self) -> bool {
        self.child.exited().is_some()
    }
}

impl Drop for BaresipProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("baresip's directory kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One netstring from the front of `buf`: the JSON (None if it is not
/// JSON) and how many bytes it took; None while incomplete.
fn netstring(buf: &[u8]) -> Option<(Option<Value>, usize)> {
    let colon = buf.iter().position(|b| *b == b':')?;
    let len: usize = std::str::from_utf8(&buf[..colon]).ok()?.parse().ok()?;
    let end = colon + 1 + len;
    if buf.len() <= end {
        return None;
    }
    Some((serde_json::from_slice(&buf[colon + 1..end]).ok(), end + 1))
}

/// A WAV file of 8 kHz mono 16-bit samples (what `aufile` reads).
pub fn write_wav(path: &Path, pcm: &[i16]) {
    let data: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut f = Vec::with_capacity(44 + data.len());
    f.extend_from_slice(b"RIFF");
    f.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    f.extend_from_slice(b"WAVEfmt ");
    f.extend_from_slice(&16u32.to_le_bytes());
    f.extend_from_slice(&1u16.to_le_bytes()); // PCM
    f.extend_from_slice(&1u16.to_le_bytes()); // mono
    f.extend_from_slice(&8000u32.to_le_bytes());
    f.extend_from_slice(&16000u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&16u16.to_le_bytes());
    f.extend_from_slice(b"data");
    f.extend_from_slice(&(data.len() as u32).to_le_bytes());
    f.extend_from_slice(&data);
    std::fs::write(path, f).expect("WAV");
}

/// The 16-bit samples of a WAV file's `data` chunk (to the file's end if
/// the writer never updated the chunk's size).
pub fn read_wav(path: &Path) -> Vec<i16> {
    let d = std::fs::read(path).expect("WAV");
    let mut off = 12;
    while off + 8 <= d.len() {
        let size = u32::from_le_bytes([d[off + 4], d[off + 5], d[off + 6], d[off + 7]]) as usize;
        if &d[off..off + 4] == b"data" {
            let end = if size == 0 {
                d.len()
            } else {
                (off + 8 + size).min(d.len())
            };
            return d[off + 8..end]
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
        }
        off += 8 + size + (size & 1);
    }
    panic!("no data chunk in {}", path.display());
}
