#!/usr/bin/env bash
# The Debian packages Kaphila Console needs from the host, for `make run` and
# `make test`. Installs whatever is missing when run as root with apt-get;
# otherwise prints the command to run. Safe to run again: it does nothing when
# everything is there.
#
#   packaging/sysdeps.sh run|test
set -euo pipefail

purpose=${1:-run}
python=${PYTHON:-python3}

# Qt (offscreen platform) and fonts; "a|b" means either name will do
# (Debian 13 renamed some libraries with a t64 suffix).
want=(libgl1 libegl1 libxkbcommon0 libfontconfig1 "libglib2.0-0|libglib2.0-0t64"
      "libdbus-1-3" fontconfig-config fonts-dejavu-core)
# A real window on X11 (xcb platform plugin). The builds bundle the xcb helper
# libraries from the build host, so packaging needs them too.
x11=(libx11-6 libx11-xcb1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
     libxcb-image0 libxcb-render-util0 libxcb-render0 libxcb-shape0 libxcb-util1 libxcb-xkb1)
case "$purpose" in
  run) want+=("${x11[@]}") ;;
  # The packaging test builds the app (binutils: PyInstaller's objdump and strip;
  # icu-devtools' icupkg trims ICU's data) and checks that every bundled library,
  # the Wayland plugins' too, finds what it links against; the keyring test needs a
  # real Secret Service (gnome-keyring on a private D-Bus).
  test) want+=("${x11[@]}" libwayland-client0 libwayland-cursor0 gnome-keyring dbus-x11
               dbus-daemon binutils icu-devtools) ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "sysdeps: not a Debian-based system; make sure Qt 6's runtime libraries" \
       "(GL, EGL, xkbcommon, fontconfig, glib, dbus) and a font are installed." >&2
  exit 0
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for spec in "${want[@]}"; do
  IFS='|' read -r -a names <<<"$spec"
  ok=no
  for name in "${names[@]}"; do installed "$name" && ok=yes && break; done
  [ "$ok" = yes ] || missing+=("$spec")
done
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=("python3-venv")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  plain=$(printf '%s\n' "${missing[@]}" | cut -d'|' -f1 | tr '\n' ' ')
  echo "sysdeps: missing Debian packages: $plain" >&2
  echo "sysdeps: install them with: sudo apt-get install $plain" >&2
  exit 0
fi

echo "sysdeps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
to_install=()
for spec in "${missing[@]}"; do
  IFS='|' read -r -a names <<<"$spec"
  chosen=${names[0]}
  for name in "${names[@]}"; do
    if apt-cache show "$name" >/dev/null 2>&1; then chosen=$name; break; fi
  done
  to_install+=("$chosen")
done
apt-get install -y -qq --no-install-recommends "${to_install[@]}"
