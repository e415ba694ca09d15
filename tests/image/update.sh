#!/usr/bin/env bash
# tests/image/update.sh: firmware updates on a real box: a copy of the
# x86-64 image (image/out/, as tests/image/boot.sh built it; built here if
# it is not there) in qemu, updated over its HTTPS API with RAUC bundles
# (docs/updates.md):
#
#   - the first boot: slot A runs, marked good, with the image's version;
#     the System page's slot table says so too
#   - a bundle signed by a CA the box does not trust is refused (422, the
#     error names the signature), and one for another board too; the slots
#     are as they were, no update is pending
#   - a good bundle (the image's root filesystem, version V+update-test) is
#     installed with ?reboot=true: the box reboots by itself into slot B,
#     answers SIP, its health check marks B good, the API shows B running
#     with the new version
#   - a bundle whose system cannot pass its health check (the same root
#     filesystem with a drop-in, written with debugfs, that makes pbxgate
#     exit) is installed into A with ?reboot=true: the box boots it, the
#     health check fails and reboots, [update] boot_attempts times, then
#     GRUB boots B by itself; B's health check marks A bad. The API shows B
#     running with the old version and A bad, and so does the System page;
#     grubenv agrees.
#
# The box reboots itself (systemd, the kernel's reset); qemu runs with
# -no-reboot, so that reset ends it, and the test starts it again on the
# same disk at once: a power cycle. qemu 7.2's reset of OVMF under TCG is
# what this avoids: the firmware and GRUB then take 20 to 50 s longer than
# after a cold start, for nothing a box does.
#
# Prints the update time (upload start to the new slot answering SIP), the
# rollback time and the boot times. Every qemu run is under `timeout`;
# IMAGE_TEST_KEEP=1 keeps the work directory (disk, console log, bundles).
set -euo pipefail
cd "$(dirname "$0")/../.."
me=update.sh
# shellcheck source=tests/image/lib.sh
. tests/image/lib.sh

need_tools qemu-system-x86_64 python3 mtype timeout rauc mksquashfs debugfs openssl

# What the test sets on the box: the bad slot's health check gives up after
# HEALTH_S seconds and gets ATTEMPTS boots.
health_s=30
attempts=2

img=image/out/pbxgate-x86-gateway.img
rootfs=image/out/pbxgate-x86-gateway.rootfs.ext4
if [ ! -f "$img" ] || [ ! -f "$rootfs" ]; then
    echo "== no image in image/out: building it"
    build_image
fi
version=$(sed -n 's/^PBXGATE_VERSION=//p' <(debugfs -R "cat /etc/pbxgate-image" "$rootfs" 2>/dev/null))
[ -n "$version" ] || fail "cannot read PBXGATE_VERSION from $rootfs's /etc/pbxgate-image"

new_box
password="update test: a password of our own"
log=$work/console-1.log

# --- the bundles ---------------------------------------------------------------
echo "== bundles (pbxgate $version)"
t=$SECONDS
b=$work/bundles
mkdir -p "$b/small"
# (RAUC wants a payload larger than one block: something that compresses
# badly.)
head -c 65536 /dev/urandom >"$b/small/noise"

# Signed by a CA of our own that the box does not trust; a small but
# otherwise proper bundle for this board.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=update test: a CA the box does not trust" \
    -keyout "$b/other-ca.key" -out "$b/other-ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=update test: an untrusted signer" \
    -keyout "$b/other-signer.key" -out "$b/other-signer.csr" 2>/dev/null
openssl x509 -req -days 2 -in "$b/other-signer.csr" -CA "$b/other-ca.pem" -CAkey "$b/other-ca.key" \
    -CAcreateserial -out "$b/other-signer.pem" 2>/dev/null
mkfs.ext4 -q -F -d "$b/small" "$b/small.ext4" 8M
image/bundle.sh x86-gateway "$b/small.ext4" "$b/untrusted.raucb" --version "$version+untrusted" \
    --cert "$b/other-signer.pem" --key "$b/other-signer.key" >/dev/null
