"""Reply extraction bench (issue 6): ours beside talon and email_reply_parser, on the same corpora.

    .venv/bin/python bench/replies.py [--refresh]

Set-up (cached under .bench-cache/, gitignored, reused on the next run):

- ``pip download`` the sdists of talon 1.4.4 and email-reply-parser 0.5.12 and unpack them; their
  fixtures are read from there at bench time and never copied into the repository;
- a separate venv (``venv-talon``) with talon and email_reply_parser: talon needs lxml, cchardet,
  numpy and scikit-learn, which the Lambda must not carry. If talon's full install fails, talon is
  installed without dependencies plus the modules its quotation and bruteforce-signature code imports.

Corpora:

- ``public``: labelled from the talon sdist's tests, by code (below), not by hand: the
  ``standard_replies/*.eml`` with their ``*_reply_text`` (or the test's default "Hello"); every
  ``eq_(EXPECTED, quotations.extract_from_plain(BODY))`` and ``extract_from_html`` assertion whose
  arguments are string literals or names bound to them; the ``html_replies`` files with the
  expected text of ``extract_reply_and_check``; the bruteforce signature assertions. The
  email-reply-parser sdist ships its test module but not its ``test/emails/*.txt``, so it adds no
  messages (it is still run as an extractor).
  Two labels are Text311's, not talon's (``POLICY_LABELS``): talon keeps a forwarded message whole, while
  only the note above a forward may reach a resident's phone.
- ``own``: the realistic examples in tests/unit/replies_examples/ (``NAME.eml`` or ``NAME.txt``, with
  ``NAME.reply.txt`` the expected answer and ``NAME.quoted.txt`` lines of quoted history).

Scores, after normalising whitespace (every run of whitespace becomes one space; for talon's HTML
assertions, which compare with all whitespace removed, whitespace is removed entirely):

- ``strict``: the output equals the expected text. talon's quotation labels keep the sender's
  signature ("Sent from my iPhone", "Thanks,\\nAlex") because those tests do not strip signatures;
  where talon's own bruteforce signature extractor finds a signature at the end of a label, the
  label with or without it is accepted, so neither convention is penalised.
- ``lenient``: every required line of the expected text (the label without that optional
  signature) occurs in the output as a run of words (letters and digits, case-folded, so bullets,
  punctuation and wrapping do not matter; for talon's whitespace-free HTML labels, as a substring
  once whitespace is removed), and nothing leaked. Extra text (a kept signature) is allowed.
- ``leak``: the output contains a line of quoted history. Quoted lines are the lines of the input
  (``>`` markers removed) that are not part of the expected text, with at least 3 letters or digits
  and not a substring of the expected text; for our own examples they are listed in NAME.quoted.txt.
  A quoted line leaks when it equals a line of the output, or when it has 10 characters or more
  and occurs anywhere in the output.
"""

from __future__ import annotations

import argparse
import ast
import base64
import json
import re
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench-cache" / "replies"
VENV = ROOT / ".bench-cache" / "venv-talon"
EXAMPLES = ROOT / "tests" / "unit" / "replies_examples"
SDISTS = {"talon": "1.4.4", "email-reply-parser": "0.5.12"}
TALON_IMPORTS = ("lxml", "regex", "chardet", "cchardet", "cssselect", "html5lib", "six")
EXTRACTORS = ("talon", "talon_quotes", "email_reply_parser", "ours")

Item = dict[str, Any]


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- set-up


def run(command: list[str], what: str) -> None:
    progress(what)
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{what} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def fetch_sdists(refresh: bool) -> dict[str, Path]:
    """Download and unpack the two sdists; returns each project's unpacked folder."""
    downloads = CACHE / "sdists"
    wanted = [f"{name}=={version}" for name, version in SDISTS.items()]
    if refresh or len(list(downloads.glob("*.tar.gz"))) < len(SDISTS):
        pip = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-d",
            str(downloads),
        ]
        run([*pip, *wanted], "pip download " + " ".join(wanted))
    folders = {}
    for archive in downloads.glob("*.tar.gz"):
        target = CACHE / "src"
        folder = target / archive.name.removesuffix(".tar.gz")
        if refresh or not folder.exists():
            with tarfile.open(archive) as tar:
                tar.extractall(target, filter="data")
        project = "talon" if archive.name.startswith("talon") else "email-reply-parser"
        folders[project] = folder
    return folders


