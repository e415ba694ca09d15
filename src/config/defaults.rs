//! The configuration written on first start: the built-in defaults, with
//! comments a person can follow. A test keeps it equal to `Config::default()`.

pub const DEFAULT_CONFIG_TOML: &str = r#"# pbxgate configuration. Edit it here or on the web page; the page saves it in place, keeping comments.
# Every field may be left out: the built-in default applies.

[sip]
# Sent as Server and User-Agent.
user_agent = "pbxgate/0.1.0"
# RFC 3261 timers in milliseconds: T1 (RTT estimate), T2 (max retransmit
# interval for non-INVITE), T4 (max time a message stays in the network).
t1_ms = 500
t2_ms = 4000
t4_ms = 5000

# The side that faces the cloud platforms (Twilio, SignalWire, Retreaver...).
# Only listed sources are admitted, checked before anything is parsed: add
# your platform's signalling networks, e.g. allow = ["203.0.113.0/24"].
[[listener]]
name = "wan"
side = "wan"
bind = "0.0.0.0:5060"
transports = ["udp", "tcp"]
tcp_idle_timeout_s = 300
# allow = ["127.0.0.1/32", "::1/128"]   # the default: this host only
# on_deny = "drop"            # or "reject" (403); default drop on WAN
admit = "allowlist"           # or "digest" / "either" (needs [inbound_auth] users)
rate_per_s = 200              # packets per second per source; 0 = no limit
burst = 400
rate_per_s_listed = 2000      # the same for sources in allow (your platform)
burst_listed = 4000
# public_address = "198.51.100.20"   # behind NAT with ports forwarded: put in
#                             # Contact and SDP; default: what a registrar
#                             # reports (Via received=), else the bound address
# srtp = "offer"              # SRTP with SDES keys on calls arriving here:
#                             # "off" (default), "offer" or "require"; needs
#                             # "tls" in transports (docs/media.md)

# The side that faces the on-prem PBX (its SIP trunk points here).
[[listener]]
name = "lan"
side = "lan"
bind = "0.0.0.0:5080"
transports = ["udp", "tcp"]
tcp_idle_timeout_s = 300
# allow: default loopback, 10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7, fe80::/10
# on_deny = "reject"          # default on LAN: a PBX admin sees a 403
admit = "allowlist"
rate_per_s = 200
burst = 400
rate_per_s_listed = 2000      # sources in allow: the PBX
burst_listed = 4000

# Registrations with cloud SIP domains. None by default; an example:
# [[account]]
# name = "signalwire"
# registrar = "sip:example.sip.signalwire.com"
# username = "pbx"
# password = "secret"
# expires_s = 3600
# transport = "udp"            # or "tcp"
# outbound_proxy = "sip:proxy.example.com"   # optional
# public_address = "203.0.113.7:5060"        # optional; learned otherwise
# keepalive_interval_s = 30   # NAT keep-alive; 0 = off
# srtp = "offer"              # SRTP on calls through it: "off" (default),
#                             # "offer", "require"; needs transport = "tls"

# Digest credentials WAN-side peers may present (e.g. Retreaver inbound SIP
# by username/password). With no users, nothing is challenged.
[inbound_auth]
realm = "pbxgate"
status = 401                  # or 407
algorithms = ["MD5"]          # most preferred first: "SHA-256", "MD5", "SHA-512-256"
methods = ["INVITE"]
max_failures = 5              # failures from one source within failure_window_s
failure_window_s = 60         # ... make the gateway ignore it for block_s
block_s = 300
nonce_lifetime_s = 300
# users = [{ username = "retreaver", password = "secret" }]

