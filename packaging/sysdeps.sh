#!/usr/bin/env bash
# The Debian packages Kaphila Console needs from the host, for `make run` and
# `make test`. Installs whatever is missing when run as root with apt-get;
# otherwise prints the command to run. Safe to run again: it does nothing when
# everything is there.
#
#   packaging/sysdeps.sh run|test [--list]
#
# --list prints the packages the mode needs with this $PYTHON, one a line
# ("a|b": either will do), and exits without looking at what is installed.
set -euo pipefail

purpose=${1:-run}
list=${2:-}
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
  *) echo "usage: $0 run|test [--list]" >&2; exit 2 ;;
esac
case "$list" in ""|--list) ;; *) echo "usage: $0 run|test [--list]" >&2; exit 2 ;; esac

# What the interpreter in use needs. Debian's /usr/bin/python3.X is linked
# statically and leaves `-m venv` (ensurepip) to python3.X-venv and the shared
# libpython3.X.so.1.0, which PyInstaller bundles for `make test`'s build, to
# libpython3.X; a Python built with a shared library (pyenv's, python.org's)
# carries both and hides that. The probe prints the version, the interpreter
# behind any venv, and whether the shared library is where PyInstaller 6
# looks (bindepend.get_python_library_path).
probe='
import os, sys, sysconfig
version = "%d.%d" % sys.version_info[:2]
exe = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
shared = sysconfig.get_config_var("Py_ENABLE_SHARED")
name = (sysconfig.get_config_var("INSTSONAME") if shared
        else "libpython%s%s.so.1.0" % (version, getattr(sys, "abiflags", "")))
dirs = [sys.base_prefix, os.path.join(sys.base_prefix, "lib")]
if shared:
    dirs.append(sysconfig.get_config_var("LIBDIR") or sys.base_prefix)
found = any(os.path.exists(os.path.join(d, name)) for d in dirs)
print(version, exe, "yes" if found else "no")
'
notes=()
if read -r pyversion pyexe pyshared < <("$python" -c "$probe" 2>/dev/null) \
    && [ -n "${pyshared:-}" ]; then
  if [[ "$pyexe" =~ ^/usr/bin/python3\.[0-9]+$ ]]; then
    want+=("python$pyversion-venv")
    if [ "$purpose" = test ]; then want+=("libpython$pyversion"); fi
  else
    # Not Debian's, so no Debian package can supply what it lacks: say so now
    # rather than let `make` fail later with PyInstaller's or venv's error.
    if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
      notes+=("$pyexe has no venv/ensurepip module, so make cannot create .venv;
  use a complete build of Python or Debian's (make PYTHON=/usr/bin/python3).")
    fi
    if [ "$purpose" = test ] && [ "$pyshared" = no ]; then
      notes+=("$pyexe (Python $pyversion) has no shared libpython$pyversion, which
  PyInstaller needs, so tests/e2e/test_package.py (the build) will fail. Rebuild it
  with --enable-shared (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared), use Debian's
  Python (make PYTHON=/usr/bin/python3), or skip the build: KAPHILA_SKIP_PACKAGE=1 make test")
    fi
  fi
else
  # No usable $PYTHON yet: Debian's default python3 with its venv module.
  # Once it is installed its own needs can be asked, so sysdeps runs again.
  want+=(python3-venv)
  again=yes
fi

for note in "${notes[@]+"${notes[@]}"}"; do echo "sysdeps: $note" >&2; done
if [ -n "$list" ]; then
  printf '%s\n' "${want[@]}"
  exit 0
fi

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
if [ "${again:-}" = yes ] && [ -z "${SYSDEPS_AGAIN:-}" ]; then
  SYSDEPS_AGAIN=1 exec bash "$0" "$purpose"
fi
