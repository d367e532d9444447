"""Qt's ICU data, cut down to the ICU services Qt calls.

PySide6 ships ICU's full data library (``libicudata.so.73``, 32 MB): the largest
file in the build. Qt Core calls only four ICU services: converters (``ucnv_*``,
legacy text codecs), collation (``ucol_*``, ``QCollator`` and the file dialog's
sort order), calendars and time-zone names (``ucal_*``) and case mapping
(``u_strToUpper``/``Lower``, which needs no data). Nothing else in the bundle
links against ICU.

So the data for services nobody calls goes: break iterators and their
dictionaries, transliteration, number spell-out, and the display names of
currencies, languages, regions and units, plus Unicode character names. What
stays (collation for every locale, every converter, time zones and their names,
the locale data and Unicode properties) behaves exactly as before; ``--self-check``
proves it in the built app (Swedish collation, a Shift_JIS codec, a German
time-zone name, Turkish upper case).

The cut uses ICU's own package tool (``icupkg``, Debian's icu-devtools) and
binutils (``as``, ``ld``, ``objdump``, ``readelf``) to put the smaller data
package back into a library with the same name and symbol.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

# Top folders of the ICU data package that no ICU function Qt calls reads, and
# single items likewise unused.
UNUSED_TREES = ("brkitr", "translit", "rbnf", "curr", "lang", "region", "unit")
UNUSED_ITEMS = ("unames.icu",)
TOOLS = {
    "icupkg": "icu-devtools",
    "as": "binutils",
    "ld": "binutils",
    "objdump": "binutils",
    "readelf": "binutils",
}


class IcuDataError(RuntimeError):
    pass


def _run(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise IcuDataError(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def _data_symbol(library: Path) -> tuple[str, int, int]:
    """The data symbol's name, file offset and size (``icudt73_dat`` ...)."""
    for line in _run("objdump", "-T", str(library)).splitlines():
        found = re.search(r"^([0-9a-f]+)\s.*\.rodata\s+([0-9a-f]+)\s+(icudt\d+_dat)$", line)
        if found:
            address, size, name = int(found[1], 16), int(found[2], 16), found[3]
            break
    else:
        raise IcuDataError(f"{library} exports no icudt*_dat symbol")
    for line in _run("readelf", "-S", "-W", str(library)).splitlines():
        section = re.search(r"\]\s+\.rodata\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)", line)
        if section:
            return name, int(section[2], 16) + address - int(section[1], 16), size
    raise IcuDataError(f"{library} has no .rodata section")


def trim(library: Path, work: Path) -> Path:
    """Build a smaller copy of ``library`` in ``work``; return its path."""
    missing = sorted({package for tool, package in TOOLS.items() if not shutil.which(tool)})
    if missing:
        raise IcuDataError(
            f"trimming ICU's data needs {', '.join(missing)} "
            "(packaging/sysdeps.sh test installs them)"
        )
    symbol, offset, size = _data_symbol(library)
    package = symbol.removesuffix("_dat") + "l"  # icudt73l: the little-endian package
    if work.exists():
        shutil.rmtree(work)
    (work / "full").mkdir(parents=True)
    (work / "trimmed").mkdir()
    full = work / "full" / f"{package}.dat"
    with library.open("rb") as source:
        source.seek(offset)
        full.write_bytes(source.read(size))
    items = _run("icupkg", "-l", str(full)).split()
    unused = [item for item in items if item.split("/")[0] in UNUSED_TREES or item in UNUSED_ITEMS]
    if not unused or len(unused) == len(items):
        raise IcuDataError(f"unexpected ICU data layout in {library} ({len(items)} items)")
    (work / "unused.txt").write_text("\n".join(unused) + "\n", encoding="utf-8")
    # icupkg names the items after the output file, so it must keep the package name.
    trimmed = work / "trimmed" / f"{package}.dat"
    _run("icupkg", "-r", str(work / "unused.txt"), str(full), str(trimmed))
    assembly = work / "data.s"
    assembly.write_text(
        f"    .section .rodata\n    .globl {symbol}\n    .type {symbol}, @object\n"
        f'    .balign 16\n{symbol}:\n    .incbin "{trimmed}"\n'
        f'    .size {symbol}, . - {symbol}\n    .section .note.GNU-stack,"",@progbits\n',
        encoding="utf-8",
    )
    _run("as", str(assembly), "-o", str(work / "data.o"))
    output = work / library.name
    _run("ld", "-shared", "-soname", library.name, "-o", str(output), str(work / "data.o"))
    return output
