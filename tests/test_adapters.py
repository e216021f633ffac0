"""The one registry of adapters to external systems (``permanence.adapters``), and the four kinds kept in it:
channels, SMS providers, calendars and telephony adapters."""

import pytest

from permanence.adapters import DuplicateAdapter, Registry, UnknownAdapter


def test_a_name_is_registered_once():
    registry: Registry[str] = Registry("channel")
    assert registry.register("email", "smtp") == "smtp"
    with pytest.raises(DuplicateAdapter, match="the channel name 'email' is already taken"):
        registry.register("email", "anymail")
    assert registry.get("email") == "smtp"  # the first one stays
    with pytest.raises(ValueError):  # what the callers of the former registries catch
        registry.register("email", "anymail")


def test_an_unknown_name_lists_the_known_ones():
    registry: Registry[int] = Registry("SMS provider")
    with pytest.raises(UnknownAdapter, match=r"^no SMS provider named 'http'; known: \(none\)$"):
        registry.get("http")
    registry.register("twilio", 1)
    registry.register("file", 2)
    with pytest.raises(UnknownAdapter) as refused:
        registry.get("pigeon")
    assert str(refused.value) == "no SMS provider named 'pigeon'; known: file, twilio"
    assert (refused.value.kind, refused.value.name, refused.value.known) == (
        "SMS provider",
        "pigeon",
        ("file", "twilio"),
    )
    assert isinstance(refused.value, LookupError) and isinstance(refused.value, ValueError)


def test_the_decorator_form_registers_what_it_decorates():
    registry: Registry[type] = Registry("telephony adapter")

    @registry.register("simulator")
    class Simulator:
        pass

    assert registry.get("simulator") is Simulator  # the class itself, not a wrapper
    with pytest.raises(DuplicateAdapter):

        @registry.register("simulator")
        class Other:
            pass


def test_names_in_the_order_registered():
    registry: Registry[str] = Registry("calendar")
    for name in ("caldav", "ews", "google"):
        registry.register(name, name.upper())
    registry.register("apple", "APPLE")
    assert registry.names() == ("caldav", "ews", "google", "apple")
    assert list(registry) == ["caldav", "ews", "google", "apple"]
    assert len(registry) == 4
    assert "ews" in registry and "outlook" not in registry and 3 not in registry
    assert registry.kind == "calendar"


def test_the_four_kinds_are_registries_with_their_built_in_adapters():
    from permanence.agenda import calendars
    from permanence.calls import telephony
    from permanence.messaging import channels, webpush

    assert isinstance(channels.CHANNELS, Registry) and channels.CHANNELS.kind == "channel"
    assert channels.CHANNELS.names() == ("email", "digest", "webhook", "sms", "push")
    assert channels.get("push") is channels.CHANNELS.get("push")
    assert isinstance(channels.get("push"), webpush.PushChannel)

    assert isinstance(channels.SMS_PROVIDER_REGISTRY, Registry)
    assert channels.SMS_PROVIDER_REGISTRY.kind == "SMS provider"
    assert channels.SMS_PROVIDER_REGISTRY.names() == ("http", "twilio", "file")
    assert isinstance(channels.SMS_PROVIDER_REGISTRY.get("twilio"), channels.TwilioSms)

    assert isinstance(calendars.BACKENDS, Registry) and calendars.BACKENDS.kind == "calendar"
    assert calendars.BACKENDS.names() == ("caldav",)
    assert calendars.BACKENDS.get("caldav") is calendars.CalDAVCalendar
    with pytest.raises(calendars.CalendarError, match="Unknown calendar kind 'exchange'"):
        calendars.connect("exchange", "https://calendar.example/")

    assert isinstance(telephony.ADAPTERS, Registry) and telephony.ADAPTERS.kind == "telephony adapter"
    assert telephony.ADAPTERS.names() == ("simulator",)
    assert telephony.adapter_class("simulator") is telephony.SimulatorAdapter


def test_the_former_errors_are_kept():
    from permanence.calls import telephony
    from permanence.messaging import channels

    known = "digest, email, push, sms, webhook"
    with pytest.raises(ValueError, match=rf"^no channel named 'fax'; known: {known}$"):
        channels.get("fax")
    with pytest.raises(ValueError, match="the channel name 'email' is already taken"):
        channels.register(channels.EmailChannel())
    with pytest.raises(ValueError, match=r"^no telephony adapter named 'asterisk'; known: simulator$"):
        telephony.adapter_class("asterisk")
