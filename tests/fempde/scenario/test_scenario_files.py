"""A scenario file is bounded before it is parsed, and every refusal is exit 2 with the file and line.

The table runs ``fempde run`` / ``check-mesh`` (:mod:`catalogue`): files nested
thousands of levels deep, too large, not UTF-8, not files at all (a directory,
a FIFO), invalid TOML, and values that only the run would have found (a t_end
whose steps underflow).
"""

import os

import pytest
from catalogue import Case, cases, check

from fempde.cli.commands import main

SCENARIO = '[mesh]\ndomain = "interval"\nh = 0.1\n[problem]\ntarget = "1 - x**2"\ntau = 0.01\n[run]\nt_end = 0.02\n'
S = "{root}/s.toml"


def _run(text, *extra):
    def make(world):
        path = world.write("s.toml", text)
        return ["run", path, "--out", world.out, "--quiet", *extra]
    return make


def _path(make_path, *extra):
    def make(world):
        return ["run", make_path(world), "--out", world.out, "--quiet", *extra]
    return make


def _fifo(world):
    os.mkfifo(world.root / "s.toml")
    return world.root / "s.toml"


def _sparse(world):
    with open(world.root / "s.toml", "wb") as file:
        file.truncate(10 << 30)
    return world.root / "s.toml"


FILES = [
    Case("array-3000-deep", _run(SCENARIO + "x = " + "[" * 3000 + "]" * 3000 + "\n"), 2,
         (S, "nests brackets more than 64 deep", "line 9")),
    Case("inline-tables-3000-deep", _run("[mesh]\nv = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n"), 2,
         (S, "more than 64 deep", "line 2")),
    Case("array-200000-deep", _run("[mesh]\nv = " + "[" * 200_000 + "]" * 200_000 + "\n"), 2,
         (S, "more than 64 deep", "line 2")),
    Case("mixed-65-deep", _run(SCENARIO + "[output]\nz = " + "[{a = " * 33 + "1" + "}]" * 33 + "\n"), 2,
         (S, "more than 64 deep", "line 10")),
    Case("brackets-in-strings-are-text", _run(SCENARIO.replace('"1 - x**2"', '"' + "[" * 100 + '"')), 2,
         ("[problem] target", "line 5")),
    Case("two-mib", _run(SCENARIO + "# " + "x" * (2 << 20) + "\n"), 2, (S, "more than the 1,048,576")),
    Case("sparse-ten-gib", _path(_sparse), 2, (S, "10,737,418,240 bytes")),
    Case("not-utf8", _run(b'[mesh]\ndomain = "\xff"\n'), 2, (S, "not a UTF-8 text file")),
    Case("utf16", _run(SCENARIO.encode("utf-16")), 2, (S, "not a UTF-8 text file")),
    Case("bom-then-bad-value", _run(b"\xef\xbb\xbf" + SCENARIO.replace("h = 0.1", "h = true").encode()), 2,
         ("[mesh] h", "line 3 of " + S)),
    Case("a-directory", _path(lambda w: (w.root / "s.toml").mkdir() or w.root / "s.toml"), 2,
         (S, "is a directory")),
    Case("missing", _path(lambda w: w.root / "s.toml"), 2, (S, "does not exist")),
    Case("a-fifo", _path(_fifo), 2, (S, "is not a regular file")),
    Case("a-dangling-link", _path(lambda w: (os.symlink("nowhere.toml", w.root / "s.toml"), w.root / "s.toml")[1]),
         2, (S, "does not exist")),
    Case("link-loop", _path(lambda w: (os.symlink("s.toml", w.root / "s.toml"), w.root / "s.toml")[1]), 2,
         (S, "cannot be read")),
    Case("invalid-toml", _run(SCENARIO.replace("tau = 0.01", "tau == 0.01")), 2,
         (S, "not valid TOML", "line 6")),
    Case("duplicate-key", _run(SCENARIO.replace("tau = 0.01", "tau = 0.01\ntau = 0.02")), 2,
         (S, "not valid TOML", "line 7")),
    Case("nul-byte", _run(SCENARIO.replace("tau = 0.01", "tau = \x000.01")), 2, (S, "not valid TOML", "line 6")),
    Case("empty", _run(""), 2, ("has no [mesh] section",)),
    Case("t-end-1e-300", _run(SCENARIO.replace("0.02", "1e-300")), 2,
         ("[run]", "t_end = 1e-300", "underflow", "line 8 of " + S)),
    Case("t-end-1e-100", _run(SCENARIO.replace("0.02", "1e-100")), 2, ("[run]", "underflow", "line 8")),
    Case("dt0-above-dt-max", _run(SCENARIO + "dt0 = 10\n"), 2, ("[run]", "dt0", "line 9 of " + S)),
    Case("dt0-underflow", _run(SCENARIO + "dt0 = 1e-200\n"), 2, ("[run]", "underflow", "dt0 = 1e-200", "line 9")),
    Case("t-end-override-1e-300", _run(SCENARIO, "--t-end", "1e-300"), 2, ("--t-end = 1e-300", "underflow")),
    Case("t-end-override-inf", _run(SCENARIO, "--t-end", "inf"), 2, ("--t-end must be a finite number",)),
    Case("t-end-override-nan", _run(SCENARIO, "--t-end", "nan"), 2, ("--t-end must be a finite number",)),
    Case("t-end-override-negative", _run(SCENARIO, "--t-end", "-1"), 2, ("--t-end must be > 0", "-1.0")),
    Case("h-zero", _run(SCENARIO.replace("h = 0.1", "h = 0")), 2, ("[mesh] h must be > 0", "line 3")),
    Case("rho0-mass-2", _run(SCENARIO + "[initial]\nrho0 = '2'\n"), 2, ("rho0", "mass 2", S)),
]


