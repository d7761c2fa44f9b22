"""extract_reply: what the agent newly wrote, from the mail clients agents use (English and French)."""

from __future__ import annotations

import pytest

from text311.replies import extract_reply, normalise

FR_ATTRIBUTION = "Le lun. 3 mars 2025 à 10:12, Text311 <reply+c9kq2@text311.ca> a écrit :"
EN_ATTRIBUTION = "On Mon, Mar 3, 2025 at 10:12 AM Text311 <reply+c7f3k@text311.ca> wrote:"
NOTICE = "> New message from a resident of Springfield:\n> The streetlight on Maple Street is out."


def message(body: bytes, content_type: str = "text/plain; charset=utf-8", cte: str = "8bit") -> bytes:
    head = "From: Agent <agent@city.example>\nSubject: Re: [Text311]\nMIME-Version: 1.0\n"
    head += f"Content-Type: {content_type}\nContent-Transfer-Encoding: {cte}\n\n"
    return head.encode() + body


def test_keeps_whole_body_when_there_is_no_quote() -> None:
    body = "Hello,\n\nYour pickup is Thursday.\nPut the items out the night before."

    assert extract_reply(body) == body


def test_keeps_thanks_when_it_is_the_whole_answer() -> None:
    body = f"Thanks!\n\n{EN_ATTRIBUTION}\n\n{NOTICE}"

    assert extract_reply(body) == "Thanks!"


def test_keeps_merci_when_it_is_the_whole_answer_from_an_iphone() -> None:
    body = f"Merci!\n\nEnvoyé de mon iPhone\n\n> {FR_ATTRIBUTION}\n>\n{NOTICE}"

    assert extract_reply(body) == "Merci!"


def test_cuts_sign_off_and_signature_block_when_short_lines_follow() -> None:
    body = (
        "A crew will replace the bulb on Tuesday.\n\nThanks,\nJohn Smith\nPublic Works, City of Springfield\n"
        f"(555) 555-0134\n\n{EN_ATTRIBUTION}\n{NOTICE}"
    )

    assert extract_reply(body) == "A crew will replace the bulb on Tuesday."


def test_keeps_sign_off_word_when_real_content_follows() -> None:
    body = "Merci,\nnous allons envoyer une équipe demain matin pour réparer le lampadaire et vérifier le reste."

    assert extract_reply(body) == body


def test_cuts_french_attribution_when_it_wraps_on_two_lines() -> None:
    body = (
        "Une équipe passera mardi.\n\nLe lun. 3 mars 2025 à 10:12, Text311 <reply+c9kq2@text311.ca> a\n"
        "écrit :\n\n> Le lampadaire est brisé."
    )

    assert extract_reply(body) == "Une équipe passera mardi."


def test_cuts_outlook_french_header_block_and_disclaimer() -> None:
    body = (
        "La réparation est prévue le 5 mars.\n\nCordialement,\nMarie Tremblay\nAgente, Travaux publics\n"
        "Ville de Gatineau\n819 555-1234, poste 2231\n\n"
        "AVIS DE CONFIDENTIALITÉ : Ce courriel est confidentiel.\n\n"
        "De : Text311 <reply+c9kq2@text311.ca>\nEnvoyé : 3 mars 2025 10:12\nÀ : Travaux publics\n"
        "Objet : [Text311] Lampadaire\n\nLe lampadaire est brisé."
    )

    assert extract_reply(body) == "La réparation est prévue le 5 mars."


def test_cuts_message_d_origine_and_device_line() -> None:
    body = (
        "Oui, la collecte est reportée à jeudi.\n\nEnvoyé depuis mon appareil Galaxy\n\n"
        "-------- Message d'origine --------\nDe : Text311 <reply+c4trm@text311.ca>\n"
        "Date : 2025-03-03 10:12\n\nBac"
    )

    assert extract_reply(body) == "Oui, la collecte est reportée à jeudi."


def test_cuts_original_message_separator() -> None:
    body = "Approved, pick it up at the desk.\n\n-----Original Message-----\nFrom: Text311\n\nIs it approved?"

    assert extract_reply(body) == "Approved, pick it up at the desk."


