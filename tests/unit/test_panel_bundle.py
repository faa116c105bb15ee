"""The panels' shipped ES modules are built from frontend/ as committed (scripts/build-panel).

Each bundle's header records a sha256 over the build's inputs (frontend/package.json, the
lock file, build.mjs and src/), so the fast test tells a bundle left stale by a change to
those inputs without node. The slow one rebuilds from scratch (``npm ci`` from the lock file,
then build.mjs into a temp dir) and compares bytes: it proves the build is deterministic and
that the committed bundle is what the sources give.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
WIDGETS = REPO / "ipython_hotreload" / "widgets"
BUNDLES = ("panel.js", "panel-lists.js")
BUILT = (*BUNDLES, "panel-licenses.txt")


def sources_digest(frontend: Path) -> str:
    """build.mjs's sourcesDigest: sha256 over "<sha256>  <path>\\n" lines, sorted by path."""
    inputs = [frontend / "package.json", frontend / "package-lock.json", frontend / "build.mjs"]
    inputs += [p for p in (frontend / "src").rglob("*") if p.is_file()]
    paths = sorted(p.relative_to(frontend).as_posix() for p in inputs)
    lines = "".join(
        f"{hashlib.sha256((frontend / path).read_bytes()).hexdigest()}  {path}\n" for path in paths
    )
    return hashlib.sha256(lines.encode()).hexdigest()


def recorded_digest(bundle: Path) -> str:
    head = bundle.read_text(encoding="utf-8").split("\n", 2)[:2]
    assert head[0].startswith("// ipython_hotreload panels, built by scripts/build-panel"), head
    found = re.fullmatch(r"// sources-sha256: ([0-9a-f]{64})", head[1])
    assert found, f"{bundle.name} records no sources-sha256: {head[1]!r}"
    return found.group(1)


@pytest.mark.parametrize("name", BUNDLES)
def test_the_shipped_bundle_records_the_sources_it_was_built_from(name: str) -> None:
    assert recorded_digest(WIDGETS / name) == sources_digest(FRONTEND), (
        f"ipython_hotreload/widgets/{name} is stale: frontend/ changed since it was built; "
        "run scripts/build-panel and commit its output"
    )


def test_the_digest_covers_every_source_and_the_lock_file(tmp_path: Path) -> None:
    copy = tmp_path / "frontend"
    shutil.copytree(FRONTEND, copy, ignore=shutil.ignore_patterns("node_modules"))
    digest = sources_digest(copy)
    for rel in ("package-lock.json", "build.mjs", "src/editor.js"):
        path = copy / rel
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        assert sources_digest(copy) != digest, f"a change to {rel} went unnoticed"
        path.write_bytes(original)
    (copy / "src" / "extra.js").write_text("export const x = 1;\n")
    assert sources_digest(copy) != digest, "a new source file went unnoticed"


def test_the_package_ships_the_bundles_and_their_licences() -> None:
    licences = (WIDGETS / "panel-licenses.txt").read_text(encoding="utf-8")
    for package in ("@codemirror/view", "@codemirror/state", "@lezer/python", "style-mod"):
        assert f"\n{package} " in licences or licences.startswith(f"{package} ")
    lock = (FRONTEND / "package-lock.json").read_text(encoding="utf-8")
    assert '"lockfileVersion": 3' in lock
    package = (FRONTEND / "package.json").read_text(encoding="utf-8")
    assert "^" not in package and "~" not in package, "versions in package.json are pinned"


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.skipif(shutil.which("npm") is None, reason="node and npm are not installed")
def test_a_clean_build_from_the_lock_file_gives_the_shipped_bytes(tmp_path: Path) -> None:
    copy = tmp_path / "frontend"
    shutil.copytree(FRONTEND, copy, ignore=shutil.ignore_patterns("node_modules"))
    out = tmp_path / "out"
    out.mkdir()
    npm = ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
    done = subprocess.run(npm, cwd=copy, capture_output=True, text=True, timeout=540)
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        ["node", "build.mjs", str(out)], cwd=copy, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    for name in BUILT:
        assert (out / name).read_bytes() == (WIDGETS / name).read_bytes(), (
            f"building frontend/ gives another {name} than the one shipped: "
            "run scripts/build-panel and commit its output"
        )
