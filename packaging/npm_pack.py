"""Pack the npm packages: `ferrule` (the JavaScript host and its types) and one `ferrule-<platform>`
package per native module found in bindings-node/, following napi-rs's layout (npm/<platform>/).

    python packaging/npm_pack.py --out dist/npm                 # every platform that was built
    python packaging/npm_pack.py --out dist/npm --only host     # the host's platform only

The root package.json is the development manifest (private, devDependencies, scripts). The
published manifest is derived from it in a staging folder: `private`, `devDependencies` and
`scripts` dropped, and one optional dependency per napi target at the same version, so npm
installs exactly the platform package whose os/cpu/libc match. The contents come from the root
manifest's `files` globs, so a new module beside index.js ships without anyone editing a list.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "target" / "npm-stage"
# Shipped in every package, the native ones included.
LEGAL = ("LICENSE", "NOTICE")

# napi-rs's platform names for the Rust targets in package.json's napi.targets.
PLATFORMS = {
    "x86_64-unknown-linux-gnu": "linux-x64-gnu",
    "aarch64-unknown-linux-gnu": "linux-arm64-gnu",
    "x86_64-unknown-linux-musl": "linux-x64-musl",
    "aarch64-unknown-linux-musl": "linux-arm64-musl",
}


def host_platform() -> str:
    arch = {"x86_64": "x64", "aarch64": "arm64"}[platform.machine()]
    libc = "musl" if "musl" in (platform.libc_ver()[0] or "musl") else "gnu"
    return f"linux-{arch}-{libc}"


def npm_pack(folder: Path, out: Path) -> Path:
    done = subprocess.run(
        ["npm", "pack", "--json", "--pack-destination", str(out)],
        cwd=folder, check=True, capture_output=True, text=True,
    )
    return out / json.loads(done.stdout)[0]["filename"]


def stage_main(manifest: dict, targets: list[str]) -> Path:
    folder = STAGE / "ferrule"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "bindings-node").mkdir(parents=True)
    published = {k: v for k, v in manifest.items() if k not in ("private", "devDependencies", "scripts")}
    published["optionalDependencies"] = {
        f"{manifest['name']}-{PLATFORMS[t]}": manifest["version"] for t in targets
    }
    (folder / "package.json").write_text(json.dumps(published, indent=2) + "\n")
    # Copy the candidates; `npm pack` then keeps what the `files` globs select.
    for src in (ROOT / "bindings-node").iterdir():
        if src.is_file() and src.suffix in (".js", ".ts", ".mts"):
            shutil.copy2(src, folder / "bindings-node" / src.name)
    for name in ("README.md", "CHANGELOG.md", *LEGAL):
        shutil.copy2(ROOT / name, folder / name)
    return folder


def stage_platform(manifest: dict, plat: str, binary: Path) -> Path:
    folder = STAGE / plat
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "npm" / plat, folder)
    sub = json.loads((folder / "package.json").read_text())
    if sub["version"] != manifest["version"]:
        sys.exit(f"npm/{plat}/package.json is at {sub['version']}, package.json at {manifest['version']}: "
                 "run `npx napi version`")
    # The native module is this project's code linked with third-party crates: it carries the licence too.
    for name in LEGAL:
        shutil.copy2(ROOT / name, folder / name)
    target = folder / binary.name
    shutil.copy2(binary, target)
    if plat.startswith(f"linux-{host_platform().split('-')[1]}-"):
        # A release build keeps its symbol table (19 MB); users need none of it. `napi build --strip`
        # (make dist) strips at link time; a host build made by `npm run build` is stripped here.
        subprocess.run(["strip", "--strip-unneeded", str(target)], check=True)
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", default="", help="'host', or comma-separated napi platforms (linux-x64-gnu,...)")
    a = ap.parse_args()
    manifest = json.loads((ROOT / "package.json").read_text())
    targets = manifest["napi"]["targets"]
    wanted = {PLATFORMS[t] for t in targets}
    if a.only == "host":
        wanted = {host_platform()}
    elif a.only:
        wanted = set(a.only.split(","))
    a.out.mkdir(parents=True, exist_ok=True)
    made = [npm_pack(stage_main(manifest, targets), a.out.resolve())]
    for plat in sorted(wanted):
        binary = ROOT / "bindings-node" / f"{manifest['napi']['binaryName']}.{plat}.node"
        if not binary.exists():
            sys.exit(f"{binary.relative_to(ROOT)} is missing: build it first (make build-node, or make dist)")
        made.append(npm_pack(stage_platform(manifest, plat, binary), a.out.resolve()))
    for path in made:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
