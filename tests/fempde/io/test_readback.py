"""A run's own files read back on resume — run.json, the .pvd, the CSV history — are checked before they are used.

Each is bounded in size and nesting before it is parsed, may declare no DTD or
entity (XML), and is refused with exit 2 and one line that names the file and
what is wrong; nothing in the directory changes (:mod:`catalogue`).
"""

import os

import pytest
from catalogue import Case, cases, check, resumed

from fempde.cli.commands import main


def _write(name, content):
    def change(world):
        path = world.out / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return change


def _record(**fields):
    """run.json with ``fields`` changed (None: removed)."""
    def change(world):
        import json

        record = json.loads((world.out / "run.json").read_text())
        for key, value in fields.items():
            if value is None:
                record.pop(key)
            else:
                record[key] = value
        (world.out / "run.json").write_text(json.dumps(record))
    return change


def _sparse(name, size):
    def change(world):
        with open(world.out / name, "r+b") as file:
            file.truncate(size)
    return change


RUN_JSON = "{out}/run.json"
RUN_FILE = [
    Case("json-syntax", resumed(_write("run.json", "{not json")), 2, (RUN_JSON, "not valid JSON", "line 1")),
    Case("json-empty", resumed(_write("run.json", "")), 2, (RUN_JSON, "not valid JSON")),
    Case("json-list", resumed(_write("run.json", "[1, 2]")), 2, (RUN_JSON, "JSON object", "list")),
    Case("json-string", resumed(_write("run.json", '"run"')), 2, (RUN_JSON, "JSON object", "str")),
    Case("json-200000-brackets", resumed(_write("run.json", "[" * 200_000 + "]" * 200_000)), 2,
         (RUN_JSON, "400,000 bytes", "more than the 65,536")),
    Case("json-30000-brackets", resumed(_write("run.json", "[" * 30_000 + "]" * 30_000)), 2,
         (RUN_JSON, "nests brackets more than 64 deep", "line 1")),
    Case("json-deep-objects", resumed(_write("run.json", '{"a":' * 100 + "1" + "}" * 100)), 2,
         (RUN_JSON, "more than 64 deep")),
    Case("json-sparse-1gb", resumed(_sparse("run.json", 1 << 30)), 2, (RUN_JSON, "1,073,741,824 bytes")),
    Case("json-binary", resumed(_write("run.json", b"\xff\xfe{}")), 2, (RUN_JSON, "not UTF-8")),
    Case("json-no-scenario", resumed(_record(scenario=None)), 2, (RUN_JSON, "'scenario'")),
    Case("json-no-sha256", resumed(_record(sha256=None)), 2, (RUN_JSON, "'sha256'")),
    Case("json-no-t-end", resumed(_record(t_end=None)), 2, (RUN_JSON, "'t_end'")),
    Case("json-scenario-number", resumed(_record(scenario=3)), 2, (RUN_JSON, "scenario must be", "3")),
    Case("json-sha-object", resumed(_record(sha256={"a": 1})), 2, (RUN_JSON, "sha256 must be")),
    Case("json-t-end-string", resumed(_record(t_end="0.02")), 2, (RUN_JSON, "t_end must be", "'0.02'")),
    Case("json-t-end-negative", resumed(_record(t_end=-1)), 2, (RUN_JSON, "t_end must be > 0", "-1")),
    Case("json-t-end-nan", resumed(_write("run.json", '{"scenario": "s", "sha256": "0", "t_end": NaN}')), 2,
         (RUN_JSON, "t_end must be a finite number", "nan")),
    Case("json-t-end-underflow", resumed(_record(t_end=1e-300)), 2, (RUN_JSON + ": t_end = 1e-300", "underflow")),
    Case("json-scenario-gone", resumed(_record(scenario="/nowhere/s.toml")), 2,
         (RUN_JSON, "/nowhere/s.toml", "no longer exists")),
    Case("json-scenario-edited", resumed(lambda w: (w.root / "scenario.toml").write_text(
        (w.root / "scenario.toml").read_text().replace("tau = 0.01", "tau = 0.02"))), 2,
         ("{root}/scenario.toml", "changed since the run", "SHA-256")),
    Case("json-a-directory", resumed(lambda w: (os.remove(w.out / "run.json"), os.mkdir(w.out / "run.json"))), 2,
         (RUN_JSON, "a directory")),
]

