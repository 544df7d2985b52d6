import sys
from collections import Counter
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
sys.path.insert(0, str(Path(__file__).parent))  # tests/exact.py


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run the slow validations")


_CATALOGUE = pytest.StashKey[Counter]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # the bad-input catalogue (tests/catalogue.py): its cases per kind, for the summary
    config.stash[_CATALOGUE] = Counter(marker.args[0] for item in items
                                       if (marker := item.get_closest_marker("bad_input")) is not None)
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


@pytest.fixture(autouse=True)
def _strict_floating_point():
    # overflow, division by zero and invalid operations are bugs; underflow to 0 is not
    with np.errstate(all="raise", under="ignore"):
        yield


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    kinds = config.stash.get(_CATALOGUE, Counter())
    if kinds:
        listed = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        terminalreporter.write_line(f"bad-input catalogue: {sum(kinds.values())} cases ({listed})")


@pytest.fixture(autouse=True)
def _bad_input_writes_nothing_here(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                                   monkeypatch: pytest.MonkeyPatch):
    """A case of the bad-input catalogue runs in an empty working directory and leaves it empty."""
    if request.node.get_closest_marker("bad_input") is None:
        yield
        return
    here = tmp_path_factory.mktemp("cwd")
    monkeypatch.chdir(here)
    yield
    left = sorted(p.name for p in here.iterdir())
    assert left == [], f"a refused input left {left} in the working directory"


RUN_SCENARIO = """[mesh]
domain = "interval"
h = 0.1
[problem]
target = "1 - x**2"
tau = 0.01
[run]
t_end = 0.02
outputs = 4
checkpoint_every = 0.0
"""
"""A scenario whose run takes a second: the run-state cases of the catalogue resume it."""


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output directory of a finished ``fempde run`` of :data:`RUN_SCENARIO` (its
    scenario file beside it as ``scenario.toml``): copy it, never change it."""
    from fempde.cli.commands import main

    root = tmp_path_factory.mktemp("finished_run")
    scenario = root / "scenario.toml"
    scenario.write_text(RUN_SCENARIO)
    assert main(["run", str(scenario), "--out", str(root / "out"), "--quiet"]) == 0
    return root / "out"
