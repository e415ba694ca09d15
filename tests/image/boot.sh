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
#     no unit failed; the slot was marked good in grubenv (A_TRY back to 0)
#
# Prints the image size, the build time and the boot times to SIP-ready.
# Every qemu run is under `timeout`. IMAGE_BOOT_KEEP=1 keeps the work
# directory (disk, console logs) for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

fail() {
    echo "tests/image/boot.sh: FAIL: $*" >&2
    exit 1
}

for tool in qemu-system-x86_64 sipp python3 mtype timeout; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (tests/run.sh installs it)"
done
ovmf=/usr/share/ovmf/OVMF.fd
[ -f "$ovmf" ] || fail "$ovmf is missing (apt-get install ovmf)"

# --- build -------------------------------------------------------------------
t=$SECONDS
timeout 1800 image/build.sh x86-gateway --no-xz || fail "image/build.sh failed"
build_s=$((SECONDS - t))
img=image/out/pbxgate-x86-gateway.img
[ -f "$img" ] || fail "no $img after the build"
img_mib=$(($(stat -c %s "$img") / 1048576))

# --- the box -----------------------------------------------------------------
work=$(mktemp -d /tmp/pbxgate-image-boot.XXXXXX)
qemu_pid=""
cleanup() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    if [ "${IMAGE_BOOT_KEEP:-0}" = 1 ]; then
        echo "tests/image/boot.sh: kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# A disk larger than the image, as a box's is.
cp --sparse=always "$img" "$work/disk.img"
truncate -s +1G "$work/disk.img"

free_port() {
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"
}
sip_port=$(free_port SOCK_DGRAM)
web_port=$(free_port SOCK_STREAM)
check() { python3 tests/image/check.py "$@"; }

# boot N: starts qemu on the disk; the console (the box's ttyS1: ttyS0 is the
# line board's port on this board) goes to console-N.log.
boot() {
    local n=$1
    rm -f "$work/qmp.sock"
    timeout 900 qemu-system-x86_64 \
        -machine q35 -accel tcg,thread=multi -smp 2 -m 1024 \
        -bios "$ovmf" \
        -drive "file=$work/disk.img,format=raw,if=virtio" \
        -netdev "user,id=lan,hostfwd=udp:127.0.0.1:$sip_port-:5080,hostfwd=tcp:127.0.0.1:$web_port-:8443" \
        -device virtio-net-pci,netdev=lan \
        -nographic -monitor none \
        -serial null -serial "file:$work/console-$n.log" \
        -qmp "unix:$work/qmp.sock,server=on,wait=off" \
        >"$work/qemu-$n.out" 2>&1 &
    qemu_pid=$!
}

# power_off N: the power button, then qemu must exit by itself.
power_off() {
    local n=$1
    check power-button "$work/qmp.sock" || fail "qemu's monitor did not take the power button"
    for _ in $(seq 1 120); do
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 1
    done
    if kill -0 "$qemu_pid" 2>/dev/null; then
        tail -20 "$work/console-$n.log" >&2
        fail "boot $n did not power off within 120 s of the power button"
    fi
    wait "$qemu_pid" || true
    qemu_pid=""
    grep -aq "reboot: Power down" "$work/console-$n.log" || fail "boot $n did not end in a clean power-off"
}

console_fail() {
    echo "--- the last lines of console-$1.log:" >&2
    tail -40 "$work/console-$1.log" >&2 || true
    fail "$2"
}

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
power_off 1

log1=$work/console-1.log
grep -aq "pbxgate-data: grew /dev/vda4" "$log1" || fail "boot 1 did not grow the data partition"
grep -aq "pbxgate-data: made an ext4 file system" "$log1" || fail "boot 1 did not format the data partition"
grep -aq "marked slot rootfs.0 as good" "$log1" || fail "boot 1 did not mark slot A good"

echo "== boot 2 (the same disk)"
boot 2
ready2=$(check sip-ready "$sip_port" 600) || console_fail 2 "boot 2: SIP never answered"
echo "   SIP-ready ${ready2} s after qemu started"
got=$(check get-calls "$web_port" "$work/console-2.log" "$password") || console_fail 2 "logging in after the reboot failed"
[ "$got" = 123 ] || fail "[calls] max_concurrent is '$got' after the reboot, 123 was set before it"
echo "   [calls] max_concurrent is still 123, the password still works"
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
env=$(mtype -i "$work/disk.img@@1048576" ::/EFI/BOOT/grubenv) || fail "cannot read grubenv from the disk"
for want in "ORDER=A B" A_OK=1 A_TRY=0 B_OK=0; do
    grep -qx "$want" <<<"$env" || fail "grubenv after two boots lacks $want: $env"
done

echo "== image boot test passed"
echo "   image: $img_mib MiB ($img, uncompressed)"
echo "   build: ${build_s} s (image/build.sh --no-xz)"
echo "   boot to SIP-ready in qemu (TCG): ${ready1} s first boot (grows and formats /data), ${ready2} s second boot"
