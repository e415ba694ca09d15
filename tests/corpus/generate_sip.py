#!/usr/bin/env python3
"""Generate pbxgate's SIP torture corpus: tests/corpus/sip/NN-name.sip + manifest.tsv.

All messages are original (not copied from RFC 4475). Bytes are exact: CRLF line
endings, NUL / 0xFF bytes where a case needs them.
"""
import hashlib
import os
import random
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "sip")

CRLF = b"\r\n"


def h(nn, salt, n):
    return hashlib.sha1(f"pbxgate-corpus-{nn}-{salt}".encode()).hexdigest()[:n]


def branch(nn, salt="a"):
    return "z9hG4bK" + h(nn, "br" + salt, 12)


def call_id(nn, salt="a"):
    return f"c{nn:02d}-{h(nn, 'cid' + salt, 16)}@192.0.2.{nn}"


def ftag(nn):
    return "f" + h(nn, "ftag", 8)


def ttag(nn):
    return "t" + h(nn, "ttag", 8)


def sdp(nn):
    return CRLF.join(
        [
            b"v=0",
            f"o=corpus {4000 + nn} {nn} IN IP4 192.0.2.{nn}".encode(),
            b"s=pbxgate corpus",
            f"c=IN IP4 192.0.2.{nn}".encode(),
            b"t=0 0",
            f"m=audio {20000 + 2 * nn} RTP/AVP 0 101".encode(),
            b"a=rtpmap:0 PCMU/8000",
            b"a=rtpmap:101 telephone-event/8000",
            b"a=fmtp:101 0-15",
            b"a=ptime:20",
            b"a=sendrecv",
        ]
    ) + CRLF


def enc(x):
    return x if isinstance(x, bytes) else x.encode()


def base_headers(nn, method, *, transport="UDP", cseq=1, to_tag=False, ruri_user="bob",
                 host="127.0.0.1", salt="a"):
    to = f"<sip:{ruri_user}@{host}>" + (f";tag={ttag(nn)}" if to_tag else "")
    return [
        ("Via", f"SIP/2.0/{transport} 192.0.2.{nn}:5060;branch={branch(nn, salt)}"),
        ("Max-Forwards", "70"),
        ("To", to),
        ("From", f"\"Alice\" <sip:alice@example.com>;tag={ftag(nn)}"),
        ("Call-ID", call_id(nn, salt)),
        ("CSeq", f"{cseq} {method}"),
        ("Contact", f"<sip:alice@192.0.2.{nn}:5060>"),
    ]


def build(start_line, headers, body=b"", cl="auto", raw_lines=None):
    """headers: list of (name, value) or raw bytes lines. cl: 'auto', None (omit) or literal."""
    lines = [enc(start_line)]
    for item in headers:
        if isinstance(item, tuple):
            lines.append(enc(item[0]) + b": " + enc(item[1]))
        else:
            lines.append(enc(item))
    if raw_lines:
        lines.extend(enc(x) for x in raw_lines)
    if cl == "auto":
        lines.append(f"Content-Length: {len(body)}".encode())
    elif cl is not None:
        lines.append(b"Content-Length: " + enc(cl))
    return CRLF.join(lines) + CRLF + CRLF + enc(body)


def replaced(headers, name, value):
    out = []
    done = False
    for item in headers:
        if isinstance(item, tuple) and item[0] == name and not done:
            out.append((name, value))
            done = True
        else:
            out.append(item)
    assert done, name
    return out


def dropped(headers, name):
    out = [x for x in headers if not (isinstance(x, tuple) and x[0] == name)]
    assert len(out) == len(headers) - 1, name
    return out


def inserted_after(headers, name, *new):
    out = []
    for item in headers:
        out.append(item)
        if isinstance(item, tuple) and item[0] == name:
            out.extend(new)
    return out


