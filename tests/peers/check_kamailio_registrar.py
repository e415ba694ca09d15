#!/usr/bin/env python3
"""Check a registrar started with tests/peers/kamailio_registrar.sh, over raw UDP (no dependencies).

usage: check_kamailio_registrar.py HOST PORT ALGORITHM USER PASSWORD [--bind IP] [--realm R]

Steps (each must give the stated answer, else exit 1 and say why):
  1. REGISTER, no credentials                 -> 401, WWW-Authenticate Digest with
                                                 algorithm=ALGORITHM, qop containing auth, the realm
  2. REGISTER + Authorization (hashlib, ALGORITHM, qop=auth, nc=00000001), Expires: 60
                                              -> 200, Contact lists our binding, top Via of the 200
                                                 has rport=<our port> (RFC 3581)
  3. the same nonce again with nc=00000002    -> 200 (nonce-count: a cached nonce may be re-used)
  4. the same nonce and nc=00000002 again     -> not 200 (replayed nonce-count: re-challenged)
  5. wrong password on a fresh nonce          -> not 200 (401 again, or 403 with REJECT_BAD_AUTH_403)
  6. un-REGISTER (Expires: 0) with credentials -> 200 without our binding
Exit status 0 when all steps passed. Everything received is summarised on stdout.
This is both a self-test of the Kamailio peer and an executable example of the exchange the
gateway must perform.
"""

import argparse
import socket
import sys

from sipdigest import digest_hash, digest_params, digest_response, header, rnd


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("algorithm", choices=["MD5", "SHA-256"])
    ap.add_argument("user")
    ap.add_argument("password")
    ap.add_argument("--bind", default="127.0.0.1", help="local IP to send from (any port)")
    ap.add_argument("--realm", default="kamailio.test")
    return ap.parse_args()


def status(msg):
    return int(msg.split(" ", 2)[1])


def challenge(msg):
    return digest_params(header(msg, "WWW-Authenticate") or "")


class Client:
    def __init__(self, a):
        self.a = a
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((a.bind, 0))
        self.sock.settimeout(3)
        self.local = self.sock.getsockname()
        self.ruri = "sip:%s:%d" % (a.host, a.port)
        self.call_id = rnd(64) + "@check-kamailio"
        self.tag = rnd()
        self.cseq = 0
        self.contact = "sip:%s@%s:%d" % (a.user, self.local[0], self.local[1])

    def auth(self, ch, password, nc):
        alg = self.a.algorithm
        cnonce = rnd(64)
        resp = digest_response(digest_hash(alg), self.a.user, ch["realm"], password, "REGISTER",
                               self.ruri, ch["nonce"], "%08x" % nc, cnonce)
        opaque = ', opaque="%s"' % ch["opaque"] if "opaque" in ch else ""
        return ('Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", '
                'response="%s", algorithm=%s, cnonce="%s", qop=auth, nc=%08x%s'
                % (self.a.user, ch["realm"], ch["nonce"], self.ruri, resp, alg, cnonce, nc, opaque))

    def register(self, expires, auth=None):
        self.cseq += 1
        branch = "z9hG4bK" + rnd(48)
        lines = [
            "REGISTER %s SIP/2.0" % self.ruri,
            "Via: SIP/2.0/UDP %s:%d;branch=%s;rport" % (self.local[0], self.local[1], branch),
            "Max-Forwards: 70",
            "From: <sip:%s@%s>;tag=%s" % (self.a.user, self.a.host, self.tag),
            "To: <sip:%s@%s>" % (self.a.user, self.a.host),
            "Call-ID: %s" % self.call_id,
            "CSeq: %d REGISTER" % self.cseq,
            "Contact: <%s>" % self.contact,
            "Expires: %d" % expires,
            "User-Agent: pbxgate-tests check_kamailio_registrar.py",
        ]
        if auth:
            lines.append(auth)
        lines.append("Content-Length: 0")
        self.sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), (self.a.host, self.a.port))
        while True:
            msg = self.sock.recv(65535).decode(errors="replace")
            if branch in (header(msg, "Via") or "") and status(msg) >= 200:
                return msg


def main():
    a = parse_args()
    c = Client(a)
    failures = []

    def expect(step, cond, msg, what):
        line = msg.split("\r\n", 1)[0]
        print("%s %-48s <- %s" % ("ok  " if cond else "FAIL", step, line))
        if not cond:
            failures.append("%s: %s" % (step, what))
            print("     " + msg.replace("\r\n", "\n     "))
        return cond

    try:
        r = c.register(60)
        ch = challenge(r)
        print("     WWW-Authenticate: %s" % header(r, "WWW-Authenticate"))
        if not expect("1 REGISTER without credentials -> 401", status(r) == 401 and "nonce" in ch, r,
                      "wanted 401 with a nonce"):
            return 1
        expect("  challenge algorithm=%s" % a.algorithm,
               ch.get("algorithm", "MD5").upper() == a.algorithm, r, "algorithm %r" % ch.get("algorithm"))
        expect("  challenge qop=auth", "auth" in ch.get("qop", "").split(","), r, "qop %r" % ch.get("qop"))
        expect("  challenge realm=%s" % a.realm, ch.get("realm") == a.realm, r, "realm %r" % ch.get("realm"))

        r = c.register(60, c.auth(ch, a.password, 1))
        if expect("2 REGISTER + %s Authorization nc=1 -> 200" % a.algorithm, status(r) == 200, r,
                  "wanted 200"):
            expect("  200 lists our Contact", c.contact in (header(r, "Contact") or ""), r, "Contact")
            expect("  200 Via has rport=%d" % c.local[1],
                   ";rport=%d" % c.local[1] in (header(r, "Via") or ""), r, "Via rport")
            print("     Via: %s\n     Contact: %s" % (header(r, "Via"), header(r, "Contact")))

        r = c.register(60, c.auth(ch, a.password, 2))
        expect("3 same nonce, nc=2 -> 200", status(r) == 200, r, "wanted 200 (nonce re-use)")

        r = c.register(60, c.auth(ch, a.password, 2))
        expect("4 same nonce, nc=2 again (replay) -> not 200", status(r) != 200, r,
               "replayed nc accepted")

        r = c.register(60)
        ch = challenge(r)
        r = c.register(60, c.auth(ch, a.password + "-wrong", 1))
        expect("5 wrong password -> not 200", status(r) != 200, r, "wrong password accepted")

        r = c.register(0)
        ch = challenge(r)
        r = c.register(0, c.auth(ch, a.password, 1))
        if expect("6 un-REGISTER (Expires: 0) -> 200", status(r) == 200, r, "wanted 200"):
            expect("  binding gone", c.contact not in (header(r, "Contact") or ""), r,
                   "Contact still listed")
    except socket.timeout:
        print("FAIL: no answer from %s:%d within 3 s" % (a.host, a.port))
        return 1

    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("PASSED: %s digest registration against %s:%d" % (a.algorithm, a.host, a.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
