#!/usr/bin/env bash
# Webhook delivery rate: events per second from an outbox pre-filled with N
# events to a local HTTPS receiver, beside the receiver's own ceiling.
# usage: bench/events.sh [N]   (default 20000)
# pbxgate pinned to CPU 0, the receiver (bench/events.py serve) to CPU 1.
# 1. A data dir's pbxgate.db is made by one start of pbxgate without
#    webhooks; N events (newCall/answer/hangup, ~700 bytes of JSON each) are
#    appended to its outbox for sink "crm" with python's sqlite3.
# 2. anchor: bench/events.py post (python, CPU 0) sends the same N bodies,
#    signed, one at a time over one keep-alive TLS connection to the same
#    receiver: what this receiver takes at most from a client that does
#    nothing else.
# 3. pbxgate starts with [[webhook]] crm (json, secret, ca_file of a CA made
#    here) and delivers the outbox; the receiver notes the time and pbxgate's
#    utime+stime at the first request and at the N-th.
# Addresses 127.0.214.1 (gateway), 127.0.214.2:9443 and :9444 (receivers).
set -u
N=${1:-20000}
root=$(cd "$(dirname "$0")/.." && pwd)
py="$root/bench/events.py"
[ -x "$root/target/release/pbxgate" ] || (cd "$root" && cargo build --release >/dev/null 2>&1)
w=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.3; rm -rf "$w"; }
trap cleanup EXIT
ip=127.0.214.2

# A CA of our own and a certificate for the receiver's address.
python3 "$py" certs "$w" "$ip"

listeners='
[[listener]]
name = "wan"
side = "wan"
bind = "127.0.214.1:25160"
transports = ["udp"]

[[listener]]
name = "lan"
side = "lan"
bind = "127.0.214.1:25180"
transports = ["udp"]

[web]
enabled = false

[log]
level = "warn"
'
start_gw() {
  : > "$w/gw.log"; chmod 600 "$w/pbxgate.toml"
  taskset -c 0 "$root/target/release/pbxgate" --data-dir "$w" >"$w/gw.log" 2>&1 &
  gp=$!; pids+=($gp); echo "$gp" > "$w/gw.pid"
  for _ in $(seq 100); do grep -q "history:" "$w/gw.log" 2>/dev/null && return 0; sleep 0.05; done
  echo "pbxgate did not start:" >&2; cat "$w/gw.log" >&2; exit 1
}

# 1. The store, then the events.
echo "$listeners" > "$w/pbxgate.toml"
start_gw
kill "$gp"; wait "$gp" 2>/dev/null
python3 "$py" gen "$w/pbxgate.db" "$N" crm || exit 1
bytes=$(sqlite3 "$w/pbxgate.db" "SELECT sum(length(body)) FROM outbox WHERE sink = 'crm'")

# 2. The anchor, against a receiver of its own (same code, same CPU).
taskset -c 1 python3 "$py" serve "$ip:9444" "$w/rx.pem" "$w/rx.key" "$w/anchor_rx.json" &
pids+=($!); ap=$!
sleep 0.5
anchor=$(taskset -c 0 python3 "$py" post "$ip:9444" "$w/ca.pem" "$w/pbxgate.db" "$N") || exit 1
kill "$ap"

# 3. pbxgate.
taskset -c 1 python3 "$py" serve "$ip:9443" "$w/rx.pem" "$w/rx.key" "$w/rx.json" "$N" "$w/gw.pid" &
pids+=($!)
sleep 0.5
cat > "$w/pbxgate.toml" <<TOML
[[webhook]]
name = "crm"
url = "https://$ip:9443/events"
format = "json"
secret = "bench-secret"
ca_file = "$w/ca.pem"
$listeners
TOML
start_gw
for _ in $(seq $((N / 10 + 600))); do [ -s "$w/rx.json" ] && break; sleep 0.1; done
[ -s "$w/rx.json" ] || { echo "the receiver did not get $N events:" >&2; tail -20 "$w/gw.log" >&2; exit 1; }
left=$(sqlite3 "$w/pbxgate.db" "SELECT count(*) FROM outbox WHERE sink = 'crm'" 2>/dev/null)
python3 - "$(cat "$w/rx.json")" "$anchor" "$N" "$bytes" "$left" <<'PY'
import json, sys
ours, anchor = json.loads(sys.argv[1]), json.loads(sys.argv[2])
n, nbytes, left = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
print(f"pbxgate events={n} body_bytes_avg={nbytes // n} events_per_s={ours['events_per_s']:.0f} "
      f"cpu_us_per_event={ours['gw_cpu_us_per_event']:.0f} receiver_cpu_pct={ours['rx_cpu_pct']:.0f} "
      f"left_in_outbox={left}")
print(f"anchor (python client, one keep-alive connection, same receiver) events_per_s="
      f"{anchor['events_per_s']:.0f} client_cpu_us_per_event={anchor['client_cpu_us_per_event']:.0f}")
print(f"ratio pbxgate/anchor events_per_s={ours['events_per_s'] / anchor['events_per_s']:.2f}")
PY
