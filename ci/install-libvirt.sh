#!/usr/bin/env bash
# Install libvirt 9.0 from Debian 12 for qmp-libvirt and `qmp --libvirt`: the daemon (the tests
# start private ones), virsh, and the development files the `virt` crate links against. Run as
# root. Safe to run again: what passes its check is kept.
#
# The check proves it works, not just that it is there: pkg-config finds libvirt and
# libvirt-qemu, libvirtd and virsh run, and a private libvirtd (its own configuration, state and
# socket, in new mount and PID namespaces, as the tests start it) answers `virsh version`.
# Nothing is left running; the machine's own libvirt services are neither started nor touched.
#
# Usage: sudo ci/install-libvirt.sh [--check]   (--check: only prove, install nothing)
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
fix="run: sudo bash ci/install-libvirt.sh (Debian 12: libvirt-daemon-system libvirt-clients \
libvirt-dev pkg-config)"

check_libvirt() {
  local v dir pid ok=no
  for tool in pkg-config libvirtd virsh unshare; do
    command -v "$tool" >/dev/null || { echo "check-libvirt: FAIL: $tool not found" >&2; return 1; }
  done
  v=$(pkg-config --modversion libvirt libvirt-qemu 2>&1) || {
    echo "check-libvirt: FAIL: pkg-config finds no libvirt/libvirt-qemu: $v" >&2; return 1; }
  libvirtd --version >/dev/null || { echo "check-libvirt: FAIL: libvirtd --version" >&2; return 1; }
  virsh --version >/dev/null || { echo "check-libvirt: FAIL: virsh --version" >&2; return 1; }
  [[ $(id -u) == 0 ]] || { echo "check-libvirt: ok (tools only: the daemon check needs root)"; return 0; }
  dir=$(mktemp -d /tmp/check-libvirt.XXXXXX)
  mkdir -p "$dir"/{etc,run,lib,cache,log}
  printf 'listen_tls = 0\nlisten_tcp = 0\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n' \
    >"$dir/etc/libvirtd.conf"
  printf 'security_driver = "none"\ncgroup_controllers = [ ]\nnamespaces = [ ]\nstdio_handler = "file"\n' \
    >"$dir/etc/qemu.conf"
  unshare --mount --propagation private --pid --fork --kill-child --mount-proc sh -c "
    set -e; mkdir -p /run/libvirt
    for m in etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt cache:/var/cache/libvirt \
             log:/var/log/libvirt; do mount --bind $dir/\${m%%:*} \${m#*:}; done
    libvirtd -p /run/libvirt/libvirtd.pid -f /etc/libvirt/libvirtd.conf & wait \$!
  " >"$dir/libvirtd.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    if virsh -c "qemu:///system?socket=$dir/run/libvirt-sock" version >"$dir/version" 2>&1; then
      ok=yes
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [[ $ok != yes ]]; then
    echo "check-libvirt: FAIL: a private libvirtd did not answer \`virsh version\`:" >&2
    sed 's/^/    | /' "$dir/version" "$dir/libvirtd.log" | tail -n 20 >&2
    rm -rf "$dir"
    return 1
  fi
  echo "check-libvirt: ok libvirt $(pkg-config --modversion libvirt), $(grep -m1 'hypervisor' "$dir/version")"
  rm -rf "$dir"
}

if [[ ${1:-} == --check ]]; then
  check_libvirt || { echo "  fix: $fix" >&2; exit 1; }
  exit 0
fi
[[ $# == 0 ]] || { echo "usage: sudo ci/install-libvirt.sh [--check]" >&2; exit 2; }
if [[ $(id -u) != 0 ]]; then
  echo "install-libvirt.sh: run as root (sudo bash ci/install-libvirt.sh)" >&2
  exit 1
fi

if check_libvirt 2>/dev/null; then
  exit 0
fi
echo "install-libvirt.sh: libvirt missing or broken; installing it from Debian 12"
# Package scripts must not start the machine's libvirt services (no systemd here, and the tests
# start their own daemons): a policy-rc.d that refuses, removed afterwards if we made it.
policy=/usr/sbin/policy-rc.d
made_policy=no
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  made_policy=yes
fi
trap '[[ $made_policy == yes ]] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  libvirt-daemon-system libvirt-clients libvirt-dev pkg-config >/dev/null
if ! check_libvirt; then
  echo "install-libvirt.sh: installed, but libvirt fails its check (above)" >&2
  echo "  fix: $fix" >&2
  exit 1
fi
