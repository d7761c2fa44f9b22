"""GeoReport v2 documents in its two formats.

XML: schemaless, no namespace, the declaration with its encoding first; a list of records is a root
element holding one element per record (``<services><service>…``); an absent value is an empty
element, a boolean ``true``/``false``. JSON is the same document by the specification's "Spark
convention": the root element's records become a JSON array of objects (a service definition, one
record, an object), an absent value ``null``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree

FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
# Characters XML 1.0 cannot carry at all (a resident's text may hold a stray control character).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

Record = Mapping[str, Any]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _element(parent: ElementTree.Element, name: str, record: Record) -> None:
    node = ElementTree.SubElement(parent, name)
    for field, value in record.items():
        ElementTree.SubElement(node, field).text = _text(value)


def render_records(root: str, item: str, records: Sequence[Record], fmt: str) -> str:
    """``records`` as ``<root><item>…</item>…</root>`` or a JSON array."""
    if fmt == "json":
        return json.dumps(list(records), ensure_ascii=False)
    tree = ElementTree.Element(root)
    for record in records:
        _element(tree, item, record)
    return _DECLARATION + ElementTree.tostring(tree, encoding="unicode")


def render_errors(errors: Sequence[tuple[int, str]], fmt: str) -> str:
    """The specification's error document: ``errors`` of ``error`` with ``code`` and ``description``."""
    return render_records("errors", "error", [{"code": code, "description": text} for code, text in errors], fmt)


def render_definition(service_code: str, fmt: str) -> str:
    """A service definition with no attributes (a city's services define none of their own yet)."""
    if fmt == "json":
        return json.dumps({"service_code": service_code, "attributes": []}, ensure_ascii=False)
    tree = ElementTree.Element("service_definition")
    ElementTree.SubElement(tree, "service_code").text = _text(service_code)
    ElementTree.SubElement(tree, "attributes")
    return _DECLARATION + ElementTree.tostring(tree, encoding="unicode")
