#!/usr/bin/env bash
# Prove that a one-folder build starts on a clean machine: a minimal Debian 12
# (debootstrap --variant=minbase) with only the host packages the README lists,
# then, inside it, the build's --self-check and its window on a real X server.
#
#   sudo packaging/clean-host.sh [BUILD] [ROOT]
#
# BUILD defaults to dist/kaphila-console (make package), ROOT to a new folder in
# /tmp; an existing ROOT is reused. Needs root, debootstrap, Xvfb, xwd and
# ImageMagick (for the screenshot), and downloads ~80 MB from Debian's mirror,
# so it is a release check, not part of make test. It leaves ROOT behind and
# prints where the screenshot went.
set -euo pipefail

# The README's "The host needs" list, as Debian 12 package names.
HOST_PACKAGES=(libgl1 libegl1 libglib2.0-0 libfontconfig1 libfreetype6 libx11-6 libx11-xcb1
               libxcb1 libwayland-client0 libwayland-cursor0 xkb-data fonts-dejavu-core)

build=$(realpath "${1:-dist/kaphila-console}")
root=${2:-$(mktemp -d /tmp/kaphila-clean-host.XXXXXX)}
[ -x "$build/kaphila-console" ] || { echo "no build at $build (run make package)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (debootstrap and chroot)" >&2; exit 2; }
for tool in debootstrap Xvfb xwd convert; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

if [ ! -x "$root/usr/bin/apt-get" ]; then
  echo "clean-host: debootstrap bookworm (minbase) into $root ..."
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$root.log"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"

mounts=()
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" || true; done
  [ -n "${xvfb:-}" ] && kill "$xvfb" 2>/dev/null || true
}
trap cleanup EXIT
bind() { mkdir -p "$root$1"; mount --bind "$1" "$root$1"; mounts+=("$root$1"); }
bind /proc
bind /dev
mkdir -p /tmp/.X11-unix
bind /tmp/.X11-unix

echo "clean-host: installing ${HOST_PACKAGES[*]}"
chroot "$root" sh -c "apt-get -o APT::Sandbox::User=root update -qq && \
  DEBIAN_FRONTEND=noninteractive apt-get -o APT::Sandbox::User=root install -y -qq \
  --no-install-recommends ${HOST_PACKAGES[*]}" >>"$root.log" 2>&1

rm -rf "$root/opt/kaphila-console"
cp -a "$build" "$root/opt/kaphila-console"
run() { chroot "$root" env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"; }

echo "clean-host: libraries the build cannot find on this host:"
missing=$(run sh -c 'cd /opt/kaphila-console && for f in kaphila-console \
  $(find _internal -name "*.so*" -type f); do LD_LIBRARY_PATH=$PWD/_internal ldd "$f" \
  | grep "not found" || true; done | sort -u')
echo "${missing:-  none}"
[ -z "$missing" ] || exit 1

echo "clean-host: --self-check"
run QT_QPA_PLATFORM=offscreen /opt/kaphila-console/kaphila-console --self-check

display=:$((90 + RANDOM % 9))
Xvfb "$display" -screen 0 1280x800x24 >/dev/null 2>&1 &
xvfb=$!
sleep 1
echo "clean-host: the window on X11 (xcb) at $display"
run DISPLAY="$display" KAPHILA_STARTUP_PROBE=1 /opt/kaphila-console/kaphila-console \
  | grep -x READY >/dev/null
chroot "$root" env -i HOME=/root PATH=/usr/bin:/bin LANG=C.UTF-8 DISPLAY="$display" \
  /opt/kaphila-console/kaphila-console >"$root.app.log" 2>&1 &
app=$!
sleep 4
xwd -root -display "$display" -silent | convert xwd:- "$root.png"
kill -INT "$app"
wait "$app" || true
echo "clean-host: passed; screenshot $root.png, app log $root.app.log"