def venv_python() -> Path:
    return VENV / "bin" / "python"


def venv_ready() -> bool:
    if not venv_python().exists():
        return False
    return subprocess.run([str(venv_python()), __file__, "--probe"], capture_output=True).returncode == 0


def make_venv(folders: dict[str, Path], refresh: bool) -> None:
    """A venv of its own for talon: its C and ML dependencies stay out of the project's venv."""
    if not refresh and venv_ready():
        return
    run([sys.executable, "-m", "venv", "--clear", str(VENV)], "create .bench-cache/venv-talon")
    pip = [str(venv_python()), "-m", "pip", "install", "--quiet"]
    try:
        run(
            [*pip, f"talon=={SDISTS['talon']}"],
            "pip install talon (with numpy, scipy, scikit-learn: a minute)",
        )
    except RuntimeError as error:
        # cchardet has no wheel for some Pythons: quotations and bruteforce need only these modules.
        progress(f"full talon install failed, installing --no-deps plus its imports ({error!s:.80})")
        run([*pip, "--no-deps", f"talon=={SDISTS['talon']}"], "pip install talon --no-deps")
        run([*pip, *TALON_IMPORTS[:3], *TALON_IMPORTS[4:]], "pip install talon's imports")
    run([*pip, str(folders["email-reply-parser"])], "pip install email_reply_parser from its sdist")


# ------------------------------------------------------------------------ labels derived from talon's tests


class _TextNodes(HTMLParser):
    """The text nodes of an HTML fragment, used to label HTML cases (never to extract)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skip += tag in ("style", "script", "head", "title")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("style", "script", "head", "title") and self.skip > 0

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.nodes.append(" ".join(data.split()))


def text_nodes(html: str) -> list[str]:
    parser = _TextNodes()
    parser.feed(html)
    parser.close()
    return parser.nodes


def _call_name(node: ast.AST) -> str:
    """``quotations.extract_from_plain`` → ``extract_from_plain``; ``eq_`` → ``eq_``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


class _Evaluator:
    """Evaluate the few expression shapes talon's tests use to build their bodies and expectations."""

    def __init__(self, env: dict[str, Any]) -> None:
        self.env = env

    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.env.get(node.id)
        if isinstance(node, ast.Tuple):
            return tuple(self.value(element) for element in node.elts)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.value(node.left), self.value(node.right)
            return left + right if isinstance(left, str) and isinstance(right, str) else None
        if isinstance(node, ast.Call):
            return self._call(node)
        return None

    def _call(self, node: ast.Call) -> Any:
        name = _call_name(node)
        if name in ("extract_from_plain", "extract_from_html", "extract_signature") and node.args:
            return (name, self.value(node.args[0]))
        if name == "sub" and len(node.args) == 2:  # RE_WHITESPACE.sub('', x): compared without whitespace
            inner = self.value(node.args[1])
            return ("nows", inner) if inner is not None else None
        if name in ("decode", "encode") and isinstance(node.func, ast.Attribute):
            inner = self.value(node.func.value)
            if isinstance(inner, bytes):
                return inner.decode("utf-8")
            return inner
        return None


def _fixture_names(tests: Path) -> dict[str, str]:
    """Names bound in tests/fixtures/__init__.py: ``with open(path) as f: NAME = f.read()``."""
    env: dict[str, str] = {}
    source = (tests / "fixtures" / "__init__.py").read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.With):
            call = node.items[0].context_expr
            first = call.args[0] if isinstance(call, ast.Call) and call.args else None
            path = first.value if isinstance(first, ast.Constant) else None
            for statement in node.body:
                if isinstance(statement, ast.Assign) and isinstance(path, str):
                    target = statement.targets[0]
                    if isinstance(target, ast.Name):
                        env[target.id] = (tests.parent / path).read_text(encoding="utf-8")
    return env


