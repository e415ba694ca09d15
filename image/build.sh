#!/usr/bin/env bash
# image/build.sh BOARD: the appliance's disk image for a board in board/.
# See image/README.md ("Building") and `image/build.sh --help`.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: image/build.sh BOARD [--no-xz] [--binary PATH] [--keyring PEM]
                      [--bundle-cert PEM --bundle-key PEM|PKCS11-URL] [--fresh]

Builds image/out/pbxgate-BOARD.img (and .img.xz) for board/BOARD.toml: a GPT
disk with an EFI partition (GRUB choosing root slot A or B), two root slots
(ext4, mounted read-only; B starts empty) and a data partition that the
first boot grows to the end of the disk and formats. Also the signed update
bundle of the same system, image/out/pbxgate-BOARD.raucb (image/bundle.sh),
and the slot's file system it is made of, pbxgate-BOARD.rootfs.ext4.

  --no-xz         skip the .img.xz (its compression takes minutes)
  --binary PATH   put this pbxgate binary in (it must be built for the
                  board's target); without it: cargo build --release
                  --features alsa (target dir: $CARGO_TARGET_DIR or ./target)
  --keyring PEM   the CA certificate update bundles must chain to (default:
                  the TEST CA in image/keys/test/; production images give
                  the production CA here)
  --bundle-cert PEM, --bundle-key PEM|PKCS11-URL
                  the signer of the update bundle (default: the TEST signer
                  in image/keys/test/); it must chain to the keyring's CA.
                  docs/updates.md, "Keys", says where production keys live
  --fresh         rebuild the cached Debian root filesystem (image/out/cache/)
                  even when the package lists have not changed, e.g. for
                  Debian's latest security updates

Needs root (mmdebstrap, chroot, file owners in the image); run as another
user it builds the binary first and then runs itself with sudo. Debian
packages: mmdebstrap, e2fsprogs, fdisk, dosfstools, mtools, grub-common,
grub-efi-amd64-bin, xz-utils, python3, rauc, squashfs-tools.
EOF
}

die() {
    echo "image/build.sh: $*" >&2
    exit 1
}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out=$here/out
cache=$out/cache

board=""
xz=yes
binary=""
keyring=$here/keys/test/test-ca.cert.pem
bundle_cert=$here/keys/test/test-signing.cert.pem
bundle_key=$here/keys/test/test-signing.key.pem
fresh=no
# Partition sizes in MiB. A slot holds a root filesystem of about 650 MiB;
# the rest is room for later updates, which must fit the same slot.
efi_mib=64
slot_mib=1024
data_mib=64

while [ $# -gt 0 ]; do
    case "$1" in
    --no-xz) xz=no ;;
    --fresh) fresh=yes ;;
    --binary | --keyring | --bundle-cert | --bundle-key)
        if [ $# -lt 2 ] || [ -z "$2" ]; then
            echo "image/build.sh: $1 needs a file" >&2
            usage >&2
            exit 2
        fi
        case "$1" in
        --binary) binary=$(realpath "$2") ;;
        --keyring) keyring=$(realpath "$2") ;;
        --bundle-cert) bundle_cert=$(realpath "$2") ;;
        # A hardware token's key is a PKCS#11 URL, not a file.
        --bundle-key) case "$2" in pkcs11:*) bundle_key=$2 ;; *) bundle_key=$(realpath "$2") ;; esac ;;
        esac
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    -*)
        echo "image/build.sh: unknown option '$1'" >&2
        usage >&2
        exit 2
        ;;
    *)
        [ -z "$board" ] || { echo "image/build.sh: one board only ('$board' and '$1')" >&2; exit 2; }
        board=$1
        ;;
    esac
    shift
done
[ -n "$board" ] || { usage >&2; exit 2; }
[[ "$board" =~ ^[a-z0-9-]{1,32}$ ]] || die "'$board' is not a board name (a-z, 0-9 and '-')"
board_file=$repo/board/$board.toml
[ -f "$board_file" ] || die "no board file $board_file (boards: $(cd "$repo/board" && printf '%s ' -- *.toml | sed 's/\.toml//g; s/^-- //'))"

started=$SECONDS
step() { echo "== $* ($((SECONDS - started)) s)"; }

