#!/usr/bin/env bash
# System packages the tests need that npm cannot provide: Debian's Chromium
# (the UI tests' browser), OpenSSH (real sshd for SSH tests) and openssl.
# The control plane's own build tools are installed by test/testbed/build-control-plane.sh.
set -euo pipefail
need=()
for p in chromium openssh-server openssl; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
((${#need[@]})) || exit 0
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
echo "[deps] installing ${need[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
