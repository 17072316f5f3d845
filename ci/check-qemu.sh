#!/usr/bin/env bash
# Prove that QEMU programs run, not just that they exist. Takes the paths of the programs (real
# binaries or ci/install-qemu.sh's wrappers); what is checked depends on the program's name:
#
#   qemu-system-*        starts a PC with its default devices (VGA, network card with its ROM,
#                        audio) and a virtio-vga card, and quits it over QMP on stdio. That loads
#                        modules (audio-*.so, hw-display-virtio-*.so) from the wrapper's
#                        QEMU_MODULE_DIR and firmware from its -L directories; a plain
#                        `-nodefaults -device VGA` would load no module at all;
#   qemu-storage-daemon  one QMP round trip on stdio (qmp_capabilities, quit);
#   qemu-ga              --version (its transports all need a second party).
#
# Prints one line per program; on failure names the problem, the output and the fix, and exits 1.
# Needs nothing but bash and coreutils. Usage: ci/check-qemu.sh PROGRAM...
set -uo pipefail

[[ $# -gt 0 ]] || { echo "usage: ci/check-qemu.sh PROGRAM..." >&2; exit 2; }

limit=${QEMU_CHECK_TIMEOUT:-60}
failed=0

fail() { # program, problem, output, fix
  printf 'check-qemu: FAIL %s: %s\n' "$1" "$2" >&2
  [[ -n $3 ]] && printf '%s\n' "$3" | sed 's/^/    | /' >&2
  printf '  fix: %s\n' "$4" >&2
  failed=1
}

# Sends qmp_capabilities and quit on the program's stdin; both must get a "return".
qmp_round_trip() { # program, arguments...
  printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"quit"}' |
    timeout --kill-after=5 "$limit" "$@" 2>&1
}

check_system() {
  local prog=$1 out status returns
  out=$(qmp_round_trip "$prog" -machine pc -display none -device virtio-vga -qmp stdio)
  status=$?
  returns=$(grep -o '"return"' <<<"$out" | wc -l)
  if [[ $status == 0 && $returns -ge 2 ]]; then
    echo "check-qemu: ok $prog (PC with default devices and virtio-vga, QMP quit)"
    return
  fi
  local fix="reinstall with \`sudo ci/install-qemu.sh\` (it re-checks and replaces broken wrappers)"
  if grep -qiE 'module|virtio-vga.*not a valid' <<<"$out"; then
    fail "$prog" "a module did not load: QEMU_MODULE_DIR (set by the wrapper) must be the \
directory holding this release's modules (hw-display-*.so, audio-*.so)" "$out" "$fix"
  elif [[ $status == 124 || $status == 137 ]]; then
    fail "$prog" "no QMP reply to quit within ${limit}s" "$out" "$fix"
  else
    fail "$prog" "exit status $status, $returns of 2 QMP replies" "$out" "$fix"
  fi
}

check_storage_daemon() {
  local prog=$1 out status returns
  out=$(qmp_round_trip "$prog" --chardev stdio,id=m --monitor m)
  status=$?
  returns=$(grep -o '"return"' <<<"$out" | wc -l)
  if [[ $status == 0 && $returns -ge 2 ]]; then
    echo "check-qemu: ok $prog (QMP quit)"
  else
    fail "$prog" "exit status $status, $returns of 2 QMP replies" "$out" \
      "reinstall with \`sudo ci/install-qemu.sh\`"
  fi
}

check_ga() {
  local prog=$1 out status
  out=$(timeout "$limit" "$prog" --version 2>&1)
  status=$?
  if [[ $status == 0 && $out == *'QEMU Guest Agent'* ]]; then
    echo "check-qemu: ok $prog ($(head -n1 <<<"$out"))"
  else
    fail "$prog" "--version: exit status $status" "$out" "reinstall with \`sudo ci/install-qemu.sh\`"
  fi
}

for prog in "$@"; do
  if [[ ! -x $prog ]]; then
    fail "$prog" "missing or not executable" "" "install it with \`sudo ci/install-qemu.sh\`"
    continue
  fi
  case $(basename "$prog") in
    qemu-system-*) check_system "$prog" ;;
    qemu-storage-daemon) check_storage_daemon "$prog" ;;
    qemu-ga) check_ga "$prog" ;;
    *) fail "$prog" "unknown program" "" "pass qemu-system-*, qemu-storage-daemon or qemu-ga" ;;
  esac
done
exit "$failed"