def test_drops_inline_quoted_lines_when_answer_is_below_them() -> None:
    body = "> Is the pool open on Sunday?\n\nYes, from 10 to 6."

    assert extract_reply(body) == "Yes, from 10 to 6."


def test_keeps_bottom_posted_answer_when_quote_is_above() -> None:
    body = f"{EN_ATTRIBUTION}\n{NOTICE}\n\nIt is on April 14.\n\n-- \nKen Adams\nSanitation"

    assert extract_reply(body) == "It is on April 14."


def test_keeps_each_inline_answer_between_quoted_questions() -> None:
    body = (
        f"{EN_ATTRIBUTION}\n> Is the pool open on Sunday?\n\nYes, from 10 to 6.\n\n"
        "> And is it free for kids?\n\nFree under 12.\n"
    )

    assert extract_reply(body) == "Yes, from 10 to 6.\n\nFree under 12."


def test_drops_unmarked_line_the_client_wrapped_inside_a_quote() -> None:
    body = (
        f"Booked for Friday.\n\n{EN_ATTRIBUTION}\n> See the map at https://city.example.ca/maps?id=12\n"
        "&layer=roads&zoom=14\n> Thanks\n"
    )

    assert extract_reply(body) == "Booked for Friday."


def test_keeps_quoted_attribution_inside_the_quote() -> None:
    body = (
        f"{EN_ATTRIBUTION}\n> Where do I pay?\n> On Mon, Mar 2, 2026 at 9:00 AM, Kingston 311 wrote:\n>> Hi\n\n"
        "At city hall."
    )

    assert extract_reply(body) == "At city hall."


def test_keeps_sentence_starting_with_on_when_it_is_not_an_attribution() -> None:
    body = f"On Monday we close Maple Street from 8 to noon.\n\n{EN_ATTRIBUTION}\n{NOTICE}"

    assert extract_reply(body) == "On Monday we close Maple Street from 8 to noon."


INTERNAL = "Between us: the contractor is late again, do not tell the resident."


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Forwarded message ---------",  # Gmail
        "---------- Message transféré ---------",  # Gmail, French
        "Begin forwarded message:",  # Apple Mail
        "Début du message réexpédié :",  # Apple Mail, French
        "-------- Forwarded Message --------",  # Thunderbird
        "-------- Message transféré --------",  # Thunderbird, French
        "----- Forwarded Message -----",  # Yahoo
    ],
)
def test_sends_only_the_note_above_a_forwarded_message(marker: str) -> None:
    body = f"The crew comes Tuesday.\n\n{marker}\nFrom: Bob <bob@city.example>\nSubject: crews\n\n{INTERNAL}"

    assert extract_reply(body) == "The crew comes Tuesday."


@pytest.mark.parametrize(
    "header_block",
    [
        "From: Bob Roy <bob@city.example>\nSent: Tuesday, March 4, 2025 10:03 AM\nTo: 311\nSubject: FW: crews",
        "De : Bob Roy <bob@city.example>\nEnvoyé : 4 mars 2025 10:03\nÀ : 311\nObjet : TR: équipes",
    ],
)
def test_sends_only_the_note_above_an_outlook_forward(header_block: str) -> None:
    body = f"The crew comes Tuesday.\n\n{header_block}\n\n{INTERNAL}"

    assert extract_reply(body) == "The crew comes Tuesday."


def test_keeps_nothing_under_a_forward_even_unmarked_lines_below_quoted_ones() -> None:
    forward = "Begin forwarded message:\n\n> From: Bob <bob@city.example>\n>\n> Hi"
    body = f"The crew comes Tuesday.\n\n{forward}\n\n{INTERNAL}"

    assert extract_reply(body) == "The crew comes Tuesday."


def test_a_forward_with_no_note_above_it_is_empty() -> None:
    body = f"---------- Forwarded message ---------\nFrom: Bob <bob@city.example>\nDate: Tue, Mar 4\n\n{INTERNAL}"

    assert extract_reply(body) == ""


def test_keeps_a_sentence_that_mentions_a_forwarded_message() -> None:
    body = "I forwarded your message to Forestry.\nForwarded message requests take 5 days."

    assert extract_reply(body) == body


