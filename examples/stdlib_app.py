"""The bundled example: a small program that, like many command-line tools,
imports a good slice of the standard library before doing a little work."""

import argparse
import asyncio
import csv
import dataclasses
import datetime
import decimal
import email.message
import email.parser
import fractions
import http.client
import io
import json
import logging
import pathlib
import statistics
import string
import tarfile
import textwrap
import typing
import unittest
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
import zipfile


@dataclasses.dataclass(frozen=True)
class Row:
    name: str
    amount: decimal.Decimal


def main() -> None:
    parser = argparse.ArgumentParser(description="pycds demo program")
    parser.add_argument("--rows", type=int, default=5)
    args = parser.parse_args()

    rows = [Row(f"item{i}", decimal.Decimal(i) / 4) for i in range(args.rows)]
    buffer = io.StringIO()
    csv.writer(buffer).writerows((r.name, r.amount) for r in rows)
    doc = ET.fromstring("<a><b>1</b><b>2</b></a>")
    message = email.message.EmailMessage()
    message["Subject"] = "demo"
    summary = {
        "rows": len(buffer.getvalue().splitlines()),
        "total": str(sum(r.amount for r in rows)),
        "mean": statistics.mean(range(args.rows)),
        "xml": [b.text for b in doc.iter("b")],
        "url": urllib.parse.urlsplit("https://example.org/x?y=1").query,
        "fraction": str(fractions.Fraction(3, 12)),
        "subject": message["Subject"],
        "wrapped": textwrap.shorten(string.ascii_lowercase, width=12),
        "loop": asyncio.run(asyncio.sleep(0, result="ok")),
    }
    # Names used only so that their modules count as used by the program.
    _ = (datetime, email.parser, http.client, json, logging, pathlib, tarfile,
         typing, unittest, uuid, zipfile)
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
