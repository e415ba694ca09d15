#!/usr/bin/env python3
"""Digest replay check against pbxgate's WAN side (a raw-UDP SIP UAC, no dependencies).

usage: digest_replay.py HOST PORT USER PASSWORD [--bind IP[:PORT]] [--user-part 1000]
                        [--timeout SECONDS]

Why not sipp: sipp's [authentication] keyword recomputes the Authorization header for every
message (fresh random cnonce, nonce-count incremented per use), and sipp cannot capture a
header it sent itself, so it cannot re-send a byte-identical Authorization header.

The exchange (UDP, every INVITE retransmitted per RFC 3261 timer A, T1 = 500 ms):
  1. INVITE (CSeq 1, no credentials)   -> expects 401 with a Digest WWW-Authenticate; ACK.
  2. INVITE (same Call-ID, CSeq 2) with Authorization computed here with hashlib
     (MD5 or SHA-256 as the challenge says, qop=auth, nc=00000001, uri = Request-URI)
     -> expects a final response that is not 401/403/407 (480 while routing is not built);
     ACK (a 2xx is ACKed and the call is ended with BYE).
  3. The replay: a brand-new INVITE (new Call-ID, From tag and branch, CSeq 1) carrying the
     byte-identical Authorization header of step 2 (same nonce, same nc=00000001, same cnonce
     and response)  -> must be answered 403; ACK.

Exit status: 0 = the replay was refused with 403;
             1 = the replay got something else (printed);
             2 = the set-up steps did not go as expected (no 401, credentials refused, timeout...).
Everything sent and received is summarised on stdout (first lines, and the Authorization).
"""

import argparse
import re
import socket
import sys
import time

from sipdigest import digest_hash, digest_params, digest_response, header, rnd

T1 = 0.5


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("--bind", default="127.0.0.1:0",
                    help="local address to bind, IP[:PORT] (default 127.0.0.1, any port)")
    ap.add_argument("--user-part", default="1000", help="user part of the Request-URI")
    ap.add_argument("--timeout", type=float, default=8.0,
                    help="seconds to wait for each final response")
    return ap.parse_args()


def status(msg):
    m = re.match(r"SIP/2\.0 (\d{3})", msg)
    return int(m.group(1)) if m else None


def parse_challenge(value):
    if not value or not value.lower().startswith("digest"):
        return None
    return digest_params(value)


def digest_header(ch, method, uri, user, password):
    alg = ch.get("algorithm", "MD5")
    h = digest_hash(alg)
    if h is None:
        raise SystemExit("unsupported digest algorithm %r" % alg)
    parts = ['username="%s"' % user, 'realm="%s"' % ch["realm"], 'nonce="%s"' % ch["nonce"],
             'uri="%s"' % uri]
    qops = [q.strip() for q in ch.get("qop", "").split(",") if q.strip()]
    if qops:
        if "auth" not in qops:
            raise SystemExit("server offers qop=%s, only auth is supported here" % ch["qop"])
        nc, cnonce = "00000001", rnd(64)
        resp = digest_response(h, user, ch["realm"], password, method, uri, ch["nonce"], nc, cnonce)
        parts += ['response="%s"' % resp, "algorithm=%s" % alg, 'cnonce="%s"' % cnonce,
                  "qop=auth", "nc=%s" % nc]
    else:
        resp = digest_response(h, user, ch["realm"], password, method, uri, ch["nonce"])
        parts += ['response="%s"' % resp, "algorithm=%s" % alg]
    if "opaque" in ch:
        parts.append('opaque="%s"' % ch["opaque"])
    return "Authorization: Digest " + ", ".join(parts)


