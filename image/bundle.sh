#!/bin/bash
# image/bundle.sh: the signed RAUC update bundle (.raucb) of a root slot image.
# Run image/bundle.sh --help for the options.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: image/bundle.sh BOARD ROOTFS.ext4 OUT.raucb [--version V] [--cert PEM] [--key PEM]

Makes OUT.raucb, an update bundle for boxes of BOARD (RAUC's compatible
"pbxgate-BOARD": a box of another board refuses it) that writes ROOTFS.ext4
(a root slot's file system, as image/build.sh makes it) into the slot that
is not booted.

  --version V   the bundle's version (default: the version in Cargo.toml)
  --cert PEM    the signer's certificate (default: the TEST signer in
                image/keys/test/, which only test images trust)
  --key PEM     the signer's private key, a PEM file or a PKCS#11 URL
                (default: the TEST key)

The bundle is of RAUC's "verity" format: its payload is checked block by
block while it is installed. Its squashfs is compressed with zstd (level 9:
seconds, where mksquashfs's default gzip takes a minute for the same size).
The production key stays off this repository: see docs/updates.md, "Keys".
EOF
}

die() {
    echo "image/bundle.sh: $*" >&2
    exit 1
}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
cert=$here/keys/test/test-signing.cert.pem
key=$here/keys/test/test-signing.key.pem
version=
args=()
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help)
        usage
        exit 0
        ;;
    --version | --cert | --key)
        [ $# -ge 2 ] || die "$1 needs a value"
        case "$1" in
        --version) version=$2 ;;
        --cert) cert=$2 ;;
        --key) key=$2 ;;
        esac
        shift 2
        ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
        args+=("$1")
        shift
        ;;
    esac
done
[ ${#args[@]} -eq 3 ] || { usage >&2; exit 2; }
board=${args[0]}
rootfs=${args[1]}
out=${args[2]}

# The compatible string goes into an INI file: keep it to plain names.
[[ "$board" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "'$board' is not a board name (lower-case letters, digits, '-')"
[ -f "$rootfs" ] || die "$rootfs: no such file"
if [ -z "$version" ]; then
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -1)
fi
[[ "$version" =~ ^[A-Za-z0-9][A-Za-z0-9.+~_-]*$ ]] || die "'$version' is not a version (letters, digits and . + ~ _ -)"
[ -r "$cert" ] || die "$cert: cannot read the signer's certificate"
case "$key" in
pkcs11:*) ;;
*) [ -r "$key" ] || die "$key: cannot read the signer's key" ;;
esac
command -v rauc >/dev/null || die "rauc is not installed (Debian package rauc)"
command -v mksquashfs >/dev/null || die "mksquashfs is not installed (Debian package squashfs-tools)"
# RAUC's "ext4" slot type takes an ext2/3/4 image; say so now rather than
# after the box has downloaded it.
if command -v blkid >/dev/null; then
    type=$(blkid -p -o value -s TYPE "$rootfs" 2>/dev/null || true)
    [ "$type" = ext4 ] || die "$rootfs is not an ext4 file system (blkid: '${type:-nothing}')"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/content"
# A hard link where the file system allows (the slot image is hundreds of
# MiB), else a copy.
ln "$rootfs" "$work/content/rootfs.ext4" 2>/dev/null || cp "$rootfs" "$work/content/rootfs.ext4"
cat >"$work/content/manifest.raucm" <<EOF
[update]
compatible=pbxgate-$board
version=$version
description=pbxgate $version for $board

[bundle]
format=verity

[image.rootfs]
filename=rootfs.ext4
EOF
rm -f "$out"
# zstd: Debian's kernels read it (SQUASHFS_ZSTD), on x86-64 and arm64.
rauc bundle --cert="$cert" --key="$key" --mksquashfs-args="-comp zstd -Xcompression-level 9" \
    "$work/content" "$out" >"$work/log" 2>&1 \
    || { cat "$work/log" >&2; die "rauc bundle failed"; }
echo "$out: pbxgate $version for $board, $(($(stat -c %s "$out") / 1024)) KiB"
