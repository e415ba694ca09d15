#!/usr/bin/env bash
# pbxgate end-to-end tests: run Kamailio as a digest-authenticating registrar on one loopback
# address, in the foreground, until killed.
#
# usage: tests/peers/kamailio_registrar.sh LISTEN_IP PORT ALGORITHM USER PASSWORD
#   ALGORITHM: MD5 or SHA-256 (the digest algorithm the 401 challenge asks for).
# optional environment:
#   REALM=...              challenge realm (default kamailio.test)
#   MIN_EXPIRES=N MAX_EXPIRES=N MIN_EXPIRES_MODE=0|1   registrar limits (default 0 0 0, see the .cfg)
#   REJECT_BAD_AUTH_403=1  answer a wrong password with 403 instead of a new 401
#   KAMAILIO=/path/to/kamailio   (default: kamailio from PATH, else /usr/sbin/kamailio)
#   TLS_DIR=DIR            listen on TLS only (tls:LISTEN_IP:PORT) with DIR/server.pem and
#                          DIR/server.key; DIR is removed on exit like the temp dir.
#                          kamailio_tls_registrar.sh makes DIR (a test CA and a certificate).
#
# It listens on udp:LISTEN_IP:PORT and tcp:LISTEN_IP:PORT only (tls: with TLS_DIR), keeps its runtime dir and pid
# file in a private temp dir (removed on exit), and logs to stderr. Ready when stderr shows
# "kamailio_registrar: ready" (printed by this script once the UDP port is bound) -- or just poll
# the port with an OPTIONS (answered 200).
#
# Stopping: SIGTERM (or SIGINT) to this script's pid stops Kamailio (main process and children)
# and removes the temp dir. SIGKILL of the script (Rust's Child::kill) works too: a watchdog
# subshell notices within 0.2 s and does the same. (Kamailio's children do NOT die by themselves
# when their main process is SIGKILLed; the watchdog kills them by pid.)
set -euo pipefail

if [ $# -ne 5 ]; then
    sed -n '2,9p' "$0" >&2
    exit 2
fi
ip=$1 port=$2 algo=$3 user=$4 pass=$5
case "$algo" in
    MD5|md5) algo=MD5 ;;
    SHA-256|sha-256|SHA256|sha256) algo=SHA-256 ;;
    *) echo "kamailio_registrar.sh: ALGORITHM must be MD5 or SHA-256, not '$algo'" >&2; exit 2 ;;
esac
for v in "$user" "$pass" "${REALM:-kamailio.test}"; do
    case "$v" in *'"'*|*'\'*) echo "kamailio_registrar.sh: no quotes or backslashes in USER/PASSWORD/REALM" >&2; exit 2 ;; esac
done

kamailio=${KAMAILIO:-$(command -v kamailio || echo /usr/sbin/kamailio)}
cfg="$(cd "$(dirname "$0")" && pwd)/kamailio_registrar.cfg"
run=$(mktemp -d "${TMPDIR:-/tmp}/pbxgate-kamailio.XXXXXX")

defines=(-A "AUTH_ALGO=\"$algo\"" -A "AUTH_USER=\"$user\"" -A "AUTH_PASS=\"$pass\""
         -A "AUTH_REALM=\"${REALM:-kamailio.test}\""
         -A "MIN_EXPIRES=${MIN_EXPIRES:-0}" -A "MAX_EXPIRES=${MAX_EXPIRES:-0}"
         -A "MIN_EXPIRES_MODE=${MIN_EXPIRES_MODE:-0}")
if [ "${REJECT_BAD_AUTH_403:-0}" = 1 ]; then
    defines+=(-A REJECT_BAD_AUTH_403)
fi
listen=(-l "udp:$ip:$port" -l "tcp:$ip:$port")
bound=(ss -Hlun "src $ip:$port")
ready="kamailio_registrar: ready"
if [ -n "${TLS_DIR:-}" ]; then
    defines+=(-A WITH_TLS -A "TLS_CERT=\"$TLS_DIR/server.pem\"" -A "TLS_KEY=\"$TLS_DIR/server.key\"")
    listen=(-l "tls:$ip:$port")
    bound=(ss -Hltn "src $ip:$port")
    ready="kamailio_registrar: ready tls ca=$TLS_DIR/ca.pem"
fi

kpid=""
# "kill -0" is not enough: a SIGKILLed process that nobody reaped yet is a zombie and still exists
alive() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    case "$st" in Z*) return 1 ;; esac
}
stop_kamailio() {
    # SIGTERM to the main process: it stops its children itself; SIGKILL whatever is left
    [ -n "$kpid" ] || return 0
    kill -TERM "$kpid" 2>/dev/null || true
    for _ in $(seq 50); do alive "$kpid" || break; sleep 0.1; done
    # shellcheck disable=SC2046
    kill -KILL "$kpid" $(cat "$run/children" 2>/dev/null) 2>/dev/null || true
}
on_signal() {
    trap - TERM INT
    stop_kamailio
    wait 2>/dev/null || true
    rm -rf "$run" ${TLS_DIR:+"$TLS_DIR"}
    exit "$1"
}
trap 'on_signal 143' TERM
trap 'on_signal 130' INT

echo "kamailio_registrar: $kamailio on ${listen[*]}, $algo, user $user, realm ${REALM:-kamailio.test}, dir $run" >&2
"$kamailio" -f "$cfg" "${defines[@]}" \
    "${listen[@]}" \
    -DD -E -Y "$run" -P "$run/kamailio.pid" -w "$run" \
    -m 32 -M 4 -a no &
kpid=$!

# Watchdog: if this script is SIGKILLed (e.g. Rust's Child::kill) or Kamailio's main process dies,
# stop Kamailio and its children by pid and remove the temp dir.
script_pid=$$
(
    trap '' TERM INT
    while alive "$script_pid" && alive "$kpid"; do sleep 0.2; done
    stop_kamailio
    rm -rf "$run" ${TLS_DIR:+"$TLS_DIR"}
) </dev/null >/dev/null 2>&1 &

# announce readiness once the UDP port is bound, and note the children's pids for the watchdog
for _ in $(seq 100); do
    if ! kill -0 "$kpid" 2>/dev/null; then
        wait "$kpid" || exit $?
        exit 1
    fi
    if "${bound[@]}" 2>/dev/null | grep -q .; then
        sleep 0.3
        ps -o pid= --ppid "$kpid" > "$run/children" 2>/dev/null || true
        echo "$ready" >&2
        break
    fi
    sleep 0.1
done
set +e
wait "$kpid"
rc=$?
sleep 0.3   # let the watchdog clean up
exit "$rc"
