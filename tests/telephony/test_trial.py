"""The trial call's μ-law encoder against the reference G.711 values, and the shipped recording."""

import pytest

from permanence.telephony.trial import speech, ulaw


@pytest.mark.parametrize(
    ("sample", "byte"),
    [(0, 255), (1, 255), (-1, 126), (100, 242), (-100, 114), (1000, 206), (-1000, 78), (12345, 151),
     (-5000, 43), (32767, 128), (-32768, 0)],
)  # fmt: skip
def test_ulaw_encodes_as_g711_does(sample, byte):
    assert ulaw(sample) == byte


def test_the_shipped_waiting_message_is_speech_in_mu_law():
    samples = speech()
    assert 3 * 8000 < len(samples) < 6 * 8000  # a few seconds at 8 kHz
    assert len(set(samples)) > 100  # speech, not silence (0xff) or a tone
