"""Formulas from scenario files, such as ``"1.5 * (1 - x**2 - y**2)"``, as
vectorised functions of the node coordinates ``x`` (shape ``(dim, n)``).

A formula is data, not code: it is parsed by :mod:`ast` and every node of the
tree is checked against a whitelist before anything is evaluated, and the
checked tree is then evaluated node by node with numpy (never by ``eval``).
The whitelist:

* numbers (``2``, ``0.5``, ``1e-3``; finite, not ``True``/``False``, not complex);
* the coordinates ``x, y, z, r`` (``r = |x|``; a coordinate beyond the mesh's
  dimension is 0) and the constants ``pi, e``;
* ``+ - * / // % **``, unary ``+ -``, and the comparisons ``< <= > >= == !=``
  (chains such as ``0 < x < 1`` mean both hold; a comparison is 1 or 0);
* calls, by bare name and with positional arguments only, of the functions in
  :data:`FUNCTIONS`.

Nothing else parses into an accepted tree: no attributes, subscripts, strings,
lambdas, comprehensions, keyword or starred arguments, ``if``/``and``/``or``,
walrus or any other name. The limits :data:`MAX_LENGTH` (characters),
:data:`MAX_DEPTH` (nesting) and :data:`MAX_EXPONENT` (size of an exponent
without coordinates) refuse formulas that would take long or much memory
before any work is done; everything is evaluated in float64, so no integer can
grow without bound.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CONSTANTS",
    "COORDINATES",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "ExpressionError",
    "Formula",
    "expression",
]

Array = NDArray[np.float64]
Value = Any  # a float64 scalar or an array of shape (n,)
Scope = dict[str, Array]
Node = Callable[[Scope], Value]


class ExpressionError(ValueError):
    """A formula that is refused or cannot be evaluated."""


#: The functions a formula may call, with the number of arguments each takes.
FUNCTIONS: dict[str, tuple[Callable[..., Value], int]] = {
    "exp": (np.exp, 1), "log": (np.log, 1), "sqrt": (np.sqrt, 1), "sin": (np.sin, 1), "cos": (np.cos, 1),
    "tan": (np.tan, 1), "tanh": (np.tanh, 1), "arctan": (np.arctan, 1), "abs": (np.abs, 1),
    "maximum": (np.maximum, 2), "minimum": (np.minimum, 2), "where": (np.where, 3),
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}
COORDINATES = ("x", "y", "z", "r")
MAX_LENGTH = 1000  # characters of a formula
MAX_DEPTH = 50  # nested operations, calls and brackets
MAX_EXPONENT = 100.0  # |p| of a power x**p whose exponent holds no coordinate

_BINARY: dict[type, Callable[[Value, Value], Value]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Value], Value]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_COMPARE: dict[type, Callable[[Value, Value], Value]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_HINTS: dict[type, str] = {  # what a refused node is, in the user's words
    ast.Attribute: "an attribute access", ast.Subscript: "a subscript", ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension", ast.NamedExpr: "an assignment (:=)", ast.IfExp: "an if-else (use where)",
    ast.BoolOp: "and/or (use where, or * of comparisons)", ast.JoinedStr: "a string", ast.List: "a list",
    ast.Tuple: "a tuple", ast.Set: "a set", ast.Dict: "a dict", ast.Starred: "a starred argument",
    ast.Await: "await", ast.Slice: "a slice",
}
ALLOWED = (f"numbers, {', '.join(COORDINATES)}, {', '.join(CONSTANTS)}, + - * / // % **, "
           f"< <= > >= == !=, and calls of {', '.join(FUNCTIONS)}")


class Formula:
    """A checked formula: ``f(x)`` with ``x`` of shape ``(dim, n)`` returns shape ``(n,)``."""

    def __init__(self, source: str, what: str, root: Node) -> None:
        self.source, self.what, self._root = source, what, root

    def __call__(self, x: Array) -> Array:
        x = np.asarray(x, dtype=np.float64)
        dim, n = x.shape
        scope: Scope = {name: x[k] if k < dim else np.zeros(n) for k, name in enumerate(("x", "y", "z"))}
        scope["r"] = np.linalg.norm(x, axis=0)
        with np.errstate(all="ignore"):  # NaN and inf are reported by the caller, with the node
            value = self._root(scope)
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,))

    def __reduce__(self) -> tuple[Any, ...]:  # a checked tree travels as its text and is checked again
        return expression, (self.source, self.what)

    def __repr__(self) -> str:
        return f"Formula({self.source!r})"


def expression(text: str | float, what: str = "formula") -> Formula:
    """Check ``text`` (a formula or a number) and return it as a :class:`Formula`.

    ``what`` names the formula in errors, e.g. ``"[problem] target"``; every
    refusal raises :class:`ExpressionError` starting with it.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ExpressionError(f"{what} must be a formula in x, y, z, r (a string) or a number, got {text!r}")
    if not isinstance(text, str):
        if not math.isfinite(text):
            raise ExpressionError(f"{what} must be a finite number, got {text!r}")
        text = repr(float(text))
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"{what} is {len(text)} characters long; a formula may have at most {MAX_LENGTH}")
    text = text.strip()  # the parser refuses leading blanks; positions are counted in the stripped text
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        reason = (err.msg if isinstance(err, SyntaxError) else str(err) if isinstance(err, ValueError)
                  else "too deeply nested")
        raise ExpressionError(f"{what} = {_short(text)} is not a valid formula: {reason}") from None
    _check_depth(tree, text, what)
    return Formula(text, what, _Checker(text, what).build(tree.body))


