#!/usr/bin/env bash
# Writes a pbxgate disk image to an SD card, eMMC or disk.
# Not built yet: the image issue delivers the image and this script. Until
# then it refuses to touch any device.
echo "flash.sh: there is no pbxgate image to flash yet (see image/README.md)." >&2
exit 2
