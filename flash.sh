#!/usr/bin/env bash
# Writes a pbxgate disk image (.img or .img.xz) to a whole disk (SD card,
# USB stick, eMMC, SSD) and verifies it by reading it back. Run
# `./flash.sh --help` for what it checks and refuses.
set -euo pipefail
shopt -s inherit_errexit

prog=flash.sh

usage() {
    cat <<'EOF'
Usage: flash.sh [--yes] [--dry-run] IMAGE DEVICE
       flash.sh --system-disk
       flash.sh --help

Writes a pbxgate disk image to a whole disk (an SD card, USB stick, eMMC or
SSD for a gateway box) and verifies it. Everything on DEVICE is lost.

IMAGE   pbxgate-BOARD.img, or pbxgate-BOARD.img.xz (streamed through
        `xz -dc` while writing, never unpacked to disk).
DEVICE  the whole disk, e.g. /dev/sdb or /dev/mmcblk0 (not a partition such
        as /dev/sdb1). /dev/disk/by-id/... links are fine.

What it does, in order:
  1. Checks IMAGE: it exists, is a .img or .img.xz file, and a .img.xz is
     whole (`xz -t`: a truncated or corrupt download is refused here, before
     anything is written).
  2. Checks DEVICE and refuses it if it
       - is not a block device, or is a partition or a volume (LVM, RAID,
         encrypted mapping) rather than a whole disk,
       - is the system disk: the disk that / is on (found with findmnt and
         lsblk, following partitions, LVM, RAID and encrypted mappings down
         to their disks),
       - is mounted, has a mounted partition (or swap in use), or is held by
         a RAID, LVM or encrypted volume,
       - is read-only (an SD card's write-protect switch) or has no medium,
       - is smaller than the image.
  3. Shows what will be overwritten (device, size, model if known, its
     current partitions) and asks; type y to go on. Without --yes, stdin
     must be a terminal: with a pipe or a file as stdin it refuses.
  4. Writes with progress (dd status=progress), syncs, drops the kernel's
     cached copy of the device, reads back as many bytes as the image has
     and compares their SHA-256 with the image's (for .img.xz, of the
     unpacked stream, computed while writing).

Options:
  -y, --yes          write without asking (for scripts)
  -n, --dry-run      do every check and show what would be overwritten, then
                     stop: nothing is written, nothing is asked
      --system-disk  print the disk(s) flash.sh treats as the system disk
                     and exit
  -h, --help         this text

Environment:
  FLASH_SH_SYSTEM_DISK  the disk (or disks, space-separated) that count as
                        the system disk, instead of the disk that / is on.
                        Tests set it so they never point at the real one.
                        If / is not on a block device (a container's
                        overlay, ZFS), flash.sh cannot tell which disk is the
                        system disk and refuses until this is set.

Exit status: 0 written and verified (or --dry-run: all checks passed);
1 refused or failed, with a one-line reason on stderr (missing image, not a
block device, system disk, mounted, too small, corrupt .xz, write error,
verify mismatch, not confirmed); 2 wrong usage.

Needs Linux with util-linux (lsblk, findmnt, blockdev), coreutils and, for
.img.xz, xz-utils. Writing a disk needs root: run it with sudo.

Examples:
  sudo ./flash.sh --dry-run image/out/pbxgate-x86-gateway.img.xz /dev/sdb
  sudo ./flash.sh image/out/pbxgate-x86-gateway.img.xz /dev/sdb
EOF
}

die() {
    echo "$prog: $*" >&2
    exit 1
}

usage_error() {
    echo "$prog: $*" >&2
    echo "Try '$prog --help'." >&2
    exit 2
}

human() {
    numfmt --to=iec-i --suffix=B -- "$1"
}

# Kernel device number (major:minor), so that two names of one device
# (/dev/sdb and a /dev/disk/by-id link, or two nodes) compare equal.
devnum() {
    stat -L -c '%t:%T' -- "$1"
}

# The whole disks beneath a block device: the device itself if it is a disk,
# the disk of a partition, or the disks under an LVM volume, RAID or
# encrypted mapping (lsblk --inverse walks down to them).
disks_under() {
    lsblk -nrspo NAME,TYPE -- "$1" | awk '$2 == "disk" || $2 == "loop" { print $1 }' | sort -u
}

