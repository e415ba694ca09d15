#!/usr/bin/env python3
"""What tests/image/boot.sh and update.sh ask of the booted image, over
qemu's forwarded loopback ports (standard library only).

  check.py sip-ready PORT SECONDS
      sends SIP OPTIONS to 127.0.0.1:PORT once a second until a 200 comes
      back; prints the seconds it took; exit 1 at the deadline
  check.py first-login WEBPORT CONSOLE_LOG NEW_PASSWORD
      reads the certificate fingerprint and the one-time admin password
      from the console log, checks the login page over HTTPS against that
      fingerprint, logs in, sets NEW_PASSWORD
  check.py set-calls WEBPORT CONSOLE_LOG PASSWORD VALUE
      logs in and sets [calls] max_concurrent to VALUE through the API
  check.py get-calls WEBPORT CONSOLE_LOG PASSWORD
      logs in and prints [calls] max_concurrent as the API gives it
  check.py slots WEBPORT CONSOLE_LOG PASSWORD
      logs in and prints GET /api/v1/system/slots (JSON)
  check.py slots-page WEBPORT CONSOLE_LOG PASSWORD
      logs in and prints the System page's slot table, one row a line:
      BOOTNAME|VERSION|STATE ("*" before a booted slot's name)
  check.py set-update WEBPORT CONSOLE_LOG PASSWORD TIMEOUT_S ATTEMPTS
      logs in and sets [update] health_timeout_s and boot_attempts
  check.py upload WEBPORT CONSOLE_LOG PASSWORD BUNDLE [reboot]
      logs in and POSTs the bundle file to /api/v1/system/update (with
      ?reboot=true for "reboot"); prints {"status": N, "answer": {...}}
  check.py power-button QMP_SOCKET
      presses the virtual machine's ACPI power button (a clean shutdown)
"""

import os

import hashlib
import http.client
import json
import re
import socket
import ssl
import sys
import time
import urllib.parse


def fail(msg):
    print(f"check.py: {msg}", file=sys.stderr)
    sys.exit(1)


# --- SIP ---------------------------------------------------------------------


def options(port, local_port, n):
    branch = f"z9hG4bK-image-{n}-{time.monotonic_ns()}"
    return (
        f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:image-test@127.0.0.1>;tag=image{n}\r\n"
        f"To: <sip:ping@127.0.0.1:{port}>\r\n"
        f"Call-ID: image-test-{n}-{time.monotonic_ns()}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def sip_ready(port, seconds):
    start = time.monotonic()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(1.0)
    n = 0
    while time.monotonic() - start < seconds:
        n += 1
        sock.sendto(options(port, sock.getsockname()[1], n), ("127.0.0.1", port))
        try:
            data, _ = sock.recvfrom(65535)
        except (socket.timeout, ConnectionRefusedError):
            time.sleep(0.5)
            continue
        first = data.split(b"\r\n", 1)[0]
        if first.startswith(b"SIP/2.0 200"):
            print(f"{time.monotonic() - start:.0f}")
            return
        fail(f"OPTIONS answered {first!r}, not 200")
    fail(f"no 200 to OPTIONS on 127.0.0.1:{port} within {seconds} s")


# --- the web page ------------------------------------------------------------


def banner(console_log):
    """The certificate fingerprint and the one-time password the gateway
    printed on the console (the last start's, when it started twice)."""
    text = open(console_log, encoding="utf-8", errors="replace").read()
    prints = re.findall(r"certificate SHA-256 ([0-9A-F:]{95})", text)
    passwords = re.findall(r"web login: admin / (\S+) \(one-time", text)
    return (prints[-1] if prints else None), (passwords[-1] if passwords else None)


class Web:
    def __init__(self, port, fingerprint):
        self.port = port
        self.fingerprint = fingerprint.replace(":", "").lower()
        self.cookie = None
        self.csrf = None
        # The box's certificate is self-signed: it is checked by the
        # fingerprint the console showed, not by a CA.
        self.tls = ssl.create_default_context()
        self.tls.check_hostname = False
        self.tls.verify_mode = ssl.CERT_NONE

    def send(self, method, path, body=None, kind=None, length=None, timeout=30):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls, timeout=timeout)
        headers = {}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if method != "GET" and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        if body is not None:
            headers["Content-Type"] = kind
        if length is not None:
            # A file body is streamed; http.client needs its length given.
            headers["Content-Length"] = str(length)
        conn.request(method, path, body=body, headers=headers)
        der = conn.sock.getpeercert(binary_form=True)
        got = hashlib.sha256(der).hexdigest()
        if got != self.fingerprint:
            fail(f"the web page's certificate is {got}, the console said {self.fingerprint}")
        r = conn.getresponse()
        text = r.read().decode("utf-8", errors="replace")
        conn.close()
        return r.status, r.getheader("Location"), r.getheader("Set-Cookie"), text

    def form(self, path, pairs):
        if self.csrf:
            pairs = pairs + [("csrf", self.csrf)]
        return self.send("POST", path, urllib.parse.urlencode(pairs), "application/x-www-form-urlencoded")

    def log_in(self, user, password):
        status, location, cookie, _ = self.form("/login", [("user", user), ("password", password)])
        if status != 303 or not cookie:
            fail(f"login as {user} answered {status} (location {location})")
        self.cookie = cookie.split(";", 1)[0]
        _, _, _, page = self.send("GET", location or "/")
        m = re.search(r'name="csrf" value="([^"]+)"', page)
        self.csrf = m.group(1) if m else None
        return location


def web_for(port, console_log):
    fingerprint, one_time = banner(console_log)
    if not fingerprint:
        fail(f"no certificate fingerprint in {console_log}")
    return Web(port, fingerprint), one_time