@pytest.mark.parametrize("case", cases("scenario", FILES))
def test_a_scenario_file_that_cannot_be_read_is_refused(case, tmp_path, capsys, monkeypatch):
    check(case, tmp_path, main, capsys, monkeypatch)


def _mesh_file(content):
    def make(world):
        mesh = world.write("mesh.msh", content) if content is not None else world.root / "mesh.msh"
        if content == "dir":
            mesh.unlink()
            mesh.mkdir()
        text = SCENARIO.replace('domain = "interval"\nh = 0.1', 'domain = "file"\nfile = "mesh.msh"')
        return ["run", world.write("s.toml", text), "--out", world.out, "--quiet"]
    return make


MESHES = [
    Case("check-mesh-a-directory", lambda w: ["check-mesh", (w.root / "m").mkdir() or w.root / "m"], 2,
         ("mesh file {root}/m is a directory",)),
    Case("check-mesh-missing", lambda w: ["check-mesh", w.root / "m.msh"], 2, ("{root}/m.msh", "does not exist")),
    Case("check-mesh-garbage", lambda w: ["check-mesh", w.write("m.msh", b"\x00\x01garbage" * 50)], 2,
         ("{root}/m.msh", "could not read")),
    Case("check-mesh-unknown-format", lambda w: ["check-mesh", w.write("m.xyz", "1 2 3\n")], 2, ("{root}/m.xyz",)),
    Case("scenario-mesh-file-missing", _mesh_file(None), 2, ("[mesh] file", "mesh.msh", "line 3")),
    Case("scenario-mesh-file-a-directory", _mesh_file("dir"), 2, ("[mesh] file", "is a directory", "line 3")),
    Case("scenario-mesh-file-garbage", _mesh_file(b"\xff" * 300), 2, ("[mesh] file", "could not read", "line 3")),
    Case("polygon-too-fine", _run(SCENARIO.replace('domain = "interval"\nh = 0.1', 'domain = "polygon"\n'
                                                   'vertices = [[0, 0], [1000, 1000], [1000, 1000.5], [0, 0.5]]\n'
                                                   'h = 0.001')), 2,
         ("[mesh]", "polygon(4 vertices, h=0.001)", "nodes, more than the limit")),
]


@pytest.mark.parametrize("case", cases("mesh", MESHES))
def test_a_mesh_that_cannot_be_used_is_refused(case, tmp_path, capsys, monkeypatch):
    check(case, tmp_path, main, capsys, monkeypatch)


def test_a_byte_order_mark_is_read_past(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_bytes(b"\xef\xbb\xbf" + SCENARIO.encode())
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert "all certificates hold" in capsys.readouterr().out