def test_cuts_a_gmail_html_forward_with_its_quote_container() -> None:
    html = (
        b'<div dir="ltr">The crew comes Tuesday.</div><div class="gmail_quote"><div class="gmail_attr">'
        b"---------- Forwarded message ---------<br>From: Bob &lt;bob@city.example&gt;<br></div>"
        b"<div>" + INTERNAL.encode() + b"</div></div>"
    )

    assert extract_reply(message(html, "text/html; charset=utf-8")) == "The crew comes Tuesday."


def test_decodes_windows_1252_quoted_printable() -> None:
    raw = message(
        b"Le d=E9neigement est pr=E9vu ce soir =96 merci.\n",
        "text/plain; charset=windows-1252",
        "quoted-printable",
    )

    assert extract_reply(raw) == "Le déneigement est prévu ce soir – merci."


def test_decodes_latin_1_when_charset_is_undeclared() -> None:
    raw = message("Le stationnement de l'aréna sera déneigé.\n".encode("latin-1"), "text/plain")

    assert extract_reply(raw) == "Le stationnement de l'aréna sera déneigé."


def test_decodes_base64_utf8() -> None:
    raw = message(b"T3VpLCBjJ2VzdCBmYWl0IPCfkY0=\n", "text/plain; charset=utf-8", "base64")

    assert extract_reply(raw) == "Oui, c'est fait 👍"


def test_falls_back_when_charset_is_unknown() -> None:
    raw = message("Réparé.".encode(), "text/plain; charset=x-unknown-8bit")

    assert extract_reply(raw) == "Réparé."


def test_joins_format_flowed_lines_but_not_into_quotes() -> None:
    body = b"Yes it is fixed, the crew finished this \nmorning.\n\n> On Mar 3, 2025, Text311 wrote: \n> Hi\n"
    raw = message(body, "text/plain; charset=utf-8; format=flowed")

    assert extract_reply(raw) == "Yes it is fixed, the crew finished this morning."


def test_turns_gmail_html_only_into_text_without_quote_or_signature() -> None:
    html = (
        '<div dir="ltr"><div>Hello,</div><div>Open Sunday 10 to 6.</div><div><br></div>'
        '<div class="gmail_signature">--<br>Priya | Recreation</div></div><div class="gmail_quote">'
        f'<div class="gmail_attr">{EN_ATTRIBUTION}</div>'
        '<blockquote class="gmail_quote">Is it open?</blockquote></div>'
    )

    assert extract_reply(message(html.encode(), "text/html; charset=utf-8")) == "Hello,\nOpen Sunday 10 to 6."


def test_cuts_outlook_html_at_border_top_separator() -> None:
    html = (
        '<div class="WordSection1"><p class="MsoNormal">Plowed before 7 a.m.<o:p></o:p></p>'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><div style="border:none;border-top:solid #E1E1E1 1.0pt;'
        'padding:3.0pt 0in 0in 0in"><p class="MsoNormal"><b>From:</b> Text311<br>'
        "<b>Sent:</b> Monday</p></div>"
        '<p class="MsoNormal">The lot is full of snow.</p></div>'
    )

    assert extract_reply(message(html.encode(), "text/html; charset=utf-8")) == "Plowed before 7 a.m."


def test_cuts_outlook_web_html_at_reply_header_div() -> None:
    html = (
        '<div>Work order 24-1187 is open.</div><div id="appendonsend"></div><hr>'
        '<div id="divRplyFwdMsg"><b>De :</b> Text311<br><b>Envoyé :</b> lundi</div><div>Nid-de-poule</div>'
    )

    assert extract_reply(message(html.encode(), "text/html; charset=utf-8")) == "Work order 24-1187 is open."


def test_drops_apple_and_thunderbird_cite_blockquotes() -> None:
    html = (
        '<p>Brush pickup is April 14.</p><div class="moz-cite-prefix">On 2025-03-03, Text311 wrote:</div>'
        '<blockquote type="cite">When is the brush pickup?</blockquote>'
    )

    assert extract_reply(message(html.encode(), "text/html; charset=utf-8")) == "Brush pickup is April 14."