# The block device a mount's source names. Some systems mount / from
# /dev/root, a name with no node; the mount's device number finds the real one.
source_device() {
    local mountpoint=$1 src majmin name
    src=$(findmnt -n -v -o SOURCE --mountpoint "$mountpoint" | tail -n 1)
    if [ -b "$src" ]; then
        readlink -f -- "$src"
        return 0
    fi
    majmin=$(findmnt -n -o MAJ:MIN --mountpoint "$mountpoint" | tail -n 1 | tr -d ' ')
    if [ -n "$majmin" ] && [ -e "/sys/dev/block/$majmin" ]; then
        name=$(basename "$(readlink -f "/sys/dev/block/$majmin")")
        if [ -b "/dev/$name" ]; then
            echo "/dev/$name"
            return 0
        fi
    fi
    echo "$src"
    return 1
}

# The system disk(s), one path a line: FLASH_SH_SYSTEM_DISK if set, else the
# disks that / is on.
system_disks() {
    local d src
    if [ -n "${FLASH_SH_SYSTEM_DISK:-}" ]; then
        for d in $FLASH_SH_SYSTEM_DISK; do
            [ -b "$d" ] || die "FLASH_SH_SYSTEM_DISK names $d, which is not a block device"
            disks_under "$(readlink -f -- "$d")" || die "lsblk cannot list the disks under $d"
        done
        return 0
    fi
    if ! src=$(source_device /); then
        die "cannot tell which disk / is on (it is mounted from '$src', not a block device); set FLASH_SH_SYSTEM_DISK to the system disk to go on"
    fi
    disks_under "$src" || die "lsblk cannot list the disks under $src (the device / is on)"
}

# --- arguments ---------------------------------------------------------------
yes=0
dry_run=0
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help)
            usage
            exit 0
            ;;
        -y | --yes) yes=1 ;;
        -n | --dry-run) dry_run=1 ;;
        --system-disk)
            sys=$(system_disks) || exit 1
            [ -n "$sys" ] || die "found no disk under /"
            echo "$sys"
            exit 0
            ;;
        --)
            shift
            args+=("$@")
            break
            ;;
        -*) usage_error "unknown option $1" ;;
        *) args+=("$1") ;;
    esac
    shift
done
[ ${#args[@]} -eq 2 ] || usage_error "expected IMAGE and DEVICE, got ${#args[@]} argument(s)"
image=${args[0]}
device_arg=${args[1]}

# Asked before the slow checks so that a script without --yes fails at once.
if [ "$dry_run" -eq 0 ] && [ "$yes" -eq 0 ] && [ ! -t 0 ]; then
    die "stdin is not a terminal, so flash.sh cannot ask before overwriting $device_arg; give --yes to write without asking"
fi

# --- the image (cheap checks) ------------------------------------------------
[ -e "$image" ] || die "$image: no such file"
[ -f "$image" ] || die "$image is not a regular file"
[ -r "$image" ] || die "$image cannot be read (permission denied)"
case "$image" in
    *.img.xz) kind=xz ;;
    *.img) kind=raw ;;
    *) die "$image is neither a .img nor a .img.xz file" ;;
esac

# --- the device --------------------------------------------------------------
[ -e "$device_arg" ] || die "$device_arg: no such device"
device=$(readlink -f -- "$device_arg")
[ -b "$device" ] || die "$device_arg is not a block device (give a whole disk such as /dev/sdb or /dev/mmcblk0)"

target_num=$(devnum "$device") || die "cannot stat $device_arg"
# system_disks has said why when it fails.
sys_disks=$(system_disks) || exit 1
[ -n "$sys_disks" ] || die "found no disk under / (set FLASH_SH_SYSTEM_DISK to the system disk to go on)"
target_disks=$(disks_under "$device") || die "lsblk cannot list the disks under $device_arg"
[ -n "$target_disks" ] || die "lsblk finds no disk under $device_arg"
while IFS= read -r target_disk; do
    while IFS= read -r sys_disk; do
        if [ "$(devnum "$target_disk")" = "$(devnum "$sys_disk")" ]; then
            if [ "$(devnum "$target_disk")" = "$target_num" ]; then
                die "$device_arg is the system disk (the running system is on it); refusing to overwrite it"
            fi
            die "$device_arg is on the system disk $sys_disk (the running system is on it); refusing to overwrite it"
        fi
    done <<<"$sys_disks"
