"""A model declared in TOML: the tables build the model a Python declaration builds, and bad
input is refused with its section, key and line (asserted on those fields, not the wording)."""

import math
import tomllib

import numpy as np
import pytest

from fempde.model import Bump, Gaussian, GaussianMixture, MeshDensity, Ridge, TeacherData, UniformData
from fempde.model.toml import model_from_tables
from fempde.scenario import ScenarioError

TANH = """
[model]
unit = "ridge"
activation = "tanh"
input_dim = 1
output = "trained"
lam = 0.05
beta = 50.0
schedule = { kind = "power", xi0 = 1.0, alpha = 0.25 }
name = "mine"

[model.data]
kind = "gaussian-mixture"
probabilities = [0.5, 0.5]
means = [[-1.0], [1.0]]
sds = [[0.5], [0.5]]
labels = [-1.0, 1.0]
label_noise = 0.1

[model.initial]
kind = "gaussian"
mean = [0.0, 0.0]
sd = [0.7, 0.3]

[mesh]
domain = "disk"
radius = 3.0
h = 0.5
"""


def _model(text):
    try:
        return model_from_tables(tomllib.loads(text))
    except ScenarioError as err:
        raise err.located(text, "model.toml") from None


def test_the_tables_build_the_declared_model():
    model = _model(TANH)
    assert isinstance(model.unit, Ridge) and model.unit.trains_output and model.unit.bias == 0.0
    assert model.unit.coordinates == ("w1", "a") and model.name == "mine"
    assert model.lam == 0.05 and model.beta == 50.0 and model.schedule.alpha == 0.25
    assert isinstance(model.data, GaussianMixture) and model.data.label_noise == 0.1
    np.testing.assert_array_equal(model.data.means, [[-1.0], [1.0]])
    assert isinstance(model.initial, Gaussian) and model.initial.sd.tolist() == [0.7, 0.3]
    assert model.domain is not None and model.domain.p.shape[0] == 2


def test_the_other_kinds():
    rbf = _model('[model]\nunit = "bump"\ndelta = 0.2\n[model.data]\nkind = "uniform"\ntarget = "6 * x * (1 - x)"\n'
                 '[model.initial]\nkind = "density"\nrho0 = "2 * x"\n[mesh]\ndomain = "interval"\nh = 0.05\n')
    assert isinstance(rbf.unit, Bump) and rbf.unit.delta == 0.2 and rbf.is_rbf and math.isinf(rbf.beta)
    assert isinstance(rbf.data, UniformData) and isinstance(rbf.initial, MeshDensity)
    assert rbf.data.quadrature().y_mean.max() == pytest.approx(1.5, abs=1e-2)
    teacher = _model('[model]\nunit = "homogeneous"\n[model.data]\nkind = "teacher"\n'
                     '[model.initial]\nkind = "sphere"\nradius = 0.5\nwidth = 0.2\n')
    assert isinstance(teacher.data, TeacherData) and teacher.dim == 3
    radial = _model('[model]\nunit = "ridge"\nactivation = [[-1, 0], [1, 1]]\ninput_dim = 6\nsymmetry = "radial"\n'
                    '[model.data]\nkind = "classes"\ndelta = 0.5\nd = 6\n[model.initial]\nkind = "gaussian"\n'
                    'sd = 0.3\n')
    assert radial.symmetry == "radial" and radial.unit.sigma(np.array([0.0, 5.0])).tolist() == [0.5, 1.0]


@pytest.mark.parametrize(("change", "section", "key", "line"), [
    (('unit = "ridge"', 'unit = "lstm"'), "model", "unit", 3),
    (('activation = "tanh"', 'activation = "swish"'), "model", "activation", 4),
    (('activation = "tanh"', "activation = [[1, 0], [0, 1]]"), "model", "activation", 4),
    (("input_dim = 1", "input_dim = 0"), "model", "input_dim", 5),
    (('output = "trained"', 'output = "free"'), "model", "output", 6),
    (("beta = 50.0", 'beta = "hot"'), "model", "beta", 8),
    (("beta = 50.0", "beta = -1.0"), "model", "beta", 8),
    (("lam = 0.05", "lam = true"), "model", "lam", 7),
    (("alpha = 0.25", 'alpha = "x"'), "model.schedule", "alpha", 9),
    (('name = "mine"', 'name = "mine"\nwidth = 3'), "model", "width", 11),
    (('kind = "gaussian-mixture"', 'kind = "poisson"'), "model.data", "kind", 13),
    (("means = [[-1.0], [1.0]]", "means = [[-1.0, 0.0], [1.0]]"), "model.data", "means", 15),
    (("labels = [-1.0, 1.0]", 'labels = [-1.0, "one"]'), "model.data", "labels", 17),
    (("probabilities = [0.5, 0.5]", "probabilities = [0.7, 0.7]"), "model.data", None, 12),
    (("label_noise = 0.1", "label_noise = -0.1"), "model.data", "label_noise", 18),
    (("label_noise = 0.1", "label_noise = 0.1\ntarget = 1"), "model.data", "target", 19),
    (("sd = [0.7, 0.3]", "sd = [-0.7, 0.3]"), "model.initial", "sd", 23),
    (("sd = [0.7, 0.3]", "sd = [0.7, 0.3, 1.0]"), "model.initial", "sd", 23),
    (('kind = "gaussian"', 'kind = "density"\nrho0 = "x - 10"'), "model.initial", "mean", 23),
    (("h = 0.5", "h = -0.5"), "mesh", "h", 28),
    (('name = "mine"', 'name = "mine"\nsymmetry = "radial"'), "model", "symmetry", 11),  # does not hold
    (('domain = "disk"\nradius = 3.0', 'domain = "interval"\na = -3.0\nb = 3.0'), "mesh", None, 25),  # 1-D, D = 2
])
def test_bad_input_names_the_section_key_and_line(change, section, key, line):
    assert change[0] in TANH
    with pytest.raises(ScenarioError) as caught:
        _model(TANH.replace(change[0], change[1], 1))
    err = caught.value
    assert (err.section, err.key, err.line) == (section, key, line)
    assert err.source == "model.toml"


def test_a_missing_table_is_named():
    with pytest.raises(ScenarioError) as caught:
        _model(TANH.split("[model.data]")[0])
    assert caught.value.section == "model.data"
    with pytest.raises(ScenarioError, match=r"unit = \"bump\" needs a \[mesh\]") as caught:
        _model('[model]\nunit = "bump"\ndelta = 0.1\n[model.data]\nkind = "teacher"\n'
               '[model.initial]\nkind = "sphere"\n')
    assert (caught.value.section, caught.value.key) == ("model", "unit")
