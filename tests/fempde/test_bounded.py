"""Files read back are bounded before they are parsed: sizes, nesting, XML declarations.

The scan that counts the nesting of TOML and JSON is checked against the parsers
on files whose brackets hide in strings and comments; the table feeds each reader
what it must refuse (:mod:`catalogue`).
"""

import json
import os
import tomllib

import pytest
from catalogue import Case, cases, check

from fempde.archive import Field, read_archive
from fempde.bounded import FileFormatError, check_nesting, load_json, load_toml, load_xml, read_bytes, read_text
from fempde.cli.commands import main


@pytest.mark.parametrize(("text", "deepest"), [
    ('a = "[[[" # [[[\nb = [[1, 2], [3]]\n', 2),
    ("c = '''[[\n['''\nd = 'C:\\'\ne = [{x = \"q\\\"[\"}]\n", 2),
    ('f = """a""""\ng = [1]\n', 1),
    ("[table]\n[[array.of]]\nx = {y = {z = [1]}}\n", 3),
    ("h = \"\"\"\\\n  [[[\"\"\"\n", 0),
])
def test_the_toml_scan_counts_what_the_parser_nests(text, deepest):
    tomllib.loads(text)  # the samples are valid TOML
    assert check_nesting(text, "f", "file", "toml") == deepest


def test_the_json_scan_counts_what_the_parser_nests():
    text = json.dumps({"a": ["]]\"[", {"b": [1, "{"]}]})
    assert json.loads(text) and check_nesting(text, "f", "file", "json") == 4


def _file(name, content):
    def make(world):
        path = world.write(name, content)
        return path
    return make


def _call(reader, name, content, *args, **kwargs):
    def make(world):
        path = world.write(name, content) if content is not None else world.root / name
        return lambda: reader(path, *args, **kwargs)
    return make


def _fifo(reader, *args):
    def make(world):
        os.mkfifo(world.root / "pipe")
        return lambda: reader(world.root / "pipe", *args)
    return make


SPEC = {"x": Field("float", ("n",))}
READERS = [
    Case("bytes-over-limit", _call(read_bytes, "f", "x" * 101, "test file", 100), FileFormatError,
         ("test file {root}/f", "101 bytes, more than the 100")),
    Case("bytes-missing", _call(read_bytes, "f", None, "test file", 100), FileFormatError, ("{root}/f", "not exist")),
    Case("bytes-directory", lambda w: lambda: read_bytes(w.root, "test file", 100), FileFormatError,
         ("{root}", "is a directory")),
    Case("bytes-fifo", _fifo(read_bytes, "test file", 100), FileFormatError, ("{root}/pipe", "not a regular file")),
    Case("bytes-link-refused", lambda w: (os.symlink(w.sentinel, w.root / "l"),
                                          lambda: read_bytes(w.root / "l", "run record", 100, follow=False))[1],
         FileFormatError, ("{root}/l", "is a symbolic link")),
    Case("text-not-utf8", _call(read_text, "f", b"ok\n\xff", "test file", 100), FileFormatError,
         ("{root}/f", "not UTF-8", "line 2")),
    Case("json-deep", _call(load_json, "f.json", "[" * 1000 + "]" * 1000, "run record", 10_000), FileFormatError,
         ("{root}/f.json", "more than 64 deep")),
    Case("json-deep-custom-limit", _call(load_json, "f.json", "[[[[1]]]]", "run record", 100, depth=3),
         FileFormatError, ("more than 3 deep",)),
    Case("json-syntax", _call(load_json, "f.json", '{"a": 1,\n}', "run record", 100), FileFormatError,
         ("{root}/f.json", "not valid JSON", "line 2")),
    Case("json-too-large", _call(load_json, "f.json", "1" * 200, "run record", 100), FileFormatError,
         ("200 bytes",)),
    Case("toml-deep", _call(load_toml, "f.toml", "x = " + "[" * 100 + "]" * 100, "sweep file"), FileFormatError,
         ("sweep file {root}/f.toml", "more than 64 deep", "line 1")),
    Case("toml-invalid", _call(load_toml, "f.toml", "a = 1\nb = \n", "sweep file"), FileFormatError,
         ("not valid TOML", "line 2")),
    Case("toml-too-large", _call(load_toml, "f.toml", "a = 1\n", "sweep file", 3), FileFormatError,
         ("6 bytes, more than the 3",)),
    Case("xml-doctype", _call(load_xml, "f.xml", '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "collection", 1000),
         FileFormatError, ("{root}/f.xml", "document type (DTD)")),
    Case("xml-malformed", _call(load_xml, "f.xml", "<x>\n<y></x>", "collection", 1000), FileFormatError,
         ("{root}/f.xml", "not well-formed XML", "line 2")),
    Case("xml-too-large", _call(load_xml, "f.xml", "<x/>" * 100, "collection", 100), FileFormatError,
         ("400 bytes",)),
    Case("archive-not-a-zip", _call(read_archive, "a.npz", b"PK\x03\x04garbage", "k", 1, SPEC), ValueError,
         ("archive {root}/a.npz", "damaged or truncated")),
    Case("archive-a-fifo", _fifo(read_archive, "k", 1, SPEC), ValueError, ("{root}/pipe", "not a regular file")),
]


@pytest.mark.parametrize("case", cases("bounds", READERS))
def test_a_reader_refuses_before_it_parses(case, tmp_path, capsys, monkeypatch):
    check(case, tmp_path, main, capsys, monkeypatch)
