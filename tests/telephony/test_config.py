"""`permanence telephony config`: the files written from the settings; bad settings said in words."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from permanence.telephony import config


def test_the_command_writes_both_files_from_the_settings(settings, tmp_path):
    settings.TELEPHONY_TRUNK_ADDRESSES = ["127.0.0.5", "127.0.0.6"]
    settings.TELEPHONY_RTP_PORTS = "41000-41999"
    out = io.StringIO()
    call_command("telephony", "config", "--out", str(tmp_path), stdout=out)
    kamailio = (tmp_path / "kamailio.cfg").read_text()
    rtpengine = (tmp_path / "rtpengine.conf").read_text()
    assert 'if ($si == "127.0.0.5") return 1;' in kamailio and 'if ($si == "127.0.0.6") return 1;' in kamailio
    assert "listen=udp:127.0.0.1:5060" in kamailio and '$du = "sip:127.0.0.1:5070"' in kamailio
    assert "port-min = 41000" in rtpengine and "port-max = 41999" in rtpengine
    assert (tmp_path / "recordings").is_dir() and "wrote" in out.getvalue()


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("TELEPHONY_SIP_ADDRESS", "kamailio.example", "host:port"),
        ("TELEPHONY_RTPENGINE", "127.0.0.1:70000", "between 1 and 65535"),
        ("TELEPHONY_RTP_PORTS", "40000", "40000-49999"),
        ("TELEPHONY_RTP_PORTS", "50000-40000", "range"),
        ("TELEPHONY_TRUNK_ADDRESSES", ["carrier.example"], "not an IP address"),
    ],
)
def test_bad_settings_are_refused_with_their_name(settings, tmp_path, name, value, words):
    setattr(settings, name, value)
    with pytest.raises(CommandError, match=words):
        call_command("telephony", "config", "--out", str(tmp_path))
    assert not (tmp_path / "kamailio.cfg").exists()


def test_no_trunk_address_means_no_call_is_accepted(tmp_path):
    text = config.render(config.Layout(), tmp_path)["kamailio.cfg"]
    assert "$si ==" not in text  # route[FROM_TRUNK] only returns -1: every INVITE is refused
