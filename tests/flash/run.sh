#!/usr/bin/env bash
# Tests of flash.sh against real block devices: loop devices backed by files
# in a scratch directory, a small made-up image (an MBR from sfdisk and an
# ext4 made with mkfs.ext4 -d), its .img.xz, and broken copies of it. Needs
# root (loop devices, mount); re-runs itself with sudo otherwise. Never
# points flash.sh at a real disk except for --dry-run against the system
# disk, which it must refuse.
#
# Each check prints what it checks and "ok" or "FAIL: why"; the script exits
# non-zero if any check failed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
    exec sudo -- "$here/run.sh" "$@"
fi
flash=$(cd "$here/../.." && pwd)/flash.sh

for tool in losetup mount umount mkfs.ext4 sfdisk xz sha256sum cmp python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "tests/flash: $tool is missing (tests/run.sh installs it)" >&2; exit 1; }
done
if ! probe=$(losetup -f 2>&1); then
    echo "tests/flash: loop devices cannot be made here: 'losetup -f' says: $probe" >&2
    exit 1
fi

work=$(mktemp -d /tmp/pbxgate-flash-test.XXXXXX)
loops=()
mounts=()
cleanup() {
    local m l
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done
    for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
    # A tmpfs under $work holds one backing file; unmount it after its loop.
    umount "$work/small" 2>/dev/null || true
    rm -rf -- "$work"
}
trap cleanup EXIT

# --- reporting ---------------------------------------------------------------
failures=0
checks=0
current=""
check() {
    current=$1
    checks=$((checks + 1))
    printf 'flash: %s ... ' "$current"
}
ok() { echo ok; }
fail() {
    failures=$((failures + 1))
    echo "FAIL: $*"
    if [ -s "$work/out" ]; then
        echo "---- flash.sh said:"
        sed 's/^/    /' "$work/out"
        echo "----"
    fi
}

# --- running flash.sh --------------------------------------------------------
# dd is reached through a wrapper that logs every call, so a check can show
# that flash.sh never started writing (no dd with of=) as well as that the
# device's bytes are unchanged.
real_dd=$(command -v dd)
real_blockdev=$(command -v blockdev)
mkdir -p "$work/bin" "$work/bin-corrupt"
cat >"$work/bin/dd" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$work/dd.log"
exec "$real_dd" "\$@"
EOF
# For the verify check only: a blockdev whose --flushbufs also overwrites
# 64 KiB of the device, as a card that loses what it was given would.
cat >"$work/bin-corrupt/blockdev" <<EOF
#!/bin/sh
"$real_blockdev" "\$@" || exit
if [ "\$1" = --flushbufs ]; then
    head -c 65536 /dev/urandom | "$real_dd" of="\$2" bs=64k seek=16 conv=notrunc,fsync status=none
    "$real_blockdev" --flushbufs "\$2"
fi
EOF
chmod +x "$work/bin/dd" "$work/bin-corrupt/blockdev"

rc=0
# run_flash ARG... : flash.sh with stdin from /dev/null; output in $work/out,
# exit status in $rc.
run_flash() {
    : >"$work/dd.log"
    rc=0
    PATH="$work/bin:$PATH" "$flash" "$@" </dev/null >"$work/out" 2>&1 || rc=$?
}
# run_flash_stdin TEXT ARG... : the same with TEXT piped to stdin.
run_flash_stdin() {
    local text=$1
    shift
    : >"$work/dd.log"
    rc=0
    printf '%s\n' "$text" | PATH="$work/bin:$PATH" "$flash" "$@" >"$work/out" 2>&1 || rc=$?
}
# run_flash_tty ANSWER ARG... : on a terminal, answering the question.
run_flash_tty() {
    local answer=$1
    shift
    : >"$work/dd.log"
    rc=0
    PATH="$work/bin:$PATH" python3 "$here/answer_tty.py" "$answer" "$flash" "$@" >"$work/out" 2>&1 || rc=$?
}

wrote_with_dd() { grep -q 'of=' "$work/dd.log"; }
said() { grep -qiF -- "$1" "$work/out"; }
sum() { sha256sum <"$1" | cut -d ' ' -f 1; }

