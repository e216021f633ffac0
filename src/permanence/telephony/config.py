"""Kamailio's and rtpengine's configuration, written from the project's templates and settings.

``Layout.from_settings()`` reads the TELEPHONY_* settings (docs/configuration.md); ``write(layout,
folder)`` renders ``kamailio.cfg`` and ``rtpengine.conf`` there, with the folders they need. The
templates are in ``telephony/templates``: the operator changes settings, never the files written.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import jinja2

from permanence.telephony.ng import Address

TEMPLATES = Path(__file__).resolve().parent / "templates"
KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"


class ConfigError(ValueError):
    """A telephony setting that cannot work, said in words."""


def _address(text: str, name: str) -> Address:
    try:
        address = Address.parse(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r}: write host:port, e.g. 127.0.0.1:5060") from None
    _ip(address.host, name)
    if not 0 < address.port < 65536:
        raise ConfigError(f"{name}={text!r}: the port must be between 1 and 65535")
    return address


def _ip(text: str, name: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not an IP address") from None


@dataclass(frozen=True)
class Layout:
    sip: Address = Address("127.0.0.1", 5060)  # the edge: trunk, SIP phones (UDP and TCP)
    ws: Address = Address("127.0.0.1", 8088)  # SIP over WebSocket, for the browsers' softphones
    control: Address = Address("127.0.0.1", 5070)  # Permanence's call control (SIP)
    ng: Address = Address("127.0.0.1", 22222)  # rtpengine's control port (and the next one: its CLI)
    media_address: str = "127.0.0.1"
    rtp_min: int = 40000
    rtp_max: int = 49999
    trunk: tuple[str, ...] = ()  # the carrier's addresses: the only ones allowed to send calls in
    log_level: int = 2
    modules: str = KAMAILIO_MODULES

    def __post_init__(self) -> None:
        if not 1024 <= self.rtp_min < self.rtp_max <= 65535:
            raise ConfigError(f"RTP ports {self.rtp_min}-{self.rtp_max}: give a range within 1024-65535")
        for address in self.trunk:
            _ip(address, "TELEPHONY_TRUNK_ADDRESSES")

    @classmethod
    def from_settings(cls) -> Layout:
        from django.conf import settings

        low, _, high = settings.TELEPHONY_RTP_PORTS.partition("-")
        if not (low.isdigit() and high.isdigit()):
            raise ConfigError(f"TELEPHONY_RTP_PORTS={settings.TELEPHONY_RTP_PORTS!r}: write e.g. 40000-49999")
        return cls(
            sip=_address(settings.TELEPHONY_SIP_ADDRESS, "TELEPHONY_SIP_ADDRESS"),
            ws=_address(settings.TELEPHONY_WS_ADDRESS, "TELEPHONY_WS_ADDRESS"),
            control=_address(settings.TELEPHONY_CONTROL_ADDRESS, "TELEPHONY_CONTROL_ADDRESS"),
            ng=_address(settings.TELEPHONY_RTPENGINE, "TELEPHONY_RTPENGINE"),
            media_address=_ip(settings.TELEPHONY_MEDIA_ADDRESS, "TELEPHONY_MEDIA_ADDRESS"),
            rtp_min=int(low),
            rtp_max=int(high),
            trunk=tuple(settings.TELEPHONY_TRUNK_ADDRESSES),
        )


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,  # configuration files, not HTML  # noqa: S701
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(layout: Layout, folder: Path) -> dict[str, str]:
    """The files' texts, by name."""
    context = {**layout.__dict__, "run": folder / "run", "recordings": folder / "recordings"}
    env = _environment()
    return {name: env.get_template(name).render(**context) for name in ("kamailio.cfg", "rtpengine.conf")}


def check_kamailio(path: Path) -> None:
    """Kamailio's own check of a configuration file (``kamailio -c``); ConfigError with its words."""
    import subprocess

    done = subprocess.run(["kamailio", "-c", "-f", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigError("kamailio refuses the configuration:\n" + (done.stderr or done.stdout)[-2000:])


def write(layout: Layout, folder: Path) -> dict[str, Path]:
    """Write the files (and the folders they use) under ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("run", "recordings"):
        (folder / sub).mkdir(exist_ok=True)
    paths = {}
    for name, text in render(layout, folder).items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    return paths
