#!/usr/bin/env bash
# The SRTP<->RTP relay: CPU per packet of pbxgate's relay with the caller's leg SRTP
# (AES_CM_128_HMAC_SHA1_80) and the callee's plain RTP, beside plain relaying at the same load,
# and rtpengine doing both under the same load. One run, one relay at a time.
# usage: bench/srtp.sh [SECONDS] [CALLS...]          (defaults 10, and 200 1000)
#
# The load is relay_load's own (benches/srtp_relay/): rtpload.c sends plain RTP only. CALLS calls
# of two 50 pkt/s streams of 172-byte RTP, spread evenly over 20 ms, sent in 1 ms ticks from one
# thread on CPU 1; in mode srtp the caller's stream protects what it sends and unprotects what
# comes back (refused = failed authentication), with the library's SrtpContext, on CPU 1, so its
# SRTP cost is not in the relay's figure. 4 s warm-up, 0.3 s pause, SECONDS measured + 0.5 s drain.
# * pbxgate: the library's media engine in relay_load's process, its thread on CPU 0; keys given
#   with MediaCommand::SetSrtp. ns/packet = that thread's CPU time (schedstat) / packets relayed.
# * rtpengine (Debian's rtpengine-daemon, userspace only, --num-threads=1, started as
#   ../shared/bench/rtp/rtpengine.sh starts it) on CPU 0; calls set up over ng: the caller's offer
#   RTP/SAVP with an a=crypto line and transport-protocol RTP/AVP (the callee gets plain RTP), the
#   answer's a=crypto is rtpengine's key toward the caller. ns/packet = CPU time of all its
#   threads (schedstat) / packets relayed. PBXGATE_NO_RTPENGINE=1 skips it.
# A fresh relay per (calls, mode). Ports: pbxgate 127.0.0.x:28000-29999, rtpengine 127.0.0.x:
# 27000-27999 and ng 127.0.0.1:26901, the load 127.0.2.x:28000-29999. Run nothing heavy beside it.
set -euo pipefail
S=${1:-10}; shift || true
LOADS=${*:-200 1000}
NG=26901
root=$(cd "$(dirname "$0")/.." && pwd)
need=""
command -v taskset >/dev/null || need="$need util-linux"
[ -n "${PBXGATE_NO_RTPENGINE:-}" ] || command -v rtpengine >/dev/null || need="$need rtpengine-daemon"
if [ -n "$need" ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends $need >&2 ||
    { $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends $need >&2; }
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
w=$(mktemp -d); rp=""
trap '[ -z "$rp" ] || kill "$rp" 2>/dev/null || true; rm -rf "$w"' EXIT

# The driver: cargo's bench profile (release + line tables).
(cd "$root" && cargo bench --bench relay_load --no-run) 2>"$w/build" ||
  { cat "$w/build" >&2; exit 1; }
drv=$(sed -n 's/.*Executable .*(\(.*relay_load-[0-9a-f]*\)).*/\1/p' "$w/build" | tail -1)
case "$drv" in /*) ;; *) drv="$root/$drv" ;; esac
[ -x "$drv" ] || { echo "bench/srtp.sh: relay_load binary not found" >&2; cat "$w/build" >&2; exit 1; }

echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for load in $LOADS; do
  for mode in plain srtp; do
    RELAY_LOAD_MEDIA_CPU=0 "$drv" srtp "$load" "$S" $mode | tee -a "$w/out"
  done
  [ -z "${PBXGATE_NO_RTPENGINE:-}" ] || continue
  # 4 media ports per call (RTP+RTCP on each side) in 1000: one more address per 240 calls
  ifs=""; for i in $(seq 1 $(((load + 239) / 240))); do ifs="$ifs --interface=bench:$i/127.0.0.$i"; done
  for mode in plain srtp; do
    taskset -c 0 rtpengine --config-file=none --foreground --log-stderr --table=-1 $ifs \
      --listen-ng=127.0.0.1:$NG --port-min=27000 --port-max=27999 --num-threads=1 \
      ${RTPENGINE_ARGS:-} 2>"$w/rtpengine.log" & rp=$!
    sleep 1
    kill -0 $rp 2>/dev/null || { echo "rtpengine did not start" >&2; cat "$w/rtpengine.log" >&2; exit 1; }
    "$drv" srtp "$load" "$S" $mode rtpengine $NG $rp | tee -a "$w/out" ||
      { echo "# rtpengine $mode at $load calls failed:" >&2; tail -20 "$w/rtpengine.log" >&2; }
    grep -E 'ERR|CRIT|WARNING' "$w/rtpengine.log" | head -5 >&2 || true
    kill $rp; wait $rp 2>/dev/null || true; rp=""
  done
done

echo
echo "# side by side: relay CPU ns per relayed packet on CPU 0 (lower is better); 'srtp' = caller's leg"
echo "# SRTP, callee's plain, so every packet is decrypted or encrypted once by the relay"
printf '%-10s %-6s %6s %10s %10s %8s %8s %8s %s\n' relay mode calls ns/packet relayed lost refused wrong "srtp - plain"
for load in $LOADS; do
  for relay in pbxgate rtpengine; do
    plain=$(sed -n "s/^srtp_relay relay=$relay mode=plain calls=$load .*ns_per_packet=\([0-9]*\).*/\1/p" "$w/out")
    for mode in plain srtp; do
      line=$(grep "^srtp_relay relay=$relay mode=$mode calls=$load " "$w/out" || true)
      [ -n "$line" ] || continue
      f() { echo "$line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
      d="-"; [ $mode = plain ] || [ -z "$plain" ] || d=$(($(f ns_per_packet) - plain))
      printf '%-10s %-6s %6s %10s %10s %8s %8s %8s %s\n' $relay $mode "$load" "$(f ns_per_packet)" \
        "$(f relayed)" "$(f lost)" "$(f refused)" "$(f wrong)" "$d"
    done
  done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
