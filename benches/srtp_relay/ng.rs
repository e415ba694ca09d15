//! rtpengine's ng control protocol, as much as `relay_load srtp` needs to
//! set calls up: each UDP datagram is `COOKIE BENCODED-DICT` and the reply
//! repeats the cookie. Bencode: `i42e`, `4:spam`, `l...e`, `d...e` with
//! keys sorted.

use std::net::UdpSocket;
use std::time::Duration;

/// A bencoded value.
pub enum B {
    Str(String),
    Int(i64),
    List(Vec<B>),
    /// Keys in any order: `encode` sorts them.
    Dict(Vec<(String, B)>),
}

impl B {
    pub fn s(v: &str) -> B {
        B::Str(v.to_string())
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            B::Str(s) => {
                out.extend_from_slice(format!("{}:", s.len()).as_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            B::Int(i) => out.extend_from_slice(format!("i{i}e").as_bytes()),
            B::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode(out);
                }
                out.push(b'e');
            }
            B::Dict(d) => {
                let mut keys: Vec<&(String, B)> = d.iter().collect();
                keys.sort_by(|a, b| a.0.cmp(&b.0));
                out.push(b'd');
                for (k, v) in keys {
                    B::Str(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// The string under `key` of a dict.
    pub fn get(&self, key: &str) -> Option<&str> {
        match self {
            B::Dict(d) => d.iter().find(|(k, _)| k == key).and_then(|(_, v)| match v {
                B::Str(s) => Some(s.as_str()),
                _ => None,
            }),
            _ => None,
        }
    }
}

/// Decodes one value at `b[*i..]`; None when it is not bencode.
fn decode(b: &[u8], i: &mut usize) -> Option<B> {
    match *b.get(*i)? {
        b'i' => {
            let end = *i + b[*i..].iter().position(|&c| c == b'e')?;
            let v = std::str::from_utf8(&b[*i + 1..end]).ok()?.parse().ok()?;
            *i = end + 1;
            Some(B::Int(v))
        }
        c @ (b'l' | b'd') => {
            *i += 1;
            let mut items = Vec::new();
            while *b.get(*i)? != b'e' {
                items.push(decode(b, i)?);
            }
            *i += 1;
            if c == b'l' {
                return Some(B::List(items));
            }
            let mut d = Vec::new();
            let mut it = items.into_iter();
            while let (Some(B::Str(k)), Some(v)) = (it.next(), it.next()) {
                d.push((k, v));
            }
            Some(B::Dict(d))
        }
        _ => {
            let colon = *i + b[*i..].iter().position(|&c| c == b':')?;
            let n: usize = std::str::from_utf8(&b[*i..colon]).ok()?.parse().ok()?;
            let s = b.get(colon + 1..colon + 1 + n)?;
            *i = colon + 1 + n;
            Some(B::Str(String::from_utf8_lossy(s).into_owned()))
        }
    }
}

/// A client of one rtpengine's ng port on 127.0.0.1.
pub struct Ng {
    sock: UdpSocket,
    port: u16,
    cookie: u64,
}

impl Ng {
    pub fn new(port: u16) -> Ng {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("ng socket");
        sock.set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        Ng {
            sock,
            port,
            cookie: u64::from(std::process::id()) << 32,
        }
    }

    /// Sends `msg` (tried 3 times) and returns the reply's dict.
    pub fn call(&mut self, msg: &B) -> Result<B, String> {
        self.cookie += 1;
        let cookie = format!("{:x}", self.cookie);
        let mut dgram = format!("{cookie} ").into_bytes();
        msg.encode(&mut dgram);
        let mut buf = vec![0u8; 65536];
        for _ in 0..3 {
            self.sock
                .send_to(&dgram, ("127.0.0.1", self.port))
                .map_err(|e| format!("ng send: {e}"))?;
            while let Ok(n) = self.sock.recv(&mut buf) {
                let reply = &buf[..n];
                let Some(sp) = reply.iter().position(|&c| c == b' ') else {
                    continue;
                };
                if &reply[..sp] != cookie.as_bytes() {
                    continue;
                }
                let mut i = sp + 1;
                return decode(reply, &mut i)
                    .ok_or_else(|| format!("ng: reply is not bencode: {reply:?}"));
            }
        }
        Err(format!("ng: no answer on port {}", self.port))
    }
}
