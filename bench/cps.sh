#!/usr/bin/env bash
# Call rate through pbxgate beside the Kamailio anchor, same load, same run.
# usage: bench/cps.sh RATE SECONDS
# sipp UAC -> pbxgate (WAN 127.0.0.1:25060, allowlist + X-PH-RetreaverAFID
# routing) -> sipp UAS queues on 25071/25072, zero hold time; pbxgate pinned
# to CPU 0, sipp to CPU 1. Prints calls ok/failed, pbxgate CPU time per call
# and its RSS/PSS, then ../shared/bench/cps/kamailio.sh RATE SECONDS and the
# CPU-per-call ratio.
# STATUS_REFRESH=1: while the calls run, a client reads the status page and
# /api/v1/status once a second with a session, as an open browser does
# (what status.js asks for); the line then says refresh=1.
# WEBHOOK=1: one [[webhook]] (json, secret, ca_file) to a local HTTPS
# receiver answering 200 (bench/events.py serve on 127.0.214.2:9445, CPU 1);
# the line then says webhook=1, and after the calls the script waits for the
# outbox to drain and also prints CPU per call including the drain.
# WEBHOOK=down: the same webhook with nothing listening (connections refused,
# the sender backs off): the events are only written to the outbox, so this
# is the cost of making and appending them; the line says webhook=down.
set -u
R=${1:-1000}; S=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
anchor="$root/../shared/bench/cps"
command -v sipp >/dev/null || apt-get install -y -o DPkg::Lock::Timeout=120 sip-tester >/dev/null
[ -x "$root/target/release/pbxgate" ] || (cd "$root" && cargo build --release >/dev/null 2>&1)
w=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.3; rm -rf "$w"; }
trap cleanup EXIT
cat > "$w/pbxgate.toml" <<TOML
[calls]
max_concurrent = 100000
# The same signalling work as the Kamailio anchor (a proxy relays SDP
# untouched); the media relay has its own benchmark.
sdp = "passthrough"

[[route]]
name = "publisher-5678"
from = "wan"
match = [{ header = "X-PH-RetreaverAFID", equals = "5678" }]
targets = [{ uri = "sip:queue@127.0.0.1:25071" }]
headers = [{ action = "rename", from = "X-PH-RetreaverAFID", name = "X-Publisher-ID" }]

[[route]]
name = "default"
from = "wan"
targets = [{ uri = "sip:queue@127.0.0.1:25072" }]

[[listener]]
name = "wan"
side = "wan"
bind = "127.0.0.1:25060"
transports = ["udp"]
allow = ["127.0.0.1/32", "54.172.60.0/30", "54.244.51.0/30", "177.71.206.192/30", "2600:1f18::/32"]
rate_per_s = 0

[[listener]]
name = "lan"
side = "lan"
bind = "127.0.0.1:25080"
transports = ["udp"]
rate_per_s = 0

[web]
bind = "127.0.0.1:25443"

[log]
level = "warn"
TOML
webhook=0
if [ -n "${WEBHOOK:-}" ]; then
  webhook=1
  python3 "$root/bench/events.py" certs "$w" 127.0.214.2
  if [ "$WEBHOOK" = down ]; then
    webhook=down
  else
    taskset -c 1 python3 "$root/bench/events.py" serve 127.0.214.2:9445 "$w/rx.pem" "$w/rx.key" "$w/rx.json" &
    rxp=$!; pids+=($rxp)
  fi
  cat >> "$w/pbxgate.toml" <<TOML

[[webhook]]
name = "crm"
url = "https://127.0.214.2:9445/events"
format = "json"
secret = "bench-secret"
ca_file = "$w/ca.pem"
TOML
fi
taskset -c 0 "$root/target/release/pbxgate" --data-dir "$w" >"$w/gw.log" 2>&1 &
gp=$!; pids+=($gp)
for _ in $(seq 50); do grep -q "SIP wan:" "$w/gw.log" 2>/dev/null && break; sleep 0.1; done
if ! kill -0 "$gp" 2>/dev/null || ! grep -q "SIP wan:" "$w/gw.log"; then
  echo "pbxgate did not start (is 127.0.0.1:25060 in use?):" >&2; cat "$w/gw.log" >&2; exit 1