# --- the board ---------------------------------------------------------------
# target and the serial port of the line board, read by Python's own TOML
# parser (the gateway checks the whole file; this needs two fields).
read -r target serial_port < <(python3 - "$board_file" <<'EOF'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    b = tomllib.load(f)
print(b["target"], b.get("serial", {}).get("port", "-"))
EOF
) || die "cannot read target and serial port from $board_file"

case "$target" in
x86_64-*-linux-*) arch=amd64 elf_machine=62 ;;
aarch64-*-linux-*) arch=arm64 elf_machine=183 ;;
*) die "board $board: target $target is not one this script builds (x86_64 or aarch64 Linux)" ;;
esac

# --- the pbxgate binary ------------------------------------------------------
if [ -z "$binary" ]; then
    host=$(rustc -vV 2>/dev/null | sed -n 's/^host: //p') || true
    if [ "$host" != "$target" ]; then
        die "board $board needs a pbxgate built for $target, and this machine builds for ${host:-nothing (no rustc)}:
  build it where that target is (image/README.md, \"Raspberry Pi\") and give it with --binary PATH"
    fi
    step "cargo build --release --features alsa"
    (cd "$repo" && cargo build --release --features alsa --quiet)
    tdir=${CARGO_TARGET_DIR:-target}
    case "$tdir" in /*) ;; *) tdir=$repo/$tdir ;; esac
    binary=$tdir/release/pbxgate
fi
[ -f "$binary" ] || die "no pbxgate binary at $binary"
# ELF e_machine (offset 18, little-endian): 62 is x86-64, 183 aarch64.
[ "$(head -c 4 "$binary" | od -An -c | tr -d ' ')" = '177ELF' ] || die "$binary is not an ELF program"
machine=$(od -An -t u2 -j 18 -N 2 "$binary" | tr -d ' ')
[ "$machine" = "$elf_machine" ] || die "$binary is built for ELF machine $machine, board $board needs $target"

if [ "$(id -u)" -ne 0 ]; then
    step "running as root from here on (sudo)"
    args=("$board" --binary "$binary" --keyring "$keyring" --bundle-cert "$bundle_cert" --bundle-key "$bundle_key")
    [ "$xz" = yes ] || args+=(--no-xz)
    [ "$fresh" = no ] || args+=(--fresh)
    exec sudo "$0" "${args[@]}"
fi

if [ "$arch" = arm64 ]; then
    die "board $board: the Raspberry Pi's boot partition (its firmware and U-Boot's A/B script) is not assembled by this script yet; image/README.md, \"Raspberry Pi\", gives the steps by hand"
fi

for tool in mmdebstrap mkfs.ext4 sfdisk mkfs.vfat mmd mcopy grub-mkstandalone grub-editenv systemctl systemd-sysusers openssl rauc mksquashfs; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (apt-get install mmdebstrap e2fsprogs fdisk dosfstools mtools grub-common grub-efi-amd64-bin systemd openssl rauc squashfs-tools)"
done
[ -d /usr/lib/grub/x86_64-efi ] || die "GRUB's EFI modules are missing (apt-get install grub-efi-amd64-bin)"
openssl x509 -noout -in "$keyring" 2>/dev/null || die "--keyring $keyring is not a PEM certificate"
openssl x509 -noout -in "$bundle_cert" 2>/dev/null || die "--bundle-cert $bundle_cert is not a PEM certificate"
# The bundle's signer must chain to the image's keyring, or the box would
# refuse its own update: say so now, not after minutes of building.
openssl verify -CAfile "$keyring" -purpose any "$bundle_cert" >/dev/null 2>&1 \
    || die "the bundle signer $bundle_cert is not issued by the keyring's CA $keyring (give --bundle-cert/--bundle-key of a signer that is)"

mkdir -p "$cache"
exec 9>"$out/.lock"
flock -n 9 || die "another image/build.sh is running (lock $out/.lock)"

work=$out/work-$board
rm -rf "$work"
mkdir -p "$work"
cleanup() { rm -rf "$work/rootfs"; }
trap cleanup EXIT

# --- the Debian root filesystem, cached --------------------------------------
packages() {
    sed -e 's/#.*//' -e 's/[[:space:]]//g' "$here/packages/common.txt" "$here/packages/$arch.txt" | grep -v '^$' | paste -sd, -
}
mirrors=(
    "deb http://deb.debian.org/debian bookworm main"
    "deb http://deb.debian.org/debian bookworm-updates main"
    "deb http://deb.debian.org/debian-security bookworm-security main"
)
mmdebstrap_args=(
    --variant=minbase --arch="$arch" --format=tar
    --include="$(packages)"
    # No manuals, translations or docs in an appliance, except the
    # copyright files (the licences of what the image ships).
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/locale/*'
    --dpkgopt='path-include=/usr/share/locale/locale.alias'
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/info/*'
)
key=$(printf '%s\n' "cache-v1" "${mmdebstrap_args[@]}" bookworm "${mirrors[@]}" | sha256sum | cut -c1-16)
tarball=$cache/rootfs-$arch-$key.tar
if [ "$fresh" = yes ] || [ ! -f "$tarball" ]; then
    step "mmdebstrap bookworm $arch (not cached: $tarball)"
    t=$SECONDS
    rm -f "$cache"/rootfs-"$arch"-*.tar "$cache"/rootfs-"$arch"-*.tar.part
    mmdebstrap --quiet "${mmdebstrap_args[@]}" bookworm "$tarball.part" "${mirrors[@]}" \
        || die "mmdebstrap failed (network? the Debian mirror?)"
    mv "$tarball.part" "$tarball"
    echo "   root filesystem made in $((SECONDS - t)) s and cached"
else
    step "root filesystem from the cache ($tarball)"
fi
rootfs=$work/rootfs
mkdir "$rootfs"
tar -C "$rootfs" -xpf "$tarball" --numeric-owner --xattrs --xattrs-include='*'

# --- what firmware/ adds -----------------------------------------------------
step "firmware/ and pbxgate into the root filesystem"
# Owned by root, not group- or world-writable whatever the checkout's umask;
# existing directories (usr, etc) keep their own owner and mode.
tar -C "$repo/firmware/rootfs" -cf - --owner=0 --group=0 --mode=go-w . \
    | tar -C "$rootfs" -xpf - --no-overwrite-dir
sed -i "s/@BOARD@/$board/g" "$rootfs/etc/systemd/system/pbxgate.service"
sed -i "s/@COMPATIBLE@/pbxgate-$board/g" "$rootfs/etc/rauc/system.conf"
if grep -rl '@[A-Z_]*@' "$rootfs/etc/systemd/system" "$rootfs/etc/rauc"; then
    die "a placeholder above was not filled in"
fi
install -m 0755 -o root -g root "$binary" "$rootfs/usr/bin/pbxgate"
install -m 0644 -o root -g root "$keyring" "$rootfs/etc/rauc/keyring.pem"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)
git_rev=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
cat >"$rootfs/etc/pbxgate-image" <<EOF
BOARD=$board
PBXGATE_VERSION=$version
SOURCE=$git_rev
BUILT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
# Mount points on the read-only root (RAUC mounts bundles under /run).
mkdir -p "$rootfs/data" "$rootfs/boot/efi"
# The pbxgate user (usr/lib/sysusers.d/pbxgate.conf); the root is read-only
# at run time, so users are made now.
systemd-sysusers --root="$rootfs" >/dev/null
chroot "$rootfs" passwd --lock root >/dev/null
systemctl --root="$rootfs" --quiet enable \
    pbxgate.service pbxgate-data.service pbxgate-health.service \
    systemd-networkd.service systemd-resolved.service systemd-timesyncd.service
systemctl --root="$rootfs" --quiet enable pbxgate-network.service pbxgate-network.path
# Nothing installs packages on a read-only root; e2scrub needs LVM.
systemctl --root="$rootfs" --quiet mask \
    apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service
{ [ -L "$rootfs/vmlinuz" ] && [ -L "$rootfs/initrd.img" ]; } || die "the root filesystem has no /vmlinuz and /initrd.img links"

used_mib=$(du -sm "$rootfs" | cut -f1)
[ $((used_mib * 115 / 100)) -lt "$slot_mib" ] || die "the root filesystem ($used_mib MiB) does not fit a $slot_mib MiB slot with room to spare"

# --- slot A ------------------------------------------------------------------
step "slot A: ext4 of $used_mib MiB in $slot_mib MiB"
# No journal: the slot is only ever mounted read-only, and RAUC writes a
# whole new file system into the other slot.
mkfs.ext4 -q -F -L rootfs -O ^has_journal -m 0 -E root_owner=0:0 -d "$rootfs" \
    "$work/rootfs.ext4" "${slot_mib}M"

# --- the EFI partition: GRUB and its boot flags ------------------------------
step "EFI partition: GRUB (A/B) and grubenv"
# The kernel's serial console must not be the line board's port: ttyS1 when
# the board's line board is on ttyS0, else ttyS0. The screen (tty0) as well.
if [ "$serial_port" = /dev/ttyS0 ]; then serial_unit=1; else serial_unit=0; fi
cmdline="console=tty0 console=ttyS$serial_unit,115200n8"
sed -e "s|@CMDLINE@|$cmdline|" "$here/grub/grub.cfg" >"$work/grub.cfg"
grub-mkstandalone -O x86_64-efi -o "$work/BOOTX64.EFI" \
    --locales= --fonts= --themes= "boot/grub/grub.cfg=$work/grub.cfg"
# Slot A is good and has not been tried; B is empty.
grub-editenv "$work/grubenv" create
grub-editenv "$work/grubenv" set ORDER="A B" A_OK=1 A_TRY=0 B_OK=0 B_TRY=0 MAX_TRIES=1
truncate -s "${efi_mib}M" "$work/efi.vfat"
mkfs.vfat -F 32 -n EFI "$work/efi.vfat" >/dev/null
mmd -i "$work/efi.vfat" ::/EFI ::/EFI/BOOT
mcopy -i "$work/efi.vfat" "$work/BOOTX64.EFI" "$work/grubenv" ::/EFI/BOOT/

# --- the disk ----------------------------------------------------------------
img=$out/pbxgate-$board.img
step "disk: $img"
efi_at=1
a_at=$((efi_at + efi_mib))
b_at=$((a_at + slot_mib))
data_at=$((b_at + slot_mib))
# One MiB at the end for GPT's backup table.
total_mib=$((data_at + data_mib + 1))
rm -f "$img" "$img.xz" "$img.xz.sha256"
truncate -s "${total_mib}M" "$img"
mib() { echo $(($1 * 2048)); }
sfdisk --quiet --no-reread --no-tell-kernel "$img" <<EOF
label: gpt
start=$(mib $efi_at), size=$(mib $efi_mib), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="efi"
start=$(mib $a_at), size=$(mib $slot_mib), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="rootfs-a"
start=$(mib $b_at), size=$(mib $slot_mib), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="rootfs-b"
start=$(mib $data_at), size=$(mib $data_mib), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="data"
EOF
dd if="$work/efi.vfat" of="$img" bs=1M seek=$efi_at conv=notrunc,sparse status=none
dd if="$work/rootfs.ext4" of="$img" bs=1M seek=$a_at conv=notrunc,sparse status=none
# Slot B and the data partition stay zero: B is marked bad until an update
# fills it; a blank data partition is formatted at the first boot.

# The slot's file system, and the update bundle made of it: the same system
# as slot A, signed for boxes that trust the keyring.
mv "$work/rootfs.ext4" "$out/pbxgate-$board.rootfs.ext4"
bundle=$out/pbxgate-$board.raucb
step "update bundle: $bundle"
rm -f "$bundle"
"$here/bundle.sh" "$board" "$out/pbxgate-$board.rootfs.ext4" "$bundle" \
    --version "$version" --cert "$bundle_cert" --key "$bundle_key" >/dev/null \
    || die "image/bundle.sh failed"
rauc info --keyring="$keyring" "$bundle" >/dev/null 2>&1 \
    || die "$bundle does not check against the keyring $keyring (rauc info --keyring=$keyring $bundle says why)"

if [ "$xz" = yes ]; then
    step "xz"
    xz -T0 --keep --force "$img"
    (cd "$out" && sha256sum "$(basename "$img").xz" >"$(basename "$img").xz.sha256")
fi

step "done"
files=("$img")
[ "$xz" = no ] || files+=("$img.xz")
files+=("$bundle")
for f in "${files[@]}"; do
    echo "   $f: $(($(stat -c %s "$f") / 1048576)) MiB"
done
echo "   pbxgate $version ($git_rev), root filesystem $used_mib MiB, built in $((SECONDS - started)) s"
