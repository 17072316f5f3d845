#!/usr/bin/env bash
# Install the three QEMU releases the test suites use, on Debian 12 (bookworm), and libvirt
# (ci/install-libvirt.sh). Run as root.
#
#   7.2   Debian 12's packages: qemu-system-x86_64 and qemu-storage-daemon in /usr/bin,
#         qemu-ga in /usr/sbin.
#   10.0  bookworm-backports packages, unpacked (not installed) under $QEMU10_PREFIX
#         (default /opt/qemu-10.0), with launcher scripts in $QEMU10_PREFIX/bin that point the
#         unpacked binaries at their firmware (-L) and module directory (QEMU_MODULE_DIR).
#   11.1  Debian unstable's packages with every library they need, unpacked under
#         $QEMU11_PREFIX (default /opt/qemu-11.1) by ci/install-qemu-11.sh, nothing installed
#         on the machine.
#
# Every program is proven to run with ci/check-qemu.sh (the system emulators load display
# modules and quit over QMP) before the script reports success. Safe to run again: what passes
# its check is kept, what fails is reinstalled once and checked again.
# Usage: sudo ci/install-qemu.sh [--only-7.2]   (--only-7.2: neither 10.0 nor 11.1)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prefix=${QEMU10_PREFIX:-/opt/qemu-10.0}
with10=yes
case ${1:-} in
  '') ;;
  --only-7.2) with10=no ;;
  *) echo "usage: sudo ci/install-qemu.sh [--only-7.2]" >&2; exit 2 ;;
esac
export DEBIAN_FRONTEND=noninteractive

if [[ $(id -u) != 0 ]]; then
  echo "install-qemu.sh: run as root (sudo ci/install-qemu.sh)" >&2
  exit 1
fi

bins72=(/usr/bin/qemu-system-x86_64 /usr/bin/qemu-storage-daemon /usr/sbin/qemu-ga)
bins10=("$prefix/bin/qemu-system-x86_64" "$prefix/bin/qemu-storage-daemon" "$prefix/bin/qemu-ga")
prefix11=${QEMU11_PREFIX:-/opt/qemu-11.1}
bins11=("$prefix11/bin/qemu-system-x86_64" "$prefix11/bin/qemu-storage-daemon" "$prefix11/bin/qemu-ga")
# shellcheck source=ci/lib.sh
source "$here/lib.sh"

# --- QEMU 7.2 -------------------------------------------------------------------------------

install_72() {
  apt-get update -qq
  # Pin the bookworm versions explicitly: an image may already carry newer qemu-utils
  # from backports, which the 7.2 system emulator cannot sit beside.
  apt-get install -y -qq --allow-downgrades --reinstall \
    qemu-system-x86 qemu-system-common qemu-guest-agent \
    qemu-utils/bookworm qemu-block-extra/bookworm >/dev/null
}

if ! passes "${bins72[@]}"; then
  echo "install-qemu.sh: QEMU 7.2 missing or broken (above); installing it from Debian 12"
  install_72
fi

# --- QEMU 10.0 ------------------------------------------------------------------------------

# Adds bookworm-backports to apt's sources, reusing the mirror of the machine's bookworm entry.
add_backports() {
  local deb822=/etc/apt/sources.list.d/debian.sources
  local out=/etc/apt/sources.list.d/bookworm-backports.sources
  local list=/etc/apt/sources.list.d/bookworm-backports.list
  [[ -f $out || -f $list ]] && return
  grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ && return
  if [[ -f $deb822 ]]; then
    # deb822 (Debian 12's default): copy the stanza that lists bookworm itself.
    awk 'BEGIN { RS = ""; ORS = "\n\n" } /Suites:[^\n]* bookworm( |\n|$)/ { print; exit }' \
      "$deb822" | sed 's/^Suites: .*/Suites: bookworm-backports/' >"$out"
    [[ -s $out ]] || rm -f "$out"
  fi
  if [[ ! -f $out && -f /etc/apt/sources.list ]]; then
    # One-line format: the first `deb URL bookworm ...` line.
    awk '$1 == "deb" && $0 ~ / bookworm / { sub(/ bookworm /, " bookworm-backports "); print; exit }' \
      /etc/apt/sources.list >"$list"
    [[ -s $list ]] || rm -f "$list"
  fi
  if [[ ! -f $out && ! -f $list ]]; then
    echo "install-qemu.sh: found no bookworm apt entry to derive bookworm-backports from;" \
      "add one (e.g. 'deb http://deb.debian.org/debian bookworm-backports main') to $list" >&2
    exit 1
  fi
}

