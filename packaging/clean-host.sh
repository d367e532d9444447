#!/usr/bin/env bash
# Release checks in a minimal Debian 12 (debootstrap --variant=minbase), as
# root; each downloads from Debian's mirror (and `fresh-test` from PyPI), so
# neither is part of make test. Each leaves its ROOT and logs behind.
#
#   sudo packaging/clean-host.sh [BUILD] [ROOT]
#
# proves that a one-folder build starts on a clean machine: only the host
# packages the README lists, then, inside, the build's --self-check and its
# window on a real X server. BUILD defaults to dist/kaphila-console (make
# package), ROOT to a new folder in /tmp; an existing ROOT is reused. Needs
# debootstrap, Xvfb, xwd and ImageMagick (for the screenshot), downloads ~80 MB
# and prints where the screenshot went.
#
#   sudo packaging/clean-host.sh fresh-test [REPO]
#
# proves the README's "make test works on a fresh Debian machine" with Debian's
# own python3: a new root with only `make` and `python3` added, a `git clone` of
# REPO's HEAD (default: this repository; no .venv, no build), then `make test`
# as root inside it, the PyInstaller build test included. Needs debootstrap and
# git, downloads ~400 MB (Debian packages and the wheels); ~4 min here.
# PYTEST_ARGS, if set, goes through (to run part of the suite). The host's local
# CA certificates (/usr/local/share/ca-certificates) are copied in, for a network
# that intercepts TLS; a real machine on it would have them too.
set -euo pipefail

# The README's "The host needs" list, as Debian 12 package names.
HOST_PACKAGES=(libgl1 libegl1 libglib2.0-0 libfontconfig1 libfreetype6 libx11-6 libx11-xcb1
               libxcb1 libwayland-client0 libwayland-cursor0 xkb-data fonts-dejavu-core)
# What the README's "Two commands" asks of a fresh machine; make test's own
# sysdeps.sh must install everything else.
FRESH_PACKAGES=(make python3)

mode=build
if [ "${1:-}" = fresh-test ]; then
  mode=fresh-test
  repo=$(realpath "${2:-$(dirname "$0")/..}")
  # Always a new root: one where sysdeps.sh ran before proves nothing.
  root=$(mktemp -d /tmp/kaphila-fresh-test.XXXXXX)
  tools=(debootstrap git)
  git -C "$repo" rev-parse --verify -q HEAD >/dev/null \
    || { echo "no git repository at $repo" >&2; exit 2; }
else
  build=$(realpath "${1:-dist/kaphila-console}")
  root=${2:-$(mktemp -d /tmp/kaphila-clean-host.XXXXXX)}
  tools=(debootstrap Xvfb xwd convert)
  [ -x "$build/kaphila-console" ] || { echo "no build at $build (run make package)" >&2; exit 2; }
fi
[ "$(id -u)" = 0 ] || { echo "run as root (debootstrap and chroot)" >&2; exit 2; }
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

if [ ! -x "$root/usr/bin/apt-get" ]; then
  echo "clean-host: debootstrap bookworm (minbase) into $root ..."
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$root.log"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"

mounts=()
# Processes still running in the root (a test's dbus-daemon or gnome-keyring,
# say) by their ids, so that nothing outlives the check and the mounts let go.
stop_root_processes() {
  local proc pids=()
  for proc in /proc/[0-9]*; do
    [ "$(readlink "$proc/root" 2>/dev/null)" = "$(realpath "$root")" ] && pids+=("${proc#/proc/}")
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  kill "${pids[@]}" 2>/dev/null || true
  sleep 2
  kill -9 "${pids[@]}" 2>/dev/null || true
}
cleanup() {
  if [ -n "${xvfb:-}" ]; then kill "$xvfb" 2>/dev/null || true; fi
  stop_root_processes
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" || true; done
}
trap cleanup EXIT
bind() { mkdir -p "$root$1"; mount --bind "$1" "$root$1"; mounts+=("$root$1"); }
bind /proc
bind /dev
apt_install() {
  echo "clean-host: installing $*"
  chroot "$root" sh -c "apt-get -o APT::Sandbox::User=root update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get -o APT::Sandbox::User=root install -y -qq \
    --no-install-recommends $*" >>"$root.log" 2>&1
}

if [ "$mode" = fresh-test ]; then
  bind /dev/pts
  bind /dev/shm
  bind /sys
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$root/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  fi
  apt_install "${FRESH_PACKAGES[@]}"
  rm -rf "$root/opt/kaphila-console"
  git clone --quiet --no-hardlinks "$repo" "$root/opt/kaphila-console"
  echo "clean-host: make test in $root/opt/kaphila-console ($(git -C "$repo" log -1 \
    --format='%h %s' | cut -c1-60)), log in $root.make-test.log ..."
  pass=()
  for name in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PYTEST_ARGS; do
    [ -n "${!name:-}" ] && pass+=("$name=${!name}")
  done
  started=$SECONDS
  status=0
  chroot "$root" env -i HOME=/root LANG=C.UTF-8 TERM=dumb "${pass[@]+"${pass[@]}"}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    sh -c 'cd /opt/kaphila-console && make test' >"$root.make-test.log" 2>&1 || status=$?
  minutes=$(( (SECONDS - started) / 60 )) seconds=$(( (SECONDS - started) % 60 ))
  tail -n 25 "$root.make-test.log"
  if [ "$status" = 0 ]; then
    echo "clean-host: make test passed on a fresh Debian 12 in ${minutes}m${seconds}s"
  else
    echo "clean-host: make test FAILED (exit $status) after ${minutes}m${seconds}s;" \
         "see $root.make-test.log"
  fi
  exit "$status"
fi

mkdir -p /tmp/.X11-unix
bind /tmp/.X11-unix
apt_install "${HOST_PACKAGES[@]}"

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