# Signed with the test key, for another board.
image/bundle.sh rpi4 "$b/small.ext4" "$b/rpi4.raucb" --version "$version" >/dev/null

# The image's own system under a new version.
good_version=$version+update-test
image/bundle.sh x86-gateway "$rootfs" "$b/good.raucb" --version "$good_version" >/dev/null

# The same system with a pbxgate that exits at once: its health check
# cannot pass.
bad_version=$version+health-fail
cp --sparse=always "$rootfs" "$b/bad.ext4"
cat >"$b/fail.conf" <<'EOF'
# tests/image/update.sh: this slot's gateway exits at once, so the boot's
# health check fails and the box goes back to the slot it came from.
[Service]
ExecStart=
ExecStart=/bin/sh -c 'echo "pbxgate: update test: this system does not start"; exit 1'
EOF
debugfs -w -R "mkdir /etc/systemd/system/pbxgate.service.d" "$b/bad.ext4" >/dev/null 2>&1
debugfs -w -R "write $b/fail.conf /etc/systemd/system/pbxgate.service.d/update-test-fail.conf" "$b/bad.ext4" >/dev/null 2>&1
debugfs -R "cat /etc/systemd/system/pbxgate.service.d/update-test-fail.conf" "$b/bad.ext4" 2>/dev/null \
    | grep -q "does not start" || fail "debugfs did not write the drop-in into $b/bad.ext4"
image/bundle.sh x86-gateway "$b/bad.ext4" "$b/bad.raucb" --version "$bad_version" >/dev/null
rm -f "$b/bad.ext4"
bundles_s=$((SECONDS - t))
echo "   made in $bundles_s s: good $(($(stat -c %s "$b/good.raucb") / 1048576)) MiB, bad, untrusted, another board's"

# --- helpers -------------------------------------------------------------------
slots() { check slots "$web_port" "$log" "$password"; }
# field JSON EXPRESSION: a value from the slots' JSON (Python, `s` is it).
field() { python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }
slot() { field "$1" "[x for x in s['slots'] if x['bootname'] == '$2'][0]['$3']"; }
expect() {
    local what=$1 got=$2 want=$3
    [ "$got" = "$want" ] || fail "$what is '$got', expected '$want'"
}
# Kernel starts in the console log, one per boot: the command line with the
# slot GRUB chose.
started='\] Command line: .*rauc\.slot=[AB]'
boots() { grep -acE "$started" "$log" || true; }
booted_slot() { grep -ao "rauc.slot=[AB]" "$log" | tail -1 | cut -d= -f2; }
# rebooted SECONDS: the box reset itself within SECONDS (qemu, with
# -no-reboot, ended after the kernel's "Restarting system"); it is powered
# on again.
rebooted() {
    local until=$((SECONDS + $1)) last
    while kill -0 "$qemu_pid" 2>/dev/null; do
        [ "$SECONDS" -lt "$until" ] || console_fail 1 "the box did not reboot within $1 s"
        sleep 1
    done
    wait "$qemu_pid" || true
    qemu_pid=""
    last=$(grep -aE "reboot: (Restarting system|Power down)" "$log" | tail -1)
    case "$last" in
    *"reboot: Restarting system"*) ;;
    *) console_fail 1 "qemu ended without the box rebooting (last: '$last')" ;;
    esac
    QEMU_TIMEOUT=900 boot 1 -no-reboot
}

