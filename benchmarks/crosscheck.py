"""End-to-end time of the shipped cross-checks and of a sweep: before (a git revision,
default the commit before the generic cross-check) and after (this tree), run one
after the other in one invocation, each in a fresh process, and their ratio.

    python benchmarks/crosscheck.py [--before REV] [--cases interval disk sweep] [--workers N]

The "before" tree is ``git archive REV`` unpacked in a temporary directory and run
with the same interpreter; each case runs its command (``fempde-crosscheck FILE``
or ``fempde-sweep FILE``) into a temporary output directory, timed by the wall
clock, and its last lines are printed (the verdict on the limit's accuracy). The
machine's load average is printed before and after: the ratio is meaningful, the
times are of this machine under that load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from fempde.scenario import script

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "192f8e5"
CASES = {
    "interval": ("particles.cli", "main", "examples/crosscheck/interval.toml"),
    "disk": ("particles.cli", "main", "examples/crosscheck/disk.toml"),
    "sweep": ("particles.cli", "sweep_main", "examples/sweeps/interval_rbf.toml"),
}


def unpack(revision: str, into: Path) -> Path:
    """``git archive revision`` unpacked into ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run(tree: Path, case: str, out: Path, workers: int | None) -> tuple[float, int, str]:
    """Time one case in ``tree``: ``(seconds, exit status, the output's last lines)``."""
    module, function, path = CASES[case]
    args = [path, "--out", str(out)]
    if workers is not None and (tree == ROOT or case == "sweep"):
        args += ["--workers", str(workers)]
    code = f"import sys; from {module} import {function}; sys.exit({function}({args!r}))"
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip() and "\r" not in line]
    return seconds, done.returncode, "\n".join("      " + line[:200] for line in lines[-4:])


def main() -> None:
    parser = script.parser(__doc__, __file__, "the interval cross-check only")
    parser.add_argument("--before", default=BEFORE, help=f"the revision to compare with (default {BEFORE})")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--workers", type=int, help="threads (after) / processes (before's sweep)")
    args = parser.parse_args()
    cases = ["interval"] if args.quick else args.cases
    with script.report(script.output(args, parser) / "crosscheck.txt"):
        _compare(args.before, cases, args.workers)


def _compare(before: str, cases: list[str], workers: int | None) -> None:
    print(f"load average before: {os.getloadavg()}, cores: {os.cpu_count()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        old = unpack(before, Path(tmp) / "before")
        rows = []
        for case in script.progress(cases, "cross-checks, before and after"):
            times = {}
            for label, tree in (("before", old), ("after", ROOT)):
                seconds, code, tail = run(tree, case, Path(tmp) / f"{case}_{label}", workers)
                times[label] = seconds
                print(f"{case:9s} {label:6s} {seconds:8.1f} s  exit {code}\n{tail}", flush=True)
            rows.append((case, times["before"], times["after"]))
    print(f"\nload average after: {os.getloadavg()}")
    print(f"{'case':9s} {'before s':>9s} {'after s':>9s} {'before/after':>13s}")
    for case, before_s, after_s in rows:
        print(f"{case:9s} {before_s:9.1f} {after_s:9.1f} {before_s / after_s:13.2f}")

if __name__ == "__main__":
    main()
