#!/usr/bin/env bash
# Install QEMU 11.1 on Debian 12 (bookworm) without installing anything on the machine. Run as root.
#
# Debian 12 has no 11.x, and unstable's (sid) packages need newer libraries than Debian 12's, so
# the packages *and every library they depend on* are unpacked under $QEMU11_PREFIX (default
# /opt/qemu-11.1):
#
#   $prefix/apt    a private apt state: sid's package lists, the .debs until unpacked, an empty
#                  dpkg status, so that apt resolves the whole dependency tree from sid (libc
#                  included) instead of counting on what the machine has installed;
#   $prefix/root   the unpacked packages (dpkg-deb -x, no maintainer scripts run);
#   $prefix/bin    launcher scripts qemu-system-x86_64, qemu-storage-daemon, qemu-ga, qemu-img:
#                  each runs the unpacked program through the root's own dynamic loader with the
#                  root's libraries, and points QEMU at the root's modules (QEMU_MODULE_DIR) and,
#                  for the system emulator, its firmware (-L).
#
# The machine's apt configuration, dpkg database and /usr are never written. Every program is
# proven to run with ci/check-qemu.sh before the script reports success. Safe to run again: an
# install that passes its check is kept, anything else is removed and unpacked again from scratch.
# Called by ci/install-qemu.sh; usable alone: sudo ci/install-qemu-11.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prefix=${QEMU11_PREFIX:-/opt/qemu-11.1}
apt_dir=$prefix/apt
root=$prefix/root
programs=(qemu-system-x86_64 qemu-storage-daemon qemu-ga)
bins=("${programs[@]/#/$prefix/bin/}")

