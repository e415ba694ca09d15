#!/usr/bin/env python3
"""Helpers of bench/events.sh and bench/cps.sh WEBHOOK=1.

  events.py certs DIR IP            DIR/ca.pem, and DIR/rx.pem + rx.key for IP
  events.py gen DB N SINK           append N call events for SINK to DB's outbox
  events.py serve IP:PORT CERT KEY OUT [EXPECT PIDFILE]
                                    an HTTPS webhook receiver answering 200
  events.py post IP:PORT CA DB N    the anchor: POST DB's N bodies, signed, one
                                    at a time over one keep-alive connection

The receiver is a plain socket loop per connection (no http.server), so it
costs little per request; with EXPECT it records, at the first request and
at the EXPECT-th, the time and the CPU ticks of the process in PIDFILE (the
gateway), so start-up work is not counted, and writes one JSON line to OUT.
Without EXPECT it writes the count to OUT when stopped (SIGTERM).
"""
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import sqlite3
import ssl
import sys
import threading
import time

SECRET = b"bench-secret"


def certs(d, ip):
    import subprocess

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    j = lambda f: os.path.join(d, f)
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-days", "2", "-subj", "/CN=bench CA", "-keyout", j("ca.key"), "-out", j("ca.pem"))
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", f"/CN={ip}", "-keyout", j("rx.key"), "-out", j("rx.csr"))
    with open(j("rx.ext"), "w") as f:
        f.write(f"subjectAltName=IP:{ip}\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", j("rx.csr"), "-CA", j("ca.pem"), "-CAkey", j("ca.key"),
        "-CAcreateserial", "-days", "2", "-extfile", j("rx.ext"), "-out", j("rx.pem"))


def gen(db, n, sink):
    con = sqlite3.connect(db)
    now = int(time.time() * 1000)
    rows = []
    for i in range(n):
        call = i // 3
        event = ("newCall", "answer", "hangup")[i % 3]
        eid = secrets.token_hex(16)
        body = {
            "event": event,
            "id": eid,
            "timestamp": "2026-12-06T09:51:02.417Z",
            "clockSynced": True,
            "direction": "in",
            "from": "<sip:+15551230000@203.0.113.7>;tag=1",
            "to": "<sip:+18885550000@198.51.100.1>",
            "callId": f"bench{call:08x}",
            "user": ["queue-a"],
            "route": "queue-a",
            "target": "sip:queue-a@192.168.1.10:5060",
            "callerCallId": f"{call}-2345@203.0.113.7",
            "calleeCallId": f"a84b1c0e{call}@192.168.1.2",
            "xph": {"uuid": f"{call}-uuid", "afid": "5678", "sid": "sub-7"},
            "headers": {"X-Campaign-ID": "camp-5678"},
            "emergency": False,
        }
        if event != "newCall":
            body["answeringNumber"] = "queue-a"
            body["DialSipHeader_X-Agent"] = "agent-5678"
        if event == "hangup":
            body.update(cause="normalClearing", causeDetail="caller_hangup", status=200, duration=42)
        rows.append((sink, eid, body["callId"], now, json.dumps(body, separators=(",", ":"))))
    con.executemany(
        "INSERT INTO outbox (sink, event_id, call_key, created_ms, body) VALUES (?,?,?,?,?)", rows
    )
    con.commit()
    con.close()


def ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of proc(5); here after the name.
    return int(fields[11]) + int(fields[12])


def serve(addr, cert, key, out, expect=0, pidfile=None):
    ip, port = addr.rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((ip, int(port)))
    lsock.listen(64)
    state = {"n": 0, "first": None}
    lock = threading.Lock()
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    def seen():
        with lock:
            state["n"] += 1
            n = state["n"]
            if expect and n == 1:
                pid = int(open(pidfile).read())
                state["first"] = (time.monotonic(), ticks(pid), pid, time.process_time())
            if expect and n == expect:
                t0, c0, pid, r0 = state["first"]
                dt = time.monotonic() - t0
                hz = os.sysconf("SC_CLK_TCK")
                result = {
                    "events": n,
                    "seconds": dt,
                    "events_per_s": (n - 1) / dt if dt > 0 else 0,
                    "gw_cpu_us_per_event": 1e6 * (ticks(pid) - c0) / hz / (n - 1),
                    "rx_cpu_pct": 100 * (time.process_time() - r0) / dt if dt > 0 else 0,
                }
                with open(out, "w") as f:
                    f.write(json.dumps(result) + "\n")

    def conn(c):
        try:
            s = ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            return
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                buf = buf[length:]
                seen()
                s.sendall(answer)
        except (ssl.SSLError, OSError):
            return

    def stop(*_):
        if not expect:
            with open(out, "w") as f:
                f.write(json.dumps({"events": state["n"]}) + "\n")
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    while True:
        c, _ = lsock.accept()
        threading.Thread(target=conn, args=(c,), daemon=True).start()


def post(addr, ca, db, n):
    ip, port = addr.rsplit(":", 1)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT event_id, body FROM outbox ORDER BY seq LIMIT ?", (n,)).fetchall()
    ctx = ssl.create_default_context(cafile=ca)
    s = ctx.wrap_socket(socket.create_connection((ip, int(port))), server_hostname=ip)
    t0, c0 = time.monotonic(), time.process_time()
    for eid, body in rows:
        raw = body.encode()
        ts = str(int(time.time()))
        sig = hmac.new(SECRET, ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
        head = (
            f"POST /events HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(raw)}\r\nConnection: keep-alive\r\nX-Pbxgate-Event-Id: {eid}\r\n"
            f"X-Pbxgate-Timestamp: {ts}\r\nX-Pbxgate-Signature: v1={sig}\r\n\r\n"
        )
        s.sendall(head.encode() + raw)
        got = b""
        while not got.endswith(b"\r\n\r\nok"):
            d = s.recv(4096)
            if not d:
                sys.exit("the receiver closed the connection")
            got += d
    dt = time.monotonic() - t0
    cpu = time.process_time() - c0
    print(json.dumps({"events": len(rows), "events_per_s": len(rows) / dt,
                      "client_cpu_us_per_event": 1e6 * cpu / len(rows)}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "certs":
        certs(args[0], args[1])
    elif cmd == "gen":
        gen(args[0], int(args[1]), args[2])
    elif cmd == "serve":
        serve(args[0], args[1], args[2], args[3], int(args[4]) if len(args) > 4 else 0,
              args[5] if len(args) > 5 else None)
    elif cmd == "post":
        post(args[0], args[1], args[2], int(args[3]))
    else:
        sys.exit(__doc__)
