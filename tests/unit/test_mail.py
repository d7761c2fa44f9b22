from datetime import UTC, datetime

from text311.mail import ThreadMail, build_thread_mail, short_id, thread_subject


def mail(**overrides) -> ThreadMail:
    values = dict(
        conversation_id="5959974-k3j9x2p4ab", sequence=2, subject="[Text311 #K3J9X2P4] Gatineau: Pothole",
        sender="Text311 <notify@text311.example.ca>", to=("agent@gatineau.example.ca",),
        cc=("311@gatineau.example.ca",), reply_to="r+x@reply.example", city="Gatineau",
        masked_phone="+1******0123", body="Still there <b>!</b>", received_at=datetime(2026, 11, 26, 15, 4, tzinfo=UTC),
        time_zone="America/Toronto", console_url="https://console.example", references=("<a@x>", "<b@y>"),
        in_reply_to="<b@y>", domain="reply.example",
    )
    values.update(overrides)
    return ThreadMail(**values)


def test_subject_is_stable_short_and_names_the_city():
    first_text = "There is a  big\npothole on Main Street near the school"
    subject = thread_subject("5959974-k3j9x2p4ab", "Gatineau", first_text)
    assert subject == "[Text311 #K3J9X2P4] Gatineau: There is a big pothole on Main Street…"
    assert short_id("5959974-k3j9x2p4ab") == "K3J9X2P4"


def test_a_later_mail_carries_threading_headers_and_cc_to_the_shared_inbox():
    msg = build_thread_mail(mail())
    assert msg["Message-ID"] == "<t311.5959974-k3j9x2p4ab.2@reply.example>"
    assert msg["In-Reply-To"] == "<b@y>"
    assert msg["References"] == "<a@x> <b@y>"
    assert msg["Cc"] == "311@gatineau.example.ca"


def test_the_body_shows_local_time_masked_number_link_and_escapes_html():
    msg = build_thread_mail(mail())
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "2026-11-26 10:04 EST" in text
    assert "+1******0123" in text
    assert "https://console.example/#/c/5959974-k3j9x2p4ab" in text
    assert "Still there &lt;b&gt;!&lt;/b&gt;" in html


def test_every_line_of_the_raw_mail_is_seven_bit():
    raw = build_thread_mail(mail(body="Déneigement: ça n'a pas été fait 🚧")).as_bytes()
    assert all(byte < 128 for byte in raw)


def test_urgent_mail_is_marked_high_importance_and_says_why_first():
    msg = build_thread_mail(mail(urgent=True))
    assert msg["Importance"] == "high"
    assert msg.get_body(("plain",)).get_content().startswith("URGENT")