def req(nn, method, ruri=None, *, version="SIP/2.0", body=b"", ctype=None, cl="auto",
        transport="UDP", replace=None, drop=None, after=None, extra=(), **kw):
    """A request; then, in this order, `replace` = (name, value) sets a header's value,
    `drop` = name removes it, `after` = (name, header) adds a header behind it and
    `extra` headers go at the end."""
    ruri = ruri or "sip:bob@127.0.0.1"
    hs = base_headers(nn, method, transport=transport, **kw)
    if ctype is not None:
        hs.append(("Content-Type", ctype))
    if replace:
        hs = replaced(hs, *replace)
    if drop:
        hs = dropped(hs, drop)
    if after:
        hs = inserted_after(hs, *after)
    return build(f"{method} {ruri} {version}", hs + list(extra), body, cl)


def invite(nn, ruri=None, **kw):
    kw.setdefault("body", sdp(nn))
    kw.setdefault("ctype", "application/sdp")
    return req(nn, "INVITE", ruri, **kw)


def options(nn, ruri=None, **kw):
    return req(nn, "OPTIONS", ruri, **kw)


E = []  # (nn, name, transport, expect, reason, note, bytes)


def add(nn, name, transport, expect, reason, note, data):
    assert nn == len(E) + 1, (nn, len(E))
    assert "\t" not in note and "\n" not in note
    E.append((nn, name, transport, expect, reason, note, data))


# ---------------------------------------------------------------- baselines
add(1, "options-baseline", "udp", "200", "-",
    "well-formed OPTIONS, control case for the rest of the corpus", options(1))
add(2, "invite-baseline-sdp", "udp", "480", "-",
    "well-formed INVITE with an SDP offer (PCMU); no routing yet so 480", invite(2))
add(3, "invite-no-body", "udp", "480", "-",
    "well-formed INVITE without a body (late offer) and Content-Length 0", req(3, "INVITE"))

# ---------------------------------------------------------------- request line
add(4, "reqline-missing-version", "udp", "400", "Request-Line",
    "Request-Line has method and URI but no SIP-Version",
    build("OPTIONS sip:bob@127.0.0.1", base_headers(4, "OPTIONS")))
add(5, "reqline-double-spaces", "udp", "400", "Request-Line",
    "two SP between each Request-Line element (grammar allows exactly one)",
    build("OPTIONS  sip:bob@127.0.0.1  SIP/2.0", base_headers(5, "OPTIONS")))
add(6, "reqline-lowercase-method", "udp", "501", "-",
    "method 'options' is case-sensitive so it is an unknown extension token (CSeq matches it), not OPTIONS",
    build("options sip:bob@127.0.0.1 SIP/2.0", base_headers(6, "options")))
add(7, "reqline-tab-separators", "udp", "400", "Request-Line",
    "HTAB instead of SP between Request-Line elements",
    build("OPTIONS\tsip:bob@127.0.0.1\tSIP/2.0", base_headers(7, "OPTIONS")))
add(8, "reqline-missing-uri", "udp", "400", "Request-Line",
    "Request-Line with method and version but no Request-URI",
    build("OPTIONS SIP/2.0", base_headers(8, "OPTIONS")))

# ---------------------------------------------------------------- Request-URI
add(9, "ruri-embedded-space", "udp", "400", "Request-URI",
    "unescaped SP inside the Request-URI user part (Request-Line splits into four parts)",
    options(9, "sip:bob smith@127.0.0.1"))
add(10, "ruri-angle-brackets", "udp", "400", "Request-URI",
    "Request-URI wrapped in <> (name-addr form is not allowed in the Request-Line)",
    options(10, "<sip:bob@127.0.0.1>"))
add(11, "ruri-with-headers", "udp", "400", "Request-URI",
    "Request-URI carries ?headers (forbidden in a Request-URI)",
    options(11, "sip:bob@127.0.0.1?Subject=hello&Priority=urgent"))