# --- the first boot --------------------------------------------------------------
echo "== boot 1 (qemu TCG, OVMF; SIP on 127.0.0.1:$sip_port, web on 127.0.0.1:$web_port)"
QEMU_TIMEOUT=900 boot 1 -no-reboot
ready1=$(check sip-ready "$sip_port" 600) || console_fail 1 "boot 1: SIP never answered"
echo "   SIP-ready ${ready1} s after qemu started"
check first-login "$web_port" "$log" "$password" >/dev/null || console_fail 1 "the first login failed"
wait_console 1 "$health_done" 1 180 || console_fail 1 "boot 1: the health check did not finish"
check set-update "$web_port" "$log" "$password" "$health_s" "$attempts" || console_fail 1 "setting [update] failed"
s=$(slots) || console_fail 1 "GET /api/v1/system/slots failed"
expect "the booted slot" "$(field "$s" "[x['bootname'] for x in s['slots'] if x['booted']]")" "['A']"
expect "slot A's version" "$(slot "$s" A version)" "$version"
expect "slot A's good" "$(slot "$s" A good)" True
expect "slot B's good" "$(slot "$s" B good)" False
expect "the pending update" "$(field "$s" "s['pending']")" None
echo "   slots: A booted, version $version, good; B bad (empty)"
page=$(check slots-page "$web_port" "$log" "$password" | paste -sd ' ' -) || console_fail 1 "the System page failed"
case "$page" in
"*A|$version|running, good B|"*"|bad") echo "   the System page: $page" ;;
*) fail "the System page's slots are '$page'" ;;
esac

# --- refused bundles ---------------------------------------------------------
refused() {
    local bundle=$1 want=$2 r status error
    r=$(check upload "$web_port" "$log" "$password" "$bundle") || console_fail 1 "uploading $bundle failed"
    status=$(field "$r" "s['status']")
    error=$(field "$r" "s['answer'].get('error', '')")
    expect "the answer to $(basename "$bundle")" "$status" 422
    case "$error" in
    "$want"*) echo "   $(basename "$bundle"): 422 $error" ;;
    *) fail "$(basename "$bundle") was refused with '$error', expected '$want...'" ;;
    esac
}
refused "$b/untrusted.raucb" "bundle signature not trusted: "
refused "$b/rpi4.raucb" "bundle is for pbxgate-rpi4, this box is pbxgate-x86-gateway"
s2=$(slots) || console_fail 1 "GET /api/v1/system/slots failed"
expect "the slots after the refused bundles" "$s2" "$s"

# --- a good update -----------------------------------------------------------
echo "== update to $good_version (?reboot=true)"
n=$(boots)
t0=$SECONDS
r=$(check upload "$web_port" "$log" "$password" "$b/good.raucb" reboot) || console_fail 1 "uploading the good bundle failed"
install_s=$((SECONDS - t0))
expect "the answer to the good bundle" "$(field "$r" "s['status']")" 200
expect "the slot it went to" "$(field "$r" "s['answer']['bootname']")" B
expect "the installed version" "$(field "$r" "s['answer']['installed']['version']")" "$good_version"
expect "rebooting" "$(field "$r" "s['answer']['rebooting']")" True
echo "   uploaded, checked and installed into B in $install_s s; the box reboots"
rebooted 120
wait_console 1 "$started" $((n + 1)) 120 || console_fail 1 "the box did not start again after the update"
expect "the slot booted after the update" "$(booted_slot)" B
check sip-ready "$sip_port" 600 >/dev/null || console_fail 1 "slot B: SIP never answered"
update_s=$((SECONDS - t0))
echo "   slot B answers SIP $update_s s after the upload started"
wait_console 1 "$health_done" 2 $((health_s + 120)) \
    || console_fail 1 "slot B's health check did not finish"
marked=$(grep -ac "pbxgate health-check: marking the booted slot good" "$log" || true)
[ "$marked" -ge 2 ] || console_fail 1 "slot B's health check did not mark it good"
s=$(slots) || console_fail 1 "GET /api/v1/system/slots failed on slot B"
expect "the booted slot" "$(field "$s" "[x['bootname'] for x in s['slots'] if x['booted']]")" "['B']"
expect "slot B's version" "$(slot "$s" B version)" "$good_version"
expect "slot B's good" "$(slot "$s" B good)" True
expect "slot A's good" "$(slot "$s" A good)" True
expect "the pending update" "$(field "$s" "s['pending']")" None
echo "   slots: B booted, version $good_version, marked good by its health check; A good"