# new_loop NAME SIZE : a backing file filled with 'Z' bytes (so that zeros
# written by flash.sh show), attached to a free loop device. Sets $dev and
# $back.
new_loop() {
    back="$work/$1.back"
    head -c "$2" /dev/zero | tr '\0' 'Z' >"$back"
    dev=$(losetup -f --show -- "$back")
    loops+=("$dev")
}
# Bytes 0..len(IMAGE) of the backing file equal the unpacked image.
holds_image() {
    cmp -s -n "$img_size" -- "$img" "$1"
}

# --- the made-up image -------------------------------------------------------
# 4 MiB: an MBR with one Linux partition from 1 MiB, holding an ext4 with a
# file in it; what an appliance image looks like, in small.
img="$work/test.img"
mkdir -p "$work/rootfs/etc"
echo "pbxgate flash.sh test image" >"$work/rootfs/etc/motd"
head -c 100000 /dev/urandom >"$work/rootfs/random.bin"
truncate -s 4M "$img"
printf 'label: dos\nstart=2048, type=83\n' | sfdisk -q "$img" >/dev/null
truncate -s 3M "$work/part.ext4"
mkfs.ext4 -q -F -L pbxgate-test -d "$work/rootfs" "$work/part.ext4"
dd if="$work/part.ext4" of="$img" bs=1M seek=1 conv=notrunc status=none
img_size=$(stat -c %s "$img")
xz -0 -T1 -c "$img" >"$work/test.img.xz"
xz_size=$(stat -c %s "$work/test.img.xz")
head -c $((xz_size / 2)) "$work/test.img.xz" >"$work/short.img.xz"
cp "$work/test.img.xz" "$work/bad.img.xz"
printf '\377' | dd of="$work/bad.img.xz" bs=1 seek=$((xz_size / 2)) conv=notrunc status=none
echo "flash: made a $img_size-byte image (MBR + ext4) and its .img.xz ($xz_size bytes)"

# --- checks ------------------------------------------------------------------
check "flash.sh is shellcheck-clean"
if ! command -v shellcheck >/dev/null 2>&1; then
    echo "skipped: shellcheck is not installed (tests/run.sh installs it)"
elif shellcheck "$flash" "$here/run.sh" >"$work/out" 2>&1; then
    ok
else
    fail "shellcheck found problems"
fi

check "--help exits 0 and covers the system disk, mounts, --yes, --dry-run, .img.xz, verify and FLASH_SH_SYSTEM_DISK"
run_flash --help
missing=""
for word in "system disk" mounted --yes --dry-run .img.xz "xz -t" SHA-256 "reads back" FLASH_SH_SYSTEM_DISK "Exit status"; do
    said "$word" || missing="$missing '$word'"
done
if [ "$rc" -ne 0 ]; then fail "exit $rc"; elif [ -n "$missing" ]; then fail "no mention of$missing"; else ok; fi

check "no arguments is a usage error (exit 2)"
run_flash
if [ "$rc" -eq 2 ]; then ok; else fail "exit $rc"; fi

check "a missing image is refused with a clear message"
new_loop missing 8M
run_flash --yes "$work/nope.img" "$dev"
if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said "no such file"; then fail "message does not say the file is missing"; else ok; fi

check "an image that is neither .img nor .img.xz is refused"
cp "$img" "$work/test.bin"
run_flash --yes "$work/test.bin" "$dev"
if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said ".img.xz"; then fail "message does not name the accepted kinds"; else ok; fi

check "a regular file as DEVICE is refused (not a block device) and left unchanged"
head -c 8M /dev/zero >"$work/plain-file"
before=$(sum "$work/plain-file")
run_flash --yes "$img" "$work/plain-file"
if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said "not a block device"; then fail "message does not say so"; elif [ "$(sum "$work/plain-file")" != "$before" ]; then fail "the file changed"; else ok; fi

check ".img written to a loop device with --yes and verified: the loop file's bytes equal the image"
new_loop raw 8M
run_flash --yes "$img" "$dev"
if [ "$rc" -ne 0 ]; then fail "exit $rc"; elif ! said "verified"; then fail "no word of verifying"; elif ! holds_image "$back"; then fail "the loop file does not hold the image"; else ok; fi

check "what will be overwritten is shown: device, size, loop backing file, partition table now on it"
# The loop device now holds the image, so the MBR written above shows.
run_flash --dry-run "$img" "$dev"
missing=""
for word in "$dev" "8.0MiB" "$back" "Disklabel type: dos" "83 Linux"; do
    said "$word" || missing="$missing '$word'"
