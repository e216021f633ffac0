"""The accounts' own waiting message and music: only WAV or MP3 that rtpengine can play, not too big."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from permanence.accounts.models import validate_audio

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 40
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 40


FRAME = b"\xff\xfb\x90\x00" + b"\x00" * 40  # an MP3 without ID3 tag: a frame header first


FILES = [("accueil.wav", WAV), ("musique.MP3", MP3), ("frame.mp3", FRAME)]


@pytest.mark.parametrize(("name", "content"), FILES)
def test_wav_and_mp3_files_are_accepted(name, content):
    validate_audio(SimpleUploadedFile(name, content))


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("accueil.ogg", b"OggS" + b"\x00" * 40, "WAV ou MP3"),
        ("accueil.wav", b"<html>not audio</html>", "pas un fichier WAV lisible"),
        ("accueil.mp3", WAV, "pas un fichier MP3 lisible"),
    ],
)
def test_other_files_are_refused_in_words(name, content, said):  # in French, the interface's language
    with pytest.raises(ValidationError, match=said):
        validate_audio(SimpleUploadedFile(name, content))


def test_a_file_over_ten_megabytes_is_refused():
    with pytest.raises(ValidationError, match="dépasse 10 Mo"):
        validate_audio(SimpleUploadedFile("long.wav", WAV + b"\x00" * (10 * 1024 * 1024)))