def _assertions(source: str, env: dict[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """(test name, expected, actual) for each ``eq_`` in an undecorated test function, in order."""
    for function in ast.parse(source).body:
        if not isinstance(function, ast.FunctionDef) or not function.name.startswith("test_"):
            continue
        if function.decorator_list:  # patched tests exercise limits, not extraction
            continue
        evaluator = _Evaluator(dict(env))
        for statement in function.body:
            if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name):
                evaluator.env[statement.targets[0].id] = evaluator.value(statement.value)
            elif isinstance(statement, ast.Expr) and _call_name(statement.value) == "eq_":
                args = statement.value.args  # type: ignore[attr-defined]
                if len(args) >= 2:
                    yield function.name, evaluator.value(args[0]), evaluator.value(args[1])


def _significant(line: str) -> bool:
    return len(re.findall(r"\w", line)) >= 3


def collapse(text: str) -> str:
    return " ".join(text.split())


def quoted_lines(source_lines: list[str], expected: str) -> list[str]:
    """Lines of the input that are not the expected answer: the history a leak would show."""
    wanted = collapse(expected)
    out = []
    for line in source_lines:
        line = collapse(re.sub(r"^[\s>]+", "", line))
        if _significant(line) and line not in wanted:
            out.append(line)
    return out


def _plain_item(ident: str, body: str, expected: str) -> Item:
    quoted = quoted_lines(body.splitlines(), expected)
    return {
        "id": ident,
        "kind": "plain",
        "input": body,
        "expected": expected,
        "quoted": quoted,
        "nows": False,
    }


def _html_item(ident: str, body: str, expected_html: str, nows: bool) -> Item:
    expected = "\n".join(text_nodes(expected_html))
    quoted = quoted_lines(text_nodes(body), expected)
    return {"id": ident, "kind": "html", "input": body, "expected": expected, "quoted": quoted, "nows": nows}


def talon_text_items(tests: Path) -> list[Item]:
    items = []
    source = (tests / "text_quotations_test.py").read_text(encoding="utf-8")
    for n, (name, expected, actual) in enumerate(_assertions(source, {})):
        if isinstance(actual, tuple) and actual[0] == "extract_from_plain" and isinstance(expected, str):
            if isinstance(actual[1], str):
                items.append(_plain_item(f"talon/text/{name}#{n}", actual[1], expected))
    return items


def talon_html_items(tests: Path) -> list[Item]:
    items = []
    source = (tests / "html_quotations_test.py").read_text(encoding="utf-8")
    for n, (name, expected, actual) in enumerate(_assertions(source, _fixture_names(tests))):
        if not (isinstance(actual, tuple) and actual[0] == "nows" and isinstance(actual[1], tuple)):
            continue
        call, body = actual[1]
        expected_html = expected[1] if isinstance(expected, tuple) else expected
        if (
            call == "extract_from_html"
            and isinstance(body, str)
            and body.strip()
            and isinstance(expected_html, str)
        ):
            items.append(_html_item(f"talon/html/{name}#{n}", body, expected_html, nows=True))
    items.extend(_talon_html_files(tests, source))
    return items


def _talon_html_files(tests: Path, source: str) -> list[Item]:
    """``extract_reply_and_check(path)``: each file's expected text is the helper's literal."""
    tree = ast.parse(source)
    helper = next(
        f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == "extract_reply_and_check"
    )
    literal = next(
        n.value
        for n in ast.walk(helper)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and "\n" in n.value
    )
    items = []
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef):
            continue
        for call in ast.walk(function):
            arg = call.args[0] if isinstance(call, ast.Call) and call.args else None
            if (
                isinstance(call, ast.Call)
                and _call_name(call) == "extract_reply_and_check"
                and isinstance(arg, ast.Constant)
            ):
                path = tests.parent / str(arg.value)
                body = path.read_text(encoding="utf-8")
                item = _html_item(f"talon/html_replies/{path.name}", body, "", nows=True)
                item["expected"], item["quoted"] = literal, quoted_lines(text_nodes(body), literal)
                items.append(item)
    return items