done <<<"$target_disks"

type=$(lsblk -dno TYPE -- "$device" | tr -d ' ') || die "lsblk cannot tell what kind of device $device_arg is"
case "$type" in
    disk | loop) ;;
    part)
        parent=$(lsblk -dno PKNAME -- "$device" | tr -d ' ')
        die "$device_arg is a partition; flash.sh writes a whole disk (give /dev/${parent:-the disk} instead)"
        ;;
    *) die "$device_arg is a ${type:-unknown} device, not a whole disk" ;;
esac

# lsblk lists the device and everything on it (partitions, volumes built on
# it); a mount point in any of them, or [SWAP], means it is in use.
mounted=$(lsblk -nrpo NAME,MOUNTPOINT -- "$device" | awk 'NF > 1 { printf "%s%s on %s", sep, $1, $2; sep = ", " }') ||
    die "lsblk cannot tell whether $device_arg is mounted"
if [ -n "$mounted" ]; then
    die "$device_arg is in use: $mounted; unmount it first"
fi
holders=""
for holder in "/sys/class/block/$(basename "$device")/holders/"*; do
    [ -e "$holder" ] && holders="$holders${holders:+, }$(basename "$holder")"
done
if [ -n "$holders" ]; then
    die "$device_arg is held by $holders (a RAID, LVM or encrypted volume); stop that first"
fi
if [ ! -r "$device" ] || [ ! -w "$device" ]; then
    die "cannot open $device_arg for writing (permission denied; run as root, e.g. with sudo)"
fi
device_size=$(blockdev --getsize64 "$device") || die "cannot read the size of $device_arg"
[ "$device_size" -gt 0 ] || die "$device_arg has size 0 (no card in the reader?)"
read_only=$(blockdev --getro "$device") || die "cannot tell whether $device_arg is read-only"
if [ "$read_only" != "0" ]; then
    die "$device_arg is read-only (is the SD card's write-protect switch on?)"
fi

# --- the image (slow checks) -------------------------------------------------
if [ "$kind" = xz ]; then
    command -v xz >/dev/null 2>&1 || die "xz is not installed (Debian: apt install xz-utils)"
    echo "Checking $image (xz -t) ..."
    if ! xz_err=$(xz -t -- "$image" 2>&1); then
        xz_err=$(printf '%s' "$xz_err" | tail -n 1)
        die "$image is not a whole .xz file (truncated or corrupt: ${xz_err#xz: }); download it again"
    fi
    xz_list=$(xz --robot --list -- "$image" 2>&1) ||
        die "cannot read the unpacked size of $image from its index: $(printf '%s' "$xz_list" | tail -n 1)"
    image_size=$(awk -F '\t' '$1 == "totals" { print $5 }' <<<"$xz_list")
    [[ "$image_size" =~ ^[0-9]+$ ]] || die "cannot read the unpacked size of $image from its index"
else
    image_size=$(stat -L -c %s -- "$image") || die "cannot stat $image"
fi
[ "$image_size" -gt 0 ] || die "$image is empty"
if [ "$image_size" -gt "$device_size" ]; then
    die "$image ($(human "$image_size") unpacked) is larger than $device_arg ($(human "$device_size")); use a bigger card or disk"
fi

# --- what will be overwritten ------------------------------------------------
model=$(lsblk -dno VENDOR,MODEL,TRAN -- "$device" 2>/dev/null | sed 's/  */ /g; s/^ //; s/ $//' || true)
backing=/sys/block/$(basename "$device")/loop/backing_file
if [ -r "$backing" ]; then
    model="loop device backed by $(cat "$backing")"