add(12, "ruri-escaped-at", "udp", "200", "-",
    "Request-URI user part contains %40 (escaped @); valid, user is 'bob@home'",
    options(12, "sip:bob%40home@127.0.0.1"))
add(13, "ruri-bad-escape", "udp", "400", "Request-URI",
    "Request-URI user part has %G1 (not two hex digits after %)",
    options(13, "sip:b%G1ob@127.0.0.1"))
add(14, "ruri-ipv6-host", "udp", "200", "-",
    "Request-URI with bracketed IPv6 reference and port sip:[2001:db8::1]:5060 (no user part)",
    options(14, "sip:[2001:db8::1]:5060"))
add(15, "ruri-ipv6-unterminated", "udp", "400", "Request-URI",
    "Request-URI IPv6 reference missing the closing ]",
    options(15, "sip:bob@[2001:db8::1:5060"))
add(16, "ruri-tel-scheme", "udp", "416", "-",
    "INVITE to a tel: Request-URI (well-formed, unsupported scheme)",
    invite(16, "tel:+15555550116", replace=("To", "<tel:+15555550116>")))
add(17, "ruri-urn-scheme", "udp", "416", "-",
    "OPTIONS to urn:service:sos (well-formed, unsupported scheme)",
    options(17, "urn:service:sos", replace=("To", "<urn:service:sos>")))
add(18, "ruri-http-scheme", "udp", "416", "-",
    "OPTIONS to an http: URL", options(18, "http://example.com/phone/bob"))
add(19, "ruri-unknown-scheme", "udp", "416", "-",
    "OPTIONS to a syntactically valid but unknown scheme (absoluteURI)",
    options(19, "zzproto+v2:bob;line=1@example.com"))

# ---------------------------------------------------------------- SIP-Version
add(20, "version-sip3", "udp", "505", "-",
    "Request-Line version SIP/3.0 (Via stays SIP/2.0)",
    options(20, version="SIP/3.0"))
add(21, "version-sip1", "udp", "505", "-",
    "Request-Line version SIP/1.0", req(21, "INVITE", version="SIP/1.0"))
add(22, "version-lowercase", "udp", "200", "-",
    "Request-Line version written 'sip/2.0': RFC 3261 7.1 says the SIP-Version string is case-insensitive",
    options(22, version="sip/2.0"))

# ---------------------------------------------------------------- mandatory headers
add(23, "missing-via", "udp", "none", "-",
    "no Via header: cannot be answered, dropped and counted",
    options(23, drop="Via"))
add(24, "missing-from", "udp", "400", "From",
    "no From header (Via, CSeq, Call-ID present)", options(24, drop="From"))
add(25, "missing-to", "udp", "400", "To",
    "no To header (Via, CSeq, Call-ID present)", options(25, drop="To"))
add(26, "missing-call-id", "udp", "none", "-",
    "no Call-ID header: cannot be answered, dropped and counted",
    invite(26, drop="Call-ID"))
add(27, "missing-cseq", "udp", "none", "-",
    "no CSeq header: cannot be answered, dropped and counted",
    options(27, drop="CSeq"))
add(28, "missing-max-forwards", "udp", "200", "-",
    "no Max-Forwards (RFC 2543 style) is tolerated and answered normally",
    options(28, drop="Max-Forwards"))

# ---------------------------------------------------------------- duplicated single-valued headers
add(29, "dup-cseq", "udp", "400", "CSeq",
    "two CSeq headers with different numbers",
    options(29, after=("CSeq", ("CSeq", "7 OPTIONS"))))
add(30, "dup-call-id", "udp", "400", "Call-ID",
    "two Call-ID headers with different values",
    options(30, after=("Call-ID", ("Call-ID", call_id(30, "second")))))
add(31, "dup-from", "udp", "400", "From",
    "two From headers (different URIs and tags)",
    invite(31, after=("From", ("From", "<sip:mallory@example.org>;tag=m31dup"))))
