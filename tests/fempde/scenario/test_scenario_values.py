"""Every value of a scenario file is checked, and the error names its section, key, value and line.

The assertions are on the fields of :class:`~fempde.scenario.ScenarioError`
(and on the words of the message that the user needs), not on its wording.
"""

import math

import pytest

from fempde.scenario import ScenarioError, load_scenario, parse_scenario

SCENARIO = '[mesh]\ndomain = "disk"\nh = 0.3\n[problem]\ntarget = "1"\ntau = 0.01\n[run]\nt_end = 0.1\n'
INITIAL = "[initial]\nrho0 = 'uniform'\n"  # lines 9 and 10
OUTPUT = "[output]\nname = 'rho'\n"  # lines 9 and 10
NAN = object()  # the refused value is NaN


def _name(value):
    return "t_end = 0.1\n", "t_end = 0.1\n" + OUTPUT.replace("'rho'", value)


def _refused(tmp_path, change):
    assert change[0] in SCENARIO
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.replace(*change))
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    assert refused.value.source == str(path) and str(refused.value).endswith(f"of {path})")
    return refused.value


@pytest.mark.parametrize(
    ("change", "section", "key", "line", "value"),
    [
        (("tau = 0.01", 'tau = "abc"'), "problem", "tau", 6, "abc"),
        (("h = 0.3", "h = 0.3\nradus = 2"), "mesh", "radus", 4, None),
        (("t_end = 0.1", "outputs = 3"), "run", "t_end", 7, None),  # missing: the section's header
        (("tau = 0.01", "tau = 0.01\nschedule = { kind = 'power', alpha = 1.5 }"), "problem", "schedule", 7,
         {"kind": "power", "alpha": 1.5}),
        (("h = 0.3", "h = true"), "mesh", "h", 3, True),
        (("h = 0.3", 'h = "0.3"'), "mesh", "h", 3, "0.3"),
        (("h = 0.3", "h = nan"), "mesh", "h", 3, NAN),
        (("h = 0.3", "h = -inf"), "mesh", "h", 3, -math.inf),
        (("h = 0.3", "h = 0"), "mesh", "h", 3, 0),  # refused by the generator, which names its parameter
        (("h = 0.3", "h = 1e-7"), "mesh", "h", 3, 1e-7),  # too many nodes: h is what to change
        (("h = 0.3", "h = 0.3\nradius = true"), "mesh", "radius", 4, True),
        (("h = 0.3", "h = 0.3\nradius = 1e300"), "mesh", "h", 3, 0.3),  # "use a larger h or a smaller domain"
        (('domain = "disk"\nh = 0.3', 'domain = "polygon"\nh = 0.3\nvertices = [[0, 0], [1, 0], [2, 0]]'), "mesh",
         "vertices", 4, [[0, 0], [1, 0], [2, 0]]),
        (('domain = "disk"\nh = 0.3', 'domain = "interval"\nh = 0.3\na = 1.0\nb = 0.0'), "mesh", "b", 5, 0.0),
        (("h = 0.3", "h = 0.3\ncenter = [1.0]"), "mesh", "center", 4, [1.0]),
        (("h = 0.3", 'h = 0.3\ncenter = ["0", "0"]'), "mesh", "center", 4, ["0", "0"]),
        (("h = 0.3", "h = 0.3\ncenter = [0, true]"), "mesh", "center", 4, [0, True]),
        (("h = 0.3", 'h = 0.3\nforce = "no"'), "mesh", "force", 4, "no"),
        (("h = 0.3", "h = 0.3\nallow_large = 1"), "mesh", "allow_large", 4, 1),
        (('domain = "disk"', "domain = 3"), "mesh", "domain", 2, 3),
        (('domain = "disk"', 'domain = ["disk"]'), "mesh", "domain", 2, ["disk"]),
        (('domain = "disk"\nh = 0.3', 'domain = "file"\nfile = 3'), "mesh", "file", 3, 3),
        (('domain = "disk"\nh = 0.3', 'domain = "file"\nfile = "."'), "mesh", "file", 3, "."),
        (('domain = "disk"\nh = 0.3', 'domain = "file"\nfile = "none.msh"'), "mesh", "file", 3, "none.msh"),
        (("tau = 0.01", "tau = true"), "problem", "tau", 6, True),
        (("tau = 0.01", "tau = inf"), "problem", "tau", 6, math.inf),
        (("tau = 0.01", "tau = [0.01]"), "problem", "tau", 6, [0.01]),
        (('target = "1"', "target = true"), "problem", "target", 5, True),
        (('target = "1"', "target = nan"), "problem", "target", 5, NAN),
        (('target = "1"', 'target = "1/x"'), "problem", "target", 5, "1/x"),
        (('target = "1"', 'target = "x.real"'), "problem", "target", 5, "x.real"),
        (("tau = 0.01", "tau = 0.01\nschedule = { kind = ['power'] }"), "problem.schedule", "kind", 7, ["power"]),
        (("tau = 0.01", "tau = 0.01\nschedule = { kind = 'constant', xi0 = true }"), "problem.schedule", "xi0", 7,
         True),
        (("tau = 0.01", "tau = 0.01\nschedule = 2"), "problem", "schedule", 7, 2),
        (("t_end = 0.1", "t_end = true"), "run", "t_end", 8, True),
        (("t_end = 0.1", 't_end = "1"'), "run", "t_end", 8, "1"),
        (("t_end = 0.1", "t_end = inf"), "run", "t_end", 8, math.inf),
        (("t_end = 0.1", "t_end = -1.0"), "run", "t_end", 8, -1.0),
        (("t_end = 0.1", "t_end = 0.1\noutputs = 1e9"), "run", "outputs", 9, 1e9),
        (("t_end = 0.1", "t_end = 0.1\noutputs = true"), "run", "outputs", 9, True),
        (("t_end = 0.1", "t_end = 0.1\noutputs = 1_000_000_000"), "run", "outputs", 9, 1_000_000_000),
        (("t_end = 0.1", "t_end = 0.1\ndt_max = 1e-9"), "run", "dt_max", 9, 1e-9),
        (("t_end = 0.1", "t_end = 0.1\nscheme = 2"), "run", "scheme", 9, 2),
        (("t_end = 0.1", "t_end = 0.1\nlinear_solver = ['amg']"), "run", "linear_solver", 9, ["amg"]),
        (("t_end = 0.1", "t_end = 0.1\nflux = true"), "run", "flux", 9, True),
        (("t_end = 0.1", "t_end = 0.1\nflux = 'upwind'"), "run", "flux", 9, "upwind"),  # tau > 0: no effect
        (("t_end = 0.1", "t_end = 0.1\nestimate_space_error = 1"), "run", "estimate_space_error", 9, 1),
        (("t_end = 0.1", "t_end = 0.1\nsteady_tol = nan"), "run", "steady_tol", 9, NAN),
        (("t_end = 0.1", 't_end = 0.1\ncheckpoint_every = "60"'), "run", "checkpoint_every", 9, "60"),
        (("t_end = 0.1", "t_end = 0.1\nrtol = true"), "run", "rtol", 9, True),
        (("t_end = 0.1", "t_end = 0.1\nrtol = 2.0"), "run", "rtol", 9, 2.0),
        (("t_end = 0.1", "t_end = 0.1\natol = -1"), "run", "atol", 9, -1),
        (("t_end = 0.1\n", "t_end = 0.1\n" + INITIAL.replace("'uniform'", "true")), "initial", "rho0", 10, True),
        (("t_end = 0.1\n", "t_end = 0.1\n" + INITIAL.replace("'uniform'", "'x - 1'")), "initial", "rho0", 10,
         "x - 1"),
        (("t_end = 0.1\n", "t_end = 0.1\n" + INITIAL.replace("'uniform'", "'sqrt(x - 2)'")), "initial", "rho0", 10,
         "sqrt(x - 2)"),
        (("t_end = 0.1\n", "t_end = 0.1\n" + INITIAL.replace("'uniform'", "'__import__(\"os\")'")), "initial",
         "rho0", 10, '__import__("os")'),
        (("t_end = 0.1\n", "t_end = 0.1\n" + INITIAL + "normalize = 'yes'\n"), "initial", "normalize", 11, "yes"),
        (_name("'../rho'"), "output", "name", 10, "../rho"),
        (_name("'a/b'"), "output", "name", 10, "a/b"),
        (_name("''"), "output", "name", 10, ""),
        (_name("'..'"), "output", "name", 10, ".."),
        (_name("'.rho'"), "output", "name", 10, ".rho"),
        (_name("3"), "output", "name", 10, 3),
        (("t_end = 0.1\n", "t_end = 0.1\n" + OUTPUT.replace("name = 'rho'", "directory = ''")), "output",
         "directory", 10, ""),
        (("t_end = 0.1\n", "t_end = 0.1\n" + OUTPUT.replace("name = 'rho'", "directory = 3")), "output",
         "directory", 10, 3),
    ],
)
def test_scenario_errors_carry_section_key_line_and_value(tmp_path, change, section, key, line, value):
    error = _refused(tmp_path, change)
    assert (error.section, error.key, error.line) == (section, key, line)
    if value is NAN:
        assert math.isnan(error.value)
    else:
        assert error.value == value