def talon_signature_items(tests: Path) -> list[Item]:
    items = []
    source = (tests / "signature" / "bruteforce_test.py").read_text(encoding="utf-8")
    for n, (name, expected, actual) in enumerate(_assertions(source, {})):
        if isinstance(actual, tuple) and actual[0] == "extract_signature" and isinstance(expected, tuple):
            if isinstance(actual[1], str) and isinstance(expected[0], str) and actual[1].strip():
                items.append(
                    _plain_item(f"talon/signature/{name}#{n}", actual[1], expected[0]) | {"quoted": []}
                )
    return items


def talon_standard_items(tests: Path) -> list[Item]:
    """The .eml standard replies; as in talon's test, the label defaults to "Hello"."""
    from email import message_from_bytes

    items = []
    folder = tests / "fixtures" / "standard_replies"
    for path in sorted(folder.glob("*.eml")):
        raw = path.read_bytes()
        label = path.with_name(path.stem + "_reply_text")
        expected = label.read_text(encoding="utf-8").strip() if label.exists() else "Hello"
        message = message_from_bytes(raw)
        plain = next((p for p in message.walk() if p.get_content_type() == "text/plain"), None)
        body = decoded(plain)
        items.append(
            _eml_item(f"talon/standard/{path.name}", raw, expected, quoted_lines(body.splitlines(), expected))
        )
    return items


def decoded(part: Message | None) -> str:
    """A part's text: its declared charset, else utf-8, else windows-1252 (what mail clients mean)."""
    payload = part.get_payload(decode=True) if part is not None else None
    if part is None or not isinstance(payload, bytes):
        return ""
    declared = part.get_content_charset()
    for charset in ((declared,) if declared else ()) + ("utf-8", "windows-1252"):
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("latin-1")


def _eml_item(ident: str, raw: bytes, expected: str, quoted: list[str]) -> Item:
    encoded = base64.b64encode(raw).decode()
    return {
        "id": ident,
        "kind": "eml",
        "input": encoded,
        "expected": expected,
        "quoted": quoted,
        "nows": False,
    }


# Where Text311's rule differs from talon's on purpose, the label says what Text311 must send. talon keeps
# a forwarded message whole; a forward must never reach a resident's phone (issue 17): only the note above
# it goes, and a bare forward sends nothing.
POLICY_LABELS = {
    "talon/text/test_dont_parse_quotations_for_forwarded_messages": "FYI",
    "talon/html/test_gmail_forwarded_msg": "",
}


def with_policy_label(item: Item) -> Item:
    """The item relabelled by POLICY_LABELS (its quoted lines recomputed against the new label)."""
    expected = POLICY_LABELS.get(item["id"].partition("#")[0])
    if expected is None:
        return item
    source = text_nodes(item["input"]) if item["kind"] == "html" else item["input"].splitlines()
    return item | {"expected": expected, "quoted": quoted_lines(source, expected), "relabelled": True}


def public_corpus(talon_folder: Path) -> list[Item]:
    tests = talon_folder / "tests"
    builders: list[Callable[[Path], list[Item]]] = [
        talon_standard_items, talon_text_items, talon_html_items, talon_signature_items,
    ]  # fmt: skip
    return [with_policy_label(item) for build in builders for item in build(tests)]


def own_corpus() -> list[Item]:
    items = []
    for path in sorted(EXAMPLES.iterdir()):
        if path.suffix not in (".eml", ".txt") or path.name.endswith((".reply.txt", ".quoted.txt")):
            continue
        expected = path.with_name(path.stem + ".reply.txt").read_text(encoding="utf-8").strip()
        quoted_file = path.with_name(path.stem + ".quoted.txt")
        quoted = [line for line in quoted_file.read_text(encoding="utf-8").splitlines() if line.strip()]
        if path.suffix == ".eml":
            items.append(_eml_item(f"own/{path.name}", path.read_bytes(), expected, quoted))
        else:
            body = path.read_text(encoding="utf-8")
            item = {"id": f"own/{path.name}", "kind": "plain", "input": body}
            items.append(item | {"expected": expected, "quoted": quoted, "nows": False})
    return items


