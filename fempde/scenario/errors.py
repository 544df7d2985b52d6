"""The error of a scenario file: :class:`ScenarioError`, which knows its section, key and line.

Whoever refuses a value raises the error with the table (``section``) and
``key`` it is about, and the value; when the file's text is known
(:func:`~fempde.scenario.schema.load_scenario`), :meth:`ScenarioError.located`
adds the line of that key (the section's header for a missing key, or for the
section as a whole) and the file's name. Nothing is read back from the message.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ScenarioError", "line_of", "located"]


class ScenarioError(ValueError):
    """A scenario that cannot be used.

    ``section`` is the TOML table (``"problem.schedule"`` for the inline table
    ``schedule`` of ``[problem]``; ``None`` for the top level), ``key`` the key in
    it (``None``: the section as a whole), ``value`` the refused value; ``line``
    and ``source`` are the line and the file, once :meth:`located`.
    ``str(err)`` is the message followed by ``(line N of FILE)``.
    """

    def __init__(self, message: str, *, section: str | None = None, key: str | None = None, value: Any = None,
                 line: int | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.section = section
        self.key = key
        self.value = value
        self.line = line
        self.source = source

    def __str__(self) -> str:
        if self.source is None:
            return self.message
        return f"{self.message} (line {self.line} of {self.source})" if self.line else f"{self.message} ({self.source})"

    def located(self, text: str, source: str) -> ScenarioError:
        """This error with the line of ``text`` it is about and the file's name
        ``source`` (itself if it already names its file)."""
        if self.source is not None:
            return self
        return ScenarioError(self.message, section=self.section, key=self.key, value=self.value,
                             line=line_of(text, self.section, self.key), source=source)


def located(err: ScenarioError, text: str, source: str) -> ScenarioError:
    """``err.located(text, source)``."""
    return err.located(text, source)


def line_of(text: str, section: str | None, key: str | None) -> int | None:
    """The line of ``key = ...`` in ``[section]`` of the TOML ``text``; the header
    of ``[section]`` when the key is not there (or ``key`` is ``None``); ``None``
    when neither is. A dotted ``section = "model.data"`` is the table ``[model.data]``
    where the text has that header, else the inline table ``data`` of ``[model]``
    (``"problem.schedule"`` is the key ``schedule`` of ``[problem]``); at the top level (``section=None``) a key is
    also found as a table's header ``[key]``."""
    if section is not None and not _has_header(text, section):  # not a table [a.b]: the inline table b of [a]
        section, _, inline = section.partition(".")
        key = inline or key
    current: str | None = None
    header = None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.split("#")[0].strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped.strip("[] ")
            if section is None and current == key:
                return number
            header = number if section is not None and current == section else header
        elif current == section and key is not None and _assigns(stripped, key):
            return number
    return header


def _has_header(text: str, section: str) -> bool:
    """Whether ``text`` has the table header ``[section]``."""
    return any(raw.split("#")[0].strip().replace(" ", "") == f"[{section}]" for raw in text.splitlines())


def _assigns(line: str, key: str) -> bool:
    """Whether ``line`` is ``key = ...`` (bare or quoted key)."""
    name, equals, _ = line.partition("=")
    return bool(equals) and name.strip().strip("\"'") == key