# Routes: which PBX queue or extension takes a call, by its headers. Tried in
# order, first match wins; a route without `match` takes every call. None by
# default: calls are answered 480 until a route is configured. An example:
# [[route]]
# name = "publisher-5678"
# from = "wan"                 # calls from the cloud; "lan" = from the PBX
# match = [{ header = "X-PH-RetreaverAFID", equals = "5678" }]
#   # also: prefix = "..", regex = "..", present = true, absent = true;
#   # subjects: header = "Name", dialled = true, caller = true
# targets = [{ uri = "sip:queue1@192.168.1.10" }, { uri = "sip:queue2@192.168.1.11" }]
#   # a target may add username/password (sent only when challenged),
#   # transport = "tcp", account = "name", headers = ["X-Campaign-ID: 1234"],
#   # dtmf = "inband" (how the target carries DTMF: "auto", the default, uses
#   # RFC 4733 events when its SDP has telephone-event and tones otherwise;
#   # "rfc4733", "inband" or "both"), srtp = "offer" or "require" (SRTP over
#   # a TLS target; default: its account's, else "off")
# caller_dtmf = "auto"         # the same for the caller's leg
# headers = [
#   { action = "rename", from = "X-PH-RetreaverAFID", name = "X-Publisher-ID" },
#   { action = "set", name = "X-Queue", value = "sales" },
#   { action = "strip", name = "X-PH-RetreaverKey" },
# ]                            # X-PH-* pass by default; also "copy" and "pass"
# hook = "https://hooks.example.com/route"  # asked for each call (JSON answer:
#   # targets, headers, reject; docs/routing.md); the targets above apply when
#   # it fails or is silent for hook_timeout_ms (default 1500)
# hook_secret = "..."          # signs its requests as webhooks are signed

# Emergency numbers: a call from the LAN whose Request-URI user is one of
# these (after "-", ".", "(", ")", spaces and a leading "+" are removed) is
# routed even at [calls] max_concurrent, its INVITE and the messages of the
# call pass the LAN listener's rate limit (not its allowlist), and it is
# logged at warn. See docs/routing.md, "Emergency numbers".
[emergency]
numbers = ["911", "112", "999", "000", "110"]   # [] = none
# route = "psap"               # a from = "lan" route for every emergency call,
#                             # whatever its match says (it may come after the
#                             # LAN catch-all); default: the first LAN route
#                             # that matches the call

# The B2BUA's limits.
[calls]
max_concurrent = 200          # the next call is answered 503 + Retry-After
retry_after_s = 5
failover_timeout_ms = 4000    # a target silent this long is dead: try the next
max_redirects = 3             # 3xx from the PBX followed at most this often
sdp = "anchor"                # RTP relayed through the gateway; or "passthrough"

# The call history, kept in the data directory (pbxgate.db) across restarts;
# see docs/store.md.
[history]
max_calls = 50000             # the oldest calls go first; 0 = keep none
max_age_days = 90             # older calls are removed

# Media anchoring (with [calls] sdp = "anchor").
[media]
port_min = 20000              # RTP even, RTCP +1; two pairs per call
port_max = 29999
timeout_s = 60                # no RTP this long ends the call (not on hold)
# Where a leg's RTP is taken from: "learn" takes the SDP address at once
# and another source (NAT, multi-homed hosts, media servers apart from
# signalling) after learn_packets in-sequence packets; "strict" only the
# IP the SDP named; "any" every source.
source = "learn"
learn_packets = 3
learn_window_ms = 2000        # the SDP address may still replace a learned source
relearn_after_ms = 5000       # a latched source silent this long can be replaced
allow = []                    # networks learning may take (CIDR); empty = any
threads = 0                   # media threads, read at start; 0 = one per CPU but one

[dns]
# Nameservers for registrar and proxy names; empty = /etc/resolv.conf.
nameservers = []

[log]
# error, warn, info, debug or trace (RUST_LOG overrides it).
level = "info"
# Admission, call and media counters are logged this often; 0 = only at
# shutdown. Drops by a listener's allow list or rate limit are logged once
# per source per 10 minutes.
counters_interval_s = 300

# The web page and JSON API: HTTPS only, on the LAN. At the first start the
# box makes a self-signed certificate (web-cert.pem, web-key.pem in the data
# directory) and a one-time admin password, printed at start; the first
# login sets your own. See docs/web.md.
[web]
enabled = true
bind = "0.0.0.0:8443"
# allow: default loopback, 10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7,
# fe80::/10; checked before the TLS handshake (others get the connection closed)
# cert_file = "/data/my-cert.pem"   # your own certificate and key instead
# key_file = "/data/my-key.pem"
session_idle_min = 30         # a session unused this long is ended
login_failures = 5            # failed logins per source within login_window_min
login_window_min = 15         # ... before it is refused (429) for a while
# /metrics needs an API token (Authorization: Bearer ...) unless the scraper's
# address is listed here, e.g. ["192.168.1.50"]
metrics_allow = []

