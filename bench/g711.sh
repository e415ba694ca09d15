#!/usr/bin/env bash
# G.711 throughput: pbxgate's tables (benches/g711.rs) beside the C anchor in
# ../shared/bench/g711 (spandsp and plain lookup tables), both pinned to CPU 0,
# with ratios against the anchor's plain-table figures. See docs/media.md (G.711).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
anchor="$root/../shared/bench/g711/run.sh"
[ -x "$anchor" ] || { echo "g711.sh: no anchor at $anchor" >&2; exit 1; }

# The anchor links against spandsp; install it once (apt-get needs root).
if ! dpkg -s libspandsp-dev >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y -o DPkg::Lock::Timeout=120 libspandsp-dev >/dev/null ||
    { $sudo apt-get update >/dev/null && $sudo apt-get install -y -o DPkg::Lock::Timeout=120 libspandsp-dev >/dev/null; }
fi

# Build first so that the pinned run measures only the benchmark.
(cd "$root" && cargo bench --bench g711 --no-run)
ours=$(cd "$root" && taskset -c 0 cargo bench --bench g711 2>/dev/null)
theirs=$(bash "$anchor" 2>/dev/null)
echo "$ours"
echo
echo "anchor (../shared/bench/g711/run.sh, C -O2, $(( 1 << 24 )) samples of the same noise):"
echo "$theirs" | sed 's/^/  /'
echo

ours_fig() { echo "$ours" | awk -v k="$1" -v col="$2" '$1 == k { print $col }'; }
anchor_fig() { echo "$theirs" | awk -v k="$1" 'index($0, k) == 1 { print $(NF - 1) }'; }
table_enc=$(anchor_fig "table linear->ulaw (64K)")
table_dec=$(anchor_fig "table ulaw->linear (256)")

# The anchor's plain tables are µ-law only; the A-law loop is the same lookup
# and is held to the same figure. It has no transcoding table: the 256-entry
# decode table is the same kind of lookup (one byte in, fewer bytes out).
printf '%-14s %9s %9s %9s | %-26s %9s %7s %7s | %9s %7s\n' \
  op long frame quiet "anchor plain table" Ms/s long/ frame/ spandsp long/
row() { # op, our key, plain-table label, plain figure, spandsp label
  local long frame quiet sp
  long=$(ours_fig "$2" 2); frame=$(ours_fig "$2" 3); quiet=$(ours_fig "$2" 4)
  sp=$(anchor_fig "$5")
  awk -v op="$1" -v l="$long" -v f="$frame" -v q="$quiet" -v tl="$3" -v t="$4" -v s="$sp" 'BEGIN {
    printf "%-14s %9.1f %9.1f %9.1f | %-26s %9.1f %7.2f %7.2f | %9.1f %7.2f\n",
      op, l, f, q, tl, t, l / t, f / t, s, l / s }'
}
row "ulaw encode" ulaw_encode "linear->ulaw (64K)" "$table_enc" "spandsp linear->ulaw"
row "alaw encode" alaw_encode "linear->ulaw (64K)" "$table_enc" "spandsp linear->alaw"
row "ulaw decode" ulaw_decode "ulaw->linear (256)" "$table_dec" "spandsp ulaw->linear"
row "alaw decode" alaw_decode "ulaw->linear (256)" "$table_dec" "spandsp alaw->linear"
row "ulaw->alaw" ulaw_to_alaw "ulaw->linear (256)" "$table_dec" "spandsp ulaw->alaw"
row "alaw->ulaw" alaw_to_ulaw "ulaw->linear (256)" "$table_dec" "spandsp ulaw->alaw"
row "memcpy 2B" memcpy_2_bytes "memcpy 2 bytes/sample" "$(anchor_fig "memcpy 2 bytes/sample")" "memcpy 2 bytes/sample"
echo "(long/ frame/: pbxgate over the anchor's plain table; the A-law rows use the anchor's µ-law"
echo " tables, the transcoding rows its 256-entry decode table, and alaw->ulaw spandsp's ulaw->alaw:"
echo " the anchor measures no closer equivalent)"
# Why the module indexes its encode tables by 14 / 13 bits: the same loop
# through a 65,536-entry table, measured in the same run.
for law in ulaw alaw; do
  awk -v law="$law" -v a="$(echo "$ours" | awk -v k="${law}_encode" '$1 == k')" \
      -v b="$(echo "$ours" | awk -v k="table64k_${law}_encode" '$1 == k')" 'BEGIN {
    split(a, x, " "); split(b, y, " ")
    printf "%s encode, module table / 64K table: long %.2f  frame %.2f  quiet %.2f\n",
      law, x[2] / y[2], x[3] / y[3], x[4] / y[4] }'
done
