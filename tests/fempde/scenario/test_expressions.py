"""Formulas from scenario files: a whitelisted tree, never code.

Every known way out of a name-checked ``eval`` sandbox is refused at parse
time with a message naming the key and, through a scenario file, the line;
every documented function and operator still evaluates to numpy's value.
"""

import math
import pickle
import time

import numpy as np
import pytest

from fempde.scenario import ScenarioError, load_scenario
from fempde.scenario.expressions import (
    CONSTANTS,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_LENGTH,
    ExpressionError,
    expression,
)

X = np.array([[0.1, 0.5, -0.7, 0.9], [0.2, -0.3, 0.4, 0.0]])  # four points in the unit disk
x, y = X
r = np.hypot(x, y)

ESCAPES = {
    # the payload of the report: a lambda reaches object's subclasses and os.system
    "lambda-subclasses": "(lambda: [c for c in ().__class__.__base__.__subclasses__() "
                         "if c.__name__ == '_wrap_close'][0].__init__.__globals__['system']('id'))() * 0 + 1",
    "lambda": "(lambda: 1)()",
    "lambda-default": "(lambda q=x: q)()",
    "list-comprehension": "[c for c in (1, 2)][0]",
    "generator": "sum(c for c in (1, 2))",
    "set-comprehension": "{c for c in (1,)}",
    "dict-comprehension": "{c: c for c in (1,)}",
    "attribute": "x.real",
    "attribute-of-tuple": "().__class__",
    "attribute-of-number": "(1).__class__.__bases__",
    "attribute-of-function": "exp.__globals__",
    "method-call": "sqrt.__call__(x)",
    "subscript": "x[0]",
    "slice": "x[::2]",
    "string": "'os'",
    "bytes": "b'os'",
    "f-string": "f'{x}'",
    "string-concatenation": "'__imp' 'ort__'",
    "dunder-import": "__import__('os').system('id')",
    "dunder-builtins": "__builtins__",
    "dunder-name": "__name__",
    "builtin-eval": "eval('1')",
    "builtin-getattr": "getattr(x, 'real')",
    "builtin-open": "open('/etc/passwd')",
    "builtin-type": "type(x)",
    "numpy-module": "np.exp(x)",
    "walrus": "(q := 1) + q",
    "keyword-argument": "exp(x=1)",
    "keyword-out": "sqrt(x, out=x)",
    "double-star-kwargs": "exp(**{'x': 1})",
    "starred-argument": "maximum(*(x, y))",
    "if-expression": "x if y else 1",
    "boolean-and": "x and y",
    "boolean-not": "not x",
    "bitwise-invert": "~x",
    "bitwise-xor": "x ^ 2",
    "matmul": "x @ y",
    "membership": "x in y",
    "identity": "x is y",
    "tuple": "(x, y)",
    "list": "[x]",
    "dict": "{1: 2}",
    "set": "{x}",
    "true": "True + x",
    "none": "None",
    "ellipsis": "...",
    "complex": "1j * x",
    "await": "await x",
    "call-a-coordinate": "x(1)",
    "call-a-constant": "pi(1)",
    "call-a-call": "exp(1)(2)",
    "function-without-call": "exp",
    "unknown-name": "q * x",
    "wrong-arity": "where(x > 0, 1)",
    "huge-exponent": "1 + 0 * 10**10**10",
    "huge-exponent-negative": "x ** -(9**9)",
    "infinite-literal": "1e400 * 0",
    "huge-integer-literal": "9" * 400 + " * 0",
    "deep-nesting": "-" * 200 + "x",
    "deep-parentheses": "(" * 250 + "x" + ")" * 250,
    "deep-calls": "exp(" * 60 + "x" + ")" * 60,
    "long-sum": "+".join(["x"] * 200),
    "very-long-source": "x + " * 50_000 + "x",
    "null-byte": "x\x00",
    "statement": "x; import os",
    "assignment": "x = 1",
    "empty": "",
}


@pytest.mark.parametrize("source", ESCAPES.values(), ids=ESCAPES.keys())
def test_sandbox_escapes_are_refused_naming_the_key(source):
    start = time.perf_counter()
    with pytest.raises(ExpressionError, match=r"^\[problem\] target\b"):
        expression(source, "[problem] target")
    assert time.perf_counter() - start < 0.1  # refused at once, not after evaluating


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("().__class__", r"= '\(\).__class__' is refused: an attribute access at character 1"),
        ("x[0]", "a subscript at character 1"),
        ("'os'", "a string at character 1"),
        ("(lambda: 1)()", "a lambda at character 2"),
        ("[c for c in x]", "a comprehension at character 1"),
        ("(q := 1)", r"an assignment \(:=\) at character 2"),
        ("exp(x=1)", "keyword arguments in the call of exp"),
        ("maximum(*(x, y))", "a starred argument at character 9"),
        ("__import__('os')", r"a call of '__import__' \(not a listed function\)"),
        ("1 - q**2", "the unknown name 'q' at character 5"),
        ("x ^ 2", r"the operator BitXor \(use \*\* for powers\)"),
        ("where(x > 0, 1)", r"where called with 2 arguments \(it takes 3\)"),
        ("1 + 0 * 10**10**10", rf"an exponent of 1e\+10 \(more than {MAX_EXPONENT:g}\)"),
        ("1e400", r"the number '1e400' \(beyond float64\)"),
        ("-" * (MAX_DEPTH + 1) + "x", f"is nested more than {MAX_DEPTH} levels deep"),
        ("x" * 200_000, f"is 200000 characters long; a formula may have at most {MAX_LENGTH}"),
        ("1 - x**", "is not a valid formula: invalid syntax"),
    ],
)
def test_refusals_say_what_is_wrong_and_where(source, message):
    with pytest.raises(ExpressionError, match=message) as caught:
        expression(source, "[problem] target")
    assert str(caught.value).startswith("[problem] target")