# ----------------------------------------------------------------- worker: runs inside venv-talon


def import_talon() -> tuple[Any, Any, Any, Any]:
    """talon's quotations, bruteforce signature and html_to_text, and email_reply_parser.

    ``talon.signature/__init__`` loads the ML classifier (``sklearn.externals.joblib``, gone from
    scikit-learn since 0.23): a bare package object stands in for it so the bruteforce module loads.
    """
    import types

    import talon  # type: ignore[import-not-found]

    package = types.ModuleType("talon.signature")
    package.__path__ = [str(Path(talon.__file__).parent / "signature")]
    sys.modules["talon.signature"] = package
    from email_reply_parser import EmailReplyParser  # type: ignore[import-not-found]
    from talon import quotations  # type: ignore[import-not-found]
    from talon.signature import bruteforce  # type: ignore[import-not-found]
    from talon.utils import html_to_text  # type: ignore[import-not-found]

    talon.init()  # registers the XPath functions extract_from_html needs; ML is off (import failed above)
    return quotations, bruteforce, html_to_text, EmailReplyParser


def worker(source: Path, target: Path) -> None:
    """Run talon and email_reply_parser over the corpus (imports only what that venv has)."""
    import email

    quotations, bruteforce, html_to_text, reply_parser = import_talon()

    def as_text(html: str) -> str:
        text = html_to_text(html) if html.strip() else ""
        return text.decode("utf-8") if isinstance(text, bytes) else (text or "")

    def body_of(item: Item) -> tuple[str, str]:
        if item["kind"] != "eml":
            return item["kind"], item["input"]
        message = email.message_from_bytes(base64.b64decode(item["input"]))
        parts = {p.get_content_type(): p for p in reversed(list(message.walk())) if not p.is_multipart()}
        part = parts.get("text/plain") or parts.get("text/html")
        text = decoded(part)
        return ("plain" if part is parts.get("text/plain") else "html"), text

    results = []
    for item in json.loads(source.read_text()):
        kind, body = body_of(item)
        if kind == "html":
            quotes_only = as_text(quotations.extract_from_html(body))
            plain_body = as_text(body)
        else:
            quotes_only, plain_body = quotations.extract_from_plain(body), body
        quotes_only = quotes_only.decode("utf-8") if isinstance(quotes_only, bytes) else quotes_only
        results.append({
            "talon": bruteforce.extract_signature(quotes_only)[0],
            "talon_quotes": quotes_only,
            "email_reply_parser": reply_parser.parse_reply(plain_body),
            "label_signature": bruteforce.extract_signature(item["expected"])[1] or "",
        })  # fmt: skip
    target.write_text(json.dumps(results))


def run_worker(items: list[Item]) -> list[dict[str, str]]:
    source, target = CACHE / "corpus.json", CACHE / "talon-results.json"
    source.write_text(json.dumps(items))
    run(
        [str(venv_python()), __file__, "--worker", str(source), str(target)],
        f"talon + email_reply_parser on {len(items)} messages",
    )
    return json.loads(target.read_text())


def run_ours(items: list[Item]) -> list[str]:
    from text311.replies import extract_reply

    outputs = []
    for item in items:
        if item["kind"] == "eml":
            outputs.append(extract_reply(base64.b64decode(item["input"])))
        elif item["kind"] == "html":
            # HTML reaches us as a message, the way SES delivers it.
            outputs.append(
                extract_reply(b"Content-Type: text/html; charset=utf-8\n\n" + item["input"].encode())
            )
        else:
            outputs.append(extract_reply(item["input"]))
    return outputs


# ------------------------------------------------------------------------------------------- scoring


def _same(output: str, expected: str, nows: bool) -> bool:
    if nows:
        return re.sub(r"\s", "", output) == re.sub(r"\s", "", expected)
    return collapse(output) == collapse(expected)


def _without_signature(expected: str, signature: str) -> str:
    if signature and expected.rstrip().endswith(signature.strip()):
        return expected.rstrip()[: -len(signature.strip())]
    return expected