# --- an update whose health check fails --------------------------------------
echo "== update to $bad_version, whose gateway does not start (?reboot=true)"
n=$(boots)
t0=$SECONDS
r=$(check upload "$web_port" "$log" "$password" "$b/bad.raucb" reboot) || console_fail 1 "uploading the bad bundle failed"
expect "the answer to the bad bundle" "$(field "$r" "s['status']")" 200
expect "the slot it went to" "$(field "$r" "s['answer']['bootname']")" A
echo "   installed into A in $((SECONDS - t0)) s; the box reboots"
# Each of A's boots: its health check fails after health_s and reboots;
# then GRUB boots B by itself.
for i in $(seq 1 "$attempts"); do
    rebooted $((health_s + 240))
    wait_console 1 "$started" $((n + i)) 120 || console_fail 1 "the box did not start again"
    expect "the slot of boot attempt $i" "$(booted_slot)" A
done
rebooted $((health_s + 240))
wait_console 1 "$started" $((n + attempts + 1)) 120 || console_fail 1 "the box did not start again"
expect "the slot booted after A's $attempts boot attempts" "$(booted_slot)" B
fails=$(grep -ac "pbxgate health-check: the updated slot failed its health check: rebooting" "$log" || true)
expect "health checks that failed and rebooted" "$fails" "$attempts"
check sip-ready "$sip_port" 600 >/dev/null || console_fail 1 "back on slot B: SIP never answered"
rollback_s=$((SECONDS - t0))
echo "   back on slot B, answering SIP, $rollback_s s after the upload started ($attempts boots of A)"
wait_console 1 "$health_done" 3 $((health_s + 120)) \
    || console_fail 1 "back on slot B, its health check did not finish"
grep -aq "pbxgate health-check: marking the booted slot good; the update in the other slot did not pass: marking it bad" "$log" \
    || console_fail 1 "back on slot B, its health check did not mark A bad"
s=$(slots) || console_fail 1 "GET /api/v1/system/slots failed back on slot B"
expect "the booted slot" "$(field "$s" "[x['bootname'] for x in s['slots'] if x['booted']]")" "['B']"
expect "slot B's version" "$(slot "$s" B version)" "$good_version"
expect "slot B's good" "$(slot "$s" B good)" True
expect "slot A's version" "$(slot "$s" A version)" "$bad_version"
expect "slot A's good" "$(slot "$s" A good)" False
expect "the pending update" "$(field "$s" "s['pending']")" None
echo "   slots: B booted, version $good_version, good; A ($bad_version) marked bad"
page=$(check slots-page "$web_port" "$log" "$password" | paste -sd ' ' -) || console_fail 1 "the System page failed"
expect "the System page's slots" "$page" "A|$bad_version|bad *B|$good_version|running, good"
echo "   the System page: $page"

power_off 1
env=$(grubenv)
for want in A_OK=0 B_OK=1 B_TRY=0 "MAX_TRIES=$attempts"; do
    grep -qx "$want" <<<"$env" || fail "grubenv at the end lacks $want: $env"
done
boot_times=$(grep -ao "pbxgate health-check: passed in [0-9]* s" "$log" | sed 's/.* in //' | paste -sd, -)

echo "== image update test passed"
echo "   bundles: made in $bundles_s s (good: $(($(stat -c %s "$b/good.raucb") / 1048576)) MiB)"
echo "   first boot to SIP-ready in qemu (TCG): ${ready1} s"
echo "   update: ${update_s} s from the upload's start to slot B answering SIP (upload, check and install: ${install_s} s)"
echo "   failed update: ${rollback_s} s from the upload's start to slot B answering SIP again ($attempts boots of A, health_timeout_s $health_s)"
echo "   health checks that passed took: $boot_times"
