#!/usr/bin/env bash
# tests/image/apply_network.sh: firmware/rootfs/usr/lib/pbxgate/apply-network
# (what pbxgate-network.service runs) on folders of its own, with
# systemctl and networkctl played by stubs that log their calls:
#
#   - a static file from pbxgate's folder is copied (mode 0640) and, with
#     networkd running, `networkctl reload` and `reconfigure IFACE` follow
#   - nothing changed: nothing copied, networkd not asked
#   - another address on another interface: both interfaces reconfigured
#   - the file removed (back to DHCP): the copy is removed, the interface
#     reconfigured; a file of someone else's in DEST is left alone
#   - a symbolic link or a folder named *.network is skipped, not followed
#   - networkd not running (boot): files copied, networkctl not called
#
# Needs no root and no systemd; takes a second.
set -euo pipefail
cd "$(dirname "$0")/../.."
script=$PWD/firmware/rootfs/usr/lib/pbxgate/apply-network

fail() {
    echo "tests/image/apply_network.sh: FAIL: $*" >&2
    exit 1
}

work=$(mktemp -d /tmp/pbxgate-apply-network.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/data/network
dest=$work/run/systemd/network
state=$work/run/pbxgate-network.copied
calls=$work/calls
mkdir -p "$src" "$work/bin"
cat >"$work/bin/systemctl" <<STUB
#!/bin/sh
echo "systemctl \$*" >>"$calls"
[ -e "$work/networkd-up" ]
STUB
cat >"$work/bin/networkctl" <<STUB
#!/bin/sh
echo "networkctl \$*" >>"$calls"
STUB
chmod +x "$work/bin/systemctl" "$work/bin/networkctl"
touch "$work/networkd-up"

run() {
    : >"$calls"
    PATH="$work/bin:$PATH" "$script" "$src" "$dest" "$state" >"$work/out" 2>&1 \
        || { cat "$work/out" >&2; fail "apply-network exited $?"; }
}
called() { grep -qx "$1" "$calls" || fail "not called: $1 (calls: $(tr '\n' ';' <"$calls"))"; }
not_called() { if grep -q "$1" "$calls"; then fail "called: $1 (calls: $(tr '\n' ';' <"$calls"))"; fi; }

static() {
    printf '[Match]\nName=%s\n\n[Network]\nDHCP=no\nAddress=%s\n' "$1" "$2" >"$src/.10-pbxgate.network.tmp"
    mv "$src/.10-pbxgate.network.tmp" "$src/10-pbxgate.network"
}

# A static address: copied, networkd reloads and reconfigures eth0.
static eth0 192.0.2.50/24
run
cmp -s "$src/10-pbxgate.network" "$dest/10-pbxgate.network" || fail "not copied"
[ "$(stat -c %a "$dest/10-pbxgate.network")" = 640 ] || fail "mode $(stat -c %a "$dest/10-pbxgate.network"), 640 expected"
called "networkctl reload"
called "networkctl reconfigure eth0"
[ "$(ls -A "$dest")" = 10-pbxgate.network ] || fail "DEST holds $(ls -A "$dest")"

# The same again (pbxgate restarted): networkd is not disturbed.
run
[ ! -s "$calls" ] || fail "called for nothing: $(cat "$calls")"

# Another address on another interface: both are reconfigured.
static eth1 192.0.2.51/24
run
grep -q "Address=192.0.2.51/24" "$dest/10-pbxgate.network" || fail "not replaced"
called "networkctl reconfigure eth0"
called "networkctl reconfigure eth1"

# Someone else's file in DEST stays; links and folders in SRC are skipped.
echo "[Match]" >"$dest/05-other.network"
ln -s /etc/passwd "$src/00-link.network"
mkdir "$src/01-folder.network"
run
if [ -e "$dest/00-link.network" ] || [ -e "$dest/01-folder.network" ]; then fail "a link or folder was copied"; fi
grep -q "skipping $src/00-link.network: not a regular file" "$work/out" || fail "the link was not named: $(cat "$work/out")"
rm "$src/00-link.network"
rmdir "$src/01-folder.network"

# Back to DHCP: pbxgate removed its file, so is the copy; eth1 reconfigured.
rm "$src/10-pbxgate.network"
run
[ ! -e "$dest/10-pbxgate.network" ] || fail "the copy was not removed"
[ -e "$dest/05-other.network" ] || fail "someone else's file was removed"
called "networkctl reconfigure eth1"
not_called "reconfigure eth0"

# At boot networkd is not running yet: copied, networkctl not called.
rm "$work/networkd-up"
static eth0 192.0.2.52/24
run
[ -e "$dest/10-pbxgate.network" ] || fail "not copied at boot"
not_called networkctl
grep -q "networkd is not running" "$work/out" || fail "$(cat "$work/out")"

echo "tests/image/apply_network.sh: passed"