fi
unpacked=""
[ "$kind" = raw ] || unpacked=" unpacked"
resolved=""
[ "$device" = "$device_arg" ] || resolved=" ($device)"
echo
echo "Image:   $image ($(human "$image_size")$unpacked)"
echo "Device:  $device_arg$resolved, $(human "$device_size"), ${model:-model unknown}"
echo "Now on $device_arg (all of it will be lost):"
lsblk -o NAME,SIZE,TYPE,FSTYPE,LABEL,MOUNTPOINT -- "$device" | sed 's/^/    /'
if command -v sfdisk >/dev/null 2>&1; then
    # The kernel may not have read the partition table (or lacks the parser);
    # sfdisk reads it from the disk itself.
    table=$(sfdisk -l -- "$device" 2>/dev/null | sed -n '/^Disklabel type/p; /^Device/,$p' || true)
    if [ -n "$table" ]; then
        echo "Partition table on the disk:"
        printf '%s\n' "$table" | sed 's/^/    /'
    else
        echo "Partition table on the disk: none found"
    fi
fi
echo

if [ "$dry_run" -eq 1 ]; then
    echo "Dry run: all checks passed; flash.sh would write $image_size bytes to $device_arg and verify them. Nothing was written."
    exit 0
fi

if [ "$yes" -eq 0 ]; then
    answer=""
    read -r -p "Overwrite everything on $device_arg with $(basename "$image")? Type y to go on: " answer || true
    case "$answer" in
        y | Y | yes | YES) ;;
        *) die "not confirmed; nothing was written" ;;
    esac
fi

# --- write -------------------------------------------------------------------
tmp=$(mktemp -d)
sum_pid=""
cleanup() {
    [ -z "$sum_pid" ] || kill "$sum_pid" 2>/dev/null || true
    rm -rf -- "$tmp"
}
trap cleanup EXIT
trap 'echo; die "interrupted; $device_arg now holds part of the image (flash it again)"' INT TERM

image_stream() {
    if [ "$kind" = xz ]; then
        xz -dc -- "$image"
    else
        cat -- "$image"
    fi
}

# The image's checksum is taken from the very stream that is written, so a
# .img.xz is unpacked once.
mkfifo "$tmp/stream"
sha256sum <"$tmp/stream" >"$tmp/image.sha256" &
sum_pid=$!

echo "Writing $(human "$image_size") to $device_arg ..."
set +e
image_stream | tee "$tmp/stream" | dd of="$device" bs=4M iflag=fullblock conv=fsync status=progress
status=("${PIPESTATUS[@]}")
set -e
sum_status=0
wait "$sum_pid" || sum_status=$?
sum_pid=""
# dd first: when it fails, xz and tee die of the broken pipe too.
if [ "${status[2]}" -ne 0 ]; then
    die "writing to $device_arg failed (dd's message above says why); it now holds part of the image"
fi
if [ "${status[0]}" -ne 0 ]; then
    die "reading $image failed while writing it (exit ${status[0]}); $device_arg now holds part of the image"
fi
if [ "${status[1]}" -ne 0 ] || [ "$sum_status" -ne 0 ]; then
    die "could not checksum the image while writing it"
fi
image_sum=$(cut -d ' ' -f 1 "$tmp/image.sha256")

# --- verify ------------------------------------------------------------------
sync
# Without this the read-back would come from the kernel's cache of what was
# just written rather than from the card.
blockdev --flushbufs "$device" || die "cannot drop the cached copy of $device_arg before verifying"
echo "Verifying: reading $(human "$image_size") back from $device_arg ..."
set +e
dd if="$device" bs=4M iflag=count_bytes count="$image_size" status=progress | sha256sum >"$tmp/device.sha256"
status=("${PIPESTATUS[@]}")
set -e
if [ "${status[0]}" -ne 0 ] || [ "${status[1]}" -ne 0 ]; then
    die "reading $device_arg back failed (dd's message above says why)"
fi
device_sum=$(cut -d ' ' -f 1 "$tmp/device.sha256")
if [ "$device_sum" != "$image_sum" ]; then
    die "verify failed: the $(human "$image_size") read back from $device_arg differ from the image (sha256 $device_sum, image $image_sum); the card may be faulty"
fi

echo "Done: $device_arg holds $(basename "$image"), verified (sha256 $image_sum). It can be removed."
