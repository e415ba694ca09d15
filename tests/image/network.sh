#!/usr/bin/env bash
# tests/image/network.sh: [network] on the appliance (docs/network.md).
# Builds the x86-64 image as tests/image/boot.sh does (image/build.sh
# x86-gateway --no-xz, the Debian root filesystem from its cache) and boots
# a copy in qemu (q35, OVMF, TCG) with user networking: the box gets
# 10.0.2.15/24 by DHCP from qemu, gateway 10.0.2.2, DNS 10.0.2.3, and two
# loopback ports are forwarded to its LAN SIP listener and its web page.
#
#   - boot 1: the address is from DHCP; a static 10.0.2.15/24, gateway
#     10.0.2.2, DNS 10.0.2.3 on that interface is saved through the API and
#     applied at once (pbxgate-network.path and .service): the status shows
#     it static; the networkd file is in /run/systemd/network
#   - boot 2 (the same disk): SIP still answers OPTIONS, the status shows
#     10.0.2.15 static and [network] mode static; the service ran before
#     networkd (no DHCP address first)
#   - back to DHCP through the API: the status shows the address from DHCP
#   - no unit failed in either boot
#
# Prints the times: about 2 minutes with the root filesystem cached (two
# boots of about 45 s each in TCG, a few seconds for each change to apply).
# Every qemu run is under `timeout`. IMAGE_TEST_KEEP=1
# keeps the work directory (disk, console logs).
set -euo pipefail
cd "$(dirname "$0")/../.."
me=network.sh
# shellcheck source=tests/image/lib.sh
. tests/image/lib.sh
started=$SECONDS

need_tools qemu-system-x86_64 sipp python3 timeout
net() { python3 "$repo/tests/image/network_check.py" "$@"; }

# --- build and the box (tests/image/lib.sh) -----------------------------------
build_image
new_box

password="network test: a password of our own"
address=10.0.2.15

echo "== boot 1 (SIP on 127.0.0.1:$sip_port, web on 127.0.0.1:$web_port)"
boot 1
ready1=$(check sip-ready "$sip_port" 600) || console_fail 1 "boot 1: SIP never answered"
echo "   SIP-ready ${ready1} s after qemu started"
check first-login "$web_port" "$work/console-1.log" "$password" || console_fail 1 "the first login failed"
got=$(net wait-origin "$web_port" "$work/console-1.log" "$password" "$address" dhcp 60) \
    || console_fail 1 "$address is not from DHCP on the first boot"
echo "   $address from DHCP (mode ${got#* })"
iface=$(net set-static "$web_port" "$work/console-1.log" "$password" "$address/24" 10.0.2.2 10.0.2.3) \
    || console_fail 1 "saving the static address failed"
echo "   static $address/24 saved on $iface"
got=$(net wait-origin "$web_port" "$work/console-1.log" "$password" "$address" static 120) \
    || console_fail 1 "the static address was not applied while running"
echo "   applied while running: static after ${got%% *} s"
grep -aq "pbxgate-network: /run/systemd/network/10-pbxgate.network from /data/network/10-pbxgate.network" "$work/console-1.log" \
    || console_fail 1 "pbxgate-network.service did not copy the file (console)"
grep -aq "pbxgate-network: reconfigured $iface" "$work/console-1.log" \
    || console_fail 1 "pbxgate-network.service did not reconfigure $iface (console)"
power_off 1

echo "== boot 2 (the same disk)"
boot 2
ready2=$(check sip-ready "$sip_port" 600) || console_fail 2 "boot 2: SIP never answered with the static address"
echo "   SIP-ready ${ready2} s after qemu started"
(cd "$work" && timeout 60 sipp -sf "$repo/tests/sipp/options_uac.xml" -t u1 -i 127.0.0.1 -p 0 -m 1 \
    -recv_timeout 5000 -timeout 30s -timeout_error -nostdin "127.0.0.1:$sip_port" >sipp.out 2>&1) \
    || { tail -20 "$work/sipp.out" >&2; fail "sipp: OPTIONS to the LAN listener was not answered 200"; }
echo "   sipp: OPTIONS to the LAN listener answered 200"
got=$(net wait-origin "$web_port" "$work/console-2.log" "$password" "$address" static 30) \
    || console_fail 2 "$address is not static after the reboot"
[ "${got#* }" = static ] || fail "[network] mode is '${got#* }' after the reboot"
echo "   $address static after the reboot, [network] mode static"
grep -aq "pbxgate-network: networkd is not running" "$work/console-2.log" \
    || console_fail 2 "pbxgate-network.service did not run before networkd at boot"

net set-dhcp "$web_port" "$work/console-2.log" "$password" || console_fail 2 "saving mode = dhcp failed"
got=$(net wait-origin "$web_port" "$work/console-2.log" "$password" "$address" dhcp 120) \
    || console_fail 2 "back to DHCP was not applied while running"
echo "   back to DHCP: $address from DHCP after ${got%% *} s"
grep -aq "pbxgate-network: removed /run/systemd/network/10-pbxgate.network" "$work/console-2.log" \
    || console_fail 2 "pbxgate-network.service did not remove the copy (console)"
power_off 2

for n in 1 2; do
    if grep -a "Failed to start" "$work/console-$n.log"; then fail "boot $n: a unit failed (above)"; fi
done

echo "== image network test passed in $((SECONDS - started)) s"
echo "   build: ${build_s} s (image/build.sh --no-xz)"
echo "   boot to SIP-ready in qemu (TCG): ${ready1} s first boot, ${ready2} s with the static address"