add(32, "dup-to", "udp", "400", "To",
    "two To headers (different URIs)",
    options(32, after=("To", ("To", "<sip:carol@example.com>"))))

# ---------------------------------------------------------------- Content-Length
add(33, "cl-larger-than-body", "udp", "400", "Content-Length",
    "INVITE over UDP whose Content-Length is 100 bytes more than the SDP in the datagram",
    invite(33, cl=str(len(sdp(33)) + 100)))
add(34, "cl-negative", "udp", "400", "Content-Length",
    "Content-Length: -12 with a 12-byte body",
    options(34, body=b"negative-len", ctype="text/plain", cl="-12"))
add(35, "cl-non-numeric", "udp", "400", "Content-Length",
    "Content-Length value is the word 'zero'", options(35, cl="zero"))
add(36, "cl-two-values", "udp", "400", "Content-Length",
    "two Content-Length headers with different values (first one 40 short, second one correct)",
    invite(36, extra=[("Content-Length", str(len(sdp(36)) - 40))]))
add(37, "cl-zero-trailing-garbage", "udp", "200", "-",
    "Content-Length: 0 but the datagram continues with junk octets; extra octets are ignored",
    options(37) + b"this is not part of the message\r\nJunk: 12345\r\n\r\n\x01\x02\x03")
add(38, "cl-exact-trailing-garbage", "udp", "480", "-",
    "INVITE whose Content-Length covers the SDP exactly, followed by junk that must be ignored",
    invite(38) + b"m=video 9 RTP/AVP 31\r\nleftover bytes after the declared body\r\n")
add(39, "cl-leading-zeros", "udp", "200", "-",
    "Content-Length: 0000 (leading zeros are valid DIGITs)", options(39, cl="0000"))
add(40, "udp-no-content-length", "udp", "480", "-",
    "INVITE over UDP without Content-Length: body runs to the end of the datagram (RFC 3261 18.3)",
    invite(40, cl=None))
add(41, "tcp-no-content-length", "tcp", "400", "Content-Length",
    "OPTIONS over TCP with no Content-Length (mandatory on stream transports)",
    options(41, transport="TCP", cl=None))
add(42, "tcp-two-messages", "tcp", "200", "-",
    "two OPTIONS back to back in one TCP chunk (CSeq 1 and CSeq 2, different Call-IDs): expect TWO 200s",
    options(42, transport="TCP", salt="a")
    + options(42, transport="TCP", salt="b", cseq=2))
add(43, "tcp-crlf-keepalive-prefix", "tcp", "200", "-",
    "CRLFCRLF keep-alive (RFC 5626 ping) before an OPTIONS on the same stream; a CRLF pong may precede the 200",
    b"\r\n\r\n" + options(43, transport="TCP"))
add(44, "tcp-incomplete-body", "tcp", "none", "-",
    "INVITE over TCP whose Content-Length exceeds the bytes sent: gateway must wait for more, not answer",
    invite(44, transport="TCP", cl=str(len(sdp(44)) + 200)))

# ---------------------------------------------------------------- NUL / encoding
add(45, "nul-in-header", "udp", "400", "header",
    "NUL byte inside the Subject header value",
    options(45, extra=[b"Subject: before\x00after"]))
_b46 = b"binary\x00payload\x00\xff\xfe\r\n\r\nNot-A-Header: inside body\x00\r\n"
add(46, "nul-in-body", "udp", "405", "-",
    "out-of-dialog MESSAGE whose body has NUL bytes and a CRLFCRLF; body framing uses Content-Length; 405",
    req(46, "MESSAGE", "sip:bob@example.com", host="example.com", body=_b46,
        ctype="application/octet-stream"))
add(47, "long-subject-20k", "udp", "200", "-",
    "Subject header value of 20480 octets",
    options(47, extra=[("Subject", ("long subject line " * 1200)[:20480])]))


