#!/usr/bin/env bash
# pbxgate's RTP relay beside the C ceiling (and rtpengine), same load, one run.
# usage: bench/rtp.sh [SECONDS] [CALLS]          (defaults 10 and 200)
#
# 1. ../shared/bench/rtp/ceiling.sh SECONDS: a minimal C relay on CPU 0, flat out.
# 2. pbxgate: benches/relay_load.rs runs the library's real media engine (one session per call,
#    media thread pinned to CPU 0) and ../shared/bench/rtp/rtpload.c drives it from CPU 1 exactly
#    as rtpengine.sh drives rtpengine: CALLS calls, two 50 pkt/s G.711 streams each, 4 s warm-up,
#    SECONDS measured. Modes passthrough (both legs PCMU) and transcode (caller PCMU, callee PCMA;
#    rtpload checks every packet arrives in its leg's codec). CPU time is the driver process's
#    utime+stime over rtpload's window (rtpload reads /proc/PID/stat, as for rtpengine), also
#    the media thread's own (schedstat) over the same window. Run at CALLS and again at
#    CAP_CALLS (default 1000): the ceiling relay runs flat out and never sleeps, while at 200
#    calls a relay wakes every few packets and pays for it, so packets per core (the target,
#    >= 0.50 of the ceiling's) are judged near the load one core sustains without loss.
# 3. ../shared/bench/rtp/rtpengine.sh SECONDS LOAD for both loads (Debian's rtpengine-daemon,
#    apt-installed by that script when missing). PBXGATE_NO_RTPENGINE=1 skips it.
# 4. Latency at LAT_CALLS (default 500) calls, 100 pkt/s each: relay_load's own load sends each
#    stream every 20 ms at a random phase (as independent calls do), stamps each send, and takes
#    the kernel's arrival stamp (SO_TIMESTAMPNS) where it is received; it prints p50/p99 one-way
#    times through the kernel loopback, a minimal relay (the anchor: what any userspace relay adds
#    here) and pbxgate, and the hypervisor's steal time on the media CPU. Run LAT_RUNS times
#    (default 5): one run's p99 moves with the VM's steal, so the median of the runs' added p99
#    is printed for both relays.
#    LAT_MEDIA_CPU=1 puts the relays on CPU 1 and the load on CPU 0 (the VM's CPUs differ in
#    steal).
#    PBXGATE_NO_LATENCY=1 skips it.
# Ports: pbxgate's media 127.0.0.x:28000-29999 (500 calls per address); rtpload 127.0.1.x:27000-
# 27999 (its own); the latency load 127.0.2.x:28000-29999; the ceiling 127.0.0.1:26000-26002.
# Run nothing heavy beside it; run one benchmark at a time.
set -eu
S=${1:-10}; CALLS=${2:-200}; CAP_CALLS=${CAP_CALLS:-1000}; WARM=4; LAT_CALLS=${LAT_CALLS:-500}; LAT_RUNS=${LAT_RUNS:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
shared="$root/../shared/bench/rtp"
[ -f "$shared/rtpload.c" ] || { echo "bench/rtp.sh: $shared/rtpload.c not found (../shared beside the checkout)" >&2; exit 1; }
need=""
command -v cc >/dev/null || need="$need gcc libc6-dev"
command -v taskset >/dev/null || need="$need util-linux"
if [ -n "$need" ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends $need >&2 ||
    { $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends $need >&2; }
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
w=$(mktemp -d); dp=""; lp=""
trap 'for p in $dp $lp; do kill "$p" 2>/dev/null || true; done; rm -rf "$w"' EXIT

# The driver: cargo's bench profile (release + line tables).
(cd "$root" && cargo bench --bench relay_load --no-run) 2>"$w/build" ||
  { cat "$w/build" >&2; exit 1; }
drv=$(sed -n 's/.*Executable .*(\(.*relay_load-[0-9a-f]*\)).*/\1/p' "$w/build" | tail -1)
case "$drv" in /*) ;; *) drv="$root/$drv" ;; esac
[ -x "$drv" ] || { echo "bench/rtp.sh: relay_load binary not found" >&2; cat "$w/build" >&2; exit 1; }
cc -O2 -o "$w/rtpload" "$shared/rtpload.c" -lm
LOADS="$CALLS"; [ "$CAP_CALLS" = "$CALLS" ] || LOADS="$CALLS $CAP_CALLS"

echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. the ceiling
"$shared/ceiling.sh" "$S" | tee "$w/ceiling"
ceil_ns=$(sed -n 's/^ceiling batch=32 .*cpu_ns_per_packet=\([0-9]*\).*/\1/p' "$w/ceiling")

# 2. pbxgate, at CALLS (beside rtpengine) and at CAP_CALLS (near what one core sustains)
for load in $LOADS; do
for mode in passthrough transcode; do
  pt_b=0; [ $mode = passthrough ] || pt_b=8
  rm -f "$w/ports" "$w/dests" "$w/stop"
  RELAY_LOAD_MEDIA_CPU=0 "$drv" rtpload "$load" $mode "$w/ports" "$w/dests" "$w/stop" $((WARM)).32 "$S" >"$w/drv" 2>"$w/drv.err" & dp=$!
  taskset -c 1 "$w/rtpload" "$load" $WARM "$S" $dp "$w/ports" "$w/dests" 0 $pt_b >"$w/load" & lp=$!
  wait $lp || { echo "rtpload failed" >&2; cat "$w/drv.err" >&2; exit 1; }; lp=""
  touch "$w/stop"; wait $dp || { cat "$w/drv.err" >&2; exit 1; }; dp=""
  v() { tr ' ' '\n' <"$w/load" | sed -n "s/^$1=//p"; }
  d() { tr ' ' '\n' <"$w/drv" | sed -n "s/^$1=//p"; }
  se=$(v sent); r=$(v relayed)
  [ "${r:-0}" -gt 0 ] || { echo "mode $mode: nothing relayed: $(cat "$w/load")" >&2; cat "$w/drv.err" >&2; exit 1; }
  ns=$(awk -v t="$(v cpu_ticks)" -v hz="$(v clk_tck)" -v r="$r" 'BEGIN { printf "%.0f", t * 1e9 / hz / r }')
  tns=$(awk -v c="$(d media_thread_cpu_ns)" -v r="$r" 'BEGIN { printf "%.0f", c / r }')
  apk=$(awk -v a="$(d allocs)" -v r="$r" 'BEGIN { printf "%.4f", a / r }')
  ratio=$(awk -v c="$ceil_ns" -v p="$ns" 'BEGIN { printf "%.2f", c / p }')
  echo "pbxgate mode=$mode calls=$load sent=$se relayed=$r lost=$((se - r)) cpu_ns_per_packet=$ns media_thread_ns_per_packet=$tns one_core_pps=$((1000000000 / ns)) one_core_calls=$((1000000000 / ns / 100)) allocs_per_packet=$apk ratio_to_ceiling=$ratio"
  awk -v l="$(cat "$w/load")" -v a="$(d allocs)" 'BEGIN { n = split(l, kv, /[ =]/); for (i = 1; i < n; i += 2) v[kv[i]] = kv[i + 1]
    t = v["window_s"]
    printf "#   pbxgate busy %.0f%% of CPU 0 at %d pkt/s offered, rtpload %.0f%% of CPU 1; %d allocations in the window;" \
      " warm-up %d sent %d relayed; wrong payload type %d, wrong length %d, send errors %d, silent streams %d\n",
      v["cpu_ticks"] * 100 / v["clk_tck"] / t, v["target_pps"], v["sender_cpu_s"] * 100 / t, a,
      v["warm_sent"], v["warm_relayed"], v["badpt"], v["badlen"], v["senderr"], v["dead_streams"] }'
  echo "$load $mode $ns $r $se" >>"$w/pbx"
done
done

# 3. rtpengine, at the same loads
if [ -z "${PBXGATE_NO_RTPENGINE:-}" ]; then
  for load in $LOADS; do
    "$shared/rtpengine.sh" "$S" "$load" | tee -a "$w/rtpengine" ||
      echo "# rtpengine.sh failed (see above)"
  done
fi

# 4. latency
if [ -z "${PBXGATE_NO_LATENCY:-}" ]; then
  for _ in $(seq "$LAT_RUNS"); do
    RELAY_LOAD_MEDIA_CPU="${LAT_MEDIA_CPU:-0}" "$drv" latency "$LAT_CALLS" "$S" | tee -a "$w/latency"
  done
fi

echo
echo "# side by side: CPU ns per relayed packet on one core (lower is better)"
echo "# The ceiling runs flat out and never sleeps; a relay at $CALLS calls also pays a wake-up every few"
echo "# packets, so packets per core (the target) are judged at $CAP_CALLS calls, near what one core sustains."
printf '%-28s %6s %10s %12s %10s %8s %s\n' relay calls ns/packet pkts/s/core calls/core lost "vs ceiling"
row() { printf '%-28s %6s %10s %12s %10s %8s %s\n' "$1" "$2" "$3" "$((1000000000 / $3))" "$((1000000000 / $3 / 100))" "$4" "$5"; }
row "ceiling (C, batch 32)" "-" "$ceil_ns" "-" "1.00"
for load in $LOADS; do
  target=""; [ "$load" = "$CAP_CALLS" ] && target=" (target >= 0.50 in passthrough)"
  while read -r l mode ns r se; do
    [ "$l" = "$load" ] || continue
    row "pbxgate $mode" "$l" "$ns" "$((se - r))" "$(awk -v c="$ceil_ns" -v p="$ns" 'BEGIN { printf "%.2f", c / p }')$target"
  done <"$w/pbx"
  if [ -f "$w/rtpengine" ]; then
    sed -n "s/^rtpengine mode=\([a-z]*\) calls=$load .*lost=\([0-9-]*\) cpu_ns_per_packet=\([0-9]*\).*/\1 \3 \2/p" "$w/rtpengine" |
      while read -r mode ns lost; do
        row "rtpengine $mode" "$load" "$ns" "$lost" "$(awk -v c="$ceil_ns" -v p="$ns" 'BEGIN { printf "%.2f", c / p }')"
      done
  fi
done
if [ -s "$w/latency" ]; then
  median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.0f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  added() { sed -n "s/^latency added_by_$1 .*p99_us=\([-0-9.]*\).*/\1/p" "$w/latency"; }
  steal=$(sed -n 's/^latency steal_on_media_cpu_pct=\([0-9.]*\).*/\1/p' "$w/latency" | tr '\n' ' ')
  echo
  echo "# latency, $LAT_CALLS calls, $LAT_RUNS runs: added one-way p99 over the kernel loopback (µs)"
  echo "pbxgate        runs: $(added pbxgate | tr '\n' ' ') median $(added pbxgate | median) (target < 1000)"
  echo "minimal relay  runs: $(added minimal_relay | tr '\n' ' ') median $(added minimal_relay | median)"
  echo "steal on the media CPU per run (%): $steal"
fi
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