fi
taskset -c 1 sipp -sf "$anchor/uas_rr.xml" -i 127.0.0.1 -p 25071 -bg >/dev/null 2>&1
taskset -c 1 sipp -sf "$anchor/uas_rr.xml" -i 127.0.0.1 -p 25072 -bg >/dev/null 2>&1
sleep 1
for p in $(pgrep -f "uas_rr.xml -i 127.0.0.1 -p 2507[12]"); do pids+=($p); done
refresh=0
if [ -n "${STATUS_REFRESH:-}" ]; then
  . "$root/bench/web_login.sh"
  for _ in $(seq 50); do grep -q "web login:" "$w/gw.log" && break; sleep 0.1; done
  web_login https://127.0.0.1:25443 "$w/gw.log" "$w" >/dev/null || exit 1
  refresh=1
  ( while :; do
      taskset -c 1 curl -sk -b "$w/cookies" -o /dev/null https://127.0.0.1:25443/
      taskset -c 1 curl -sk -b "$w/cookies" -o /dev/null https://127.0.0.1:25443/api/v1/status
      sleep 1
    done ) &
  pids+=($!)
fi
cpu0=$(awk '{print $14+$15}' /proc/$gp/stat)
taskset -c 1 sipp -sf "$anchor/uac_xph.xml" 127.0.0.1:25060 -i 127.0.0.1 -p 25090 -r "$R" -m $((R*S)) -d 0 \
  -max_socket 100 -trace_err -error_file "$w/err.log" -trace_stat -stf "$w/stat.csv" -fd 1 -timeout $((S+30))s -nostdin >/dev/null 2>&1
cpu1=$(awk '{print $14+$15}' /proc/$gp/stat)
pss=$(awk '/^Pss:/{print $2}' /proc/$gp/smaps_rollup)
rss=$(awk '/^Rss:/{print $2}' /proc/$gp/smaps_rollup)
hz=$(getconf CLK_TCK)
drain=""
if [ "$webhook" = 1 ]; then
  # The events of these calls may still be on their way: wait for the
  # outbox to drain, then take the CPU again.
  t0=$(date +%s.%N)
  for _ in $(seq 1200); do
    left=$(sqlite3 "$w/pbxgate.db" "SELECT count(*) FROM outbox" 2>/dev/null || echo 1)
    [ "$left" = 0 ] && break; sleep 0.1
  done
  cpu2=$(awk '{print $14+$15}' /proc/$gp/stat)
  t1=$(date +%s.%N)
  kill "$rxp"; sleep 0.3
  drain="$left $(python3 -c "print(f'{$t1-$t0:.1f}')") $cpu2 $(python3 -c "import json;print(json.load(open('$w/rx.json'))['events'])")"
fi
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; pids=(); sleep 0.5
[ -s "$w/stat.csv" ] || { echo "sipp wrote no statistics" >&2; exit 1; }
ours=$(python3 - "$w/stat.csv" "$R" "$S" "$pss" "$rss" "$cpu0" "$cpu1" "$hz" "$refresh" "$webhook" "$drain" <<'PY'
import csv,sys
f,R,S,pss,rss,c0,c1,hz,refresh,webhook,drain=sys.argv[1:]
rows=list(csv.reader(open(f),delimiter=';'))
h=rows[0]; last=rows[-1]
g=lambda k: last[h.index(k)]
ok=int(g('SuccessfulCall(C)')); fail=int(g('FailedCall(C)')); rt=int(g('Retransmissions(C)'))
ticks=int(c1)-int(c0)
us=1e6*ticks/int(hz)/max(ok,1)
extra=""
if drain:
    left,secs,c2,got=drain.split()
    extra=(f" events_received={got} outbox_left={left} drain_s={secs}"
           f" cpu_us_per_call_with_drain={1e6*(int(c2)-int(c0))/int(hz)/max(ok,1):.0f}")
print(f"pbxgate refresh={refresh} webhook={webhook} rate={R} ok={ok} failed={fail} retrans={rt} rss_kib={rss} pss_kib={pss} cpu_pct={100.0*ticks/int(hz)/float(S):.0f} cpu_us_per_call={us:.0f}{extra}")
PY
)
echo "$ours"
[ -n "${PBXGATE_NO_ANCHOR:-}" ] && exit 0
theirs=$("$anchor/kamailio.sh" "$R" "$S")
echo "$theirs"
python3 - "$ours" "$theirs" <<'PY'
import sys
def field(line, k):
    for tok in line.split():
        if tok.startswith(k + "="):
            return float(tok.split("=", 1)[1])
    return float("nan")
o, t = sys.argv[1], sys.argv[2]
ou, tu = field(o, "cpu_us_per_call"), field(t, "cpu_us_per_call")
op, tp = field(o, "pss_kib"), field(t, "pss_kib")
print(f"ratio cpu_per_call pbxgate/kamailio={ou/tu:.2f} (target <= 2.00)  pss pbxgate/kamailio={op/tp:.3f}")
PY
