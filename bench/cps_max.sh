#!/usr/bin/env bash
# Highest call rate pbxgate carries with 0 failed calls, stepping 500, 1000, 1500, 2000, 3000
# calls/s through bench/cps.sh (pbxgate only, no Kamailio anchor).
#
# usage: bench/cps_max.sh [SECONDS] [RATES...]     (default: 10 s per step; rates as above)
# Prints each step's cps.sh line, then "pbxgate max_rate_zero_failed=R" (0 if none passed).
# A step passes when failed=0 and every offered call succeeded. Stepping stops at the first
# failing step. Note: on a 2-core machine the sipp load tool (CPU 1) may saturate before
# pbxgate does; compare with ../shared/bench/cps/direct.sh RATE SECONDS, sipp's own ceiling.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
S=${1:-10}
shift || true
rates=("$@")
[[ ${#rates[@]} -gt 0 ]] || rates=(500 1000 1500 2000 3000)

best=0
for r in "${rates[@]}"; do
  rc=0
  NO_ANCHOR=1 bash "$here/cps.sh" "$r" "$S" || rc=$?
  if [[ $rc -eq 0 ]]; then
    best=$r
  else
    echo "step rate=$r did not pass (exit $rc); stopping" >&2
    break
  fi
  sleep 2   # let the ports and the UAS's timewait state go
done
echo "pbxgate max_rate_zero_failed=$best"
