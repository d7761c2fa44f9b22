"""One agent's email address: the rule every transfer, allow-list entry and stored owner must pass.

An owner becomes the To of the city's mail, so a value that holds more than one address (a list,
a display name, a header folded in by CR/LF, a second ``@``) would send a resident's text to
someone else or break every later mail of the thread. Only a bare ``local@domain`` is accepted:
a dot-atom local part and a host name of letters, digits and hyphens, ASCII only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# RFC 5322 atext: what a local part may hold without quoting (quoted local parts are refused).
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_LIST = frozenset(",;")
_NAME = frozenset('<>"()[]\\:') | frozenset(" \t")


class AddressRefused(ValueError):
    """Not one agent's address; the message says why, for the console and the CLI."""


def single_address(raw: str) -> str:
    """``raw`` as one bare address, lower-cased, or :class:`AddressRefused`."""
    if "\r" in raw or "\n" in raw:
        raise AddressRefused("an address cannot hold a line break")
    address = raw.strip()
    if not address:
        raise AddressRefused("an email address is required")
    if _LIST.intersection(address):
        raise AddressRefused("exactly one address is allowed: no comma or semicolon")
    if _NAME.intersection(address):
        raise AddressRefused("only the bare address is allowed, like name@city.ca: no display name")
    if address.count("@") != 1:
        raise AddressRefused(f"{address!r} is not one address: it must hold exactly one @")
    local, _, domain = address.partition("@")
    labels = domain.split(".")
    if (len(address) > 254 or len(local) > 64 or not _LOCAL.match(local)
            or len(labels) < 2 or not all(_LABEL.match(label) for label in labels)):
        raise AddressRefused(f"{address!r} is not a valid email address")
    return address.lower()


def on_allow_list(address: str, allow_list: Iterable[str]) -> bool:
    """Whether the bare ``address`` is an entry of ``allow_list`` or in one of its "@domain" entries."""
    domain = address.rpartition("@")[2]
    for entry in (e.strip().lower() for e in allow_list):
        bare = entry.lstrip("@")
        if ("@" in bare and bare == address) or ("@" not in bare and bare == domain):
            return True
    return False


def agent_address(raw: str, allow_list: Iterable[str]) -> str:
    """``raw`` as one address the city's allow-list names (by address or domain), or :class:`AddressRefused`."""
    address = single_address(raw)
    if not on_allow_list(address, allow_list):
        raise AddressRefused(f"{address} is not an agent of this city: it is not on the city's allow-list")
    return address
