# shellcheck shell=bash
# tests/image/lib.sh: what tests/image/boot.sh and tests/image/update.sh
# share, sourced from the repository's top directory after `set -euo
# pipefail` and `me=NAME` (the test's name in messages):
#
#   need_tools TOOL...   fail unless each is on PATH (and OVMF is there)
#   build_image          image/build.sh x86-gateway --no-xz (the Debian root
#                        filesystem from its cache); sets img, img_mib, build_s
#   new_box              a work directory with a copy of the image 1 GiB
#                        larger (a box's disk is larger than the image), two
#                        free loopback ports (sip_port, web_port) and a trap
#                        that stops qemu and removes the directory
#   boot N [ARG...]      starts qemu on the disk, with more qemu arguments
#                        if given; the console is appended to console-N.log
#   power_off N          the ACPI power button; qemu must exit by itself
#   console_fail N WHY   the console's last lines, then fail
#   wait_console N PATTERN COUNT SECONDS
#                        until console-N.log holds COUNT lines matching the
#                        extended regular expression PATTERN; 1 at the deadline
#   check ...            tests/image/check.py (SIP, HTTPS, the API, QMP)
#   grubenv              the boot flags on the disk's EFI partition
#   health_done          the console's line once the boot's health check has
#                        marked the slot (or left it), for wait_console; not
#                        systemd's "Finished": systemd stops writing to the
#                        console once the console's getty starts
#
# IMAGE_TEST_KEEP=1 keeps the work directory (disk, console logs) for a look
# afterwards.

: "${me:?tests/image/lib.sh: set me= before sourcing it}"
repo=$(pwd)
ovmf=/usr/share/ovmf/OVMF.fd
# shellcheck disable=SC2034 # for the callers' wait_console
health_done='pbxgate health-check: done'

fail() {
    echo "$me: FAIL: $*" >&2
    exit 1
}

need_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing (tests/run.sh installs it)"
    done
    [ -f "$ovmf" ] || fail "$ovmf is missing (apt-get install ovmf)"
}

# shellcheck disable=SC2034 # build_s and img_mib are the caller's
build_image() {
    local t=$SECONDS
    timeout 1800 image/build.sh x86-gateway --no-xz || fail "image/build.sh failed"
    build_s=$((SECONDS - t))
    img=image/out/pbxgate-x86-gateway.img
    [ -f "$img" ] || fail "no $img after the build"
    img_mib=$(($(stat -c %s "$img") / 1048576))
}

check() { python3 "$repo/tests/image/check.py" "$@"; }

free_port() {
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"
}

qemu_pid=""
work=""
cleanup() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    [ -n "$work" ] || return 0
    if [ "${IMAGE_TEST_KEEP:-0}" = 1 ]; then
        echo "$me: kept $work"
    else
        rm -rf "$work"
    fi
}

new_box() {
    work=$(mktemp -d "/tmp/pbxgate-$me.XXXXXX")
    trap cleanup EXIT
    cp --sparse=always "$img" "$work/disk.img"
    truncate -s +1G "$work/disk.img"
    sip_port=$(free_port SOCK_DGRAM)
    web_port=$(free_port SOCK_STREAM)
}

# boot N: qemu (q35, OVMF, TCG: KVM does not work on the test machines) on
# the disk, with user networking that forwards the two loopback ports to the
# LAN listener (5080; the WAN listener would drop slirp's 10.0.2.2) and the
# web page (8443). The console (the box's ttyS1: ttyS0 is the line board's
# port on this board) is appended to console-N.log, so qemu can be started
# again with the same log.
boot() {
    local n=$1
    shift
    rm -f "$work/qmp.sock"
    timeout "${QEMU_TIMEOUT:-900}" qemu-system-x86_64 \
        -machine q35 -accel tcg,thread=multi -smp 2 -m 1024 \
        -bios "$ovmf" \
        -drive "file=$work/disk.img,format=raw,if=virtio" \
        -netdev "user,id=lan,hostfwd=udp:127.0.0.1:$sip_port-:5080,hostfwd=tcp:127.0.0.1:$web_port-:8443" \
        -device virtio-net-pci,netdev=lan \
        -nographic -monitor none \
        -chardev "file,id=console,path=$work/console-$n.log,append=on" \
        -serial null -serial chardev:console \
        -qmp "unix:$work/qmp.sock,server=on,wait=off" \
        "$@" >>"$work/qemu-$n.out" 2>&1 &
    qemu_pid=$!
}

console_fail() {
    echo "--- the last lines of console-$1.log:" >&2
    tail -40 "$work/console-$1.log" >&2 || true
    fail "$2"
}

wait_console() {
    local log=$work/console-$1.log pattern=$2 count=$3 until=$((SECONDS + $4)) n
    while [ "$SECONDS" -lt "$until" ]; do
        n=$(grep -acE "$pattern" "$log" 2>/dev/null || true)
        [ "${n:-0}" -ge "$count" ] && return 0
        kill -0 "$qemu_pid" 2>/dev/null || return 1
        sleep 1
    done
    return 1
}

power_off() {
    local n=$1
    check power-button "$work/qmp.sock" || fail "qemu's monitor did not take the power button"
    for _ in $(seq 1 120); do
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 1
    done
    if kill -0 "$qemu_pid" 2>/dev/null; then
        console_fail "$n" "boot $n did not power off within 120 s of the power button"
    fi
    wait "$qemu_pid" || true
    qemu_pid=""
    grep -aq "reboot: Power down" "$work/console-$n.log" || fail "boot $n did not end in a clean power-off"
}

# The boot flags, from the EFI partition (it starts at 1 MiB); qemu must be
# off.
grubenv() {
    mtype -i "$work/disk.img@@1048576" ::/EFI/BOOT/grubenv || fail "cannot read grubenv from the disk"
}
