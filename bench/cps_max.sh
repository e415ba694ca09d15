#!/usr/bin/env bash
# The highest call rate pbxgate carries with zero failed calls (steps of
# bench/cps.sh without the anchor). On a 2-core machine the load tool
# saturates first, so compare elements by CPU per call, not by this figure.
# usage: bench/cps_max.sh [SECONDS] [RATES...]
set -u
S=${1:-10}; shift || true
rates=${*:-500 1000 1500 2000 2500 3000}
here=$(cd "$(dirname "$0")" && pwd)
best=0
for r in $rates; do
  line=$(PBXGATE_NO_ANCHOR=1 "$here/cps.sh" "$r" "$S" | grep '^pbxgate ')
  echo "$line"
  failed=$(echo "$line" | sed -n 's/.* failed=\([0-9]*\).*/\1/p')
  ok=$(echo "$line" | sed -n 's/.* ok=\([0-9]*\).*/\1/p')
  if [ "${failed:-1}" = 0 ] && [ "${ok:-0}" = $((r*S)) ]; then best=$r; else break; fi
done
echo "pbxgate highest rate with 0 failed calls: $best calls/s"