# SIP over TLS (docs/tls.md). A listener speaks it when its transports list
# "tls" (served on tls_bind, default port 5061 on wan, 5081 on lan); accounts
# and targets use it with transport = "tls", a sips: URI or ;transport=tls.
[tls]
# cert_file = "/data/sip-cert.pem"  # the server certificate; default: a
# key_file = "/data/sip-key.pem"    # self-signed one made in the data directory
# ca_file = "/data/trunk-ca.pem"    # trusted besides the public roots
# client_cert_file = "/data/client.pem"  # shown when a far end asks for one
# client_key_file = "/data/client-key.pem"
handshake_timeout_ms = 5000
max_handshakes_per_source = 4  # handshakes in progress; more are closed
max_handshakes = 64

# Call events (newCall, answer, hangup, dtmf, registration) are written to an
# outbox in the data directory before they count as sent, and delivered to
# each [[webhook]] at least once, in order, with an id to de-duplicate on.
# See docs/events.md.
# [[webhook]]
# name = "crm"
# url = "https://crm.example.com/pbxgate"
# format = "sipgate"            # or "json"
# events = ["newCall", "hangup"]  # default: all
# secret = "a shared secret"    # signs each request (X-Pbxgate-Signature)
[events]
max_events = 100000           # undelivered events kept while a webhook is down
max_mib = 64                  # ... and their size; past either, the oldest of
                              # the failing webhook are dropped (logged)
headers = []                  # INVITE headers copied into events, e.g. ["X-Campaign-ID"]

# Every event can also go to an MQTT broker (QoS 1) from the same outbox, so
# a fleet of boxes reports to one place: topics
# pbxgate/<box_id>/calls/<callId>/<event> and pbxgate/<box_id>/registration.
# See docs/events.md, "MQTT".
# [mqtt]
# url = "mqtts://broker.example.com:8883"   # or mqtt://HOST:PORT (plain)
# username = "box-17"
# password = "a broker password"
# box_id = "shop-17"            # default: from /etc/machine-id (hashed)
# ca_file = "/data/broker-ca.pem"  # CAs trusted besides the public ones
# keepalive_s = 30

# The board this box is, one of the board files built into pbxgate ("rpi4",
# "rpi5", "x86-gateway"; board/NAME.toml): local lines take their sound
# devices and serial port from it. `pbxgate --board NAME` overrides it for a
# run. See docs/lines.md.
# [system]
# board = "rpi4"

# Local lines: analog phones on the box's line board (or a sound device).
# None by default. Routes reach one with targets = [{ line = "desk" }], and
# take its calls with from = "line" (any line) or from = "line:desk". An
# example:
# [[line]]
# name = "desk"                 # 1-32 of a-z, 0-9 and '-'
# extension = "201"             # its number: the caller of its calls, and
#                             # what a PBX dials to reach it (1-15 digits)
# capture = "plughw:CARD=Device,DEV=0"    # ALSA devices; default: the board's
# playback = "plughw:CARD=Device,DEV=0"   # [audio]
# serial_port = "/dev/ttyUSB0"  # the line board; default: the board's [serial]
# baud = 115200
# dtmf = "auto"                 # RFC 4733 events when the far end takes them,
#                             # else tones; or "rfc4733", "inband", "both"
# ring_cadence = "2000/4000"    # ms on/off, 2 to 8 values, starting with ringing
# digit_timeout_ms = 4000       # wait after the last digit before the number
#                             # is dialled ('#' dials at once); 1000-20000

# Firmware updates (the appliance image; docs/updates.md): a newly installed
# slot must pass its health check (SIP listeners answer, web page up,
# configuration loaded) within health_timeout_s, or the box reboots; after
# boot_attempts boots without passing, the old slot comes back by itself.
# Read at each boot.
[update]
health_timeout_s = 120        # 10-3600
boot_attempts = 1             # 1-3

# How the box gets its address (docs/network.md). "dhcp": every wired port
# asks a DHCP server, as the image does by itself. "static": the address
# below on one interface; applied at once on the appliance when saved. A
# wrong static address leaves the box reachable only from its console
# (image/README.md, "Console").
[network]
mode = "dhcp"                 # or "static"
# interface = "eth0"          # default: the board's first network interface
# address = "192.168.1.50/24" # the address and its prefix length (IPv4 or IPv6)
# gateway = "192.168.1.1"     # the default route; for IPv4 within the address's network
# dns = ["192.168.1.1"]       # name servers
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn written_default_equals_built_in_default() {
        let mut expected = Config::default();
        // The template pins the version it was written for.
        expected.sip.user_agent = "pbxgate/0.1.0".into();
        assert_eq!(Config::from_toml(DEFAULT_CONFIG_TOML).unwrap(), expected);
    }
}
