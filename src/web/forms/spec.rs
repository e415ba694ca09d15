//! What each configuration section's form holds: every field by its key in
//! the file, with the kind of input that edits it. The form is built from
//! the section's TOML value and read back into one, so the kinds say how a
//! value is shown and how the posted text becomes a value again. A field
//! missing here would be lost by a save; the round-trip test of every
//! section (with every field set) fails then.

/// How one field is edited.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A line of text; empty is the empty string.
    Text,
    /// A line of text; empty leaves the key out (an optional field).
    OptText,
    /// A whole number; empty leaves the key out (its default applies).
    Int,
    /// A checkbox.
    Bool,
    /// A select of unset / yes / no.
    OptBool,
    /// A select of the allowed words.
    Choice(&'static [&'static str]),
    /// The same with an empty first choice that leaves the key out.
    OptChoice(&'static [&'static str]),
    /// Radio buttons, one per allowed word (a choice that changes what the
    /// other fields mean, seen at a glance).
    Radio(&'static [&'static str]),
    /// Checkboxes, one per allowed word; the checked ones in order.
    ChoiceSet(&'static [&'static str]),
    /// A textarea, one entry a line.
    Lines,
    /// The same; empty leaves the key out (the documented default applies).
    OptLines,
    /// A password: never shown; empty keeps the stored one.
    Secret,
    /// The same for an optional password.
    OptSecret,
    /// An array of tables, each entry a fieldset of these fields; `id` is
    /// the key that identifies an entry (its stored password is kept by it).
    Entries {
        fields: &'static [Field],
        id: &'static str,
        noun: &'static str,
    },
}

#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub key: &'static str,
    pub kind: Kind,
    /// A short line shown under the input.
    pub help: &'static str,
}

/// A section of the file: `key` as the file names it, its form.
#[derive(Clone, Copy, Debug)]
pub struct Section {
    pub key: &'static str,
    pub title: &'static str,
    /// Some: the section is an array of tables (`[[listener]]`).
    pub entries: Option<(&'static str, &'static str)>,
    pub fields: &'static [Field],
}

const fn f(key: &'static str, kind: Kind, help: &'static str) -> Field {
    Field { key, kind, help }
}

use Kind::*;

const SIDE: &[&str] = &["wan", "lan"];
const TRANSPORT: &[&str] = &["udp", "tcp", "tls"];
const DTMF: &[&str] = &["auto", "rfc4733", "inband", "both"];

const LISTENER: &[Field] = &[
    f(
        "name",
        Text,
        "a unique name; accounts name their listener by it",
    ),
    f("side", Choice(SIDE), "wan faces the cloud, lan the PBX"),
    f(
        "bind",
        Text,
        "address and port, e.g. 0.0.0.0:5060 or [::]:5060",
    ),
    f("transports", ChoiceSet(TRANSPORT), ""),
    f(
        "tcp_idle_timeout_s",
        Int,
        "seconds without traffic before a TCP connection is closed",
    ),
    f(
        "allow",
        OptLines,
        "source networks admitted, one CIDR or address a line; empty = the side's default",
    ),
    f(
        "on_deny",
        OptChoice(&["drop", "reject"]),
        "empty = drop on wan, reject on lan",
    ),
    f("admit", Choice(&["allowlist", "digest", "either"]), ""),
    f(
        "rate_per_s",
        Int,
        "packets per second per source; 0 = no limit",
    ),
    f("burst", Int, ""),
    f("rate_per_s_listed", Int, "the same for listed sources"),
    f("burst_listed", Int, ""),
    f(
        "public_address",
        OptText,
        "the address peers reach this box at behind NAT",
    ),
    f(
        "tls_bind",
        OptText,
        "where TLS is served; empty = port 5061 (wan) or 5081 (lan)",
    ),
    f(
        "srtp",
        Choice(SRTP),
        "SRTP (SDES) on calls arriving here; offer/require need tls",
    ),
];

const SRTP: &[&str] = &["off", "offer", "require"];

