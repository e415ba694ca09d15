#!/usr/bin/env bash
# In-band DTMF detection throughput: pbxgate's detector (benches/dtmf.rs)
# beside spandsp's dtmf_rx (bench/spandsp_dtmf.c, a driver of ours calling
# the library) on the same three signals, both pinned to CPU 0, CPU time of
# the measuring thread. See docs/media.md (DTMF, Throughput).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT

if [ ! -f /usr/include/spandsp.h ] || ! command -v cc >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y -o DPkg::Lock::Timeout=120 libspandsp-dev gcc >/dev/null ||
    { $sudo apt-get update >/dev/null && $sudo apt-get install -y -o DPkg::Lock::Timeout=120 libspandsp-dev gcc >/dev/null; }
fi
cc -O2 -o "$w/spandsp_dtmf" "$root/bench/spandsp_dtmf.c" -lspandsp

(cd "$root" && cargo bench --bench dtmf --no-run 2>/dev/null)
ours=$(cd "$root" && PBXGATE_DTMF_DUMP="$w" taskset -c 0 cargo bench --bench dtmf 2>/dev/null)
echo "$ours"
echo
printf '%-20s %12s %8s | %12s %8s | %7s\n' signal "pbxgate Ms/s" digits "spandsp Ms/s" digits "ratio"
echo "$ours" | awk '/Msamples\/s/ {
    name = $1; for (i = 2; $i != ""; i++) { if ($(i+1) == "Msamples/s") { ms = $i; break } name = name " " $i }
    for (j = 1; j <= NF; j++) { if ($j ~ /^digits=/) d = substr($j, 8); if ($j ~ /^file=/) f = substr($j, 6) }
    print f "\t" name "\t" ms "\t" d }' | while IFS=$'\t' read -r file name ms digits; do
  line=$(cd "$w" && taskset -c 0 "$w/spandsp_dtmf" "$file")
  sms=$(echo "$line" | awk '{ print $2 }'); sdig=$(echo "$line" | awk '{ print $4 }' | sed 's/digits=//')
  awk -v n="$name" -v a="$ms" -v d="$digits" -v b="$sms" -v e="$sdig" 'BEGIN {
    printf "%-20s %12.1f %8s | %12.1f %8s | %7.2f\n", n, a, d, b, e, a / b }'
done
echo "(ratio: pbxgate Msamples/s over spandsp's; digits: what each detector reported in one pass)"