done
if [ "$rc" -ne 0 ]; then fail "exit $rc"; elif [ -n "$missing" ]; then fail "no mention of$missing"; else ok; fi

check "--dry-run checks, reports and writes nothing"
new_loop dry 8M
before=$(sum "$back")
run_flash --dry-run "$img" "$dev"
if [ "$rc" -ne 0 ]; then fail "exit $rc"; elif ! said "Nothing was written"; then fail "no report"; elif wrote_with_dd; then fail "dd was started to write: $(cat "$work/dd.log")"; elif [ "$(sum "$back")" != "$before" ]; then fail "the loop file changed"; else ok; fi

check ".img.xz written and verified: the loop file's bytes equal the unpacked image"
new_loop xz 8M
run_flash --yes "$work/test.img.xz" "$dev"
if [ "$rc" -ne 0 ]; then fail "exit $rc"; elif ! said "verified"; then fail "no word of verifying"; elif ! holds_image "$back"; then fail "the loop file does not hold the image"; else ok; fi

check "a truncated .img.xz is refused before anything is written (loop file unchanged)"
new_loop trunc 8M
before=$(sum "$back")
run_flash --yes "$work/short.img.xz" "$dev"
if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said "truncated or corrupt"; then fail "message does not say truncated or corrupt"; elif wrote_with_dd; then fail "dd was started to write"; elif [ "$(sum "$back")" != "$before" ]; then fail "the loop file changed"; else ok; fi

check "a corrupt .img.xz (one byte changed) is refused before anything is written"
run_flash --yes "$work/bad.img.xz" "$dev"
if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said "truncated or corrupt"; then fail "message does not say truncated or corrupt"; elif wrote_with_dd; then fail "dd was started to write"; elif [ "$(sum "$back")" != "$before" ]; then fail "the loop file changed"; else ok; fi

check "an image bigger than the device is refused (.img and .img.xz), nothing written"
new_loop small 2M
before=$(sum "$back")
run_flash --yes "$img" "$dev"
rc_raw=$rc
said "larger than" && said_raw=1 || said_raw=0
run_flash --yes "$work/test.img.xz" "$dev"
if [ "$rc_raw" -ne 1 ] || [ "$rc" -ne 1 ]; then fail "exit $rc_raw (.img), $rc (.img.xz)"; elif [ "$said_raw" -ne 1 ] || ! said "larger than"; then fail "message does not say larger"; elif [ "$(sum "$back")" != "$before" ]; then fail "the loop file changed"; else ok; fi

check "a mounted device is refused: an ext4 on a loop device, mounted"
new_loop mounted 8M
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$dev"
mkdir -p "$work/mnt"
if ! mount_err=$(mount -t ext4 "$dev" "$work/mnt" 2>&1); then
    fail "cannot mount an ext4 on a loop device here: $mount_err"
else
    mounts+=("$work/mnt")
    sync
    before=$(sum "$back")
    run_flash --yes "$img" "$dev"
    if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said "$work/mnt" || ! said "unmount"; then fail "message does not say where it is mounted"; elif wrote_with_dd; then fail "dd was started to write"; elif [ "$(sum "$back")" != "$before" ]; then fail "the loop file changed"; elif ! findmnt -rn "$work/mnt" >/dev/null; then fail "no longer mounted"; else ok; fi
    umount "$work/mnt"
fi

check "the system disk is refused: FLASH_SH_SYSTEM_DISK=<the test's loop device>, by name and through a link"
new_loop system 8M
before=$(sum "$back")
ln -s "$dev" "$work/disk-link"
FLASH_SH_SYSTEM_DISK=$dev run_flash --yes "$img" "$dev"
rc_name=$rc
said "system disk" && said_name=1 || said_name=0
FLASH_SH_SYSTEM_DISK=$dev run_flash --yes "$img" "$work/disk-link"
if [ "$rc_name" -ne 1 ] || [ "$rc" -ne 1 ]; then fail "exit $rc_name (by name), $rc (by link)"; elif [ "$said_name" -ne 1 ] || ! said "system disk"; then fail "message does not say system disk"; elif [ "$(sum "$back")" != "$before" ]; then fail "the loop file changed"; else ok; fi

