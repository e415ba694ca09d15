#!/usr/bin/env bash
# Call-rate benchmark: pbxgate as a B2BUA between a sipp "cloud" UAC and a sipp PBX UAS, compared
# with the Kamailio anchor (../shared/bench/cps/kamailio.sh) doing the same signalling work.
#
# usage: bench/cps.sh RATE SECONDS
#   RATE     calls per second offered by the sipp UAC (default 500)
#   SECONDS  duration; the UAC places RATE*SECONDS calls, zero hold time (-d 0)
#
# environment:
#   PBXGATE_BIN=path     binary to measure (default: PROJECT/target/release/pbxgate; built with
#                        `cargo build --release` only when it does not exist)
#   NO_ANCHOR=1          skip the Kamailio run (bench/cps_max.sh sets it)
#   KEEP_DIR=1           keep the temp dir (config, pbxgate log, sipp error logs, stat csv)
#
# Layout (all on 127.0.0.1, like the anchor):
#   sipp UAC  uac_xph.xml  :25195  --INVITE X-PH-RetreaverAFID: 5678-->  pbxgate WAN :25160
#   pbxgate (route afid-5678, rename AFID -> X-Publisher-ID)  --INVITE-->  sipp UAS uas_rr.xml :25190
#   pbxgate LAN listener :25180 (bound, unused here)
#   pbxgate pinned to CPU 0 (taskset -c 0), both sipp pinned to CPU 1, as kamailio.sh does.
#
# Output (one line for pbxgate, then the anchor's line, then the ratio):
#   pbxgate rate=R ok=N failed=F retrans=X cpu_us_per_call=U cpu_pct=C rss_kib=K pss_kib=P
#   kamailio rate=R ok=N failed=F retrans=X pss_kib=P cpu_pct=C cpu_us_per_call=U
#   ratio pbxgate/kamailio cpu_us_per_call=Q  (below 1.0: pbxgate uses less CPU per call)
# ok/failed/retrans are read exactly as kamailio.sh reads them: the last row of the UAC's
# -trace_stat file, columns SuccessfulCall(C), FailedCall(C), Retransmissions(C).
# Exit status: 0 when the pbxgate run had 0 failed calls and ok = RATE*SECONDS, 1 otherwise.
set -euo pipefail

R=${1:-500}
S=${2:-20}
[[ "$R" =~ ^[0-9]+$ && "$S" =~ ^[0-9]+$ && "$R" -gt 0 && "$S" -gt 0 ]] || {
  echo "usage: $0 RATE SECONDS" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
anchor=$(cd "$root/../shared/bench/cps" 2>/dev/null && pwd) || {
  echo "anchor directory $root/../shared/bench/cps not found" >&2; exit 2; }

bin=${PBXGATE_BIN:-$root/target/release/pbxgate}
if [[ ! -x "$bin" ]]; then
  echo "building $bin (cargo build --release)" >&2
  (cd "$root" && cargo build --release) >&2
fi
command -v sipp >/dev/null || apt-get install -y -o DPkg::Lock::Timeout=120 sip-tester >/dev/null
command -v taskset >/dev/null || { echo "taskset (util-linux) is needed" >&2; exit 2; }

WAN_PORT=25160 LAN_PORT=25180 PBX_PORT=25190 UAC_PORT=25195

w=$(mktemp -d "${TMPDIR:-/tmp}/pbxgate-cps.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n "${KEEP_DIR:-}" ]]; then echo "kept $w" >&2; else rm -rf "$w"; fi
}
trap cleanup EXIT

port_busy() { ss -Hlun "sport = :$1" 2>/dev/null | grep -q .; }
for p in $WAN_PORT $LAN_PORT $PBX_PORT $UAC_PORT; do
  if port_busy "$p"; then echo "UDP port $p is already in use" >&2; exit 2; fi
done

mkdir -p "$w/data"
cat >"$w/data/pbxgate.toml" <<EOF
[[route]]
name = "afid-5678"
from = "wan"
match = [ { header = "X-PH-RetreaverAFID", equals = "5678" } ]
targets = [ { uri = "sip:queue@127.0.0.1:$PBX_PORT" } ]
headers = [ { action = "rename", from = "X-PH-RetreaverAFID", name = "X-Publisher-ID" } ]
[[route]]
name = "default"
from = "wan"
targets = [ { uri = "sip:queue@127.0.0.1:$PBX_PORT" } ]
[calls]
max_concurrent = 20000
[[listener]]
name = "wan"
side = "wan"
bind = "127.0.0.1:$WAN_PORT"
transports = ["udp"]
[[listener]]
name = "lan"
side = "lan"
bind = "127.0.0.1:$LAN_PORT"
transports = ["udp"]
[log]
level = "warn"
EOF

# the PBX: the anchor's UAS, answering every INVITE (180, 200, ACK, BYE -> 200)
taskset -c 1 sipp -sf "$anchor/uas_rr.xml" -i 127.0.0.1 -p $PBX_PORT -nostdin \
  -trace_err -error_file "$w/uas_err.log" >/dev/null 2>&1 &
pids+=($!)

taskset -c 0 "$bin" --data-dir "$w/data" >"$w/pbxgate.log" 2>&1 &
gp=$!
pids+=($gp)

# wait until the gateway's WAN socket is bound (and the UAS's)
for _ in $(seq 100); do
  if ! kill -0 "$gp" 2>/dev/null; then
    echo "pbxgate exited at start-up; its log:" >&2; tail -20 "$w/pbxgate.log" >&2; exit 1
  fi
  port_busy $WAN_PORT && port_busy $PBX_PORT && break
  sleep 0.1
done
port_busy $WAN_PORT || { echo "pbxgate did not bind $WAN_PORT; its log:" >&2; tail -20 "$w/pbxgate.log" >&2; exit 1; }

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }   # utime+stime, all threads
c0=$(cpu_ticks "$gp")

