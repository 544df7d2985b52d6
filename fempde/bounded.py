"""Files read back, bounded before they are parsed.

A run reads files a user gives it (scenario, cross-check and sweep TOML) and
files an earlier run wrote (``run.json``, a ``.pvd``, a lock's identity). Each
is read here, and nothing is handed to a parser before it is known to be small
and shallow enough:

* its size is taken from the open file's status before a byte is read, and at
  most that many bytes are read (:func:`read_bytes`);
* it is decoded as UTF-8, a leading byte-order mark allowed (:func:`read_text`);
* its nesting depth is counted by a flat scan (brackets and braces outside
  strings and comments) before a recursive parser sees it, so that a file of
  thousands of nested brackets is refused with its line, not a RecursionError
  (:func:`check_nesting`; :func:`load_json`, :func:`load_toml`);
* an XML file that declares a DTD or entities is refused unparsed (:func:`load_xml`).

A file that breaks a bound, cannot be decoded or does not parse raises
:class:`FileFormatError`, a ``ValueError`` that names the file, what it is
("scenario file", "run record"), the line where one is known, and what is
wrong. The archive container (:mod:`fempde.archive`) bounds its own entries.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any, NamedTuple
from xml.etree import ElementTree

__all__ = ["MAX_DEPTH", "FileFormatError", "TomlFile", "check_nesting", "load_json", "load_toml", "load_xml",
           "read_bytes", "read_text"]

MAX_DEPTH = 64
"""The deepest nesting of brackets and braces a TOML or JSON file may have (fempde's use at most 3)."""

MAX_TOML_BYTES = 1 << 20
"""The largest TOML file read (a scenario or sweep file is a few hundred bytes)."""


class FileFormatError(ValueError):
    """A file that cannot be used: ``path``, ``what`` it is, the ``problem``, and
    the ``line`` it is on (None when not known)."""

    def __init__(self, path: str | Path, what: str, problem: str, line: int | None = None) -> None:
        self.path, self.what, self.problem, self.line = Path(path), what, problem, line
        where = f" (line {line})" if line is not None else ""
        super().__init__(f"{what} {path}: {problem}{where}")


def read_bytes(path: str | Path, what: str, limit: int, *, follow: bool = True) -> bytes:
    """The contents of the regular file ``path``, if at most ``limit`` bytes; with
    ``follow=False`` a symbolic link is refused (a file of a run's own directory)."""
    path = Path(path)
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW)  # a FIFO does not block
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileFormatError(path, what, "does not exist") from None
    except OSError as err:
        if err.errno == errno.ELOOP and not follow:
            raise FileFormatError(path, what, "is a symbolic link; a run reads only its own files") from None
        raise FileFormatError(path, what, f"cannot be read ({err.strerror or err})") from None
    status = os.fstat(fd)
    problem = ("is a directory, not a file" if stat.S_ISDIR(status.st_mode)
               else "is not a regular file" if not stat.S_ISREG(status.st_mode)
               else f"has {status.st_size:,} bytes, more than the {limit:,} it may have" if status.st_size > limit
               else None)
    if problem is not None:
        os.close(fd)
        raise FileFormatError(path, what, problem)
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(limit + 1)
        except OSError as err:
            raise FileFormatError(path, what, f"cannot be read ({err.strerror or err})") from None
    if len(data) > limit:  # it grew since
        raise FileFormatError(path, what, f"has more than the {limit:,} bytes it may have")
    return data


def read_text(path: str | Path, what: str, limit: int, *, follow: bool = True) -> str:
    """:func:`read_bytes` decoded as UTF-8; a leading byte-order mark is dropped."""
    data = read_bytes(path, what, limit, follow=follow)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise FileFormatError(path, what, f"is not UTF-8 text (byte {err.start})", line) from None


_TOKENS = {
    "toml": re.compile("\"\"\"|'''|[\"'#\\[\\]{}\n\\\\]"),
    "json": re.compile("[\"\\[\\]{}\n\\\\]"),
}
_OPENS = {"toml": {'"': '"', "'": "'", '"""': '"""', "'''": "'''", "#": "\n"}, "json": {'"': '"'}}
_ESCAPING = ('"', '"""')  # the strings in which a backslash escapes the next character


