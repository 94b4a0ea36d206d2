"""Lists what `make dist` built, and checks each artifact is what its name claims.

Each wheel: the platform tag in its name, the tag auditwheel finds in it, its size. Each npm tarball:
the os / cpu / libc its package.json declares, its size. Every native module (the wheel's
_ferrule*.so, the platform package's .node) is read with readelf: its ELF machine must be the
architecture the name says; a musl build must need no glibc library, a glibc build no symbol newer
than glibc 2.17 (manylinux2014). A mismatch is printed and makes the exit status 1.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# readelf -h's "Machine:" for each architecture name the tags use.
MACHINE = {"x86_64": "Advanced Micro Devices X86-64", "x64": "Advanced Micro Devices X86-64",
           "aarch64": "AArch64", "arm64": "AArch64"}
GLIBC_LIBS = ("libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "ld-linux")
problems: list[str] = []


def size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def readelf(binary: Path, *flags: str) -> str:
    return subprocess.run(["readelf", "-W", *flags, str(binary)], check=True, capture_output=True, text=True).stdout


def check_elf(name: str, binary: Path, arch: str, libc: str) -> str:
    """One line describing `binary` (machine, NEEDED, newest glibc symbol); mismatches go to `problems`."""
    machine = re.search(r"Machine:\s+(.+)", readelf(binary, "-h")).group(1).strip()  # type: ignore[union-attr]
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf(binary, "-d"))
    glibc = sorted({tuple(map(int, v.split("."))) for v in re.findall(r"GLIBC_(\d+\.\d+(?:\.\d+)?)", readelf(binary, "-V"))})
    newest = ".".join(map(str, glibc[-1])) if glibc else "none"
    if machine != MACHINE[arch]:
        problems.append(f"{name}: ELF machine {machine}, expected {MACHINE[arch]}")
    if libc == "musl":
        leaked = [n for n in needed if n.startswith(GLIBC_LIBS)]
        if leaked or glibc:
            problems.append(f"{name}: a musl build needs glibc ({', '.join(leaked) or 'GLIBC_' + newest} symbols)")
        others = [n for n in needed if n != "libc.so" and not n.startswith("ld-musl")]
        if others:
            problems.append(f"{name}: a musl build needs {', '.join(others)} besides musl's libc.so")
    elif glibc and glibc[-1] > (2, 17):
        problems.append(f"{name}: needs glibc {newest}, newer than manylinux2014's 2.17")
    short = "x86-64" if "X86-64" in machine else machine
    return f"ELF {short}; NEEDED {' '.join(needed) or '-'}; newest GLIBC symbol {newest}"


def wheel_rows(path: Path, tmp: Path) -> list[str]:
    if path.suffix != ".whl":
        return [f"  {path.name:<62} {'source':<40} {size(path):>8}"]
    tag = path.name[:-4].split("-")[-1]
    arch = "aarch64" if "aarch64" in tag else "x86_64"
    libc = "musl" if tag.startswith("musllinux") else "glibc"
    if libc == "musl" and not Path(f"/lib/ld-musl-{arch}.so.1").exists():
        # auditwheel reads a musllinux wheel against the host's musl; on a glibc host it resolves
        # `libc.so` to glibc's linker script and fails. The ELF check below still holds the
        # wheel to musl (no glibc library, no GLIBC_ symbol, only musl's libc.so needed).
        audited = "not run (no musl on this host); ELF checked"
    else:
        out = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(path)], capture_output=True, text=True)
        m = re.search(r'consistent with the following platform tag:\s*"([^"]+)"', out.stdout.replace("\n", " "))
        audited = m.group(1) if m else (out.stdout or out.stderr).strip().splitlines()[-1]
        if not m or audited not in tag.split("."):
            problems.append(f"{path.name}: auditwheel says {audited}")
    with zipfile.ZipFile(path) as whl:
        (so,) = [n for n in whl.namelist() if n.endswith(".so")]
        binary = Path(whl.extract(so, tmp / path.name))
    return [f"  {path.name:<62} {tag:<40} {size(path):>8}  auditwheel: {audited}",
            f"      {so}: {check_elf(path.name, binary, arch, libc)}"]


def npm_rows(path: Path, tmp: Path) -> list[str]:
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("package/package.json"))  # type: ignore[arg-type]
        native = [m for m in tar.getmembers() if m.name.endswith(".node")]
        for must in ("package/LICENSE", "package/NOTICE"):
            if must not in tar.getnames():
                problems.append(f"{path.name}: {must} missing")
        if native:
            tar.extract(native[0], tmp / path.name)
    plat = "/".join(",".join(manifest.get(k, [])) for k in ("os", "cpu", "libc") if manifest.get(k)) or "any (JavaScript)"
    rows = [f"  {path.name:<62} {plat:<40} {size(path):>8}"]
    if native:
        binary = tmp / path.name / native[0].name
        rows.append(f"      {native[0].name.split('/')[-1]}: "
                    f"{check_elf(path.name, binary, manifest['cpu'][0], manifest['libc'][0])}")
    return rows


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "dist")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        print(f"\n{root}/wheels (Python)")
        for p in sorted((root / "wheels").iterdir()):
            print("\n".join(wheel_rows(p, tmp)))
        print(f"{root}/npm (Node)")
        for p in sorted((root / "npm").glob("*.tgz")):
            print("\n".join(npm_rows(p, tmp)))
    for p in problems:
        print(f"MISMATCH {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
