"""`permanence telephony config`: the files written from the settings; bad settings said in words."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from permanence.telephony import config
from permanence.telephony.ng import Address

SECRET = "a-long-enough-test-secret"


@pytest.fixture(autouse=True)
def secret(settings):
    """A valid shared secret; each test changes what it is about."""
    settings.TELEPHONY_SIP_SECRET = SECRET


def test_the_command_writes_both_files_from_the_settings(db, settings, tmp_path):
    settings.TELEPHONY_TRUNK_ADDRESSES = ["127.0.0.5", "127.0.0.6"]
    settings.TELEPHONY_RTP_PORTS = "41000-41999"
    settings.TELEPHONY_SIP_DOMAIN = "desk.example.org"
    settings.TELEPHONY_TRUNK_GATEWAY = "sip:127.0.0.7:5061;transport=tcp"
    out = io.StringIO()
    call_command("telephony", "config", "--out", str(tmp_path), stdout=out)
    kamailio = (tmp_path / "kamailio.cfg").read_text()
    rtpengine = (tmp_path / "rtpengine.conf").read_text()
    assert 'if ($si == "127.0.0.5") return 1;' in kamailio and 'if ($si == "127.0.0.6") return 1;' in kamailio
    assert "listen=udp:127.0.0.1:5060" in kamailio and '$du = "sip:127.0.0.1:5070"' in kamailio
    assert '$si == "127.0.0.1" && $sp == 5070' in kamailio  # the call control: its address and port
    assert f'modparam("auth_ephemeral", "secret", "{SECRET}")' in kamailio
    assert 'autheph_www("desk.example.org")' in kamailio and 'alias="desk.example.org"' in kamailio
    assert '$ru = "sip:" + $rU + "@127.0.0.7:5061"' in kamailio
    assert '$du = "sip:127.0.0.7:5061;transport=tcp"' in kamailio
    assert "port-min = 41000" in rtpengine and "port-max = 41999" in rtpengine
    assert (tmp_path / "recordings").is_dir() and "wrote" in out.getvalue()
    assert SECRET not in out.getvalue()
    assert (tmp_path / "kamailio.cfg").stat().st_mode & 0o777 == 0o600  # it holds the secret


def test_the_domain_is_the_sip_host_by_default_and_no_gateway_means_503(tmp_path):
    layout = config.Layout(sip=Address("127.0.0.10", 5060), secret=SECRET)
    text = config.render(layout, tmp_path)["kamailio.cfg"]
    assert layout.sip_domain == "127.0.0.10" and 'auth_challenge("127.0.0.10", "1")' in text
    assert '\nalias="' not in text
    assert 'sl_send_reply("503", "No trunk gateway")' in text and "$ru = " not in text


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("TELEPHONY_SIP_ADDRESS", "kamailio.example", "host:port"),
        ("TELEPHONY_RTPENGINE", "127.0.0.1:70000", "between 1 and 65535"),
        ("TELEPHONY_RTP_PORTS", "40000", "40000-49999"),
        ("TELEPHONY_RTP_PORTS", "50000-40000", "range"),
        ("TELEPHONY_TRUNK_ADDRESSES", ["carrier.example"], "not an IP address"),
        ("TELEPHONY_SIP_SECRET", "", "TELEPHONY_SIP_SECRET is empty: .* at least 16 characters"),
        ("TELEPHONY_SIP_SECRET", "short-secret", r"TELEPHONY_SIP_SECRET is too short \(12 characters\)"),
        ("TELEPHONY_SIP_SECRET", 'sixteen "quoted" chars', "letters, digits and punctuation"),
        ("TELEPHONY_SIP_SECRET", "sixteen-characters-évidemment", "no space, quote, backslash or accented"),
        ("TELEPHONY_SIP_DOMAIN", "desk example", "host name or an IP address"),
        ("TELEPHONY_TRUNK_GATEWAY", "127.0.0.7:5060", "write a SIP URI such as sip:"),
        ("TELEPHONY_TRUNK_GATEWAY", "sip:127.0.0.7:99999", "write a SIP URI"),
    ],
)
def test_bad_settings_are_refused_with_their_name(settings, tmp_path, name, value, words):
    setattr(settings, name, value)
    with pytest.raises(CommandError, match=words) as refused:
        call_command("telephony", "config", "--out", str(tmp_path))
    assert not (tmp_path / "kamailio.cfg").exists()
    if name == "TELEPHONY_SIP_SECRET" and value:
        assert value not in str(refused.value)  # a secret is never repeated, even a bad one


def test_no_trunk_address_means_no_call_is_accepted(tmp_path):
    text = config.render(config.Layout(), tmp_path)["kamailio.cfg"]
    trunk = text.split("route[FROM_TRUNK] {")[1].split("}")[0]
    assert "$si ==" not in trunk  # route[FROM_TRUNK] only returns -1: every INVITE is refused


def test_a_layout_without_secret_lets_nobody_register(tmp_path):
    # (from_settings() refuses it; a Layout built by hand, as the trunk's tests do, may have none)
    text = config.render(config.Layout(), tmp_path)["kamailio.cfg"]
    assert 'modparam("auth_ephemeral", "secret"' not in text and "every registration is refused" in text


@pytest.mark.parametrize(
    ("gateway", "words"),
    [
        ("sip:127.0.0.9:5080", ['if ($si == "127.0.0.9") return 1;', '$du = "sip:127.0.0.9:5080";']),
        ("sip:carrier.invalid", ['dns_sys_match_ip("carrier.invalid", "$si")', '@carrier.invalid";']),
        ("", ['text=\\"Answering service unavailable, no gateway\\"', 't_reply("480"']),
    ],
)
def test_calls_the_call_control_cannot_take_go_to_the_gateway(tmp_path, gateway, words):
    text = config.render(config.Layout(trunk=("127.0.0.2",), gateway=gateway), tmp_path)["kamailio.cfg"]
    assert "t_set_fr(10000, 2000);" in text and 't_on_failure("CONTROL_FAILED");' in text
    assert f'modparam("htable", "db_url", "text://{tmp_path.absolute()}")' in text
    failure = text.split("failure_route[CONTROL_FAILED] {")[1].split("\n}\n")[0]
    gateway_check = text.split("route[FROM_GATEWAY] {")[1].split("\n}\n")[0]
    for word in words:
        assert word in failure + gateway_check, word
    if not gateway:
        assert "$si" not in gateway_check  # no gateway: no request is the gateway's


def test_a_second_call_control_on_the_same_database_is_refused(db, settings):
    from django.core.management import CommandError, call_command

    from permanence.loops import leadership

    settings.TELEPHONY_SIP_SECRET = "a-secret-long-enough-for-kamailio"
    first = leadership()
    assert first.hold("telephony-control")  # a call control running
    try:
        with pytest.raises(CommandError, match="another call control is already running"):
            call_command("telephony", "run")
    finally:
        first.close()
