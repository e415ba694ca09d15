#!/usr/bin/env python3
"""Check the digest responses that tests/sipp/call_cloud_uas_407_headers.xml logged.

usage: verify_digest_log.py LOGFILE USER PASSWORD

sipp 3.6.1's <verifyauth> cannot read Proxy-Authorization, so the scenario writes one
line per authenticated request with its <log> action (sipp -trace_logs -log_file LOGFILE):

    pbxgate-digest|METHOD|Digest username="...", realm="...", nonce="...", uri="...", ...

This script recomputes each response (RFC 2617 / RFC 7616: MD5 or SHA-256, with qop=auth or
without qop) from USER and PASSWORD and compares it with what the gateway sent.
Exit status 0 only if at least one line was found and every line is correct.
"""

import re
import sys

from sipdigest import digest_hash, digest_params, digest_response


def expected(p, method, user, password):
    alg = p.get("algorithm", "MD5").upper()
    h = digest_hash(alg)
    if h is None:
        return None, "unsupported algorithm %s" % alg
    known = (h, user, p.get("realm", ""), password, method, p.get("uri", ""), p.get("nonce", ""))
    if "qop" in p:
        if p["qop"] != "auth":
            return None, "qop=%s (only auth is checked here)" % p["qop"]
        return digest_response(*known, p.get("nc", ""), p.get("cnonce", "")), None
    return digest_response(*known), None


def main():
    if len(sys.argv) != 4:
        print(__doc__.strip().split("\n\n")[1])
        return 2
    path, user, password = sys.argv[1:]
    ok, seen = True, 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.search(r"pbxgate-digest\|([A-Z]+)\|\s*(.*)$", line.rstrip("\r\n"))
            if not m:
                continue
            seen += 1
            method, value = m.group(1), m.group(2)
            if not value.lower().startswith("digest "):
                print("FAIL %s: no Digest credentials: %r" % (method, value))
                ok = False
                continue
            p = digest_params(value[7:])
            want, why = expected(p, method, user, password)
            if want is None:
                print("FAIL %s: %s" % (method, why))
                ok = False
            elif p.get("username") != user:
                print("FAIL %s: username %r, expected %r" % (method, p.get("username"), user))
                ok = False
            elif p.get("response", "").lower() != want:
                print("FAIL %s: response %s, expected %s for %s/%s (realm %r, nonce %r, uri %r)"
                      % (method, p.get("response"), want, user, "*" * len(password),
                         p.get("realm"), p.get("nonce"), p.get("uri")))
                ok = False
            else:
                print("OK   %s: %s" % (method, value))
    if seen == 0:
        print("FAIL: no pbxgate-digest lines in %s (sipp needs -trace_logs -log_file %s)" % (path, path))
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