const ACCOUNT: &[Field] = &[
    f("name", Text, ""),
    f("enabled", Bool, "register with this account"),
    f(
        "registrar",
        Text,
        "the registrar's SIP URI, e.g. sip:example.sip.signalwire.com",
    ),
    f("username", Text, ""),
    f("auth_username", OptText, "empty = the username"),
    f("password", Secret, ""),
    f("domain", OptText, "empty = the registrar's host"),
    f("expires_s", Int, "seconds a registration lasts"),
    f("transport", Choice(TRANSPORT), ""),
    f("outbound_proxy", OptText, "a SIP URI; empty = none"),
    f(
        "public_address",
        OptText,
        "address:port for Contact behind NAT",
    ),
    f("listener", Text, "the listener registrations go out on"),
    f("keepalive_interval_s", Int, "0 = off"),
    f("retry_base_s", Int, ""),
    f("retry_max_s", Int, ""),
    f(
        "srtp",
        Choice(SRTP),
        "SRTP on calls through it; offer/require need tls",
    ),
];

const INBOUND_USER: &[Field] = &[f("username", Text, ""), f("password", Secret, "")];

const INBOUND_AUTH: &[Field] = &[
    f("realm", Text, ""),
    f("status", Int, "401 or 407"),
    f(
        "algorithms",
        Lines,
        "one a line: SHA-256, MD5, SHA-512-256 (or -sess forms)",
    ),
    f("methods", Lines, "methods challenged, one a line"),
    f("max_failures", Int, ""),
    f("failure_window_s", Int, ""),
    f("block_s", Int, ""),
    f("nonce_lifetime_s", Int, ""),
    f(
        "users",
        Entries {
            fields: INBOUND_USER,
            id: "username",
            noun: "user",
        },
        "",
    ),
];

const CALLS: &[Field] = &[
    f("max_concurrent", Int, ""),
    f(
        "retry_after_s",
        Int,
        "Retry-After sent when the limit is reached",
    ),
    f(
        "failover_timeout_ms",
        Int,
        "how long a target may take before the next is tried",
    ),
    f("max_redirects", Int, ""),
    f("sdp", Choice(&["anchor", "passthrough"]), ""),
    f(
        "history",
        Int,
        "replaced by [history] max_calls; leave empty",
    ),
];

const MEDIA: &[Field] = &[
    f("port_min", Int, ""),
    f("port_max", Int, ""),
    f("timeout_s", Int, "a call without media this long is ended"),
    f("source", Choice(&["learn", "strict", "any"]), ""),
    f("learn_packets", Int, ""),
    f("learn_window_ms", Int, ""),
    f("relearn_after_ms", Int, ""),
    f(
        "allow",
        Lines,
        "networks media may come from, one a line; empty = any",
    ),
    f("any_source", OptBool, "replaced by source; leave unset"),
    f("threads", Int, "0 = one per CPU but one"),
];

const MATCH: &[Field] = &[
    f("header", OptText, "a header name, e.g. X-PH-RetreaverAFID"),
    f("dialled", OptBool, "match the dialled number"),
    f("caller", OptBool, "match the caller's number"),
    f("equals", OptText, ""),
    f("prefix", OptText, ""),
    f("regex", OptText, ""),
    f("present", OptBool, ""),
    f("absent", OptBool, ""),
];

const TARGET: &[Field] = &[
    f("uri", Text, "a SIP URI; empty for a line"),
    f(
        "line",
        OptText,
        "or a local line by name (then nothing else here)",
    ),
    f("transport", OptChoice(TRANSPORT), ""),
    f("username", OptText, ""),
    f("password", OptSecret, ""),
    f(
        "account",
        OptText,
        "send through this account's registration",
    ),
    f("headers", Lines, "extra headers, one a line, Name: value"),
    f("dtmf", Choice(DTMF), ""),
    f(
        "srtp",
        Choice(SRTP),
        "SRTP toward it (off: the account's); needs tls",
    ),
];

const HEADER_ACTION: &[Field] = &[
    f(
        "action",
        Choice(&["rename", "set", "copy", "strip", "pass"]),
        "",
    ),
    f("name", Text, ""),
    f("from", OptText, "the header read (rename, copy)"),
    f("value", OptText, "the value written (set)"),
];

const ROUTE: &[Field] = &[
    f("name", Text, ""),
    f(
        "from",
        // Empty leaves it out: the file's default, "wan", as for a route
        // added on the page.
        OptText,
        "wan (empty) or lan (the side calls come from), line (any local line) or line:NAME",
    ),
    f(
        "match",
        Entries {
            fields: MATCH,
            id: "",
            noun: "match rule",
        },
        "every rule must match; none = every call",
    ),
    f(
        "targets",
        Entries {
            fields: TARGET,
            id: "uri",
            noun: "target",
        },
        "tried in order",
    ),
    f(
        "headers",
        Entries {
            fields: HEADER_ACTION,
            id: "",
            noun: "header action",
        },
        "",
    ),
    f("caller_dtmf", Choice(DTMF), ""),
    f(
        "hook",
        OptText,
        "https://... asked for each call: it may choose targets, add headers or reject",
    ),
    f("hook_timeout_ms", Int, "then the targets above are used"),
    f("hook_secret", OptSecret, "signs the hook's requests"),
    f(
        "hook_ca_file",
        OptText,
        "a PEM file of CAs trusted besides the public ones",
    ),
    f(
        "hook_allow_http",
        Bool,
        "allow a plain http:// hook (unencrypted)",
    ),
];

