"""The command line on bad input: one line on stderr naming what is wrong, exit 2 (bad input) or 3 (numerical failure).

The assertions are on the exit status, the one line, and the names in it
(file, key, line, value), not on the wording.
"""

import hashlib
import json

import pytest

from fempde.cli.commands import main

SCENARIO = '[mesh]\ndomain = "disk"\nh = 0.3\n[problem]\ntarget = "1"\ntau = 0.01\n[run]\nt_end = 0.1\n'


def _cli(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def _scenario(tmp_path, text=SCENARIO):
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_output_directory_not_writable(tmp_path, capsys):
    path = _scenario(tmp_path)
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the output directory should be")
    code, err = _cli(["run", str(path), "--out", str(blocker / "out"), "--quiet"], capsys)
    assert code == 2 and err.startswith("fempde: error: ") and str(blocker / "out") in err


@pytest.mark.parametrize(("argv", "named"), [
    (lambda tmp: ["run", str(tmp)], "{tmp}"),  # a directory as the scenario file
    (lambda tmp: ["check-mesh", str(tmp)], "{tmp}"),  # a directory as the mesh file
    (lambda tmp: ["run", str(tmp / "none.toml")], "{tmp}/none.toml"),
    (lambda tmp: ["resume", str(tmp / "s.toml")], "{tmp}/s.toml"),  # a file as the output directory
    (lambda tmp: ["resume", str(tmp)], "{tmp}"),  # a directory without a run
])
def test_a_path_of_the_wrong_kind_is_named(tmp_path, capsys, argv, named):
    _scenario(tmp_path)
    code, err = _cli(argv(tmp_path), capsys)
    assert code == 2 and err.startswith("fempde: error: ") and named.format(tmp=tmp_path) in err


def test_binary_scenario_file(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    code, err = _cli(["run", str(path)], capsys)
    assert code == 2 and str(path) in err and "UTF-8" in err


@pytest.mark.parametrize(("argv", "value"), [
    (["--out", ""], "''"),
    (["--out", "  "], "'  '"),
    (["--t-end", "inf"], "inf"),
    (["--t-end", "nan"], "nan"),
    (["--t-end", "-1"], "-1.0"),
])
def test_bad_command_line_overrides(tmp_path, capsys, argv, value):
    code, err = _cli(["run", str(_scenario(tmp_path)), "--quiet", *argv], capsys)
    assert code == 2 and err.startswith(f"fempde: error: {argv[0]} ") and err.endswith(f"got {value}")


def test_scenario_error_through_the_cli_is_one_line_naming_file_key_and_line(tmp_path, capsys):
    path = _scenario(tmp_path, SCENARIO.replace("h = 0.3", "h = true"))
    code, err = _cli(["run", str(path)], capsys)
    assert code == 2 and err.startswith("fempde: error: [mesh] h ") and err.endswith(f"(line 3 of {path})")


def _resumable(tmp_path, record):
    """An output directory as `fempde run` leaves it, with ``record`` as run.json."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "run.json").write_text(record if isinstance(record, str) else json.dumps(record))
    (out / "checkpoint.npz").write_bytes(b"")
    return out


def _stamp(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_resume_refuses_an_edited_scenario(tmp_path, capsys):
    path = _scenario(tmp_path)
    before = _stamp(path)
    out = _resumable(tmp_path, {"scenario": str(path), "sha256": before, "t_end": 0.1})
    path.write_text(SCENARIO.replace("tau = 0.01", "tau = 0.02"))
    code, err = _cli(["resume", str(out)], capsys)
    assert code == 2 and str(path) in err and before[:12] in err and _stamp(path)[:12] in err


@pytest.mark.parametrize(
    ("record", "named"),
    [
        ("{not json", "JSON"),
        ("[1, 2]", "JSON object"),
        ({"sha256": "0", "t_end": 0.1}, "'scenario'"),
        ({"scenario": "s.toml", "t_end": 0.1}, "'sha256'"),
        ({"scenario": "s.toml", "sha256": "0"}, "'t_end'"),
        ({"scenario": 3, "sha256": "0", "t_end": 0.1}, "scenario must be"),
        ({"scenario": "s.toml", "sha256": "0", "t_end": "0.1"}, "t_end must be"),
        ({"scenario": "s.toml", "sha256": "0", "t_end": -1}, "t_end must be"),
        ({"scenario": "gone.toml", "sha256": "0", "t_end": 0.1}, "gone.toml"),
    ],
)
def test_resume_refuses_a_broken_run_record(tmp_path, capsys, record, named):
    out = _resumable(tmp_path, record)
    code, err = _cli(["resume", str(out)], capsys)
    assert code == 2 and err.startswith("fempde: error: ") and str(out / "run.json") in err and named in err


def test_numerical_failure_exits_3(tmp_path, capsys, monkeypatch):
    import fempde.cli.commands as commands

    def overflow(*args, **kwargs):
        raise FloatingPointError("overflow encountered in multiply")

    monkeypatch.setattr(commands, "run_scenario", overflow)
    code, err = _cli(["run", str(_scenario(tmp_path)), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 3 and err.startswith("fempde: numerical failure: ") and "overflow" in err


def test_bad_input_found_during_the_run_names_the_scenario(tmp_path, capsys):
    path = _scenario(tmp_path, SCENARIO + "[initial]\nrho0 = '3'\n")  # mass 3π, not 1: found when the space is built
    code, err = _cli(["run", str(path), "--out", str(tmp_path / "o"), "--quiet"], capsys)
    assert code == 2 and "rho0" in err and "mass 9." in err and err.endswith(f"(scenario {path})")