@pytest.mark.parametrize(("change", "words"), [
    (("h = 0.3", "h = 0"), ("[mesh] h", "> 0", "got 0")),
    (("h = 0.3", "h = 1e-7"), ("disk(radius=1, h=1e-07)", "nodes")),
    (('target = "1"', 'target = "x.real"'), ("attribute",)),
    (('target = "1"', 'target = "1/x"'), ("not finite", "x = [0.0, 0.0]")),
    (("t_end = 0.1\n", "t_end = 0.1\n" + INITIAL.replace("'uniform'", "'x - 1'")), ("negative", "53 of 54 nodes")),
    (("t_end = 0.1", "t_end = 0.1\ndt_max = 1e-9"), ("1e+08 steps",)),
    (("h = 0.3", "h = 0.3\nradus = 2"), ("'radus'", "valid keys")),
])
def test_scenario_errors_say_what_is_wrong(tmp_path, change, words):
    message = str(_refused(tmp_path, change))
    assert all(word in message for word in words), message


def test_the_line_comes_from_the_fields_not_the_message():
    error = ScenarioError("reworded freely", section="run", key="rtol", value=2.0)
    located = error.located("[mesh]\nh = 1\n[run]\nt_end = 1\nrtol = 2.0  # too large\n", "s.toml")
    assert (located.line, located.source) == (5, "s.toml") and str(located) == "reworded freely (line 5 of s.toml)"
    assert located.located("other text", "other.toml") is located  # located once


def test_plain_output_names_are_accepted(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO + "[output]\nname = 'rho_v2.final-1'\n")
    assert load_scenario(path).output_name == "rho_v2.final-1"


def test_a_parsed_table_has_no_line():
    with pytest.raises(ScenarioError) as refused:
        parse_scenario({"mesh": {"domain": "interval"}, "problem": {"target": "1"}, "run": {"t_end": -1.0}})
    assert (refused.value.key, refused.value.line, refused.value.source) == ("t_end", None, None)