const SYSTEM: &[Field] = &[f(
    "board",
    OptText,
    "rpi4, rpi5 or x86-gateway: the lines' default devices; empty = none",
)];

const LINE: &[Field] = &[
    f(
        "name",
        Text,
        "1-32 of a-z, 0-9 and -; routes name the line by it",
    ),
    f(
        "extension",
        Text,
        "its number (1-15 digits): the caller of its calls, what the PBX dials",
    ),
    f(
        "capture",
        OptText,
        "ALSA device, e.g. plughw:CARD=Device,DEV=0; empty = the board's",
    ),
    f("playback", OptText, "empty = the board's"),
    f(
        "serial_port",
        OptText,
        "the line board, e.g. /dev/ttyUSB0; empty = the board's",
    ),
    f("baud", Int, "empty = the board's"),
    f(
        "dtmf",
        Choice(DTMF),
        "auto: RFC 4733 events when the far end takes them, else tones",
    ),
    f(
        "ring_cadence",
        OptText,
        "ms on/off from ringing, e.g. 400/200/400/2000; empty = 2000/4000",
    ),
    f(
        "digit_timeout_ms",
        Int,
        "wait after the last digit before dialling; empty = 4000",
    ),
];

const SIP: &[Field] = &[
    f("user_agent", Text, ""),
    f("t1_ms", Int, "RFC 3261 T1"),
    f("t2_ms", Int, "RFC 3261 T2"),
    f("t4_ms", Int, "RFC 3261 T4"),
];

const DNS: &[Field] = &[f(
    "nameservers",
    Lines,
    "address:port, one a line; empty = /etc/resolv.conf",
)];

const LOG: &[Field] = &[
    f(
        "level",
        Choice(&["error", "warn", "info", "debug", "trace"]),
        "",
    ),
    f("counters_interval_s", Int, "0 = only at shutdown"),
];

const EMERGENCY: &[Field] = &[
    f("numbers", Lines, "one a line; digits, * and #"),
    f(
        "route",
        OptText,
        "a route from lan for these calls; empty = the usual routes",
    ),
];

const UPDATE: &[Field] = &[
    f(
        "health_timeout_s",
        Int,
        "seconds a new slot has to pass its health check (10-3600)",
    ),
    f(
        "boot_attempts",
        Int,
        "boots a new slot gets before the old one comes back (1-3)",
    ),
];

const NETWORK: &[Field] = &[
    f(
        "mode",
        Radio(&["dhcp", "static"]),
        "dhcp: every wired port asks a DHCP server; static: the address below",
    ),
    f(
        "interface",
        OptText,
        "e.g. eth0; empty = the board's first network interface",
    ),
    f(
        "address",
        OptText,
        "with its prefix length, e.g. 192.168.1.50/24 or 2001:db8::50/64",
    ),
    f(
        "gateway",
        OptText,
        "the default route, e.g. 192.168.1.1; empty = none",
    ),
    f("dns", Lines, "name servers, one address a line"),
];

const HISTORY: &[Field] = &[f("max_calls", Int, ""), f("max_age_days", Int, "")];

const WEB: &[Field] = &[
    f("enabled", Bool, "serve the page"),
    f("bind", Text, "address:port"),
    f(
        "allow",
        OptLines,
        "networks that may connect; empty = private, loopback, link-local",
    ),
    f(
        "cert_file",
        OptText,
        "a PEM certificate; empty = the self-signed one",
    ),
    f("key_file", OptText, ""),
    f("session_idle_min", Int, ""),
    f("login_failures", Int, ""),
    f("login_window_min", Int, ""),
    f(
        "metrics_allow",
        Lines,
        "networks that may read /metrics without a token",
    ),
];