def test_accepts_html_given_as_a_string() -> None:
    html = '<html><body><div>Oui.</div><blockquote type="cite">Question?</blockquote></body></html>'

    assert extract_reply(html) == "Oui."


def test_reads_plain_part_of_alternative_inside_mixed_and_skips_text_attachment() -> None:
    raw = (
        b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="m"\n\n--m\n'
        b'Content-Type: multipart/alternative; boundary="a"\n\n'
        b"--a\nContent-Type: text/plain; charset=utf-8\n\n"
        b"Schedule attached, your zone is B.\n\n" + EN_ATTRIBUTION.encode() + b"\n> When?\n--a\n"
        b"Content-Type: text/html; charset=utf-8\n\n"
        b"<div>Schedule attached, your zone is B.</div>\n--a--\n--m\n"
        b'Content-Type: text/plain; name="notes.txt"\n'
        b'Content-Disposition: attachment; filename="notes.txt"\n\n'
        b"internal notes\n--m--\n"
    )

    assert extract_reply(raw) == "Schedule attached, your zone is B."


def test_uses_html_when_plain_part_is_empty() -> None:
    raw = (
        b'MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="a"\n\n--a\n'
        b"Content-Type: text/plain; charset=utf-8\n\n \n--a\nContent-Type: text/html; charset=utf-8\n\n"
        b"<div>Done.</div>\n--a--\n"
    )

    assert extract_reply(raw) == "Done."


def test_returns_empty_when_only_history_is_left() -> None:
    assert extract_reply(f"{EN_ATTRIBUTION}\n{NOTICE}") == ""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Sent from my iPhone", "Fixed."),
        ("Envoyé à partir de Outlook pour Android", "Fixed."),
        ("Get Outlook for iOS<https://aka.ms/o0ukef>", "Fixed."),
        ("CONFIDENTIALITY NOTICE: This email is confidential.", "Fixed."),
    ],
)
def test_cuts_device_lines_and_disclaimers(line: str, expected: str) -> None:
    assert extract_reply(f"Fixed.\n\n{line}") == expected


def test_normalises_whitespace_for_sms() -> None:
    assert normalise("  Hello  \t \n\n\n\nWorld \u00a0 \n\n") == "Hello\n\nWorld"


def test_cuts_a_municipal_signature_written_once_per_language_with_no_delimiter() -> None:
    body = (
        "The ecocentre is open Saturdays from 8 to 4.\n\n"
        "Luc Gauthier\nPréposé aux communications\nVille de Terrebonne\n450 471-8265\n\n"
        "Luc Gauthier\nCommunications Clerk\nCity of Terrebonne\n450 471-8265"
    )

    assert extract_reply(body) == "The ecocentre is open Saturdays from 8 to 4."


def test_cuts_a_long_bilingual_signature_of_titles_and_contacts_after_a_sign_off() -> None:
    signature = (
        "Marie-Ève Lavoie, urb.\nConseillère en urbanisme | Urban Planning Advisor\n"
        "Service de l'urbanisme | Planning Department\nVille de Gatineau | City of Gatineau\nMaison du citoyen\n"
        "25, rue Laurier, C.P. 1970\nGatineau (Québec) J8X 3Y9\nTél. : 819 243-2345, poste 5678\n"
        "Téléc. : 819 595-7401\nmarie-eve.lavoie@gatineau.example.ca\ngatineau.example.ca"
    )
    body = f"Les travaux bruyants sont permis de 7 h à 19 h.\n\nCordialement,\n\n{signature}"

    assert extract_reply(body) == "Les travaux bruyants sont permis de 7 h à 19 h."


@pytest.mark.parametrize(
    "disclaimer",
    [
        "The information in this email is confidential and intended only for the addressee.",
        "If you received this email in error, please notify the sender and delete it.",
        "Si vous avez reçu ce courriel par erreur, veuillez en aviser l'expéditeur.",
    ],
)
def test_cuts_a_disclaimer_under_a_signature_block(disclaimer: str) -> None:
    body = f"Paving starts April 7.\n\nJennifer Walsh\nCustomer Service\nCity of Kingston\n613-546-4291\n\n{disclaimer}"

    assert extract_reply(body) == "Paving starts April 7."


