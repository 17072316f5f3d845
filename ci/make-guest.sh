#!/usr/bin/env bash
# Build a minimal Linux guest for end-to-end tests: Debian 12's kernel and a busybox initramfs.
# Writes DIR/vmlinuz and DIR/initrd.img (DIR defaults to ./guest) and prints DIR. Run as root on
# Debian 12; packages are fetched with apt-get download, nothing is installed but cpio.
#
# The guest:
#   - prints GUEST-READY on its first serial port (ttyS0) once it is up;
#   - runs a shell on the VGA console (tty1), so keys sent with QMP send-key are typed into it;
#   - keeps ttyS0 as a back channel: typing `echo hi >/dev/ttyS0` shows "hi" on QEMU's -serial;
#   - runs the host's qemu-ga (Debian 12's 7.2, copied in with its libraries) when the machine has
#     a virtio-serial port named org.qemu.guest_agent.0 (it loads the virtio modules for that).
#
# DIR/guest-agent marks a guest built with the agent; a DIR without it is rebuilt.
#
# Boot it with, for example:
#   qemu-system-x86_64 -kernel DIR/vmlinuz -initrd DIR/initrd.img -append 'console=ttyS0 quiet' \
#     -m 256 -display none -serial unix:SERIAL,server=on,wait=off -qmp unix:QMP,server=on,wait=off
set -euo pipefail

out=$(realpath -m "${1:-guest}")
mkdir -p "$out"
if [[ -s $out/vmlinuz && -s $out/initrd.img && -e $out/guest-agent ]]; then
  echo "$out"
  exit 0
fi
command -v cpio >/dev/null || { apt-get update -qq; apt-get install -y -qq cpio >/dev/null; }
ga=/usr/sbin/qemu-ga
[[ -x $ga ]] || { echo "make-guest.sh: $ga missing: run ci/install-qemu.sh (Debian 12's qemu-guest-agent)" >&2; exit 1; }

work=$(mktemp -d)
chown _apt "$work" 2>/dev/null || chmod 755 "$work" # let apt download as its sandbox user
trap 'rm -rf "$work"' EXIT
cd "$work"

# linux-image-amd64 is a metapackage; fetch the versioned image it depends on.
kernel=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[[ -n $kernel ]] || { apt-get update -qq; kernel=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'); }
apt-get download -qq "$kernel" busybox-static >/dev/null
dpkg-deb -x linux-image-*.deb kernel
dpkg-deb -x busybox-static_*.deb busybox
cp kernel/boot/vmlinuz-* "$out/vmlinuz"

mkdir -p initramfs/{bin,dev,proc,sys,tmp,root,run,lib/modules,usr/sbin}
cp busybox/bin/busybox initramfs/bin/busybox
# The guest agent's transport: virtio-serial, whose drivers this kernel builds as modules (in
# the order their dependencies need).
virtio_modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console"
for m in $virtio_modules; do
  ko=$(find kernel/lib/modules -name "$m.ko" | head -n1)
  [[ -n $ko ]] || { echo "make-guest.sh: $m.ko not in $kernel" >&2; exit 1; }
  cp "$ko" initramfs/lib/modules/
done
# qemu-ga and every library it loads, at the same paths.
cp "$ga" initramfs/usr/sbin/qemu-ga
for lib in $(ldd "$ga" | grep -o '/[^ ]*'); do
  mkdir -p "initramfs$(dirname "$lib")"
  cp -L "$lib" "initramfs$lib"
done
cat >initramfs/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in VIRTIO_MODULES; do insmod /lib/modules/$m.ko; done
for p in /sys/class/virtio-ports/*; do
  if [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ]; then
    qemu-ga -m virtio-serial -p "/dev/${p##*/}" -t /run -f /run/qemu-ga.pid -l /run/qemu-ga.log &
  fi
done
echo GUEST-READY >/dev/ttyS0
cd /root
# Respawn the console shell forever; setsid gives it tty1 as its controlling terminal.
while :; do
  setsid sh -c 'exec sh </dev/tty1 >/dev/tty1 2>&1'
done
INIT
sed -i "s/VIRTIO_MODULES/$virtio_modules/" initramfs/init
chmod 755 initramfs/init
(cd initramfs && find . -print | cpio -o -H newc --quiet | gzip -1) >"$out/initrd.img"
touch "$out/guest-agent"
echo "$out"