def _near_max():
    base = options(48, extra=[("X-Padding", "")])
    pad = 65000 - len(base)
    msg = options(48, extra=[("X-Padding", "p" * pad)])
    assert len(msg) == 65000, len(msg)
    return msg


add(48, "udp-near-max-65000", "udp", "200", "-",
    "single 65000-octet UDP datagram (under the 64 KiB limit; receive buffer must not truncate it)",
    _near_max())
add(49, "tcp-oversize-70k", "tcp", "none", "-",
    "OPTIONS over TCP with a 70000-octet header: message over 64 KiB is dropped as oversize (stream may be closed)",
    options(49, transport="TCP", extra=[("Subject", "x" * 70000)]))

# ---------------------------------------------------------------- valid-but-unusual syntax
_f50 = build("OPTIONS sip:bob@127.0.0.1 SIP/2.0", [
    f"Via: SIP/2.0/UDP 192.0.2.50:5060\r\n ;branch={branch(50)}",
    "Max-Forwards:\r\n\t70",
    f"From: \"Alice\"\r\n <sip:alice@example.com>\r\n  ;tag={ftag(50)}",
    "To:\r\n <sip:bob@127.0.0.1>",
    f"Call-ID: {call_id(50)}",
    "CSeq: 1\r\n   OPTIONS",
    "Subject: a subject that\r\n\t is folded over\r\n   three lines",
])
add(50, "folded-headers", "udp", "200", "-",
    "header values continued on lines starting with SP/HT (Via, Max-Forwards, From, To, CSeq, Subject)", _f50)
_f51 = build("OPTIONS sip:bob@127.0.0.1 SIP/2.0", [
    f"v: SIP/2.0/UDP 192.0.2.51:5060;branch={branch(51)}",
    "Max-Forwards: 70",
    f"f: <sip:alice@example.com>;tag={ftag(51)}",
    "t: <sip:bob@127.0.0.1>",
    f"i: {call_id(51)}",
    "CSeq: 1 OPTIONS",
    "m: <sip:alice@192.0.2.51:5060>",
    "k: path, x-corpus-ext",
    "s: every compact form",
    "c: application/sdp",
    "e: identity",
    "l: 0",
], cl=None)
add(51, "compact-forms-options", "udp", "200", "-",
    "OPTIONS using all compact forms v f t i m k s c e l (empty body)", _f51)
_s52 = sdp(52)
_f52 = build("INVITE sip:bob@127.0.0.1 SIP/2.0", [
    f"v: SIP/2.0/UDP 192.0.2.52:5060;branch={branch(52)}",
    "Max-Forwards: 70",
    f"f: \"Alice\" <sip:alice@example.com>;tag={ftag(52)}",
    "t: <sip:bob@127.0.0.1>",
    f"i: {call_id(52)}",
    "CSeq: 1 INVITE",
    "m: <sip:alice@192.0.2.52:5060>",
    "k: timer",
    "s: compact invite",
    "c: application/sdp",
    f"l: {len(_s52)}",
], _s52, cl=None)
add(52, "compact-forms-invite", "udp", "480", "-",
    "INVITE with compact v f t i m k s c l and an SDP body (k: timer is only Supported, not Required)", _f52)
_f53 = build("OPTIONS sip:bob@127.0.0.1 SIP/2.0", [
    f"vIA: SIP/2.0/UDP 192.0.2.53:5060;branch={branch(53)}",
    "max-FORWARDS: 70",
    f"fRoM: <sip:alice@example.com>;tag={ftag(53)}",
    "TO: <sip:bob@127.0.0.1>",
    f"call-id: {call_id(53)}",
    "CSEQ: 1 OPTIONS",
    "CONTACT: <sip:alice@192.0.2.53:5060>",
    "ACCEPT: application/sdp",
    "CONTENT-length: 0",
], cl=None)
add(53, "mixed-case-names", "udp", "200", "-",
    "header names in odd letter case (names are case-insensitive)", _f53)