check "with FLASH_SH_SYSTEM_DISK naming another device, the same loop device is accepted (--dry-run)"
# The same run as above with only the variable changed, so that the refusal
# above is known to come from it.
FLASH_SH_SYSTEM_DISK=${loops[0]} run_flash --dry-run "$img" "$dev"
if [ "$rc" -eq 0 ]; then ok; else fail "exit $rc"; fi

check "--dry-run against the real system disk (as flash.sh finds it, no FLASH_SH_SYSTEM_DISK) is refused, nothing written"
if root_disk=$(env -u FLASH_SH_SYSTEM_DISK "$flash" --system-disk 2>"$work/out"); then
    root_disk=$(head -n 1 <<<"$root_disk")
    printf '(%s) ' "$root_disk"
    : >"$work/dd.log"
    rc=0
    env -u FLASH_SH_SYSTEM_DISK PATH="$work/bin:$PATH" "$flash" --dry-run "$img" "$root_disk" </dev/null >"$work/out" 2>&1 || rc=$?
    if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said "is the system disk"; then fail "not refused as the system disk"; elif wrote_with_dd; then fail "dd was started to write"; else ok; fi
else
    # / is not on a block device here (a container's overlay): flash.sh
    # must then refuse every device until it is told the system disk.
    printf '(/ is not on a block device) '
    : >"$work/dd.log"
    rc=0
    env -u FLASH_SH_SYSTEM_DISK PATH="$work/bin:$PATH" "$flash" --dry-run "$img" "${loops[0]}" </dev/null >"$work/out" 2>&1 || rc=$?
    if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said "FLASH_SH_SYSTEM_DISK"; then fail "message does not ask for FLASH_SH_SYSTEM_DISK"; else ok; fi
fi

check "stdin not a terminal and no --yes: refused, nothing written (even with 'y' piped in)"
new_loop notty 8M
before=$(sum "$back")
run_flash_stdin y "$img" "$dev"
if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said "not a terminal"; then fail "message does not say why"; elif wrote_with_dd; then fail "dd was started to write"; elif [ "$(sum "$back")" != "$before" ]; then fail "the loop file changed"; else ok; fi

check "stdin not a terminal with --yes: written and verified"
run_flash_stdin "" --yes "$img" "$dev"
if [ "$rc" -ne 0 ]; then fail "exit $rc"; elif ! holds_image "$back"; then fail "the loop file does not hold the image"; else ok; fi

check "on a terminal, answering n: not written"
new_loop tty 8M
before=$(sum "$back")
run_flash_tty n "$img" "$dev"
if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said "Type y to go on"; then fail "no question asked"; elif ! said "not confirmed"; then fail "message does not say why"; elif [ "$(sum "$back")" != "$before" ]; then fail "the loop file changed"; else ok; fi

check "on a terminal, answering y: written and verified"
run_flash_tty y "$img" "$dev"
if [ "$rc" -ne 0 ]; then fail "exit $rc"; elif ! said "Type y to go on"; then fail "no question asked"; elif ! holds_image "$back"; then fail "the loop file does not hold the image"; else ok; fi

check "a read-only device is refused"
head -c 8M /dev/zero >"$work/ro.back"
dev=$(losetup -r -f --show -- "$work/ro.back")
loops+=("$dev")
run_flash --yes "$img" "$dev"
if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said "read-only"; then fail "message does not say read-only"; else ok; fi

check "a write error fails with a clear message (loop file on a 2 MiB tmpfs, so writes past 2 MiB fail)"
mkdir -p "$work/small"
mount -t tmpfs -o size=2M pbxgate-flash-test "$work/small"
truncate -s 8M "$work/small/back"
dev=$(losetup -f --show -- "$work/small/back")
loops+=("$dev")
run_flash --yes "$img" "$dev"
if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said "writing to $dev failed"; then fail "message does not say the write failed"; else ok; fi
losetup -d "$dev"
umount "$work/small"

check "a verify mismatch fails (the device changes between writing and reading back)"
new_loop verify 8M
: >"$work/dd.log"
rc=0
PATH="$work/bin-corrupt:$work/bin:$PATH" "$flash" --yes "$img" "$dev" </dev/null >"$work/out" 2>&1 || rc=$?
if [ "$rc" -ne 1 ]; then fail "exit $rc"; elif ! said "verify failed"; then fail "message does not say verify failed"; else ok; fi

echo "flash: $((checks - failures)) of $checks checks passed"
[ "$failures" -eq 0 ]
