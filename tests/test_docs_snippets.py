"""Every Python code block of README.md and docs/*.rst runs as written.

The blocks of one document run in order, in one namespace (a later block may
use what an earlier one defined, as a reader would), in a fresh process whose
working directory is a temporary one, under a time limit. A block that is not
meant to run says so on its first line, visibly and with a reason:
``# not run here: <why>``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP = "# not run here:"
LIMIT_S = 600  # per document; a snippet that hangs fails instead of stalling the suite

_MARKDOWN = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_RST = re.compile(r"^\.\. code-block:: python\n((?:[ \t]*\n|[ \t]+\S.*\n)+)", re.MULTILINE)


def snippets(path: Path) -> list[tuple[int, str]]:
    """``(line, code)`` of each Python block of a Markdown or reStructuredText file."""
    text = path.read_text()
    pattern = _MARKDOWN if path.suffix == ".md" else _RST
    found = []
    for match in pattern.finditer(text):
        line = text.count("\n", 0, match.start()) + 2
        found.append((line, textwrap.dedent(match.group(1)).strip("\n") + "\n"))
    return found


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.rst"))]
RUNNABLE = [path for path in DOCUMENTS if any(not code.startswith(SKIP) for _, code in snippets(path))]


def test_extraction_finds_the_blocks() -> None:
    readme = snippets(ROOT / "README.md")
    assert len(readme) == len(re.findall(r"^```python$", (ROOT / "README.md").read_text(), re.M)) >= 7
    assert readme[0][1].startswith("import numba\n")  # a network of one's own comes first
    started = snippets(ROOT / "docs" / "getting-started.rst")
    assert len(started) == 2 and "fempde.solve(" in started[0][1] and "MeanFieldModel(" in started[1][1]


def test_every_skipped_block_gives_a_reason() -> None:
    for path in DOCUMENTS:
        for line, code in snippets(path):
            if code.startswith(SKIP):
                reason = code.splitlines()[0][len(SKIP):].strip()
                assert len(reason) >= 10, f"{path.name}:{line}: a skipped block must say why"


def _runner(path: Path) -> str:
    blocks = [(line, code) for line, code in snippets(path) if not code.startswith(SKIP)]
    return "\n".join(
        ["namespace = {'__name__': '__snippet__'}"]
        + [f"exec(compile({code!r}, {f'{path.name}:{line}'!r}, 'exec'), namespace)" for line, code in blocks]
    )


def _run(path: Path, cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", _runner(path)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=LIMIT_S)
    assert done.returncode == 0, f"{path.name}: a snippet failed\n{done.stderr[-3000:]}"


@pytest.mark.parametrize("path", [p for p in RUNNABLE if p.suffix == ".rst"], ids=lambda p: p.name)
def test_docs_snippets_run(path: Path, tmp_path: Path) -> None:
    _run(path, tmp_path)
    if path.name == "getting-started.rst":  # what the page says the run writes
        assert (tmp_path / "out" / "disk" / "rho.pvd").is_file()
        assert (tmp_path / "out" / "disk" / "history.csv").is_file()
        assert (tmp_path / "out" / "disk" / "view.py").is_file()


@pytest.mark.slow
def test_readme_snippets_run(tmp_path: Path) -> None:
    # about three minutes: the distributional dynamics, Chizat–Bach's limit and a cross-check
    _run(ROOT / "README.md", tmp_path)
    assert (tmp_path / "out" / "check" / "crosscheck.csv").is_file()


def test_examples_page_lists_every_example() -> None:
    page = (ROOT / "docs" / "examples.rst").read_text()
    for script in sorted((ROOT / "examples").glob("*.py")):
        assert f"``examples/{script.name}``" in page, f"docs/examples.rst does not list {script.name}"


def test_readme_names_only_files_in_the_repository() -> None:
    text = (ROOT / "README.md").read_text()
    named = set(re.findall(r"(?<![\w/.])((?:fempde|particles|meshes|examples|benchmarks|tests|docs)/[\w./*<>-]*)",
                           text))
    named |= set(re.findall(r"\]\(([^)#]+)\)", text))  # Markdown links
    assert len(named) > 40
    for path in sorted(named):
        pattern = re.sub(r"<[^>]*>", "*", path.rstrip(".,:;"))
        assert not Path(pattern).is_absolute() and ".." not in Path(pattern).parts, path
        if Path(pattern).parts[:2] == ("docs", "_build"):  # what `make docs` writes, not a file of the repository
            continue
        assert list(ROOT.glob(pattern.rstrip("/"))), f"README names {path}, which is not in the repository"
