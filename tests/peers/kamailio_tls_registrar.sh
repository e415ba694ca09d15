#!/usr/bin/env bash
# pbxgate end-to-end tests: Kamailio as a digest-authenticating registrar that listens on TLS
# (Debian's kamailio-tls-modules) on one loopback address, in the foreground, until killed.
#
# usage: tests/peers/kamailio_tls_registrar.sh LISTEN_IP PORT ALGORITHM USER PASSWORD
#   as tests/peers/kamailio_registrar.sh (same options in the environment), but on
#   tls:LISTEN_IP:PORT only.
#
# It makes a test CA and a server certificate for LISTEN_IP (CN and subjectAltName IP) with
# openssl in a temp dir of its own, then runs kamailio_registrar.sh with TLS_DIR set to it, which
# removes the dir when it stops. stderr shows "kamailio_tls_registrar: ca=DIR/ca.pem" before
# Kamailio starts and "kamailio_registrar: ready tls ca=DIR/ca.pem" once the port is bound: a
# client that trusts that CA and expects the host name LISTEN_IP accepts the server. Stopping: as
# kamailio_registrar.sh (SIGTERM, or SIGKILL and its watchdog).
set -euo pipefail

if [ $# -ne 5 ]; then
    sed -n '2,7p' "$0" >&2
    exit 2
fi
ip=$1
case "$ip" in
    *[!0-9.]*|"") echo "kamailio_tls_registrar.sh: LISTEN_IP must be an IPv4 address, not '$ip'" >&2; exit 2 ;;
esac

dir=$(mktemp -d "${TMPDIR:-/tmp}/pbxgate-kamailio-tls.XXXXXX")
trap 'rm -rf "$dir"' EXIT
days=7
# P-256 keys: quick to make, and both Kamailio's OpenSSL and rustls take them.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days "$days" -subj "/CN=pbxgate test CA $ip" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=$ip" 2>/dev/null
# RFC 5922 section 7.1 and RFC 6125: a client checks an IP address against the certificate's
# subjectAltName iPAddress entries, so the IP goes there, not only into the CN.
printf '%s\n' "subjectAltName=IP:$ip" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > "$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days "$days" -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
chmod 600 "$dir/server.key" "$dir/ca.key"

echo "kamailio_tls_registrar: ca=$dir/ca.pem" >&2
trap - EXIT
TLS_DIR=$dir exec bash "$(cd "$(dirname "$0")" && pwd)/kamailio_registrar.sh" "$@"
