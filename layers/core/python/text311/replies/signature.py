"""Cut what an agent's mail client or habits append below the answer: signatures and disclaimers.

Each rule cuts from a line to the end of the text, and only when what is cut looks like a signature
(short lines: a name, a title, a phone number, a department) or a disclaimer block, and something
remains above it, so an answer that is only "Thanks!" stays whole.
"""

from __future__ import annotations

import re

_DELIMITER = re.compile(r"\s*(-{2,3}|—|__)\s*")
# "-Roman", "- Lev." closing the text: a name signed with a dash.
_DASH_NAME = re.compile(r"\s*[-—]{1,3}\s*([A-Za-zÀ-ÿ][\w.'-]*|[A-ZÀ-Ý][\w.'-]*(\s+[A-ZÀ-Ý][\w.'-]*){1,2})\s*")
# Devices and apps that sign for the sender, in English and French.
_DEVICE = re.compile(
    r"\s*(sent\s+(from|via|with|using)\s|sent\s+wirelessly\s|envoy[ée]\s+sans\s+fil\s|enviado\s+desde\s|envoy[ée]\s+(de|depuis|à\s+partir\s+de|avec|via)\s|"
    r"get\s+outlook\s+for\s|obtenir\s+outlook\s+pour\s|t[ée]l[ée]charge[rz]\s+outlook\s|"
    r"sent\s+from\s+my\s|envoy[ée]\s+de\s+mon\s|provenance\s*:\s*courrier\s+pour\s+windows).{0,80}",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"\s*\**\s*(confidentiality\s+notice|confidential(ity)?\s*:|avis\s+de\s+confidentialit[ée]|"
    r"avis\s+de\s+non-responsabilit[ée]|avertissement\s*:|disclaimer\s*:|"
    r"please\s+consider\s+the\s+environment|pensez\s+[àa]\s+l'environnement|"
    # "This e-mail may contain confidential…", "Ce courriel et les pièces jointes sont confidentiels…"
    r"(this|ce|cette|le\s+pr[ée]sent)\b[^.]{0,120}\b(confidential|confidentiel|privileged|privil[ée]gi)|"
    # "The information in this email is confidential…", "L'information contenue dans ce courriel est confidentielle…"
    r"(the\s+information|the\s+contents?|l['’]information|les\s+(renseignements|informations))\b[^.]{0,80}"
    r"\b(e-?mail|message|courriel|communication|transmission)\b[^.]{0,80}\b(confidential|confidentiel|privileged|"
    r"privil[ée]gi)|"
    # "If you received this email in error…", "Si vous avez reçu ce courriel par erreur…" (a mail, not
    # "this notice" or "this ticket", which an answer talks about)
    r"(if\s+you\s+(have\s+)?received\s+this\s+(e-?mail|message|communication|transmission)|"
    r"si\s+vous\s+avez\s+re[çc]u\s+(ce|cette)\s+(courriel|message|communication|transmission|"
    r"courrier\s+[ée]lectronique))\b[^.]{0,80}"
    r"\b(in\s+error|by\s+mistake|par\s+erreur))",
    re.IGNORECASE,
)
# What every sentence of a disclaimer block talks about; "An inspector will call you tomorrow." does not.
_BOILERPLATE = re.compile(
    r"confidenti|privil[eèé]g|intended|addressee|recipient|destinataire|exp[ée]diteur|\bsender\b|"
    r"in\s+error|by\s+mistake|par\s+erreur|prohibit|interdit|unauthori[sz]ed|non\s+autoris|disclos|"
    r"divulg|dissemination|distribution|copying|\bvirus|environ?ment|imprim|printing|attachments?\b|"
    r"pi[èe]ces?\s+jointes?|\bdelete\b|supprim|d[ée]trui|liabilit|responsabilit|\blegal|l[ée]gal",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SIGN_OFF = re.compile(
    r"\s*(thanks|thank\s+you|many\s+thanks|thx|cheers|regards|best|best\s+regards|kind\s+regards|"
    r"warm\s+regards|sincerely|respectfully|yours\s+truly|take\s+care|merci|merci\s+beaucoup|"
    r"merci\s+encore|cordialement|bien\s+cordialement|salutations(\s+distingu[ée]es)?|"
    r"bien\s+[àa]\s+vous|au\s+plaisir|bonne\s+(journ[ée]e|fin\s+de\s+journ[ée]e|soir[ée]e)|"
    r"[àa]\s+bient[ôo]t|amicalement|meilleures\s+salutations)\s*[,.!]*\s*",
    re.IGNORECASE,
)
_PHONE = r"\+?\d[\d\s().-]{7,}\d"
_EMAIL = r"[\w.+-]+@[\w-]+\.[\w.-]+"
_CONTACT = re.compile(
    rf"({_PHONE}|{_EMAIL}|https?://|www\.|\b(t[ée]l|tel|phone|fax|cell|"
    r"mobile|poste|ext|office|bureau)\b\.?\s*[:.]?)",
    re.IGNORECASE,
)
_TITLE = re.compile(
    r"\b(ville|city|town|municipalit[ée]|h[ôo]tel\s+de\s+ville|city\s+hall|service|services|department|"
    r"d[ée]partement|direction|division|bureau|office|travaux\s+publics|public\s+works|agent|agente|"
    r"conseill[eè]re?|coordonnat(eur|rice)|coordinator|directeur|directrice|director|manager|"
    r"supervisor|superviseur|technicien(ne)?|technician|clerk|greffi[eè]re?|inspect(eur|rice|or)|"
    r"responsable|analyst|analyste|mairie|arrondissement|borough|rue|street|avenue|boulevard|suite)\b",
    re.IGNORECASE,
)
# "Bonjour Madame,", "Hi Marie,", "Hello there:": a salutation, at most a few names, and the comma or
# colon that announces the answer. "Hello" or "Hi!" alone may be the whole answer (a test ping) and stays.
_GREETING = re.compile(
    r"(bonjour|bonsoir|rebonjour|salut|all[ôo]|hello|hi|hey|dear|greetings|good\s+(morning|afternoon|evening|day))"
    r"(\s+([A-ZÀ-Ý][\w.'’-]*|madame|monsieur|mesdames|messieurs|[àa]\s+tous|there|all|everyone|team)){0,4}"
    r"\s*[,:]",
    re.IGNORECASE,
)
_MAX_SIGNATURE_LINES = 10
# A municipal signature, bilingual, runs longer: allowed when most of its lines are titles and contacts.
_MAX_CONTACT_BLOCK_LINES = 16
_MAX_SIGNATURE_LINE = 70


def _body(lines: list[str]) -> list[str]:
    return [line.strip() for line in lines if line.strip()]


def _looks_like_signature(lines: list[str]) -> bool:
    """Short lines of names, titles and contacts, not sentences of an answer."""
    body = _body(lines)
    evidence = [bool(_CONTACT.search(line) or _TITLE.search(line) or _DEVICE.fullmatch(line)) for line in body]
    limit = _MAX_CONTACT_BLOCK_LINES if 2 * sum(evidence) >= len(body) else _MAX_SIGNATURE_LINES
    if len(body) > limit:
        return False
    for line, contact in zip(body, evidence, strict=True):
        if contact:
            continue
        # A sentence (long, or ending in ? or a full stop after many words) is part of the answer.
        if _reads_as_sentence(line) or len(line.split()) > 6:
            return False
    return True


def _reads_as_sentence(line: str) -> bool:
    return len(line) > _MAX_SIGNATURE_LINE or line.endswith("?") or (len(line.split()) > 3 and line.endswith("."))


def _has_content_above(lines: list[str], index: int) -> bool:
    return any(line.strip() for line in lines[:index])


def _cut_disclaimer(lines: list[str]) -> list[str]:
    """From a disclaimer's first line, only when everything from there to the end is boilerplate."""
    for i, line in enumerate(lines):
        if i and _DISCLAIMER.match(line) and _has_content_above(lines, i) and _is_boilerplate(lines[i:]):
            return lines[:i]
    return lines


def _is_boilerplate(lines: list[str]) -> bool:
    """Paragraphs of disclaimer sentences, signature lines and sign-offs, and no sentence of an answer:
    "…restent confidentiels. Un inspecteur vous appellera demain." is an answer, whatever its first words."""
    for paragraph in "\n".join(lines).split("\n\n"):
        body = _body(paragraph.splitlines())
        # A title word makes a line signature-like, so "Un inspecteur vous appellera demain." is read as
        # a sentence first.
        if not body or (_looks_like_signature(body) and not any(map(_reads_as_sentence, body))):
            continue
        for sentence in _SENTENCE_END.split(" ".join(body)):
            if not (_BOILERPLATE.search(sentence) or _SIGN_OFF.fullmatch(sentence)):
                return False
    return True


def _cut_delimiter(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if _DELIMITER.fullmatch(line) and _has_content_above(lines, i):
            if len(_body(lines[i + 1 :])) <= _MAX_SIGNATURE_LINES:
                return lines[:i]
    return lines


def _cut_device(lines: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if _DEVICE.fullmatch(line) and _has_content_above(lines, i) and _looks_like_signature(lines[i + 1 :]):
            return lines[:i]
    return lines


def _cut_dash_name(lines: list[str]) -> list[str]:
    body = [i for i, line in enumerate(lines) if line.strip()]
    if len(body) < 2 or not _DASH_NAME.fullmatch(lines[body[-1]]):
        return lines
    # "- gravel" under "- sand" is the end of a list, not a signature.
    above = lines[body[-2]].strip()
    if above.startswith(("-", "—", "*", "•")) or above.endswith(":"):
        return lines
    return lines[: body[-1]]


def _cut_sign_off(lines: list[str]) -> list[str]:
    """From the last sign-off ("Merci,", "Regards,") when only a signature block follows it."""
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if not _SIGN_OFF.fullmatch(line) or not _has_content_above(lines, i):
            continue
        rest = lines[i + 1 :]
        # "Thanks!" closing the answer with nothing under it is part of what the resident should read.
        if not _body(rest) and line.strip().endswith("!"):
            return lines
        if _looks_like_signature(rest):
            return lines[:i]
        return lines
    return lines


def _cut_name_block(lines: list[str]) -> list[str]:
    """A trailing block "Name / Title / City / phone" with no sign-off above it, or two when the upper
    one repeats it (the same phone or address: one signature per language). Two different blocks are
    contacts the answer lists (two depots, two people to call), not a signature: both stay."""
    blocks = "\n".join(lines).rstrip().split("\n\n")
    if len(blocks) < 2 or not _is_name_block(blocks[-1]):
        return lines
    # "Drop it off at:" above "Depot / 12 Main Street": the answer announces the block, it is no signature.
    if blocks[-2].rstrip().endswith(":"):
        return lines
    keep = len(blocks) - 1
    if _is_name_block(blocks[-2]):
        if not _contacts(blocks[-2]) & _contacts(blocks[-1]):
            return lines
        if len(blocks) == 2 or blocks[-3].rstrip().endswith(":"):
            return lines
        keep -= 1
    return "\n\n".join(blocks[:keep]).splitlines()


def _contacts(block: str) -> set[str]:
    """The phone numbers (digits only) and addresses of a block, to tell a repeated signature."""
    phones = {re.sub(r"\D", "", m) for m in re.findall(_PHONE, block)}
    emails = {m.lower() for m in re.findall(_EMAIL, block)}
    return phones | emails


def _is_name_block(block: str) -> bool:
    last = block.splitlines()
    body = _body(last)
    contacts = sum(1 for line in body if _CONTACT.search(line) or _TITLE.search(line))
    return len(body) >= 2 and contacts >= 1 and _looks_like_signature(last) and _looks_like_name(body[0])


def _looks_like_name(line: str) -> bool:
    """"Jean Roy", "Tremblay, Marie", or a name with a credential after a comma ("Marie-Ève Lavoie, urb.")."""
    return _capitalised_words(line.replace(",", " ")) or _capitalised_words(line.partition(",")[0])


def _capitalised_words(text: str) -> bool:
    words = text.split()
    return 1 <= len(words) <= 4 and all(w[:1].isupper() for w in words if w[:1].isalpha())


def is_greeting_only(text: str) -> bool:
    """Only a salutation ("Bonjour,", "Hi Marie,") or a dangling "Merci,": the answer itself is missing."""
    body = _body(text.splitlines())
    return bool(body) and all(
        _GREETING.fullmatch(line) or (_SIGN_OFF.fullmatch(line) and line.endswith(",")) for line in body
    )


def strip_signature(text: str) -> str:
    """Cut signatures, device lines and disclaimers from the end of an answer."""
    lines = text.splitlines()
    for cut in (_cut_disclaimer, _cut_delimiter, _cut_device, _cut_dash_name, _cut_sign_off, _cut_name_block):
        lines = cut(lines)
        while lines and not lines[-1].strip():
            lines.pop()
    return "\n".join(lines)