def words(text: str) -> str:
    """Letters and digits only, so bullets, punctuation and line wrapping do not count as content."""
    return " " + " ".join(re.findall(r"\w+", text.lower())) + " "


def leaked(output: str, quoted: list[str]) -> bool:
    lines = {collapse(re.sub(r"^[\s>]+", "", line)) for line in output.splitlines()}
    flat = collapse(output)
    return any(q in lines or (len(q) >= 10 and q in flat) for q in map(collapse, quoted))


def score(output: str, item: Item) -> dict[str, bool]:
    required = _without_signature(item["expected"], item.get("label_signature", ""))
    strict = _same(output, item["expected"], item["nows"]) or _same(output, required, item["nows"])
    squash = (lambda s: re.sub(r"\s", "", s)) if item["nows"] else words
    contained = all(squash(line) in squash(output) for line in required.splitlines() if squash(line).strip())
    leak = leaked(output, item["quoted"])
    return {"strict": strict, "lenient": contained and not leak, "leak": leak}


def table(
    items: list[Item], outputs: dict[str, list[str]], corpora: dict[str, Callable[[Item], bool]]
) -> str:
    header = f"{'corpus':<10}{'n':>5}  " + "".join(f"{name:>30}" for name in EXTRACTORS)
    sub = f"{'':<17}" + "".join(f"{'strict   lenient    leak':>30}" for _ in EXTRACTORS)
    rows = [header, sub]
    for corpus, member in corpora.items():
        chosen = [i for i, item in enumerate(items) if member(item)]
        cells = []
        for name in EXTRACTORS:
            marks = [score(outputs[name][i], items[i]) for i in chosen]
            cells.append(
                "".join(
                    f"{sum(m[k] for m in marks) / max(len(chosen), 1):>10.3f}"
                    for k in ("strict", "lenient", "leak")
                )
            )
        rows.append(f"{corpus:<10}{len(chosen):>5}  " + "".join(f"{c:>30}" for c in cells))
    return "\n".join(rows)


def failures(items: list[Item], outputs: dict[str, list[str]], name: str) -> list[str]:
    lines = []
    for i, item in enumerate(items):
        mark = score(outputs[name][i], item)
        if not mark["strict"]:
            verdict = "leak" if mark["leak"] else "lenient" if mark["lenient"] else "missing"
            lines.append(f"  {item['id']} ({verdict}): got {outputs[name][i][:150]!r}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refresh", action="store_true", help="download and install again")
    parser.add_argument("--failures", action="store_true", help="list the messages ours misses")
    parser.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        import_talon()
        return
    if args.worker:
        worker(*args.worker)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    folders = fetch_sdists(args.refresh)
    make_venv(folders, args.refresh)
    progress("derive labels from talon's tests; read tests/unit/replies_examples")
    items = public_corpus(folders["talon"]) + own_corpus()
    theirs = run_worker(items)
    for item, result in zip(items, theirs, strict=True):
        item["label_signature"] = result["label_signature"] if item["id"].startswith("talon/") else ""
    progress("ours")
    outputs = {name: [r[name] for r in theirs] for name in EXTRACTORS if name != "ours"}
    outputs["ours"] = run_ours(items)
    corpora: dict[str, Callable[[Item], bool]] = {
        "public": lambda item: item["id"].startswith("talon/"),
        "own": lambda item: item["id"].startswith("own/"),
        "all": lambda item: True,
    }
    print("Ratios of messages (strict, lenient: higher is better; leak: lower is better).")
    print("talon = quotations + bruteforce signature; talon_quotes = quotations only.\n")
    print(table(items, outputs, corpora))
    relabelled = [item["id"] for item in items if item.get("relabelled")]
    print(f"\n{len(relabelled)} talon labels replaced by Text311's rule for forwards (POLICY_LABELS): "
          + ", ".join(relabelled))
    if args.failures:
        print("\nours, not strict:\n" + "\n".join(failures(items, outputs, "ours")))


if __name__ == "__main__":
    main()