def _short(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _check_depth(tree: ast.AST, text: str, what: str) -> None:
    """Refuse a tree nested deeper than :data:`MAX_DEPTH`, without recursion."""
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(f"{what} = {_short(text)} is nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr))


class _Checker:
    """Builds the evaluation tree of a parsed formula, refusing any node outside the whitelist."""

    def __init__(self, text: str, what: str) -> None:
        self.text, self.what = text, what

    def refuse(self, node: ast.AST, reason: str) -> ExpressionError:
        where = f" at character {node.col_offset + 1}" if hasattr(node, "col_offset") else ""
        return ExpressionError(f"{self.what} = {_short(self.text)} is refused: {reason}{where}; "
                               f"a formula allows only {ALLOWED}")

    def build(self, node: ast.expr) -> Node:
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.refuse(node, _HINTS.get(type(node), f"a {type(node).__name__} expression"))

    def number(self, node: ast.Constant) -> Node:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "a string" if isinstance(value, (str, bytes)) else f"the constant {value!r}"
            raise self.refuse(node, kind)
        try:
            number = np.float64(float(value))
        except OverflowError:
            number = np.float64(np.inf)
        if not np.isfinite(number):
            literal = ast.get_source_segment(self.text, node) or str(value)
            raise self.refuse(node, f"the number {_short(literal)} (beyond float64)")
        return lambda scope: number

    def name(self, node: ast.Name) -> Node:
        name = node.id
        if name in COORDINATES:
            return lambda scope: scope[name]
        if name in CONSTANTS:
            constant = np.float64(CONSTANTS[name])
            return lambda scope: constant
        if name in FUNCTIONS:
            raise self.refuse(node, f"the function {name} without a call (write {name}(...))")
        raise self.refuse(node, f"the unknown name {name!r}")

    def binary(self, node: ast.BinOp) -> Node:
        op = _BINARY.get(type(node.op))
        if op is None:
            hint = " (use ** for powers)" if isinstance(node.op, ast.BitXor) else ""
            raise self.refuse(node, f"the operator {type(node.op).__name__}{hint}")
        left, right = self.build(node.left), self.build(node.right)
        if op is operator.pow and not _has_coordinate(node.right):
            with np.errstate(all="ignore"):
                exponent = right({})
            if not abs(exponent) <= MAX_EXPONENT:  # also NaN
                raise self.refuse(node, f"an exponent of {float(exponent):.6g} (more than {MAX_EXPONENT:g})")
        return lambda scope: op(left(scope), right(scope))

    def unary(self, node: ast.UnaryOp) -> Node:
        op = _UNARY.get(type(node.op))
        if op is None:
            raise self.refuse(node, f"the operator {type(node.op).__name__}")
        operand = self.build(node.operand)
        return lambda scope: op(operand(scope))

    def compare(self, node: ast.Compare) -> Node:
        ops = []
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise self.refuse(node, f"the comparison {type(op).__name__}")
            ops.append(_COMPARE[type(op)])
        terms = [self.build(term) for term in (node.left, *node.comparators)]

        def evaluate(scope: Scope) -> Value:
            values = [term(scope) for term in terms]
            result = ops[0](values[0], values[1])
            for k in range(1, len(ops)):  # a < b < c: both hold
                result = np.logical_and(result, ops[k](values[k], values[k + 1]))
            return np.multiply(result, 1.0)  # 1 or 0: booleans would add as "or" and refuse to subtract

        return evaluate

    def call(self, node: ast.Call) -> Node:
        if not isinstance(node.func, ast.Name):
            raise self.refuse(node.func, _HINTS.get(type(node.func), "a call of something not a function name"))
        name = node.func.id
        if name not in FUNCTIONS:
            raise self.refuse(node.func, f"a call of {name!r} (not a listed function)")
        if node.keywords:
            raise self.refuse(node, f"keyword arguments in the call of {name}")
        args = [self.build(arg) for arg in node.args]
        function, arity = FUNCTIONS[name]
        if len(args) != arity:
            raise self.refuse(node, f"{name} called with {len(args)} arguments (it takes {arity})")
        return lambda scope: function(*(arg(scope) for arg in args))


def _has_coordinate(node: ast.expr) -> bool:
    return any(isinstance(n, ast.Name) and n.id in COORDINATES for n in ast.walk(node))