add(54, "unknown-headers", "udp", "200", "-",
    "several unknown extension headers incl. token punctuation in the name and an empty value",
    options(54, extra=[
        ("X-Pbxgate-Corpus", "54"),
        ("P-Totally-Unknown", ";;;,,, <> \"quoted\" stuff"),
        ("Odd.Name!%*_+`'~", "token characters in a header name"),
        b"X-Empty:",
    ]))
add(55, "space-before-colon", "udp", "200", "-",
    "whitespace between header name and colon (HCOLON allows SP/HTAB) on Call-ID, CSeq and Subject",
    build("OPTIONS sip:bob@127.0.0.1 SIP/2.0", [
        f"Via: SIP/2.0/UDP 192.0.2.55:5060;branch={branch(55)}",
        "Max-Forwards: 70",
        f"From: <sip:alice@example.com>;tag={ftag(55)}",
        "To: <sip:bob@127.0.0.1>",
        f"Call-ID  : {call_id(55)}",
        "CSeq\t: 1 OPTIONS",
        "Subject \t:\t spaced out",
    ]))

# ---------------------------------------------------------------- methods
add(56, "unknown-method", "udp", "501", "-",
    "unknown extension method FROBNICATE (CSeq matches)", req(56, "FROBNICATE"))
add(57, "token-char-method", "udp", "501", "-",
    "extension method using every token punctuation char (.-_!%*+`'~)", req(57, "x.Y-z_9!%*+`'~"))

# ---------------------------------------------------------------- Via
add(58, "via-ipv6", "udp", "200", "-",
    "top Via sent-by [::1]:5060, second Via [2001:db8::58] without port",
    options(58, replace=("Via", f"SIP/2.0/UDP [::1]:5060;branch={branch(58)}"),
            after=("Via", ("Via", f"SIP/2.0/UDP [2001:db8::58];branch={branch(58, 'b')};received=2001:db8::58"))))
add(59, "via-no-branch", "udp", "200", "-",
    "Via without branch parameter (RFC 2543 client); answered normally",
    options(59, replace=("Via", "SIP/2.0/UDP 192.0.2.59:5060")))
add(60, "via-empty-params", "udp", "400", "Via",
    "Via with an empty parameter ';;' before branch",
    options(60, replace=("Via", f"SIP/2.0/UDP 192.0.2.60:5060;;branch={branch(60)}")))
add(61, "via-bad-protocol-version", "udp", "400", "Via",
    "Via sent-protocol SIP/3.0/UDP",
    options(61, replace=("Via", f"SIP/3.0/UDP 192.0.2.61:5060;branch={branch(61)}")))
add(62, "via-unknown-transport-second", "udp", "200", "-",
    "second Via has an unknown but grammatical transport token (other-transport); top Via is UDP",
    options(62, after=("Via", ("Via", f"SIP/2.0/QUIC-X 192.0.2.162:5099;branch={branch(62, 'b')}"))))

# ---------------------------------------------------------------- CSeq
add(63, "cseq-overflow", "udp", "400", "CSeq",
    "CSeq number 4294967296 (> 2**32-1)",
    options(63, replace=("CSeq", "4294967296 OPTIONS")))
add(64, "cseq-method-mismatch", "udp", "400", "CSeq",
    "OPTIONS request whose CSeq method is INVITE",
    options(64, replace=("CSeq", "1 INVITE")))
add(65, "cseq-no-number", "udp", "400", "CSeq",
    "CSeq has a method but no sequence number",
    options(65, replace=("CSeq", "OPTIONS")))

# ---------------------------------------------------------------- From / To / Contact / Max-Forwards
add(66, "from-unterminated-quote", "udp", "400", "From",
    "From display name opens a quote that never closes",
    options(66, replace=("From", f"\"Alice <sip:alice@example.com>;tag={ftag(66)}")))