def test_keeps_a_contact_block_the_answer_announces_with_a_colon() -> None:
    body = "For the new bin, call the depot directly:\n\nDavid Chen\nFleet Services, City of Pickering\n905-555-0111"

    assert extract_reply(body) == body


@pytest.mark.parametrize(
    "body",
    [
        "Bonjour,\n\nLes renseignements de votre message restent confidentiels. Un inspecteur vous appellera demain.",
        "Hello,\n\nThe information in your message is confidential. An inspector will call you tomorrow.",
        "Hello,\n\nIf you received this notice by mistake, you can ignore it. Your permit is valid until May.",
        "Hello,\n\nThe information in your message is confidential.\n\nAn inspector will call you tomorrow.",
    ],
)
def test_keeps_a_disclaimer_like_sentence_when_more_answer_follows_it(body: str) -> None:
    assert extract_reply(body) == body


def test_keeps_an_answer_about_a_notice_received_by_mistake() -> None:
    body = "Hello,\n\nIf you received this notice by mistake, please call 311 so we can fix the address."

    assert extract_reply(body) == body


def test_cuts_a_disclaimer_paragraph_at_the_end_with_only_boilerplate_after_it() -> None:
    body = (
        "Bonjour,\n\nUn inspecteur vous appellera demain.\n\n"
        "Les renseignements contenus dans ce courriel sont confidentiels. Si vous n'êtes pas le destinataire "
        "visé, veuillez le détruire.\n\nPensez à l'environnement avant d'imprimer ce courriel."
    )

    assert extract_reply(body) == "Bonjour,\n\nUn inspecteur vous appellera demain."


@pytest.mark.parametrize("greeting", ["Bonjour,", "Hello,", "Hi Marie,", "Merci,", "Bonjour Madame,\n\nMerci,"])
def test_an_answer_that_is_only_a_greeting_is_empty(greeting: str) -> None:
    assert extract_reply(f"{greeting}\n\n{EN_ATTRIBUTION}\n{NOTICE}") == ""


def test_an_answer_left_with_only_a_greeting_after_its_disclaimer_is_cut_is_empty() -> None:
    body = "Hello,\n\nCONFIDENTIALITY NOTICE: This email and any attachments are confidential."

    assert extract_reply(body) == ""


@pytest.mark.parametrize("answer", ["Hello there, it is fixed.", "Merci!", "Thanks.", "Bonjour, c'est réglé."])
def test_keeps_a_short_answer_that_opens_with_a_greeting_or_is_a_thanks(answer: str) -> None:
    assert extract_reply(answer) == answer


def test_keeps_two_different_contact_blocks_the_answer_lists() -> None:
    body = (
        "You can drop off the paint at either depot.\n\n"
        "Cedar Street Depot\nPublic Works, City of Guelph\n519-555-0140\n\n"
        "Dunlop Drive Depot\nPublic Works, City of Guelph\n519-555-0175"
    )

    assert extract_reply(body) == body


def test_cuts_a_signature_block_repeated_in_a_second_language_by_its_email() -> None:
    body = (
        "Le permis est prêt.\n\nMarie Roy\nAgente de permis\nVille de Gatineau\nmarie.roy@gatineau.example.ca\n\n"
        "Marie Roy\nPermit Officer\nCity of Gatineau\nmarie.roy@gatineau.example.ca"
    )

    assert extract_reply(body) == "Le permis est prêt."


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # A number that is not a date, a time or a year is no attribution.
        ("#status in_progress 2 crews sent\nA crew is on its way.\n", None),
        # An agent's command line is never read as part of an attribution, even after a line with a number.
        ("#request POT 12 rue Main\n#status in_progress crew sent\n\nWe sent a crew.\n", None),
        ("Your request GAT-1042: a crew was sent\n\nThanks\n", "Your request GAT-1042: a crew was sent"),
    ],
)
def test_keeps_a_sentence_ending_with_sent_that_has_no_date_time_or_address(body: str, expected: str | None) -> None:
    assert extract_reply(message(body.encode())) == (expected or body.strip())
