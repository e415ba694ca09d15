#!/usr/bin/env bash
# A line's audio on clocked devices (bench/README.md, "Line audio"):
#   1. CPU per line-call second of the line's audio thread (capture, G.711,
#      jitter buffer, playback) through jackd's dummy backend, beside an
#      anchor that moves the same audio through the same PCMs with no codec
#      (alsaloop, alsa-utils), measured in the same run;
#   2. mouth-to-wire latency: a click handed to the capture device -> the
#      kernel's arrival stamp of the RTP packet that carries it.
# Usage: bench/line_audio.sh [SECONDS] [CLICKS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
clicks=${2:-40}

# What it needs, installed once as the other bench scripts do (apt-get
# needs root): jackd2 (the clocked dummy device), ALSA's jack plugin,
# alsaloop (alsa-utils) for the anchor, libasound2-dev for the alsa feature.
need=()
command -v jackd >/dev/null 2>&1 || need+=(jackd2)
command -v alsaloop >/dev/null 2>&1 || need+=(alsa-utils)
dpkg -s libasound2-plugins >/dev/null 2>&1 || need+=(libasound2-plugins)
dpkg -s libasound2-dev >/dev/null 2>&1 || need+=(libasound2-dev)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "jackd2 jackd/tweak_rt_limits boolean false" | $sudo debconf-set-selections
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=120 "${need[@]}" >/dev/null ||
        { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=120 "${need[@]}" >/dev/null; }
fi
for tool in jackd jack_lsp alsaloop python3; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "bench/line_audio.sh: $tool is still missing after apt-get" >&2
        exit 1
    }
done

tmp=$(mktemp -d)
# ALSA reads ~/.asoundrc, so HOME becomes the temp dir; cargo and rustup
# keep finding theirs.
export RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup} CARGO_HOME=${CARGO_HOME:-$HOME/.cargo}
export HOME=$tmp JACK_DEFAULT_SERVER=pbxgate-bench JACK_NO_START_SERVER=1
jackd_pid=""
loop_pid=""
cleanup() {
    if [ -n "$loop_pid" ]; then kill "$loop_pid" 2>/dev/null || true; fi
    if [ -n "$jackd_pid" ]; then
        kill "$jackd_pid" 2>/dev/null || true
        wait "$jackd_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# 60 s of noise-like audio to capture (8 kHz S16LE), a fifo for the clicks.
python3 -c '
import random, struct, sys
random.seed(7)
sys.stdout.buffer.write(b"".join(struct.pack("<h", int(random.gauss(0, 3000))) for _ in range(8000 * 60)))
' > "$tmp/capture.raw"
mkfifo "$tmp/click.fifo"

cat > "$tmp/.asoundrc" <<EOF
pcm.bench_jack { type jack name "bench_jack" playback_ports { 0 system:playback_1 } capture_ports { 0 system:capture_1 } }
pcm.bench_plug { type plug slave.pcm "bench_jack" }
pcm.bench_capture { type file slave.pcm "bench_plug" file "/dev/null" infile "$tmp/capture.raw" format "raw" }
pcm.bench_playback { type file slave.pcm "bench_plug" file "/dev/null" format "raw" }
pcm.bench_null { type plug slave.pcm { type null } }
pcm.click_capture { type file slave.pcm "bench_null" file "/dev/null" infile "$tmp/click.fifo" format "raw" }
pcm.click_playback { type file slave.pcm "bench_null" file "/dev/null" format "raw" }
EOF

jackd --no-realtime -n "$JACK_DEFAULT_SERVER" -d dummy -r 8000 -p 160 > "$tmp/jackd.log" 2>&1 &
jackd_pid=$!
for _ in $(seq 50); do
    jack_lsp -s "$JACK_DEFAULT_SERVER" >/dev/null 2>&1 && break
    sleep 0.1
done
jack_lsp -s "$JACK_DEFAULT_SERVER" >/dev/null 2>&1 || { cat "$tmp/jackd.log" >&2; exit 1; }

cargo bench --quiet --features alsa --bench line_audio --no-run 2>&1 | grep -v "^$" || true
run() { cargo bench --quiet --features alsa --bench line_audio -- "$@" 2> "$tmp/bench.err" || { cat "$tmp/bench.err" >&2; exit 1; }; }

echo "== pbxgate line audio, $secs s of call through jackd (dummy, 8 kHz, 20 ms periods)"
LINE_CAPTURE=bench_capture LINE_PLAYBACK=bench_playback run cpu "$secs" | tee "$tmp/ours.txt"

echo "== anchor: alsaloop, the same PCMs, no codec, no jitter buffer"
alsaloop -C bench_capture -P bench_playback -f S16_LE -r 8000 -c 1 -t 40000 > "$tmp/alsaloop.log" 2>&1 &
loop_pid=$!
sleep 2
ns() { # on-CPU nanoseconds of all of a process's threads
    local sum=0 t
    for t in /proc/"$1"/task/*/schedstat; do sum=$((sum + $(cut -d' ' -f1 "$t"))); done
    echo "$sum"
}
a0=$(ns "$loop_pid"); t0=$(date +%s%N)
sleep "$secs"
a1=$(ns "$loop_pid"); t1=$(date +%s%N)
kill "$loop_pid"; wait "$loop_pid" 2>/dev/null || true; loop_pid=""
python3 - "$a0" "$a1" "$t0" "$t1" "$tmp/ours.txt" <<'EOF'
import re, sys
a0, a1, t0, t1 = map(int, sys.argv[1:5])
anchor = (a1 - a0) / 1000 / ((t1 - t0) / 1e9)
print(f"alsaloop cpu: {anchor:.0f} us per call-second ({anchor / 10000:.2f} % of a core), all its threads")
m = re.search(r"audio thread (\d+) us.*libjack threads in the process (\d+) us", open(sys.argv[5]).read())
ours, jack = int(m.group(1)), int(m.group(2))
print(f"ratio: audio thread + libjack threads {ours + jack} us / alsaloop {anchor:.0f} us = {(ours + jack) / anchor:.2f}")
EOF

echo "== mouth to wire ($clicks clicks, capture fed 20 ms at a time through a fifo)"
LINE_CAPTURE=click_capture LINE_PLAYBACK=click_playback LINE_FIFO="$tmp/click.fifo" run latency "$clicks"
LINE_EVENTS=0 LINE_CAPTURE=click_capture LINE_PLAYBACK=click_playback LINE_FIFO="$tmp/click.fifo" run latency "$clicks"
