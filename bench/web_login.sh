# Sourced by the bench scripts: logs in to a freshly started pbxgate as a
# browser would (one-time password from its log, then "set your password")
# and makes an API token.
# usage: web_login BASE_URL GATEWAY_LOG WORKDIR  -> sets $TOKEN, cookie jar WORKDIR/cookies
web_login() {
  local base=$1 log=$2 w=$3 otp csrf
  otp=$(sed -n 's/.*web login: admin \/ \([^ ]*\) .*/\1/p' "$log" | head -1)
  [ -n "$otp" ] || { echo "no one-time password in $log" >&2; return 1; }
  curl -sk -c "$w/cookies" -b "$w/cookies" -o /dev/null -d "user=admin&password=$otp" "$base/login"
  csrf=$(curl -sk -c "$w/cookies" -b "$w/cookies" "$base/first-password" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
  curl -sk -c "$w/cookies" -b "$w/cookies" -o /dev/null \
    --data-urlencode "password=bench-password-1" --data-urlencode "confirm=bench-password-1" \
    --data-urlencode "csrf=$csrf" "$base/first-password"
  csrf=$(curl -sk -c "$w/cookies" -b "$w/cookies" "$base/tokens" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
  TOKEN=$(curl -sk -c "$w/cookies" -b "$w/cookies" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
    -d '{"name":"bench"}' "$base/api/v1/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  [ -n "$TOKEN" ] || { echo "no API token made" >&2; return 1; }
}