class Uac:
    def __init__(self, args):
        ip, _, port = args.bind.partition(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, int(port or 0)))
        self.local = self.sock.getsockname()
        self.remote = (args.host, args.port)
        self.args = args
        self.ruri = "sip:%s@%s:%d" % (args.user_part, args.host, args.port)

    def dialog(self):
        return {"call_id": rnd(64) + "@pbxgate-replay", "from_tag": rnd()}

    def build(self, method, dlg, cseq, branch, to=None, extra=(), ruri=None):
        lines = [
            "%s %s SIP/2.0" % (method, ruri or self.ruri),
            "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (self.local[0], self.local[1], branch),
            "Max-Forwards: 70",
            "From: <sip:replay@%s:%d>;tag=%s" % (self.local[0], self.local[1], dlg["from_tag"]),
            "To: %s" % (to or "<%s>" % self.ruri),
            "Call-ID: %s" % dlg["call_id"],
            "CSeq: %d %s" % (cseq, method),
            "Contact: <sip:replay@%s:%d>" % self.local,
            "User-Agent: pbxgate-tests digest_replay.py",
        ]
        lines += list(extra)
        lines.append("Content-Length: 0")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def send(self, data, label):
        self.sock.sendto(data, self.remote)
        print(">> %s" % label)

    def invite(self, dlg, cseq, label, extra=()):
        """Send an INVITE, retransmit per timer A, return (final response, branch)."""
        branch = "z9hG4bK" + rnd(48)
        data = self.build("INVITE", dlg, cseq, branch, extra=extra)
        self.send(data, "%s: INVITE %s CSeq %d" % (label, self.ruri, cseq))
        deadline = time.time() + self.args.timeout
        interval, next_tx = T1, time.time() + T1
        provisional = False
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, min(next_tx, deadline) - time.time()))
            try:
                raw, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                if not provisional and time.time() >= next_tx:
                    self.sock.sendto(data, self.remote)
                    interval *= 2
                    next_tx = time.time() + interval
                continue
            msg = raw.decode(errors="replace")
            code = status(msg)
            if code is None or branch not in (header(msg, "Via") or ""):
                continue  # a request, or a late response of an earlier transaction
            print("<< %s" % msg.split("\r\n", 1)[0])
            if code < 200:
                provisional = True
                continue
            return msg, branch
        return None, branch

    def ack(self, dlg, cseq, branch, final, label):
        """ACK a final response: non-2xx in the INVITE transaction, 2xx as a new transaction."""
        code = status(final)
        to = header(final, "To")
        if code >= 300:
            self.send(self.build("ACK", dlg, cseq, branch, to=to), "%s: ACK for %d" % (label, code))
            return
        target = re.search(r"<([^>]+)>", header(final, "Contact") or "")
        ruri = target.group(1) if target else self.ruri
        self.send(self.build("ACK", dlg, cseq, "z9hG4bK" + rnd(48), to=to, ruri=ruri),
                  "%s: ACK for %d" % (label, code))
        self.send(self.build("BYE", dlg, cseq + 1, "z9hG4bK" + rnd(48), to=to, ruri=ruri),
                  "%s: BYE" % label)


def main():
    args = parse_args()
    uac = Uac(args)
    print("local %s:%d -> %s:%d" % (uac.local + uac.remote))

    dlg = uac.dialog()
    final, branch = uac.invite(dlg, 1, "step 1")
    if final is None:
        print("FAIL: no final response to the unauthenticated INVITE")
        return 2
    uac.ack(dlg, 1, branch, final, "step 1")
    if status(final) != 401:
        print("FAIL: step 1 wanted 401, got %d" % status(final))
        return 2
    ch = parse_challenge(header(final, "WWW-Authenticate"))
    if not ch or "nonce" not in ch or "realm" not in ch:
        print("FAIL: 401 without a usable Digest WWW-Authenticate: %r" % header(final, "WWW-Authenticate"))
        return 2
    print("   challenge: %s" % header(final, "WWW-Authenticate"))

    auth = digest_header(ch, "INVITE", uac.ruri, args.user, args.password)
    print("   %s" % auth)
    final, branch = uac.invite(dlg, 2, "step 2", extra=[auth])
    if final is None:
        print("FAIL: no final response to the authenticated INVITE")
        return 2
    uac.ack(dlg, 2, branch, final, "step 2")
    if status(final) in (401, 403, 407):
        print("FAIL: the authenticated INVITE was refused (%d): wrong USER/PASSWORD?" % status(final))
        return 2

    replay = uac.dialog()
    final, branch = uac.invite(replay, 1, "step 3 (replay, same Authorization)", extra=[auth])
    if final is None:
        print("FAIL: no final response to the replayed INVITE")
        return 1
    uac.ack(replay, 1, branch, final, "step 3")
    if status(final) == 403:
        print("OK: replayed Authorization (same nonce, nc=00000001) refused with 403")
        return 0
    print("FAIL: replayed Authorization answered %s, wanted 403" % final.split("\r\n", 1)[0])
    return 1


if __name__ == "__main__":
    sys.exit(main())
