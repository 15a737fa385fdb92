"""The trainer image's build context, computed with Docker's own `.dockerignore` rules (the
Docker SDK's pattern matcher, a port of the engine's), checked against what
`Dockerfile.trainer` copies: `azd deploy trainer` sends exactly this context to the registry's
build, so a source left out of it fails the build there."""

from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path

from docker.utils.build import exclude_paths

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile.trainer"


def _ignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@cache
def build_context() -> frozenset[str]:
    """Every path (file or folder, relative, '/'-separated) Docker would send."""
    included = exclude_paths(str(ROOT), _ignore_patterns(), dockerfile=DOCKERFILE.name)
    return frozenset(Path(path).as_posix() for path in included)


def _instructions() -> list[tuple[str, list[str]]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return [(keyword, shlex.split(rest)) for keyword, rest in found]


def copy_sources() -> list[str]:
    """The sources of every COPY/ADD from the context (flags and the destination left out)."""
    sources = []
    for keyword, words in _instructions():
        if keyword in {"COPY", "ADD"}:
            args = [w for w in words if not w.startswith("--")]
            assert not any(w.startswith("--from") for w in words), "a stage copy: not the context"
            sources += args[:-1]
    return sources


def test_every_copy_source_is_in_the_build_context() -> None:
    context = build_context()
    sources = copy_sources()
    assert sources, "Dockerfile.trainer copies nothing"
    for source in sources:
        path = source.rstrip("/")
        assert path in context, f"COPY {source}: .dockerignore leaves it out of the build context"
        if (ROOT / path).is_dir():
            files = [p for p in (ROOT / path).rglob("*.py") if "__pycache__" not in p.parts]
            sent = {f.relative_to(ROOT).as_posix() for f in files} & context
            assert sent, f"COPY {source}: none of its files are in the context"


def test_requirements_each_install_reads_are_copied() -> None:
    """`pip install -r X` reads X and every file X names with `-r`: all must be copied."""
    copied = {Path(s).name for s in copy_sources()}
    wanted: set[str] = set()
    for keyword, words in _instructions():
        if keyword == "RUN":
            wanted |= {words[i + 1] for i, w in enumerate(words[:-1]) if w == "-r"}
    todo = sorted(wanted)
    while todo:
        name = todo.pop()
        for line in (ROOT / name).read_text().splitlines():
            if line.startswith("-r "):
                nested = line.split()[1]
                if nested not in wanted:
                    wanted.add(nested)
                    todo.append(nested)
    assert wanted, "the image installs no requirements file"
    assert wanted <= copied, f"installed but not copied: {sorted(wanted - copied)}"
    assert wanted <= build_context()


def test_the_context_is_small_and_holds_no_local_state() -> None:
    context = build_context()
    for private in (".data", ".venv", "node_modules", "tests", "webui", ".azure", ".git"):
        assert not any(p == private or p.startswith(private + "/") for p in context), private
    assert not any("__pycache__" in p for p in context)
    # The demo's pictures are the embedded runtime's, not the job's.
    assert not any(p.startswith("core/local/demo/") for p in context)
    assert "core/job.py" in context


def test_a_missing_source_is_found() -> None:
    """The check itself: with the old rules (requirements.txt and core/ only), the COPY of
    the assist requirements is outside the context."""
    old = ["*", "!requirements.txt", "!core/"]
    context = {Path(p).as_posix() for p in exclude_paths(str(ROOT), old, dockerfile="x")}
    assert "requirements.txt" in context
    assert "requirements-assist.txt" not in context