add(67, "to-space-in-uri", "udp", "400", "To",
    "To URI inside <> contains unescaped spaces",
    options(67, replace=("To", "<sip:bob smith @ 127.0.0.1>")))
add(68, "contact-unenclosed-query", "udp", "400", "Contact",
    "INVITE Contact is a bare URI (no <>) containing '?' headers",
    invite(68, replace=("Contact", "sip:alice@192.0.2.68:5060?Subject=call%20me")))
add(69, "max-forwards-non-numeric", "udp", "400", "Max-Forwards",
    "Max-Forwards value 'seventy'",
    options(69, replace=("Max-Forwards", "seventy")))
add(70, "max-forwards-zero", "udp", "200", "-",
    "OPTIONS with Max-Forwards: 0 addressed to the gateway itself (endpoint answers, no 483)",
    options(70, replace=("Max-Forwards", "0")))
add(71, "header-without-colon", "udp", "400", "header",
    "a header line with no colon among otherwise valid headers",
    options(71, extra=[b"Subject this line has no colon"]))
add(72, "non-utf8-subject", "udp", "400", "header",
    "Subject value contains byte 0xFF (header section not UTF-8)",
    options(72, extra=[b"Subject: caf\xff menu"]))

# ---------------------------------------------------------------- extensions / content negotiation
add(73, "require-unknown-invite", "udp", "420", "-",
    "INVITE with Require: x-corpus-unknown (unsupported option tag)",
    invite(73, extra=[("Require", "x-corpus-unknown")]))
add(74, "require-timer-options", "udp", "200", "-",
    "OPTIONS with Require: timer (RFC 4028 session timers are supported: no 420)",
    options(74, extra=[("Require", "timer")]))
add(75, "invite-unknown-content-type", "udp", "415", "-",
    "INVITE whose body is text/plain",
    invite(75, body=b"please ring bob\r\n", ctype="text/plain"))
add(76, "invite-accept-no-sdp", "udp", "406", "-",
    "INVITE with an SDP offer and Accept: text/plain, application/x-corpus (no application/sdp)",
    invite(76, extra=[("Accept", "text/plain, application/x-corpus")]))
add(77, "invite-accept-wildcard", "udp", "480", "-",
    "INVITE with Accept: text/html, application/*;q=0.5 (wildcard covers application/sdp so no 406)",
    invite(77, extra=[("Accept", "text/html, application/*;q=0.5")]))
add(78, "invite-content-type-case", "udp", "480", "-",
    "INVITE with Content-Type: Application/SDP (media types are case-insensitive)",
    invite(78, ctype="Application/SDP"))

# ---------------------------------------------------------------- dialog / transaction matching
add(79, "bye-no-dialog", "udp", "481", "-",
    "BYE with From and To tags for a dialog that does not exist",
    req(79, "BYE", "sip:bob@192.0.2.179:5060", cseq=2, to_tag=True))
add(80, "cancel-no-transaction", "udp", "481", "-",
    "CANCEL for an INVITE transaction the gateway never saw",
    req(80, "CANCEL", drop="Contact"))
add(81, "ack-no-match", "udp", "none", "-",
    "ACK (with To tag) that matches no transaction or dialog: silently absorbed",
    req(81, "ACK", to_tag=True))
add(82, "register-out-of-dialog", "udp", "405", "-",
    "REGISTER (gateway is not a registrar)",
    req(82, "REGISTER", "sip:example.com", ruri_user="alice", host="example.com",
        replace=("From", f"<sip:alice@example.com>;tag={ftag(82)}"), extra=[("Expires", "3600")]))
add(83, "subscribe-out-of-dialog", "udp", "405", "-",
    "SUBSCRIBE without To tag",
    req(83, "SUBSCRIBE", "sip:bob@example.com", host="example.com",
        extra=[("Event", "presence"), ("Expires", "600")]))