# the cloud: the anchor's UAC (X-PH-* headers, AFID 5678), RATE calls/s, zero hold
rc=0
taskset -c 1 sipp -sf "$anchor/uac_xph.xml" 127.0.0.1:$WAN_PORT -i 127.0.0.1 -p $UAC_PORT \
  -r "$R" -m $((R * S)) -d 0 -max_socket 100 \
  -trace_err -error_file "$w/uac_err.log" -trace_stat -stf "$w/stat.csv" -fd 1 \
  -timeout $((S + 30))s -nostdin >/dev/null 2>&1 || rc=$?

kill -0 "$gp" 2>/dev/null || { echo "pbxgate died during the run; its log:" >&2; tail -20 "$w/pbxgate.log" >&2; exit 1; }
c1=$(cpu_ticks "$gp")
rss=$(awk '/^Rss:/{print $2}' "/proc/$gp/smaps_rollup")
pss=$(awk '/^Pss:/{print $2}' "/proc/$gp/smaps_rollup")

[[ -s "$w/stat.csv" ]] || { echo "sipp UAC wrote no statistics (exit $rc)" >&2; exit 1; }
line=$(python3 - "$w/stat.csv" "$R" "$S" "$c0" "$c1" "$hz" "$rss" "$pss" <<'PY'
import csv, sys
f, R, S, c0, c1, hz, rss, pss = sys.argv[1:]
rows = list(csv.reader(open(f), delimiter=';'))
h, last = rows[0], rows[-1]
g = lambda k: int(last[h.index(k)])
ok, fail, rt = g('SuccessfulCall(C)'), g('FailedCall(C)'), g('Retransmissions(C)')
ticks = int(c1) - int(c0)
secs = ticks / int(hz)
us = 1e6 * secs / max(ok, 1)
pct = 100.0 * secs / float(S)
print(f"pbxgate rate={R} ok={ok} failed={fail} retrans={rt} cpu_us_per_call={us:.0f} "
      f"cpu_pct={pct:.0f} rss_kib={rss} pss_kib={pss}")
PY
)
echo "$line"
if [[ -s "$w/uac_err.log" ]] && ! grep -q ' failed=0 ' <<<"$line"; then
  echo "  first UAC errors:" >&2
  grep -v '^The following' "$w/uac_err.log" | cut -c1-200 | head -5 | sed 's/^/    /' >&2
fi

# stop our processes before the anchor runs (it pins to the same CPUs)
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

ok=$(sed -n 's/.* ok=\([0-9]*\) .*/\1/p' <<<"$line")
failed=$(sed -n 's/.* failed=\([0-9]*\) .*/\1/p' <<<"$line")
status=0
[[ "$failed" == 0 && "$ok" == $((R * S)) ]] || status=1

if [[ -z "${NO_ANCHOR:-}" ]]; then
  kline=$(bash "$anchor/kamailio.sh" "$R" "$S" | tail -1) || true
  echo "$kline"
  python3 - "$line" "$kline" <<'PY'
import re, sys
def us(s):
    m = re.search(r'cpu_us_per_call=([0-9.]+)', s)
    return float(m.group(1)) if m else None
p, k = us(sys.argv[1]), us(sys.argv[2])
if p is None or not k:
    print("ratio pbxgate/kamailio cpu_us_per_call=n/a (anchor gave no figure)")
else:
    print(f"ratio pbxgate/kamailio cpu_us_per_call={p / k:.2f}")
PY
fi
exit $status
