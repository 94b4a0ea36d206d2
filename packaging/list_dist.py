"""Lists what `make dist` built: each wheel with the platform tag auditwheel finds in it, each npm
tarball with the os / cpu / libc its package.json declares, and every size."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path


def size(path: Path) -> str:
    n = path.stat().st_size
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def wheel_row(path: Path) -> str:
    tag = path.name[:-4].split("-")[-1] if path.suffix == ".whl" else "source"
    checked = ""
    if path.suffix == ".whl":
        out = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(path)], capture_output=True, text=True)
        m = re.search(r'consistent with the following platform tag:\s*"([^"]+)"', out.stdout.replace("\n", " "))
        checked = f"auditwheel: {m.group(1)}" if m else "auditwheel: " + (out.stdout or out.stderr).strip().splitlines()[-1]
    return f"  {path.name:<64} {tag:<44} {size(path):>9}  {checked}"


def npm_row(path: Path) -> str:
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("package/package.json"))  # type: ignore[arg-type]
        native = [m.name for m in tar.getmembers() if m.name.endswith(".node")]
    plat = "/".join(",".join(manifest.get(k, [])) for k in ("os", "cpu", "libc") if manifest.get(k)) or "any (JavaScript)"
    return f"  {path.name:<64} {plat:<44} {size(path):>9}  {'native: ' + native[0].split('/')[-1] if native else ''}"


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "dist")
    print(f"\n{root}/wheels (Python)")
    for p in sorted((root / "wheels").iterdir()):
        print(wheel_row(p))
    print(f"{root}/npm (Node)")
    for p in sorted((root / "npm").glob("*.tgz")):
        print(npm_row(p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
