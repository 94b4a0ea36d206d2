"""Install the built packages as a user would and run the README's quick start against the mock.

    python packaging/smoke.py python dist/host/ferrule-*.whl
    python packaging/smoke.py python dist/wheels/ferrule-*.tar.gz      # the sdist, compiled by pip
    python packaging/smoke.py npm dist/host/npm/*.tgz

python: a clean virtualenv (no access to the repository's), `pip install` of the wheel and the
OpenAI SDK, `python -m ferrule.mock` from that install, the README's Python quick start, and
`ferrule.__version__` against the version the wheel's name carries, LICENSE and NOTICE in the wheel.
npm: a scratch project, `npm install --offline` of the tarballs (the main package and the host's
platform package), the README's JavaScript quick start, TypeScript files that import `ferrule` and
`ferrule/langchain` compiled against the installed types from a CommonJS project and from an ES
module project (node16 and bundler resolution; the node16 build is then run), LICENSE and NOTICE
in every tarball.
Each step prints one line; the last line is `smoke: N passed, 0 failed`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Callable, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "doc-tests"))
from samples import quick_start, sample_env, start_mock  # noqa: E402

WORK = ROOT / "target" / "smoke"


def pin(requirements: Path, name: str) -> str:
    for line in requirements.read_text().splitlines():
        if line.split("==")[0].strip().lower() == name:
            return line.strip()
    raise SystemExit(f"{name} is not pinned in {requirements}")


def run(cmd: List[str], **kw: object) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
    return str(done.stdout)


def python_smoke(wheels: List[str]) -> List[Callable[[], str]]:
    # A wheel, or the sdist (`make dist`): pip then compiles it, as a user without a matching wheel
    # would; CARGO_TARGET_DIR in the environment keeps that build's output between runs.
    (wheel,) = wheels
    sdist = wheel.endswith(".tar.gz")
    version = Path(wheel).name[: -len(".tar.gz")].split("-")[1] if sdist else Path(wheel).name.split("-")[1]
    venv = WORK / "venv"
    py = str(venv / "bin" / "python")

    def install() -> str:
        shutil.rmtree(venv, ignore_errors=True)
        run([sys.executable, "-m", "venv", str(venv)])
        run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel,
             pin(ROOT / "requirements-dev.txt", "openai")])
        return f"installed {Path(wheel).name} into a clean venv{' (compiled by pip)' if sdist else ''}"

    def version_matches() -> str:
        got = run([py, "-c", "import ferrule; print(ferrule.__version__)"], cwd=WORK).strip()
        assert got == version, (got, version)
        return f"ferrule.__version__ == {got}"

    def quick() -> str:
        proc, url = start_mock(py)
        try:
            out = run([py, "-c", quick_start("python").code], cwd=WORK, env=sample_env(url))
        finally:
            proc.terminate()
            proc.wait(10)
        assert "ferrule_calls_total" in out, out
        return f"README quick start (Python) ran against `python -m ferrule.mock` from the {'sdist' if sdist else 'wheel'}"

    def licence() -> str:
        if sdist:
            with tarfile.open(wheel) as tar:
                names = tar.getnames()
            for name in ("LICENSE", "NOTICE"):
                assert f"ferrule-{version}/{name}" in names, f"{name} is not in the sdist"
        # Installed (from the wheel, or from the wheel pip built out of the sdist): in .dist-info.
        site = run([py, "-c", "import importlib.metadata as m; print(m.distribution('ferrule')._path)"], cwd=WORK)
        for name in ("LICENSE", "NOTICE"):
            assert (Path(site.strip()) / "licenses" / name).is_file(), f"{name} is not in the installed .dist-info"
        return f"LICENSE and NOTICE in the {'sdist and the ' if sdist else ''}installed .dist-info/licenses/"

    return [install, version_matches, quick, licence]


LANGCHAIN_CONSUMER = (
    "import { Policy } from 'ferrule'\n"
    "import { FerruleCallbackHandler, withPolicy } from 'ferrule/langchain'\n"
    "import { RunnableLambda } from '@langchain/core/runnables'\n"
    "const handler = new FerruleCallbackHandler({ maxRuns: 10 })\n"
    "const counted = withPolicy(RunnableLambda.from((x: string) => x.length), new Policy({ retry: { attempts: 2 } }))\n"
    "const n: Promise<number> = counted.invoke('four')\n"
    "export { handler, n }\n"
)


def npm_smoke(tarballs: List[str]) -> List[Callable[[], str]]:
    project = WORK / "npm-project"
    dev = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    main = next(t for t in tarballs if re.fullmatch(r"ferrule-\d.*\.tgz", Path(t).name))

    def install() -> str:
        shutil.rmtree(project, ignore_errors=True)
        project.mkdir(parents=True)
        (project / "package.json").write_text('{"name": "smoke", "version": "1.0.0", "private": true}\n')
        # The registry packages a user would add first (from npm's cache, filled by `npm ci`)...
        deps = [f"{n}@{dev[n]}" for n in ("openai", "@langchain/core", "typescript", "@types/node")]
        run(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund", *deps], cwd=project)
        # ...then ferrule from the tarballs only. Offline, the optional packages of the other
        # platforms cannot be fetched and are skipped, as npm skips them on a real install.
        run(["npm", "install", "--offline", "--no-audit", "--no-fund", *map(str, tarballs)], cwd=project)
        shipped = run(["tar", "tzf", main]).split()
        assert not [f for f in shipped if f.endswith(".node")], "the main package must not carry a native module"
        return f"installed {', '.join(Path(t).name for t in tarballs)} into a scratch project"

    def quick() -> str:
        proc, url = start_mock(str(WORK / "venv" / "bin" / "python") if (WORK / "venv").exists() else sys.executable)
        try:
            (project / "quickstart.js").write_text(quick_start("js").code)
            out = run(["node", "quickstart.js"], cwd=project, env=sample_env(url))
        finally:
            proc.terminate()
            proc.wait(10)
        assert "ferrule_calls_total" in out, out
        where = run(["node", "-p", "require.resolve('ferrule')"], cwd=project).strip()
        assert "node_modules/ferrule/" in where, where
        return "README quick start (JavaScript) ran against the mock from the installed package"

    def typescript() -> str:
        # A CommonJS project (the scratch project has no "type"): strict, library declarations
        # included, so ferrule's own index.d.ts must compile clean.
        (project / "consumer.ts").write_text(
            "import OpenAI from 'openai'\n"
            "import { wrapOpenAI, Policy, CircuitBreaker, metricsText, profile, version } from 'ferrule'\n"
            "const policy = new Policy({ retry: { attempts: 3 }, breaker: new CircuitBreaker('openai') })\n"
            "const client: OpenAI = wrapOpenAI(new OpenAI({ apiKey: 'x' }), { policy })\n"
            "const v: string = version\n"
            "export { client, v, metricsText, profile }\n"
        )
        # `ferrule/langchain` with a real Runnable. skipLibCheck here because @langchain/core's own
        # CommonJS declarations do not compile under skipLibCheck=false (they import an ES module).
        (project / "consumer_langchain.ts").write_text(LANGCHAIN_CONSUMER)
        base = {"target": "es2022", "module": "node16", "moduleResolution": "node16", "strict": True,
                "noEmit": True, "types": ["node"]}
        for name, files, skip in (("tsconfig.json", ["consumer.ts"], False),
                                  ("tsconfig.langchain.json", ["consumer_langchain.ts"], True)):
            (project / name).write_text(json.dumps({"compilerOptions": {**base, "skipLibCheck": skip}, "files": files}))
            run([str(project / "node_modules" / ".bin" / "tsc"), "-p", name], cwd=project)
        return "TypeScript CommonJS consumers compiled against the installed 'ferrule' and 'ferrule/langchain' types"

    def typescript_esm() -> str:
        # An ES module project ("type": "module", a folder inside the scratch project so it resolves
        # the same node_modules), compiled twice: as Node runs it (node16) and as a bundler resolves
        # it (bundler), then run, so the named imports the types promise exist at runtime too.
        esm = project / "esm"
        shutil.rmtree(esm, ignore_errors=True)
        esm.mkdir()
        (esm / "package.json").write_text('{"name": "smoke-esm", "private": true, "type": "module"}\n')
        (esm / "consumer.ts").write_text(
            "import OpenAI from 'openai'\n"
            "import ferrule, { wrapOpenAI, Policy, CircuitBreaker, configure, metricsText, version } from 'ferrule'\n"
            "const policy = new Policy({ retry: { attempts: 3 }, breaker: new CircuitBreaker('openai') })\n"
            "const client: OpenAI = wrapOpenAI(new OpenAI({ apiKey: 'x' }), { policy })\n"
            "const v: string = version\n"
            "if (ferrule.version !== v || typeof configure !== 'function' || typeof client.chat.completions.create !== 'function') throw new Error('exports differ')\n"
            "console.log('esm ok', v, typeof metricsText())\n"
        )
        (esm / "consumer_langchain.ts").write_text(LANGCHAIN_CONSUMER + "console.log('esm langchain ok', await n)\n")
        tsc = str(project / "node_modules" / ".bin" / "tsc")
        node16 = {"target": "es2022", "module": "node16", "moduleResolution": "node16", "strict": True,
                  "types": ["node"], "outDir": "out"}
        bundler = {"target": "es2022", "module": "esnext", "moduleResolution": "bundler", "strict": True,
                   "types": ["node"], "noEmit": True}
        for name, opts in (("tsconfig.json", node16), ("tsconfig.bundler.json", bundler)):
            for files, skip in ((["consumer.ts"], False), (["consumer_langchain.ts"], True)):
                (esm / name).write_text(json.dumps({"compilerOptions": {**opts, "skipLibCheck": skip}, "files": files}))
                run([tsc, "-p", name], cwd=esm)
        out = run(["node", "out/consumer.js"], cwd=esm) + run(["node", "out/consumer_langchain.js"], cwd=esm)
        assert "esm ok" in out and "esm langchain ok 4" in out, out
        return "TypeScript ES module consumers (node16 and bundler resolution) compiled, and ran under Node"

    def licence() -> str:
        for tarball in tarballs:
            shipped = run(["tar", "tzf", tarball]).split()
            for name in ("package/LICENSE", "package/NOTICE"):
                assert name in shipped, f"{name} is missing from {Path(tarball).name}"
        return f"LICENSE and NOTICE in each of the {len(tarballs)} tarballs"

    return [install, quick, typescript, typescript_esm, licence]


def main() -> int:
    kind, *given = sys.argv[1:]
    paths = [str(Path(p).resolve()) for p in given]
    WORK.mkdir(parents=True, exist_ok=True)
    steps = python_smoke(paths) if kind == "python" else npm_smoke(paths)
    for step in steps:
        print(f"  ok  {step()}", flush=True)
    print(f"smoke: {len(steps)} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