add(84, "publish-out-of-dialog", "udp", "405", "-",
    "PUBLISH without To tag",
    req(84, "PUBLISH", "sip:alice@example.com", ruri_user="alice", host="example.com",
        drop="Contact", extra=[("Event", "presence"), ("Expires", "300")]))
add(85, "refer-out-of-dialog", "udp", "405", "-",
    "REFER without To tag",
    req(85, "REFER", extra=[("Refer-To", "<sip:carol@example.com>")]))
add(86, "info-with-to-tag", "udp", "481", "-",
    "INFO with a To tag for an unknown dialog",
    req(86, "INFO", to_tag=True, cseq=3, body=b"Signal=5\r\nDuration=160\r\n",
        ctype="application/dtmf-relay"))
add(87, "update-with-to-tag", "udp", "481", "-",
    "UPDATE with a To tag for an unknown dialog",
    req(87, "UPDATE", to_tag=True, cseq=4))
add(88, "prack-with-to-tag", "udp", "481", "-",
    "PRACK with a To tag and RAck for an unknown dialog",
    req(88, "PRACK", to_tag=True, cseq=2, extra=[("RAck", "1 1 INVITE")]))
add(89, "notify-with-to-tag", "udp", "481", "-",
    "NOTIFY with a To tag for an unknown subscription dialog",
    req(89, "NOTIFY", to_tag=True, cseq=5,
        extra=[("Event", "refer"), ("Subscription-State", "terminated;reason=noresource")]))

# ---------------------------------------------------------------- responses
def resp(nn, status_line, method="OPTIONS"):
    hs = [
        ("Via", f"SIP/2.0/UDP 127.0.0.1:5060;branch={branch(nn)}"),
        ("To", f"<sip:bob@example.com>;tag={ttag(nn)}"),
        ("From", f"<sip:pbxgate@127.0.0.1>;tag={ftag(nn)}"),
        ("Call-ID", call_id(nn)),
        ("CSeq", f"1 {method}"),
    ]
    return build(status_line, hs)


add(90, "response-200-valid", "udp", "none", "-",
    "well-formed 200 OK matching no client transaction: responses are never answered", resp(90, "SIP/2.0 200 OK"))
add(91, "response-code-1000", "udp", "none", "-",
    "status code 1000 (four digits)", resp(91, "SIP/2.0 1000 Far Too Big"))
add(92, "response-code-99", "udp", "none", "-",
    "status code 99 (two digits)", resp(92, "SIP/2.0 99 Too Small", "INVITE"))
add(93, "response-code-alpha", "udp", "none", "-",
    "status code 'abc'", resp(93, "SIP/2.0 abc Not A Number"))

# ---------------------------------------------------------------- non-messages
add(94, "udp-crlf-keepalive", "udp", "none", "-",
    "datagram containing only CRLFCRLF (keep-alive)", b"\r\n\r\n")
add(95, "udp-empty-datagram", "udp", "none", "-",
    "zero-length datagram", b"")
_rng = random.Random(95)
_garbage = bytes([0x80 | _rng.randrange(128)]) + bytes(_rng.randrange(256) for _ in range(511))
add(96, "udp-binary-garbage", "udp", "none", "-",
    "512 pseudo-random octets (first octet >= 0x80, includes NULs)", _garbage)


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = ["file\ttransport\texpect\treason_contains\tnote"]
    names = set()
    for nn, name, transport, expect, reason, note, data in E:
        fn = f"{nn:02d}-{name}.sip"
        assert fn not in names
        names.add(fn)
        assert transport in ("udp", "tcp")
        assert (expect == "400") == (reason != "-"), fn
        with open(os.path.join(OUT, fn), "wb") as f:
            f.write(data)
        rows.append("\t".join([fn, transport, expect, reason, note]))
    with open(os.path.join(OUT, "manifest.tsv"), "w", newline="\n") as f:
        f.write("\n".join(rows) + "\n")
    print(f"wrote {len(E)} messages to {OUT}")


if __name__ == "__main__":
    main()