def first_login(port, console_log, new_password):
    web, one_time = web_for(port, console_log)
    if not one_time:
        fail(f"no one-time password in {console_log}")
    status, _, _, page = web.send("GET", "/login")
    if status != 200 or 'name="password"' not in page:
        fail(f"GET /login answered {status} without a password field")
    if web.log_in("admin", one_time) != "/first-password":
        fail("the one-time password did not lead to /first-password")
    status, location, _, _ = web.form("/first-password", [("password", new_password), ("confirm", new_password)])
    if (status, location) != (303, "/"):
        fail(f"setting the password answered {status} (location {location})")
    print("logged in over HTTPS with the one-time password and set a new one")


def calls(port, console_log, password):
    web, _ = web_for(port, console_log)
    if web.log_in("admin", password) != "/":
        fail("login with the password set before did not lead to /")
    status, _, _, body = web.send("GET", "/api/v1/config/calls")
    if status != 200:
        fail(f"GET /api/v1/config/calls answered {status}: {body}")
    return web, json.loads(body)


def set_calls(port, console_log, password, value):
    web, section = calls(port, console_log, password)
    section["max_concurrent"] = value
    status, _, _, body = web.send("PUT", "/api/v1/config/calls", json.dumps(section), "application/json")
    if status != 200:
        fail(f"PUT /api/v1/config/calls answered {status}: {body}")
    _, again = calls(port, console_log, password)
    if again.get("max_concurrent") != value:
        fail(f"max_concurrent reads {again.get('max_concurrent')} right after setting {value}")
    print(f"[calls] max_concurrent = {value} through the API")


# --- updates -----------------------------------------------------------------


def logged_in(port, console_log, password):
    web, _ = web_for(port, console_log)
    if web.log_in("admin", password) != "/":
        fail("login with the password set before did not lead to /")
    return web


def slots(port, console_log, password):
    web = logged_in(port, console_log, password)
    status, _, _, body = web.send("GET", "/api/v1/system/slots")
    if status != 200:
        fail(f"GET /api/v1/system/slots answered {status}: {body}")
    print(json.dumps(json.loads(body)))


def slots_page(port, console_log, password):
    web = logged_in(port, console_log, password)
    status, _, _, page = web.send("GET", "/system")
    if status != 200:
        fail(f"GET /system answered {status}")
    table = re.search(r'<table id="slots">(.*?)</table>', page, re.S)
    if not table:
        fail("the System page has no slot table")
    rows = re.findall(r'<tr data-slot="[^"]*"( class="booted")?><td>(\w+) \([^)]*\)</td><td>([^<]*)</td><td>([^<]*)</td>', table.group(1))
    if not rows:
        fail(f"no slot rows in {table.group(0)}")
    for booted, name, version, state in rows:
        print(f"{'*' if booted else ''}{name}|{version}|{state}")


def set_update(port, console_log, password, timeout_s, attempts):
    web = logged_in(port, console_log, password)
    status, _, _, body = web.send("GET", "/api/v1/config/update")
    if status != 200:
        fail(f"GET /api/v1/config/update answered {status}: {body}")
    section = json.loads(body)
    section["health_timeout_s"] = timeout_s
    section["boot_attempts"] = attempts
    status, _, _, body = web.send("PUT", "/api/v1/config/update", json.dumps(section), "application/json")
    if status != 200:
        fail(f"PUT /api/v1/config/update answered {status}: {body}")
    print(f"[update] health_timeout_s = {timeout_s}, boot_attempts = {attempts} through the API")


def upload(port, console_log, password, bundle, reboot):
    web = logged_in(port, console_log, password)
    path = "/api/v1/system/update" + ("?reboot=true" if reboot else "")
    with open(bundle, "rb") as f:
        # Checking and installing a slot's image takes a while under TCG.
        status, _, _, body = web.send(
            "POST", path, f, "application/octet-stream", length=os.path.getsize(bundle), timeout=600
        )
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {"body": body}
    print(json.dumps({"status": status, "answer": answer}))


# --- qemu --------------------------------------------------------------------


def power_button(qmp_socket):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(qmp_socket)
    replies = sock.makefile("r", encoding="utf-8")
    json.loads(replies.readline())  # the greeting
    for command in ("qmp_capabilities", "system_powerdown"):
        sock.sendall(json.dumps({"execute": command}).encode() + b"\n")
        while True:
            reply = json.loads(replies.readline())
            if "event" in reply:
                continue
            if "return" not in reply:
                fail(f"qemu refused {command}: {reply}")
            break
    sock.close()


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    what, args = argv[1], argv[2:]
    if what == "sip-ready" and len(args) == 2:
        sip_ready(int(args[0]), float(args[1]))
    elif what == "first-login" and len(args) == 3:
        first_login(int(args[0]), args[1], args[2])
    elif what == "set-calls" and len(args) == 4:
        set_calls(int(args[0]), args[1], args[2], int(args[3]))
    elif what == "power-button" and len(args) == 1:
        power_button(args[0])
    elif what == "slots" and len(args) == 3:
        slots(int(args[0]), args[1], args[2])
    elif what == "slots-page" and len(args) == 3:
        slots_page(int(args[0]), args[1], args[2])
    elif what == "set-update" and len(args) == 5:
        set_update(int(args[0]), args[1], args[2], int(args[3]), int(args[4]))
    elif what == "upload" and len(args) in (4, 5):
        if len(args) == 5 and args[4] != "reboot":
            fail(__doc__)
        upload(int(args[0]), args[1], args[2], args[3], len(args) == 5)
    elif what == "get-calls" and len(args) == 3:
        _, section = calls(int(args[0]), args[1], args[2])
        print(section.get("max_concurrent"))
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
