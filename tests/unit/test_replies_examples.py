"""extract_reply over the realistic examples in replies_examples/ (the bench's own corpus).

Each example is a raw message (NAME.eml) or a plain body (NAME.txt), with the answer the resident
should get (NAME.reply.txt) and lines of quoted history that must not reach them (NAME.quoted.txt).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from text311.replies import extract_reply

EXAMPLES = Path(__file__).parent / "replies_examples"
MESSAGES = sorted(
    p
    for p in EXAMPLES.iterdir()
    if p.suffix in (".eml", ".txt") and not p.name.endswith((".reply.txt", ".quoted.txt"))
)


def _extract(path: Path) -> str:
    return extract_reply(path.read_bytes() if path.suffix == ".eml" else path.read_text(encoding="utf-8"))


def _label(path: Path, kind: str) -> str:
    return path.with_name(f"{path.stem}.{kind}.txt").read_text(encoding="utf-8")


def test_examples_cover_the_clients_agents_use() -> None:
    names = " ".join(p.stem for p in MESSAGES)

    assert len(MESSAGES) >= 30
    for client in ("gmail", "outlook", "apple_mail", "iphone", "thunderbird", "_fr", "html_only", "thanks"):
        assert client in names


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: p.stem)
def test_extracts_expected_answer_from_example(path: Path) -> None:
    got = _extract(path)

    assert " ".join(got.split()) == " ".join(_label(path, "reply").split())


@pytest.mark.parametrize("path", MESSAGES, ids=lambda p: p.stem)
def test_leaks_no_quoted_line_from_example(path: Path) -> None:
    got = " ".join(_extract(path).split())

    for line in filter(str.strip, _label(path, "quoted").splitlines()):
        assert " ".join(line.split()) not in got