die() { echo "install-qemu-11.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (sudo ci/install-qemu-11.sh)"

# shellcheck source=ci/lib.sh
source "$here/lib.sh"

# Writes $apt_dir/sid.sources: the machine's own Debian mirror and keyring, suite sid. Taken from
# the deb822 stanza that lists bookworm itself, or else from the first one-line `deb ... bookworm`
# entry; sid is signed by the same archive keys debian-archive-keyring carries.
write_sid_source() {
  local out=$apt_dir/sid.sources deb822=/etc/apt/sources.list.d/debian.sources
  rm -f "$out"
  if [[ -f $deb822 ]]; then
    awk 'BEGIN { RS = ""; ORS = "\n\n" } /Suites:[^\n]* bookworm( |\n|$)/ { print; exit }' \
      "$deb822" | sed 's/^Suites: .*/Suites: sid/' >"$out"
  fi
  if [[ ! -s $out && -f /etc/apt/sources.list ]]; then
    awk '$1 == "deb" && $0 ~ / bookworm / {
           uri = ($2 ~ /^\[/) ? $3 : $2
           printf "Types: deb\nURIs: %s\nSuites: sid\nComponents: main\n", uri; exit }' \
      /etc/apt/sources.list >"$out"
  fi
  [[ -s $out ]] || die "found no bookworm apt entry to take Debian's mirror from; add one" \
    "(e.g. 'deb http://deb.debian.org/debian bookworm main' in /etc/apt/sources.list) and rerun"
}

# apt pointed at the private state only: no machine sources, lists, cache or dpkg status.
private_apt() {
  apt-get \
    -o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$apt_dir" \
    -o Dir::State::Lists="$apt_dir/lists" -o Dir::State::status="$apt_dir/empty-status" \
    -o Dir::Cache="$apt_dir/cache" -o Dir::Cache::Archives="$apt_dir/archives" \
    -o APT::Install-Recommends=false -o Debug::NoLocking=1 "$@"
}

# The directory holding QEMU's loadable modules: the one directory with the display modules.
module_dir() {
  local dirs
  dirs=$(find "$root/usr/lib" -name 'hw-display-*.so' -printf '%h\n' | sort -u)
  if [[ -z $dirs || $(wc -l <<<"$dirs") != 1 ]]; then
    die "expected one directory with hw-display-*.so under $root/usr/lib, found: ${dirs:-none}"
  fi
  echo "$dirs"
}

install_11() {
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/cache"
  : >"$apt_dir/empty-status"
  chown -R _apt "$apt_dir/lists" "$apt_dir/archives" 2>/dev/null || true # apt's download sandbox
  write_sid_source
  private_apt update -qq >/dev/null ||
    die "apt could not read Debian unstable's package lists (above); the machine must reach its" \
      "Debian mirror ($(grep -m1 '^URIs:' "$apt_dir/sid.sources"))"
  # Every .deb in archives/ is unpacked below, so none of an earlier run may stay: after sid
  # moved on, an old libfoo beside the new one would be unpacked over it, or under it.
  rm -f "$apt_dir"/archives/*.deb
  private_apt install --download-only -y -qq qemu-system-x86 qemu-utils qemu-guest-agent \
    qemu-system-modules-opengl qemu-system-modules-spice qemu-block-extra >/dev/null ||
    die "downloading QEMU 11.1 and its libraries from Debian unstable failed (above)"
  # Start from nothing: a half-written tree of an earlier run must not survive.
  rm -rf "$root" "$prefix/bin"
  mkdir -p "$root" "$prefix/bin"
  local deb
  for deb in "$apt_dir"/archives/*.deb; do dpkg-deb -x "$deb" "$root"; done
  rm -f "$apt_dir"/archives/*.deb # unpacked; a reinstall downloads afresh anyway

  local loader=$root/usr/lib64/ld-linux-x86-64.so.2
  local libs=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu
  local moddir
  moddir=$(module_dir)
  [[ -x $loader ]] || die "$loader missing: sid's libc6 was not unpacked"
  wrap() { # name, path inside $root, extra arguments
    local name=$1 path=$root/$2; shift 2
    [[ -x $path ]] || die "$path missing from Debian unstable's packages"
    printf '#!/bin/sh\n# QEMU 11.1 from Debian unstable, run with its own libraries (ci/install-qemu-11.sh)\n' \
      >"$prefix/bin/$name"
    printf 'QEMU_MODULE_DIR=%s exec %s --library-path %s %s %s "$@"\n' \
      "$moddir" "$loader" "$libs" "$path" "$*" >>"$prefix/bin/$name"
    chmod 755 "$prefix/bin/$name"
  }
  # Firmware: QEMU's own ROMs and, in sid, iPXE's network ROMs live in usr/share/qemu; SeaBIOS
  # in usr/share/seabios. (Debian 12's iPXE used usr/lib/ipxe/qemu; taken too if it is there.)
  local firmware=() d
  for d in usr/share/qemu usr/share/seabios; do
    [[ -d $root/$d ]] || die "firmware directory $root/$d missing from the unpacked packages"
    firmware+=(-L "$root/$d")
  done
  [[ -d $root/usr/lib/ipxe/qemu ]] && firmware+=(-L "$root/usr/lib/ipxe/qemu")
  wrap qemu-system-x86_64 usr/bin/qemu-system-x86_64 "${firmware[@]}"
  wrap qemu-storage-daemon usr/bin/qemu-storage-daemon
  wrap qemu-img usr/bin/qemu-img
  wrap qemu-ga usr/sbin/qemu-ga
  echo "install-qemu-11.sh: QEMU 11.1 unpacked under $root, modules in $moddir"
}

if [[ ! -e ${bins[0]} ]]; then
  echo "install-qemu-11.sh: installing QEMU 11.1 from Debian unstable under $prefix"
  install_11
elif ! passes "${bins[@]}"; then
  echo "install-qemu-11.sh: the QEMU 11.1 under $prefix fails its check (above); reinstalling"
  install_11
fi

if ! check "${bins[@]}"; then
  die "installed, but the programs above fail their check; remove $prefix and rerun"
fi
version=$("${bins[0]}" --version | head -n1)
# The tests expect 11.1 here; sid moving on to 11.2 or 12.0 must not pass unnoticed.
[[ $version == *' 11.1.'* ]] ||
  die "$prefix holds '$version', not QEMU 11.1: Debian unstable moved on; pin the version" \
    "(or point QEMU_11_1_BIN_DIR at a QEMU 11.1) and update this script"
echo "QEMU 11.1: $version ($prefix/bin)"
