"""What the raw-UDP SIP checkers in tests/peers share: reading a header, random tokens,
and HTTP digest as RFC 7616 (and RFC 2617 before it) computes it. Standard library only.
"""

import hashlib
import random
import re

# RFC 7616 §3.4.2 / RFC 8760: the algorithms these checkers can compute.
_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def rnd(bits=32):
    return "%x" % random.getrandbits(bits)


def header(msg, name):
    """The value of the first `name` header (any case), or None."""
    m = re.search(r"^%s[ \t]*:[ \t]*(.*?)\r?$" % re.escape(name), msg, re.M | re.I)
    return m.group(1) if m else None


def digest_params(value):
    """The auth-params of a challenge or credentials (without the scheme), names
    lower-cased, quoted values unquoted."""
    return {k.lower(): (v1 if v2 == "" else v2)
            for k, v1, v2 in re.findall(r'([A-Za-z-]+)\s*=\s*(?:"([^"]*)"|([^,\s"]+))', value)}


def digest_hash(algorithm):
    """H() of `algorithm` (any case) as a function of a string, or None when unknown."""
    f = _HASHES.get(algorithm.upper())
    return None if f is None else (lambda s: f(s.encode()).hexdigest())


def digest_response(h, user, realm, password, method, uri, nonce, nc=None, cnonce=None):
    """The response (RFC 7616 §3.4.1): with qop=auth when nc (8 hex digits) and cnonce
    are given, else the RFC 2069 form without qop."""
    ha1 = h("%s:%s:%s" % (user, realm, password))
    ha2 = h("%s:%s" % (method, uri))
    if nc is None:
        return h("%s:%s:%s" % (ha1, nonce, ha2))
    return h("%s:%s:%s:%s:auth:%s" % (ha1, nonce, nc, cnonce, ha2))