PVD = "{out}/rho.pvd"
_HEAD = '<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1">\n  <Collection>\n'
_TAIL = "  </Collection>\n</VTKFile>\n"
SERIES = [
    Case("pvd-doctype", resumed(_write("rho.pvd", '<?xml version="1.0"?>\n<!DOCTYPE lol [<!ENTITY a "aaaa">]>\n'
                                                  "<VTKFile>&a;</VTKFile>\n")), 2,
         (PVD, "declares a document type (DTD)", "line 2")),
    Case("pvd-billion-laughs", resumed(_write("rho.pvd", '<!DOCTYPE l [<!ENTITY a "x"><!ENTITY b "&a;&a;&a;">]>'
                                                         "<VTKFile>&b;</VTKFile>")), 2, (PVD, "DTD", "line 1")),
    Case("pvd-entity", resumed(_write("rho.pvd", _HEAD + '<!ENTITY x "y">' + _TAIL)), 2,
         (PVD, "declares an entity", "line 4")),
    Case("pvd-truncated", resumed(lambda w: (w.out / "rho.pvd").write_text((w.out / "rho.pvd").read_text()[:120])),
         2, (PVD, "not well-formed XML")),
    Case("pvd-empty", resumed(_write("rho.pvd", "")), 2, (PVD, "not well-formed XML")),
    Case("pvd-not-xml", resumed(_write("rho.pvd", "timestep,file\n0,rho_00000.vtu\n")), 2,
         (PVD, "not well-formed XML", "line 1")),
    Case("pvd-other-root", resumed(_write("rho.pvd", "<html><body/></html>")), 2, (PVD, "not a VTK collection")),
    Case("pvd-no-timestep", resumed(_write("rho.pvd", _HEAD + '<DataSet file="rho_00000.vtu"/>' + _TAIL)), 2,
         (PVD, "DataSet 0 has no 'timestep'")),
    Case("pvd-no-file", resumed(_write("rho.pvd", _HEAD + '<DataSet timestep="0"/>' + _TAIL)), 2,
         (PVD, "DataSet 0 has no 'file'")),
    Case("pvd-timestep-text", resumed(_write("rho.pvd", _HEAD + '<DataSet timestep="abc" file="a.vtu"/>' + _TAIL)),
         2, (PVD, "'abc'", "not a number")),
    Case("pvd-timestep-nan", resumed(_write("rho.pvd", _HEAD + '<DataSet timestep="nan" file="a.vtu"/>' + _TAIL)),
         2, (PVD, "timestep must be a finite number")),
    Case("pvd-file-outside", resumed(_write("rho.pvd", _HEAD + '<DataSet timestep="0" '
                                                               'file="../outside/sentinel.txt"/>' + _TAIL)), 2,
         (PVD, "plain file name", "../outside/sentinel.txt")),
    Case("pvd-file-absolute", resumed(_write("rho.pvd", _HEAD + '<DataSet timestep="0" file="/etc/passwd"/>'
                                             + _TAIL)), 2, (PVD, "plain file name", "/etc/passwd")),
    Case("pvd-sparse-100mb", resumed(_sparse("rho.pvd", 100 << 20)), 2, (PVD, "104,857,600 bytes")),
    Case("pvd-binary", resumed(_write("rho.pvd", b"\x89PNG\r\n\x1a\n\xff")), 2, (PVD, "not UTF-8")),
]

CSV = "{out}/history.csv"
HISTORY = [
    Case("csv-nul", resumed(_write("history.csv", "step,t\n0,\x000\n")), 2, (CSV, "rows for 0 of the")),
    Case("csv-missing-rows", resumed(lambda w: (w.out / "history.csv").write_text(
        "".join((w.out / "history.csv").read_text().splitlines(True)[:5]))), 2,
         (CSV, "has rows for 4 of the", "truncated or edited")),
    Case("csv-step-skipped", resumed(lambda w: (w.out / "history.csv").write_text(
        "".join(line for k, line in enumerate((w.out / "history.csv").read_text().splitlines(True)) if k != 3))), 2,
         (CSV, "has step 3 where step 2 should be")),
    Case("csv-edited-min-rho", resumed(lambda w: (w.out / "history.csv").write_text(
        (w.out / "history.csv").read_text().replace("\n4,", "\n4,-5e0+", 1))), 2, (CSV,)),
    Case("csv-edited-number", resumed(lambda w: _edit_cell(w.out / "history.csv", 4, "min_rho", "-5.0")), 2,
         (CSV, "row of step 4 differs from the checkpoint's history")),
    Case("csv-gone", resumed(lambda w: os.remove(w.out / "history.csv")), 2, ("{out}", "lacks the history.csv")),
    Case("pvd-gone", resumed(lambda w: os.remove(w.out / "rho.pvd")), 2, ("{out}", "lacks the rho.pvd")),
    Case("csv-huge-field", resumed(_write("history.csv", "step\n" + "x" * 200_000 + "\n")), 2,
         (CSV, "not a CSV history", "field larger than field limit")),
    Case("csv-binary", resumed(_write("history.csv", b"step\n\xff\xfe\n")), 2, (CSV, "not a CSV history")),
    Case("csv-rows-repeated", resumed(lambda w: (w.out / "history.csv").write_text(
        (w.out / "history.csv").read_text() + "".join((w.out / "history.csv").read_text().splitlines(True)[1:]))),
        2, (CSV, "has step 0 where step")),
]


def _edit_cell(path, step, column, value):
    import csv

    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    rows[step + 1][rows[0].index(column)] = value
    with open(path, "w", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows(rows)


@pytest.mark.parametrize("case", cases("run-state", RUN_FILE + SERIES + HISTORY))
def test_a_run_state_file_that_cannot_be_trusted_is_refused(case, finished_run, tmp_path, capsys, monkeypatch):
    check(Case(case.id, lambda world: case.make(world, finished_run), case.expect, case.names), tmp_path, main,
          capsys, monkeypatch)


def test_the_untouched_copy_resumes(finished_run, tmp_path, capsys):
    """The tables' base: a copy of the finished run resumes, to its end, with the same files."""
    from catalogue import World

    world = World(tmp_path)
    world.copy_run(finished_run)
    assert main(["resume", str(world.out), "--quiet"]) == 0
    assert "all certificates hold" in capsys.readouterr().out