def check_nesting(text: str, path: str | Path, what: str, syntax: str, limit: int = MAX_DEPTH) -> int:
    """The deepest nesting of ``[`` and ``{`` in ``text`` (``syntax``: ``"toml"`` or
    ``"json"``), outside strings and comments; :class:`FileFormatError` with the
    line where it first exceeds ``limit``. The scan is flat: it recurses nothing."""
    tokens, opens = _TOKENS[syntax], _OPENS[syntax]
    depth = deepest = 0
    line, position = 1, 0
    inside: str | None = None  # the token that ends the string or comment we are in
    while (match := tokens.search(text, position)) is not None:
        token, position = match.group(), match.end()
        if token == "\\":
            if inside in _ESCAPING:
                line += text.startswith("\n", position)
                position += 1  # the escaped character
            continue
        if token == "\n":
            line += 1
            if inside in ("\n", '"', "'"):  # a comment ends, a one-line string cannot go on
                inside = None
        elif inside is not None:
            if token == inside or (len(inside) == 1 and token == 3 * inside):  # "a""" is "a" then ""
                if len(inside) == 3:  # up to two quotes of the text may come before the closing three
                    extra = 0
                    while extra < 2 and text.startswith(inside[0], position):
                        position, extra = position + 1, extra + 1
                inside = None
        elif token in opens:
            inside = opens[token]
        elif token in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if depth > limit:
                raise FileFormatError(path, what, f"nests brackets more than {limit} deep", line)
        elif token in "]}":
            depth = max(depth - 1, 0)
    return deepest


def load_json(path: str | Path, what: str, limit: int, *, follow: bool = False, depth: int = MAX_DEPTH) -> Any:
    """A JSON file of at most ``limit`` bytes and ``depth`` nesting, parsed."""
    text = read_text(path, what, limit, follow=follow)
    check_nesting(text, path, what, "json", depth)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise FileFormatError(path, what, f"is not valid JSON ({err.msg})", err.lineno) from None
    except RecursionError:  # a nesting the flat scan missed: still one line, not a traceback
        raise FileFormatError(path, what, "nests too deep") from None


class TomlFile(NamedTuple):
    """A TOML file as read: its tables, its text (for the lines of errors) and its bytes (for a hash)."""

    data: dict[str, Any]
    text: str
    raw: bytes


def load_toml(path: str | Path, what: str, limit: int = MAX_TOML_BYTES, depth: int = MAX_DEPTH) -> TomlFile:
    """A TOML file of at most ``limit`` bytes and ``depth`` nesting, parsed."""
    raw = read_bytes(path, what, limit)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise FileFormatError(path, what, f"is not a UTF-8 text file (byte {err.start})",
                              raw[: err.start].count(b"\n") + 1) from None
    check_nesting(text, path, what, "toml", depth)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = re.search(r"\(at line (\d+), column \d+\)", str(err))
        problem = re.sub(r"\s*\(at line \d+, column \d+\)|\s*\(at end of document\)", "", str(err))
        raise FileFormatError(path, what, f"is not valid TOML: {problem}",
                              int(found.group(1)) if found else text.count("\n") + 1) from None
    except RecursionError:  # a nesting the flat scan missed: still one line, not a traceback
        raise FileFormatError(path, what, "nests too deep") from None
    return TomlFile(data, text, raw)


def load_xml(path: str | Path, what: str, limit: int, *, follow: bool = False) -> ElementTree.Element:
    """The root of an XML file of at most ``limit`` bytes that declares no DTD or entity."""
    text = read_text(path, what, limit, follow=follow)
    declared = re.search(r"<!(DOCTYPE|ENTITY)", text)
    if declared:
        kind = "a document type (DTD)" if declared.group(1) == "DOCTYPE" else "an entity"
        raise FileFormatError(path, what, f"declares {kind}, which fempde's XML never has (entities are not "
                                          f"expanded)", text.count("\n", 0, declared.start()) + 1)
    try:
        return ElementTree.fromstring(text)
    except ElementTree.ParseError as err:
        raise FileFormatError(path, what, f"is not well-formed XML ({err})",
                              err.position[0]) from None
