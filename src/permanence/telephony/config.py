"""Kamailio's and rtpengine's configuration, written from the project's templates and settings.

``Layout.from_settings()`` reads the TELEPHONY_* settings (docs/configuration.md); ``write(layout,
folder)`` renders ``kamailio.cfg`` and ``rtpengine.conf`` there, with the folders they need, and an
empty fallback table if there is none yet (``fallback.py`` writes it from the database). The
templates are in ``telephony/templates``: the operator changes settings, never the files written.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from permanence.telephony import fallback
from permanence.telephony.ng import Address

TEMPLATES = Path(__file__).resolve().parent / "templates"
KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
MIN_SECRET = 16
# what a secret may hold: it is written between double quotes in kamailio.cfg
_SECRET_CHARACTERS = re.compile(r"[!#-\[\]-~]+")  # printable ASCII but space, '"' and '\'
_DOMAIN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
_GATEWAY = re.compile(
    r"sip:(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<params>;transport=(?:udp|tcp|tls))?"
)


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
    # Kamailio's key to the phones' ephemeral credentials (credentials.py); empty: nobody can register
    # (from_settings() refuses it empty: a Layout without one is for tests of the trunk path only)
    secret: str = field(default="", repr=False)
    domain: str = ""  # the secretaries' SIP domain (sip:desk-<pk>@domain); empty: the host of ``sip``
    gateway: str = ""  # the carrier's gateway for the call control's outbound legs (sip:host:port)
    log_level: int = 2
    modules: str = KAMAILIO_MODULES

    def __post_init__(self) -> None:
        if not 1024 <= self.rtp_min < self.rtp_max <= 65535:
            raise ConfigError(f"RTP ports {self.rtp_min}-{self.rtp_max}: give a range within 1024-65535")
        for address in self.trunk:
            _ip(address, "TELEPHONY_TRUNK_ADDRESSES")
        if self.secret and not _SECRET_CHARACTERS.fullmatch(self.secret):
            # never repeat the secret itself: this message may end up in a log
            raise ConfigError(
                "TELEPHONY_SIP_SECRET: use letters, digits and punctuation only (no space, quote, "
                "backslash or accented letter), e.g. the output of `openssl rand -hex 32`"
            )
        if self.domain and not _DOMAIN.fullmatch(self.domain):
            raise ConfigError(f"TELEPHONY_SIP_DOMAIN={self.domain!r}: write a host name or an IP address")
        if self.gateway:
            found = _GATEWAY.fullmatch(self.gateway)
            if found is None or not 0 < int(found["port"] or 5060) < 65536:
                raise ConfigError(
                    f"TELEPHONY_TRUNK_GATEWAY={self.gateway!r}: write a SIP URI such as "
                    "sip:127.0.0.7:5060 (optionally ;transport=udp, tcp or tls)"
                )

    @property
    def sip_domain(self) -> str:
        return self.domain or self.sip.host

    @property
    def gateway_hostport(self) -> str:
        """The gateway's host[:port], for the outbound legs' request URI (the number @ the gateway)."""
        found = _GATEWAY.fullmatch(self.gateway)
        if found is None:
            return ""
        return found["host"] + (f":{found['port']}" if found["port"] else "")

    @property
    def gateway_host(self) -> str:
        """The gateway's host: an IP address (without IPv6 brackets) or a DNS name; empty: none."""
        found = _GATEWAY.fullmatch(self.gateway)
        return found["host"].strip("[]") if found is not None else ""

    @property
    def gateway_ip(self) -> str:
        """The gateway's IP address when it is written as one (else it is a DNS name, or none)."""
        try:
            return str(ipaddress.ip_address(self.gateway_host))
        except ValueError:
            return ""

    @classmethod
    def from_settings(cls) -> Layout:
        from django.conf import settings

        low, _, high = settings.TELEPHONY_RTP_PORTS.partition("-")
        if not (low.isdigit() and high.isdigit()):
            raise ConfigError(f"TELEPHONY_RTP_PORTS={settings.TELEPHONY_RTP_PORTS!r}: write e.g. 40000-49999")
        secret = settings.TELEPHONY_SIP_SECRET
        if len(secret) < MIN_SECRET:
            said = "is empty" if not secret else f"is too short ({len(secret)} characters)"
            raise ConfigError(
                f"TELEPHONY_SIP_SECRET {said}: Kamailio checks the secretaries' phones' passwords with "
                f"it; set it to a random string of at least {MIN_SECRET} characters, e.g. the output of "
                "`openssl rand -hex 32`, the same for every Permanence process"
            )
        return cls(
            sip=_address(settings.TELEPHONY_SIP_ADDRESS, "TELEPHONY_SIP_ADDRESS"),
            ws=_address(settings.TELEPHONY_WS_ADDRESS, "TELEPHONY_WS_ADDRESS"),
            control=_address(settings.TELEPHONY_CONTROL_ADDRESS, "TELEPHONY_CONTROL_ADDRESS"),
            ng=_address(settings.TELEPHONY_RTPENGINE, "TELEPHONY_RTPENGINE"),
            media_address=_ip(settings.TELEPHONY_MEDIA_ADDRESS, "TELEPHONY_MEDIA_ADDRESS"),
            rtp_min=int(low),
            rtp_max=int(high),
            trunk=tuple(settings.TELEPHONY_TRUNK_ADDRESSES),
            secret=secret,
            domain=settings.TELEPHONY_SIP_DOMAIN,
            gateway=settings.TELEPHONY_TRUNK_GATEWAY,
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
    context = {
        **layout.__dict__,
        "domain": layout.sip_domain,
        "gateway_hostport": layout.gateway_hostport,
        "gateway_host": layout.gateway_host,
        "gateway_ip": layout.gateway_ip,
        "run": folder / "run",
        "tables": folder.absolute(),  # db_text's folder: the fallback table (fallback.py)
        "fallback_table": fallback.TABLE,
        "recordings": folder / "recordings",
    }
    env = _environment()
    return {name: env.get_template(name).render(**context) for name in ("kamailio.cfg", "rtpengine.conf")}


def check_kamailio(path: Path) -> None:
    """Kamailio's own check of a configuration file (``kamailio -c``); ConfigError with its words."""
    import subprocess

    done = subprocess.run(["kamailio", "-c", "-f", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigError("kamailio refuses the configuration:\n" + (done.stderr or done.stdout)[-2000:])


def write(layout: Layout, folder: Path) -> dict[str, Path]:
    """Write the files (and the folders they use) under ``folder``; returns their paths. The fallback
    table is left as it is, or written empty when there is none (Kamailio loads it at start):
    ``fallback.write`` fills it from the database."""
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("run", "recordings"):
        (folder / sub).mkdir(exist_ok=True)
    paths = {}
    for name, text in render(layout, folder).items():
        path = folder / name
        if name == "kamailio.cfg":  # it holds the phones' shared secret: readable by its owner only
            path.touch(mode=0o600)
            path.chmod(0o600)
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    fallback.ensure(folder)
    return paths
