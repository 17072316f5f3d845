#!/usr/bin/env bash
# Install the two QEMU releases the test suites use, on Debian 12 (bookworm). Run as root.
#
#   7.2   Debian 12's packages: qemu-system-x86_64 and qemu-storage-daemon in /usr/bin,
#         qemu-ga in /usr/sbin.
#   10.0  bookworm-backports packages, unpacked (not installed) under $QEMU10_PREFIX
#         (default /opt/qemu-10.0), with launcher scripts in $QEMU10_PREFIX/bin that point the
#         unpacked binaries at their firmware (-L) and module directory.
#
# Safe to run again: finished steps are skipped. Prints the versions at the end.
# Usage: sudo ci/install-qemu.sh [--only-7.2]
set -euo pipefail

prefix=${QEMU10_PREFIX:-/opt/qemu-10.0}
with10=yes
[[ ${1:-} == --only-7.2 ]] && with10=no
export DEBIAN_FRONTEND=noninteractive

if [[ $(id -u) != 0 ]]; then
  echo "install-qemu.sh: run as root (sudo ci/install-qemu.sh)" >&2
  exit 1
fi

have_72() { [[ -x /usr/bin/qemu-system-x86_64 && -x /usr/bin/qemu-storage-daemon && -x /usr/sbin/qemu-ga ]]; }

if ! have_72; then
  apt-get update -qq
  # Pin the bookworm versions explicitly: an image may already carry newer qemu-utils
  # from backports, which the 7.2 system emulator cannot sit beside.
  apt-get install -y -qq --allow-downgrades \
    qemu-system-x86 qemu-system-common qemu-guest-agent \
    qemu-utils/bookworm qemu-block-extra/bookworm >/dev/null
fi

if [[ $with10 == yes && ! -x $prefix/bin/qemu-system-x86_64 ]]; then
  backports=/etc/apt/sources.list.d/bookworm-backports.sources
  if [[ ! -f $backports ]]; then
    # Reuse the mirror of the machine's own bookworm entry (deb822 format).
    awk 'BEGIN { RS = ""; ORS = "\n\n" } /Suites: bookworm bookworm-updates/' \
      /etc/apt/sources.list.d/debian.sources \
      | sed 's/^Suites: .*/Suites: bookworm-backports/' >"$backports"
    [[ -s $backports ]] || { echo "install-qemu.sh: no bookworm entry to derive backports from" >&2; exit 1; }
  fi
  apt-get update -qq
  work=$(mktemp -d)
  chown _apt "$work" 2>/dev/null || chmod 755 "$work" # let apt download as its sandbox user
  trap 'rm -rf "$work"' EXIT
  pkgs=(qemu-system-x86 qemu-system-common qemu-system-data qemu-system-gui
        qemu-system-modules-opengl qemu-system-modules-spice qemu-block-extra
        qemu-guest-agent qemu-utils)
  (cd "$work" && apt-get download -qq "${pkgs[@]/%//bookworm-backports}" >/dev/null)
  root=$prefix/root
  mkdir -p "$root" "$prefix/bin"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  moddir=$(find "$root/usr/lib" -type d -path '*/qemu' -print -quit)
  [[ -n $moddir ]] || { echo "install-qemu.sh: no module directory in $root" >&2; exit 1; }
  wrap() { # name, path inside $root, extra arguments
    local name=$1 path=$root/$2; shift 2
    [[ -x $path ]] || { echo "install-qemu.sh: $path missing from the backports packages" >&2; exit 1; }
    printf '#!/bin/sh\nQEMU_MODULE_DIR=%s exec %s %s "$@"\n' "$moddir" "$path" "$*" >"$prefix/bin/$name"
    chmod 755 "$prefix/bin/$name"
  }
  wrap qemu-system-x86_64 usr/bin/qemu-system-x86_64 \
    -L "$root/usr/share/qemu" -L "$root/usr/share/seabios" -L "$root/usr/lib/ipxe/qemu"
  wrap qemu-storage-daemon usr/bin/qemu-storage-daemon
  wrap qemu-ga usr/sbin/qemu-ga
fi

echo "QEMU 7.2:  $(/usr/bin/qemu-system-x86_64 --version | head -n1) (/usr/bin, qemu-ga in /usr/sbin)"
if [[ $with10 == yes ]]; then
  echo "QEMU 10.0: $("$prefix/bin/qemu-system-x86_64" --version | head -n1) ($prefix/bin)"
fi