# The directory holding QEMU's loadable modules: the one directory with the display modules
# (hw-display-*.so). Not simply a directory named qemu: usr/lib/qemu holds helper programs.
module_dir() { # root
  local dirs
  dirs=$(find "$1/usr/lib" -name 'hw-display-*.so' -printf '%h\n' | sort -u)
  if [[ -z $dirs || $(wc -l <<<"$dirs") != 1 ]]; then
    echo "install-qemu.sh: expected one directory with hw-display-*.so under $1/usr/lib," \
      "found: ${dirs:-none}" >&2
    return 1
  fi
  echo "$dirs"
}

install_10() {
  add_backports
  apt-get update -qq
  local root=$prefix/root moddir
  work=$(mktemp -d)
  chown _apt "$work" 2>/dev/null || chmod 755 "$work" # let apt download as its sandbox user
  trap 'rm -rf "$work"' EXIT
  # The firmware too: 10.0 wants a newer SeaBIOS than Debian 12's, and without its own copy
  # it would quietly boot the machine's.
  local pkgs=(qemu-system-x86 qemu-system-common qemu-system-data qemu-system-gui
              qemu-system-modules-opengl qemu-system-modules-spice qemu-block-extra
              qemu-guest-agent qemu-utils seabios)
  (cd "$work" && apt-get download -qq "${pkgs[@]/%//bookworm-backports}" ipxe-qemu >/dev/null)
  # Start from nothing: a half-written tree of an earlier run must not survive.
  rm -rf "$root" "$prefix/bin"
  mkdir -p "$root" "$prefix/bin"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$root"; done
  moddir=$(module_dir "$root")
  wrap() { # name, path inside $root, extra arguments
    local name=$1 path=$root/$2; shift 2
    [[ -x $path ]] || { echo "install-qemu.sh: $path missing from the backports packages" >&2; exit 1; }
    printf '#!/bin/sh\nQEMU_MODULE_DIR=%s exec %s %s "$@"\n' "$moddir" "$path" "$*" >"$prefix/bin/$name"
    chmod 755 "$prefix/bin/$name"
  }
  local firmware=()
  for d in usr/share/qemu usr/share/seabios usr/lib/ipxe/qemu; do
    [[ -d $root/$d ]] || { echo "install-qemu.sh: firmware directory $root/$d missing" >&2; exit 1; }
    firmware+=(-L "$root/$d")
  done
  wrap qemu-system-x86_64 usr/bin/qemu-system-x86_64 "${firmware[@]}"
  wrap qemu-storage-daemon usr/bin/qemu-storage-daemon
  wrap qemu-ga usr/sbin/qemu-ga
  echo "install-qemu.sh: QEMU 10.0 unpacked under $root, modules in $moddir"
}

if [[ $with10 == yes ]]; then
  if [[ ! -e ${bins10[0]} ]]; then
    echo "install-qemu.sh: installing QEMU 10.0 from bookworm-backports under $prefix"
    install_10
  elif ! passes "${bins10[@]}"; then
    echo "install-qemu.sh: the QEMU 10.0 under $prefix fails its check (above); reinstalling"
    install_10
  fi
fi

# --- QEMU 11.1 ------------------------------------------------------------------------------

# A script of its own (it keeps and proves its install the same way); it fails loudly itself.
if [[ $with10 == yes ]]; then
  bash "$here/install-qemu-11.sh"
fi

# --- libvirt -------------------------------------------------------------------------------

# For qmp-libvirt and `qmp --libvirt` (built and tested with the workspace); a script of its
# own, which proves its install and fails loudly itself.
bash "$here/install-libvirt.sh"

# --- Proof ----------------------------------------------------------------------------------

all=("${bins72[@]}")
[[ $with10 == yes ]] && all+=("${bins10[@]}" "${bins11[@]}")
if ! check "${all[@]}"; then
  echo "install-qemu.sh: installed, but the programs above fail their check" >&2
  exit 1
fi
echo "QEMU 7.2:  $(/usr/bin/qemu-system-x86_64 --version | head -n1) (/usr/bin, qemu-ga in /usr/sbin)"
if [[ $with10 == yes ]]; then
  echo "QEMU 10.0: $("${bins10[0]}" --version | head -n1) ($prefix/bin)"
  echo "QEMU 11.1: $("${bins11[0]}" --version | head -n1) ($prefix11/bin)"
fi