const TLS: &[Field] = &[
    f(
        "cert_file",
        OptText,
        "the SIP server certificate (PEM); empty = the self-signed one",
    ),
    f("key_file", OptText, ""),
    f(
        "ca_file",
        OptText,
        "CAs trusted besides the public ones when connecting",
    ),
    f(
        "client_cert_file",
        OptText,
        "shown when a far end asks for a client certificate",
    ),
    f("client_key_file", OptText, ""),
    f("handshake_timeout_ms", Int, ""),
    f("max_handshakes_per_source", Int, ""),
    f("max_handshakes", Int, "in progress, from all sources"),
];

const WEBHOOK: &[Field] = &[
    f("name", Text, "names it in logs and on this page"),
    f("url", Text, "https://..."),
    f(
        "format",
        Choice(&["sipgate", "json"]),
        "sipgate: form fields as sipgate.io sends them",
    ),
    f(
        "events",
        ChoiceSet(&["newCall", "answer", "hangup", "dtmf", "registration"]),
        "none checked = all",
    ),
    f(
        "secret",
        OptSecret,
        "signs each request (X-Pbxgate-Signature)",
    ),
    f(
        "ca_file",
        OptText,
        "a PEM file of CAs trusted besides the public ones",
    ),
    f(
        "pin_sha256",
        OptText,
        "only the certificate with this SHA-256",
    ),
    f(
        "allow_http",
        Bool,
        "allow a plain http:// URL (unencrypted)",
    ),
    f("timeout_ms", Int, "per attempt"),
];

const EVENTS: &[Field] = &[
    f(
        "max_events",
        Int,
        "undelivered events kept while a webhook is down",
    ),
    f("max_mib", Int, "their size at most"),
    f(
        "headers",
        Lines,
        "INVITE headers copied into events, one a line",
    ),
];

const MQTT: &[Field] = &[
    f(
        "url",
        Text,
        "mqtt://HOST:PORT or mqtts://HOST:PORT; empty = no MQTT",
    ),
    f("username", OptText, ""),
    f("password", OptSecret, ""),
    f(
        "box_id",
        OptText,
        "the box in topics; empty = from the machine id",
    ),
    f(
        "ca_file",
        OptText,
        "a PEM file of CAs trusted besides the public ones",
    ),
    f("keepalive_s", Int, "seconds"),
];

/// Every section, in the file's order.
pub const SECTIONS: &[Section] = &[
    Section {
        key: "sip",
        title: "SIP",
        entries: None,
        fields: SIP,
    },
    Section {
        key: "listener",
        title: "Listeners",
        entries: Some(("name", "listener")),
        fields: LISTENER,
    },
    Section {
        key: "account",
        title: "Accounts",
        entries: Some(("name", "account")),
        fields: ACCOUNT,
    },
    Section {
        key: "inbound_auth",
        title: "Inbound auth",
        entries: None,
        fields: INBOUND_AUTH,
    },
    Section {
        key: "calls",
        title: "Call limits",
        entries: None,
        fields: CALLS,
    },
    Section {
        key: "media",
        title: "Media",
        entries: None,
        fields: MEDIA,
    },
    Section {
        key: "route",
        title: "Routes",
        entries: Some(("name", "route")),
        fields: ROUTE,
    },
    Section {
        key: "emergency",
        title: "Emergency",
        entries: None,
        fields: EMERGENCY,
    },
    Section {
        key: "dns",
        title: "DNS",
        entries: None,
        fields: DNS,
    },
    Section {
        key: "log",
        title: "Log",
        entries: None,
        fields: LOG,
    },
    Section {
        key: "history",
        title: "History",
        entries: None,
        fields: HISTORY,
    },
    Section {
        key: "web",
        title: "Web",
        entries: None,
        fields: WEB,
    },
    Section {
        key: "tls",
        title: "TLS",
        entries: None,
        fields: TLS,
    },
    Section {
        key: "webhook",
        title: "Webhooks",
        entries: Some(("name", "webhook")),
        fields: WEBHOOK,
    },
    Section {
        key: "events",
        title: "Event outbox",
        entries: None,
        fields: EVENTS,
    },
    Section {
        key: "mqtt",
        title: "MQTT",
        entries: None,
        fields: MQTT,
    },
    Section {
        key: "system",
        title: "Board",
        entries: None,
        fields: SYSTEM,
    },
    Section {
        key: "line",
        title: "Local lines",
        entries: Some(("name", "line")),
        fields: LINE,
    },
    Section {
        key: "update",
        title: "Firmware updates",
        entries: None,
        fields: UPDATE,
    },
    Section {
        key: "network",
        title: "Network",
        entries: None,
        fields: NETWORK,
    },
];

pub fn section(key: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.key == key)
}
