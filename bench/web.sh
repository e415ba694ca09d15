#!/usr/bin/env bash
# Requests per second and CPU per request of the web server on one core,
# beside nginx serving a file of the same size over TLS on the same core,
# in the same run.
# usage: bench/web.sh [SECONDS] [CONNECTIONS]
# pbxgate (idle gateway: two listeners, no calls) pinned to CPU 0, wrk on
# CPU 1 with keep-alive connections. For each of /api/v1/status (bearer
# token), /metrics (token), /healthz: requests/s, and pbxgate's utime+stime
# over the run divided by the requests. Then nginx (one worker on CPU 0,
# TLS, the same body sizes as static files) under the same wrk load.
set -u
S=${1:-10}; C=${2:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/web_login.sh"
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
command -v curl >/dev/null || need+=(curl)
[ ${#need[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=120 "${need[@]}" >/dev/null
[ -x "$root/target/release/pbxgate" ] || (cd "$root" && cargo build --release >/dev/null 2>&1)
w=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.3; rm -rf "$w"; }
trap cleanup EXIT
hz=$(getconf CLK_TCK)
cat > "$w/pbxgate.toml" <<TOML
[[listener]]
name = "wan"
side = "wan"
bind = "127.0.0.1:25260"
transports = ["udp"]

[[listener]]
name = "lan"
side = "lan"
bind = "127.0.0.1:25280"
transports = ["udp"]

[web]
bind = "127.0.0.1:25443"

[log]
level = "warn"
TOML
taskset -c 0 "$root/target/release/pbxgate" --data-dir "$w" >"$w/gw.log" 2>&1 &
gp=$!; pids+=($gp)
for _ in $(seq 100); do grep -q "web login:" "$w/gw.log" 2>/dev/null && break; sleep 0.1; done
grep -q "web page:" "$w/gw.log" || { echo "pbxgate did not start:" >&2; cat "$w/gw.log" >&2; exit 1; }
base=https://127.0.0.1:25443
web_login "$base" "$w/gw.log" "$w" || exit 1

# one LOAD: wrk on CPU 1 against URL; prints "requests=N rps=R"
load() {
  taskset -c 1 wrk -t1 -c"$C" -d"${S}s" "$@" 2>&1 | awk '/requests in/{n=$1} /Requests\/sec/{r=$2} /Non-2xx/{bad=$4} END{printf "requests=%d rps=%.0f non2xx=%d\n", n, r, bad+0}'
}
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
for path in /api/v1/status /metrics /healthz; do
  curl -sk -H "Authorization: Bearer $TOKEN" "$base$path" -o "$w/body$(echo $path | tr / _)"
  c0=$(ticks $gp)
  res=$(load -H "Authorization: Bearer $TOKEN" "$base$path")
  c1=$(ticks $gp)
  python3 - "$path" "$res" "$c0" "$c1" "$hz" "$(stat -c %s "$w/body$(echo $path | tr / _)")" <<'PY'
import sys
path,res,c0,c1,hz,size=sys.argv[1:]
kv=dict(t.split("=") for t in res.split())
n=int(kv["requests"]); us=1e6*(int(c1)-int(c0))/int(hz)/max(n,1)
print(f"pbxgate {path:16} body={size}B rps={kv['rps']} non2xx={kv['non2xx']} cpu_us_per_request={us:.0f}")
PY
done
rss=$(awk '/^Rss:/{print $2}' /proc/$gp/smaps_rollup)
echo "pbxgate rss_kib=$rss after the runs"
kill $gp; pids=()

# The anchor: nginx, one worker on CPU 0, TLS with a self-signed P-256
# certificate (as pbxgate's), the same bodies as static files.
mkdir -p "$w/ng/www/api/v1" "$w/ng/tmp"
cp "$w/body_api_v1_status" "$w/ng/www/api/v1/status"
cp "$w/body_metrics" "$w/ng/www/metrics"
cp "$w/body_healthz" "$w/ng/www/healthz"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
  -keyout "$w/ng/key.pem" -out "$w/ng/cert.pem" >/dev/null 2>&1
cat > "$w/ng/nginx.conf" <<NGINX
worker_processes 1;
worker_cpu_affinity 01;
daemon off;
pid $w/ng/nginx.pid;
error_log $w/ng/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $w/ng/tmp; proxy_temp_path $w/ng/tmp; fastcgi_temp_path $w/ng/tmp;
  uwsgi_temp_path $w/ng/tmp; scgi_temp_path $w/ng/tmp;
  default_type application/json;
  server {
    listen 127.0.0.1:25444 ssl;
    ssl_certificate $w/ng/cert.pem; ssl_certificate_key $w/ng/key.pem;
    root $w/ng/www;
  }
}
NGINX
taskset -c 0 nginx -c "$w/ng/nginx.conf" -p "$w/ng" >/dev/null 2>&1 &
np=$!; pids+=($np)
sleep 1
worker=$(pgrep -P $np | head -1); worker=${worker:-$np}
for path in /api/v1/status /metrics /healthz; do
  c0=$(ticks $worker)
  res=$(load "https://127.0.0.1:25444$path")
  c1=$(ticks $worker)
  python3 - "$path" "$res" "$c0" "$c1" "$hz" <<'PY'
import sys
path,res,c0,c1,hz=sys.argv[1:]
kv=dict(t.split("=") for t in res.split())
n=int(kv["requests"]); us=1e6*(int(c1)-int(c0))/int(hz)/max(n,1)
print(f"nginx   {path:16} static file    rps={kv['rps']} non2xx={kv['non2xx']} cpu_us_per_request={us:.0f}")
PY
done