@pytest.mark.parametrize("value", [True, None, [1.0], {"x": 1}, float("nan"), float("inf")])
def test_non_formula_values_are_refused(value):
    with pytest.raises(ExpressionError, match=r"^\[initial\] rho0 must be a (formula|finite number).*got"):
        expression(value, "[initial] rho0")


SCENARIO = '[mesh]\ndomain = "interval"\nh = 0.25\n[problem]\ntarget = "1"\ntau = 0.01\n[run]\nt_end = 0.1\n'


@pytest.mark.parametrize("source", [ESCAPES[k] for k in ("lambda-subclasses", "attribute-of-tuple", "dunder-import",
                                                        "walrus", "keyword-argument", "huge-exponent")])
@pytest.mark.parametrize(("key", "line"), [("target", 5), ("rho0", 10)])
def test_escapes_in_a_scenario_file_name_key_and_line(tmp_path, source, key, line):
    text = SCENARIO + "[initial]\nrho0 = 'uniform'\n"
    formula = source.replace("'", '"')
    text = text.replace('target = "1"', f"target = '{formula}'") if key == "target" else \
        text.replace("rho0 = 'uniform'", f"rho0 = '{formula}'")
    path = tmp_path / "escape.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as refused:
        load_scenario(path)
    assert (refused.value.key, refused.value.line, refused.value.value) == (key, line, formula)
    assert "is refused" in str(refused.value)
    assert not (tmp_path / "pwned.txt").exists()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_documented_function_evaluates_as_numpy(name):
    function, arity = FUNCTIONS[name]
    calls = {1: ("(0.5 * r + 0.1)", [0.5 * r + 0.1]), 2: ("(x, y)", [x, y]),
             3: ("(x > 0, y, 2)", [x > 0, y, 2.0])}
    source, args = calls[arity]
    np.testing.assert_allclose(expression(f"{name}{source}")(X), function(*args), rtol=1e-15)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1.5 * (1 - x**2 - y**2)", 1.5 * (1 - x**2 - y**2)),
        ("pi * e", np.full(4, math.pi * math.e)),
        ("r", r),
        ("z + 1", np.ones(4)),  # a coordinate beyond the mesh's dimension is 0
        ("-x + +y", -x + y),
        ("x / 2 - y // 0.25 + x % 0.3", x / 2 - y // 0.25 + x % 0.3),
        ("2 ** -x", 2.0**-x),
        ("(x < 0) + (x <= 0.1) + (x > 0.5) + (x >= 0.5) + (x == 0.9) + (x != 0.9)",
         1.0 * (x < 0) + (x <= 0.1) + (x > 0.5) + (x >= 0.5) + (x == 0.9) + (x != 0.9)),
        ("(x > 0) - (y > 0)", 1.0 * (x > 0) - (y > 0)),
        ("0 < x < 0.7", ((0 < x) & (x < 0.7)) * 1.0),
        ("where(r < 0.5, exp(-1 / (1 - r**2)), 0)", np.where(r < 0.5, np.exp(-1 / (1 - r**2)), 0)),
        ("2", np.full(4, 2.0)),
        ("  x  ", x),
        ("1_000 * x", 1000 * x),
        ("(exp)(x)", np.exp(x)),
        (f"x ** {MAX_EXPONENT:g}", x**MAX_EXPONENT),
    ],
)
def test_formulas_evaluate_as_numpy(source, expected):
    np.testing.assert_allclose(expression(source)(X), expected, rtol=1e-15)


@pytest.mark.parametrize("number", [2, 0.5, -3])
def test_a_number_is_a_constant_function(number):
    np.testing.assert_array_equal(expression(number)(X), np.full(4, float(number)))


def test_float_arithmetic_never_builds_big_integers():
    start = time.perf_counter()
    values = expression("(x * 0 + 10) ** (x * 0 + 10) ** (x * 0 + 10)")(X)  # exponents with coordinates
    assert time.perf_counter() - start < 0.1
    assert np.all(np.isinf(values))  # float64 overflow, reported by the caller as not finite
    assert np.all(np.isnan(expression("(-8) ** (1 / 3)")(X)))  # not a complex number


def test_constants_are_the_documented_ones():
    assert CONSTANTS == {"pi": math.pi, "e": math.e}


def test_a_formula_pickles_as_its_text_and_is_checked_again():
    formula = pickle.loads(pickle.dumps(expression("exp(-r**2)", "[problem] target")))
    np.testing.assert_allclose(formula(X), np.exp(-(r**2)), rtol=1e-15)
    assert formula.source == "exp(-r**2)" and formula.what == "[problem] target"
