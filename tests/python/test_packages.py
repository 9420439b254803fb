"""Real packages from PyPI under SHARE: every module they import from files
is served from the archive, and a small use of each prints what plain
Python prints."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import build

SMOKE = {
    "requests": """
import requests
r = requests.Request("GET", "http://example.invalid/p", params={"a": "1 2"}).prepare()
print(r.url, r.method, sorted(requests.utils.default_headers()))
""",
    "flask": """
import flask
app = flask.Flask("smoke")
@app.route("/hello/<name>")
def hello(name):
    return flask.jsonify(greeting=f"hi {name}", n=len(name))
with app.test_client() as client:
    response = client.get("/hello/world")
print(response.status_code, response.get_json())
""",
    "boto3": """
import boto3
session = boto3.session.Session(region_name="eu-west-1", aws_access_key_id="x",
                                aws_secret_access_key="y")
s3 = session.client("s3")
print(s3.meta.endpoint_url, s3.meta.region_name, len(session.get_available_services()) > 100)
""",
    "pyparsing": """
import pyparsing as pp
integer = pp.Word(pp.nums).set_parse_action(lambda t: int(t[0]))
expr = pp.infix_notation(integer, [(pp.one_of("* /"), 2, pp.OpAssoc.LEFT),
                                   (pp.one_of("+ -"), 2, pp.OpAssoc.LEFT)])
print(expr.parse_string("1 + 2 * 3 - 4").as_list())
""",
    "jsonschema": """
import jsonschema
schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}},
          "required": ["n"]}
errors = sorted(e.message for e in jsonschema.Draft202012Validator(schema).iter_errors({"n": 1}))
jsonschema.validate({"n": 5}, schema)
print(errors)
""",
}

# Imports nothing new, so that it lists only what the smoke use imported.
SERVED_CHECK = """
from importlib.machinery import SourceFileLoader, SourcelessFileLoader
plain_loaded = sorted(name for name, m in sys.modules.items()
    if type(getattr(getattr(m, "__spec__", None), "loader", None))
       in (SourceFileLoader, SourcelessFileLoader)
    and name not in STARTUP and not name.startswith("pycds"))
print(repr(plain_loaded))
"""


@pytest.mark.parametrize("package", sorted(SMOKE))
def test_package_served_whole_with_same_output(package: str, tmp_path: Path) -> None:
    pytest.importorskip(package)
    script = tmp_path / "smoke.py"
    script.write_text("import sys\nSTARTUP = set(sys.modules)\n" + SMOKE[package])
    built = build(tmp_path, [str(script)])
    plain = built.plain([str(script)])
    shared = built.share([str(script)], verbose="0")
    assert shared.stdout == plain.stdout
    assert shared.stdout.strip()

    # Every module imported from a file after start-up was served.
    check = tmp_path / "check.py"
    check.write_text(script.read_text() + SERVED_CHECK)
    last = built.share([str(check)], verbose="0").stdout.splitlines()[-1]
    not_served = ast.literal_eval(last)
    assert not_served == []
