#!/usr/bin/env bash
# tests/image/boot.sh: builds the x86-64 image (image/build.sh x86-gateway
# --no-xz, the Debian root filesystem from its cache) and boots a copy of it
# in qemu (q35, OVMF, TCG: KVM does not work on the test machines) with user
# networking that forwards two loopback ports to the box:
#
#   - SIP OPTIONS to the LAN listener (5080) is answered 200 (sipp); the WAN
#     listener would drop it, slirp's traffic comes from 10.0.2.2
#   - the web page's login is served over HTTPS with the certificate whose
#     fingerprint the console showed; the one-time password from the console
#     logs in and a password of our own is set
#   - a configuration change through the API ([calls] max_concurrent)
#     survives a clean shutdown (the ACPI power button) and a boot from the
#     same disk, and so does the password
#   - the first boot grew the data partition to the disk's end (the copy is
#     1 GiB larger than the image) and formatted it, the second did not;
#     no unit failed; the health check (pbxgate-health.service) passed and
#     marked the slot good in grubenv (A_TRY back to 0)
#
# Prints the image size, the build time and the boot times to SIP-ready.
# Every qemu run is under `timeout`. IMAGE_TEST_KEEP=1 keeps the work
# directory (disk, console logs) for a look afterwards. The shell functions
# are tests/image/lib.sh's, shared with tests/image/update.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
me=boot.sh
# shellcheck source=tests/image/lib.sh
. tests/image/lib.sh

need_tools qemu-system-x86_64 sipp python3 mtype timeout

# --- build -------------------------------------------------------------------
build_image

# --- the box -----------------------------------------------------------------
new_box

password="image test: a password of our own"

echo "== boot 1 (qemu TCG, OVMF; SIP on 127.0.0.1:$sip_port, web on 127.0.0.1:$web_port)"
boot 1
ready1=$(check sip-ready "$sip_port" 600) || console_fail 1 "boot 1: SIP never answered"
echo "   SIP-ready ${ready1} s after qemu started"
(cd "$work" && timeout 60 sipp -sf "$repo/tests/sipp/options_uac.xml" -t u1 -i 127.0.0.1 -p 0 -m 1 \
    -recv_timeout 5000 -timeout 30s -timeout_error -nostdin "127.0.0.1:$sip_port" >sipp.out 2>&1) \
    || { tail -20 "$work/sipp.out" >&2; fail "sipp: OPTIONS to the LAN listener was not answered 200"; }
echo "   sipp: OPTIONS to the LAN listener answered 200"
check first-login "$web_port" "$work/console-1.log" "$password" || console_fail 1 "the first login failed"
check set-calls "$web_port" "$work/console-1.log" "$password" 123 || console_fail 1 "the API change failed"
wait_console 1 "$health_done" 1 180 || console_fail 1 "boot 1: the health check did not finish"
power_off 1

log1=$work/console-1.log
grep -aq "pbxgate-data: grew /dev/vda4" "$log1" || fail "boot 1 did not grow the data partition"
grep -aq "pbxgate-data: made an ext4 file system" "$log1" || fail "boot 1 did not format the data partition"
grep -aq "pbxgate health-check: marking the booted slot good" "$log1" \
    || console_fail 1 "boot 1: the health check did not mark slot A good"

echo "== boot 2 (the same disk)"
boot 2
ready2=$(check sip-ready "$sip_port" 600) || console_fail 2 "boot 2: SIP never answered"
echo "   SIP-ready ${ready2} s after qemu started"
got=$(check get-calls "$web_port" "$work/console-2.log" "$password") || console_fail 2 "logging in after the reboot failed"
[ "$got" = 123 ] || fail "[calls] max_concurrent is '$got' after the reboot, 123 was set before it"
echo "   [calls] max_concurrent is still 123, the password still works"
wait_console 2 "$health_done" 1 180 || console_fail 2 "boot 2: the health check did not finish"
power_off 2

log2=$work/console-2.log
if grep -aq "web login: admin / " "$log2"; then fail "boot 2 made a new one-time password: the data partition was not kept"; fi
if grep -aq "pbxgate-data: grew\|pbxgate-data: made" "$log2"; then fail "boot 2 grew or formatted the data partition again"; fi
for n in 1 2; do
    if grep -a "Failed to start" "$work/console-$n.log"; then fail "boot $n: a unit failed (above)"; fi
done
grep -aq "pbxgate: booting slot A" "$log2" || fail "boot 2 did not boot slot A"

# The boot flags after two boots, each marked good: slot A first, OK, no try
# counted (the EFI partition starts at 1 MiB).
env=$(grubenv)
for want in "ORDER=A B" A_OK=1 A_TRY=0 B_OK=0; do
    grep -qx "$want" <<<"$env" || fail "grubenv after two boots lacks $want: $env"
done

echo "== image boot test passed"
echo "   image: $img_mib MiB ($img, uncompressed)"
echo "   build: ${build_s} s (image/build.sh --no-xz)"
echo "   boot to SIP-ready in qemu (TCG): ${ready1} s first boot (grows and formats /data), ${ready2} s second boot"
