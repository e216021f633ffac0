"""Signatures, SMS fitting and retry delays."""

import random

import pytest

from permanence.messaging import retry, signing, sms


def test_signature_round_trip_and_refusals():
    body = b'{"subject": "Rappel"}'
    header = signing.signature("s3cret", 1_764_000_000, body)
    assert header.startswith("t=1764000000,v1=") and len(header.split("v1=")[1]) == 64
    assert signing.verify("s3cret", header, body, now=1_764_000_100) == 1_764_000_000
    with pytest.raises(signing.BadSignature, match="match"):
        signing.verify("s3cret", header, body + b" ", now=1_764_000_100)
    with pytest.raises(signing.BadSignature, match="match"):
        signing.verify("other", header, body, now=1_764_000_100)
    with pytest.raises(signing.BadSignature, match="replay"):
        signing.verify("s3cret", header, body, now=1_764_000_000 + 301)
    with pytest.raises(signing.BadSignature, match="malformed"):
        signing.verify("s3cret", "v1=abc", body, now=0)


def test_sms_encoding_and_parts():
    assert sms.is_gsm("Rappeler M. Dupont à 14h, c'est urgent !")
    assert not sms.is_gsm("Rappel 😀") and not sms.is_gsm("ç côté")  # ô is not in GSM
    assert sms.parts("a" * 160) == 1 and sms.parts("a" * 161) == 2 and sms.parts("a" * 306) == 2
    assert sms.parts("€" * 80) == 1 and sms.parts("€" * 81) == 2  # two septets each
    assert sms.parts("ô" * 70) == 1 and sms.parts("ô" * 71) == 2


def test_sms_fit_summarises_at_a_word():
    text = "Appel de Jean Dupont pour Maître Durand au sujet du dossier 2024/0153. " * 10
    fitted = sms.fit(text, max_parts=2)
    assert sms.parts(fitted) <= 2 and fitted.endswith("…") and fitted.startswith("Appel de Jean Dupont")
    assert sms.fit("Court message.", 1) == "Court message."
    plain = "Appel de Jean Dupont pour Maitre Durand au sujet du dossier 2024/0153. " * 10  # all GSM
    link = " https://permanence.example/ack/abc"
    kept = sms.fit(plain, max_parts=2, keep=link)
    assert kept.endswith("..." + link) and sms.is_gsm(kept) and sms.parts(kept) <= 2  # GSM stays GSM


def test_retry_delays_grow_with_jitter_and_stop():
    rng = random.Random(1)
    delays = [retry.delay(n, rng) for n in range(1, 10)]
    assert 24 <= delays[0] <= 36 and 48 <= delays[1] <= 72
    assert all(d <= retry.CAP * 1.2 for d in delays) and delays[-1] >= retry.CAP * 0.8
    assert not retry.exhausted(retry.MAX_ATTEMPTS - 1) and retry.exhausted(retry.MAX_ATTEMPTS)


def test_twilio_signature_matches_twilios_published_example():
    # Twilio's documentation and twilio-python's own test: auth token 12345, this URL and these
    # parameters sign to "0/KCTR6DLpKmkAf8muzZqo1nDgQ=".
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert signing.twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert signing.twilio_valid("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not signing.twilio_valid("12345", url, params | {"Digits": "1235"}, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not signing.twilio_valid("", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
