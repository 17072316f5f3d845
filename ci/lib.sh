# Shell helpers the installers share; source it after setting $here to the ci/ directory.

# Proves programs work (see check-qemu.sh); prints one line per program.
check() { bash "$here/check-qemu.sh" "$@"; }

# The same, quiet when they pass; the failures on stderr when not.
passes() {
  local out
  out=$(check "$@" 2>&1) && return 0
  grep -v '^check-qemu: ok' <<<"$out" >&2
  return 1
}
