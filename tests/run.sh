#!/usr/bin/env bash
# The one test command. Installs what the tests need (idempotently), then
# runs every check and test: formatting, lints, unit tests, the malformed
# message corpus, end-to-end tests against real sipp peers and a real DNS
# server (dnsmasq), and the RFC 4475 torture run.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- what the tests need -----------------------------------------------------
need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
# dnsmasq is the real DNS server of tests/dns_e2e.rs (dnsmasq-base: the
# binary only, no service that starts by itself). It lives in /usr/sbin.
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
# Kamailio is the SHA-256 registrar of tests/e2e_registration.rs (sipp 3.6
# verifies only MD5). The tests run it on loopback themselves.
command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || need+=(kamailio)
# mosquitto is the MQTT broker of tests/e2e_mqtt.rs (the test runs its own
# on loopback), mosquitto-clients its subscriber.
# Kamailio's TLS module for the TLS registrar (tests/peers/kamailio_tls_registrar.sh),
# openssl to make its test CA and certificate.
dpkg -s kamailio-tls-modules >/dev/null 2>&1 || need+=(kamailio-tls-modules)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# baresip, the softphone of tests/e2e_baresip.rs (baresip-core: the program
# and its modules without the GTK, X11 and GStreamer parts; no sound card
# needed, the tests play and record WAV files).
command -v baresip >/dev/null 2>&1 || need+=(baresip-core)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
# Speech for the DTMF talk-off test (tests/dtmf_speech.rs): espeak-ng speaks,
# sox resamples to 8 kHz.
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need+=(sox)
# Debian's Chromium for the browser tests (tests/e2e_browser.rs), driven by
# playwright-core from the npm registry (never `playwright install`, which
# downloads a browser of its own); node and npm for the driver.
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(npm)
# flash.sh and tests/flash/run.sh: loop devices and mount (mount), lsblk,
# findmnt and blockdev (util-linux), mkfs.ext4 (e2fsprogs), sfdisk for the
# test image's MBR (fdisk), xz (xz-utils), shellcheck for flash.sh.
command -v losetup >/dev/null 2>&1 || [ -x /usr/sbin/losetup ] || need+=(mount)
command -v lsblk >/dev/null 2>&1 || need+=(util-linux)
command -v mkfs.ext4 >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.ext4 ] || need+=(e2fsprogs)
command -v sfdisk >/dev/null 2>&1 || [ -x /usr/sbin/sfdisk ] || need+=(fdisk)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
# Update bundles: image/bundle.sh and the update API's tests make real
# bundles (rauc bundle, which runs mksquashfs) and check them (rauc info).
command -v rauc >/dev/null 2>&1 || need+=(rauc)
command -v mksquashfs >/dev/null 2>&1 || need+=(squashfs-tools)
# The appliance image (image/build.sh) and its boot test (tests/image/boot.sh):
# mmdebstrap for the Debian root, mkfs.vfat (dosfstools) and mtools for the
# EFI partition, GRUB's EFI build and grub-editenv, qemu and OVMF to boot it.
command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
command -v mkfs.vfat >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.vfat ] || need+=(dosfstools)
command -v mcopy >/dev/null 2>&1 || need+=(mtools)
command -v grub-editenv >/dev/null 2>&1 || need+=(grub-common)
[ -d /usr/lib/grub/x86_64-efi ] || need+=(grub-efi-amd64-bin)
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
[ -f /usr/share/ovmf/OVMF.fd ] || need+=(ovmf)
# Local lines' audio (cargo feature alsa): libasound2-dev to build it,
# jackd2 (a clocked sound server with a dummy backend, no sound card) and
# libasound2-plugins (ALSA's jack PCM) for tests/e2e_line_audio.rs.
# Installed without recommends (jackd2 would bring qjackctl and Qt).
audio=()
dpkg -s libasound2-dev >/dev/null 2>&1 || audio+=(libasound2-dev)
command -v jackd >/dev/null 2>&1 || audio+=(jackd2)
dpkg -s libasound2-plugins >/dev/null 2>&1 || audio+=(libasound2-plugins)
if [ ${#need[@]} -gt 0 ]; then
    echo "tests/run.sh: installing ${need[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
    $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${need[@]}" >/dev/null
fi
if [ ${#audio[@]} -gt 0 ]; then
    echo "tests/run.sh: installing ${audio[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    # jackd2 asks whether to allow real-time priority; the tests run it
    # with --no-realtime, so the answer is no, given rather than asked.
    echo "jackd2 jackd/tweak_rt_limits boolean false" | $sudo debconf-set-selections
    $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
    $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${audio[@]}" >/dev/null
fi
command -v jackd >/dev/null 2>&1 || { echo "tests/run.sh: jackd is still missing after apt-get" >&2; exit 1; }
for tool in sipp tcpdump espeak-ng sox rauc mksquashfs openssl; do
    command -v "$tool" >/dev/null 2>&1 || { echo "tests/run.sh: $tool is still missing after apt-get" >&2; exit 1; }
done
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || { echo "tests/run.sh: dnsmasq is still missing after apt-get" >&2; exit 1; }
command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || { echo "tests/run.sh: kamailio is still missing after apt-get" >&2; exit 1; }
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { echo "tests/run.sh: mosquitto is still missing after apt-get" >&2; exit 1; }
command -v mosquitto_sub >/dev/null 2>&1 || { echo "tests/run.sh: mosquitto_sub is still missing after apt-get" >&2; exit 1; }
command -v baresip >/dev/null 2>&1 || { echo "tests/run.sh: baresip is still missing after apt-get" >&2; exit 1; }
dpkg -s kamailio-tls-modules >/dev/null 2>&1 || { echo "tests/run.sh: kamailio-tls-modules is still missing after apt-get" >&2; exit 1; }
# playwright-core as package-lock.json pins it (idempotent: only when the
# installed one differs).
want=$(python3 -c 'import json;print(json.load(open("tests/browser/package-lock.json"))["packages"]["node_modules/playwright-core"]["version"])')
have=$(python3 -c 'import json;print(json.load(open("tests/browser/node_modules/playwright-core/package.json"))["version"])' 2>/dev/null || true)
if [ "$want" != "$have" ]; then
    echo "tests/run.sh: installing playwright-core $want (npm ci in tests/browser)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
# The package enables a system service on port 5060; the tests need that
# port for the gateway's defaults, so keep the service off where systemd runs.
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled kamailio >/dev/null 2>&1; then
    ${sudo:-} systemctl disable --now kamailio >/dev/null 2>&1 || true
fi
# Without systemd the package's init script may still have started it.
if pgrep -f "kamailio.*/etc/kamailio" >/dev/null 2>&1; then
    ${sudo:-} service kamailio stop >/dev/null 2>&1 || ${sudo:-} pkill -f "kamailio.*/etc/kamailio" || true
fi

# The same for mosquitto's service on 1883 (all addresses): the tests run
# their own broker on their own address and port.
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled mosquitto >/dev/null 2>&1; then
    ${sudo:-} systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
if pgrep -f "mosquitto -c /etc/mosquitto" >/dev/null 2>&1; then
    ${sudo:-} service mosquitto stop >/dev/null 2>&1 || ${sudo:-} pkill -f "mosquitto -c /etc/mosquitto" || true
fi

# --- checks and tests --------------------------------------------------------
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets --features alsa -- -D warnings (and without the feature)"
cargo clippy --all-targets --features alsa --quiet -- -D warnings
cargo clippy --all-targets --quiet -- -D warnings
# Two commands, not `a && b`: set -e does not stop on a failure left of &&.
echo "== layering (tests/layering.py: imports point down, no cycles, file sizes)"
python3 tests/layering.py --self-test
python3 tests/layering.py
echo "== cargo build --release (the end-to-end tests run 'cargo run --release' as a user would)"
cargo build --release --quiet
echo "== cargo test (unit, corpus, end-to-end with sipp, RFC 4475 torture run)"
cargo test --features alsa -- --test-threads 2
echo "== flash.sh on loop devices (tests/flash/run.sh; needs root, runs itself with sudo otherwise)"
tests/flash/run.sh
echo "== the x86-64 image in qemu (tests/image/boot.sh: build, boot, SIP, HTTPS, a change survives a reboot)"
timeout 1200 tests/image/boot.sh
echo "== firmware updates on that image in qemu (tests/image/update.sh: bad signature refused, update to B, a failed update comes back to B)"
timeout 900 tests/image/update.sh
echo "== a static address on that image (tests/image/apply_network.sh, then tests/image/network.sh in qemu)"
tests/image/apply_network.sh
timeout 600 tests/image/network.sh
