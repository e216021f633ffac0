"""Kamailio's and rtpengine's configuration, written from the project's templates and settings.

``Layout.from_settings()`` reads the TELEPHONY_* settings (docs/configuration.md); ``write(layout,
folder)`` renders ``kamailio.cfg`` and ``rtpengine.conf`` there, with the folders they need, and an
empty fallback table if there is none yet (``fallback.py`` writes it from the database). With a
carrier's registrar (TELEPHONY_TRUNK_REGISTRAR), it also writes the db_text table ``uacreg``, from
which Kamailio's module uac registers the account and answers the carrier's digest challenges: the
only file holding the account's password, readable by its owner only (``reload_registration()``
has the running Kamailio read it again). The templates are in ``telephony/templates``: the operator
changes settings, never the files written.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
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
# the trunk account's username: written into kamailio.cfg (a string) and the uacreg table, and the user
# part of the contact the carrier calls: the characters of a SIP user that need no escaping anywhere
_USERNAME = re.compile(r"[A-Za-z0-9._~+-]{1,64}")
# the password and the realm: printable ASCII ('\\' and ':' are escaped in the db_text table)
_PASSWORD = re.compile(r"[!-~]{1,128}")
_REALM = re.compile(r"[!#-\[\]-~]{1,128}")  # no space, '"' nor '\\' (it is quoted in the challenge)
MIN_EXPIRES, MAX_EXPIRES = 60, 86400
# The trunk's registration: the uac module's db_text table (Kamailio 5.6's columns, those of Debian's
# /usr/share/kamailio/dbtext/kamailio/uacreg, the optional ones nullable), and the version table uac
# checks it against (uacreg version 5)
UACREG = "uacreg"
UACREG_COLUMNS = (
    "id(int,auto) l_uuid(string) l_username(string) l_domain(string) r_username(string) "
    "r_domain(string) realm(string,null) auth_username(string) auth_password(string) "
    "auth_ha1(string,null) auth_proxy(string) expires(int) flags(int) reg_delay(int) "
    "contact_addr(string,null) socket(string,null)"
)
VERSION_COLUMNS = "id(int,auto) table_name(string) table_version(int)"
UACREG_VERSION = 5


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


def _sip_uri(uri: str, name: str) -> None:
    """Refuse ``uri`` unless it is sip:host[:port][;transport=udp|tcp|tls], saying so in words."""
    found = _GATEWAY.fullmatch(uri)
    if found is None or not 0 < int(found["port"] or 5060) < 65536:
        example = "sip:127.0.0.7:5060" if name == "TELEPHONY_TRUNK_GATEWAY" else "sip:sip.carrier.invalid"
        raise ConfigError(
            f"{name}={uri!r}: write a SIP URI such as {example} (optionally with a port, and "
            ";transport=udp, tcp or tls)"
        )


def _hostport(uri: str) -> str:
    """host[:port] of a SIP URI checked by ``_sip_uri`` (empty when there is none)."""
    found = _GATEWAY.fullmatch(uri)
    if found is None:
        return ""
    return found["host"] + (f":{found['port']}" if found["port"] else "")


def _host(uri: str) -> str:
    """The host of a SIP URI: an IP address (without IPv6 brackets) or a DNS name; empty: none."""
    found = _GATEWAY.fullmatch(uri)
    return found["host"].strip("[]") if found is not None else ""


def _ip_or_empty(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return ""


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
    # A trunk by registration: Kamailio registers ``username`` at the carrier's ``registrar`` (sip:host
    # [:port]; empty: none), takes the calls the registrar sends to that contact, sends the outbound
    # legs there (unless a ``gateway`` is set) and answers the carrier's 401/407 with the credentials
    registrar: str = ""
    username: str = ""
    password: str = field(default="", repr=False)  # written only into the uacreg table (0600)
    realm: str = ""  # empty: the realm the carrier's challenge names
    expires: int = 600  # seconds a registration lasts (Kamailio renews it before)
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
            _sip_uri(self.gateway, "TELEPHONY_TRUNK_GATEWAY")
        self._check_registration()

    def _check_registration(self) -> None:
        """The trunk's account: all or nothing, each value one that Kamailio's files can hold. The
        password is never repeated (these messages may end up in a log)."""
        if self.registrar:
            _sip_uri(self.registrar, "TELEPHONY_TRUNK_REGISTRAR")
            if self.registrar.endswith(";transport=tls"):
                raise ConfigError(
                    f"TELEPHONY_TRUNK_REGISTRAR={self.registrar!r}: Kamailio listens on UDP and TCP "
                    "here, not TLS; write ;transport=tcp, or nothing for UDP"
                )
        if self.username and not self.password:
            raise ConfigError(
                "TELEPHONY_TRUNK_USERNAME is set but TELEPHONY_TRUNK_PASSWORD is empty: the carrier "
                "gives both for its trunk; set the password too (or neither)"
            )
        if self.password and not self.username:
            raise ConfigError(
                "TELEPHONY_TRUNK_PASSWORD is set but TELEPHONY_TRUNK_USERNAME is empty: the carrier "
                "gives both for its trunk; set the username too (or neither)"
            )
        if self.registrar and not self.username:
            raise ConfigError(
                f"TELEPHONY_TRUNK_REGISTRAR={self.registrar!r} is set, but no account: set "
                "TELEPHONY_TRUNK_USERNAME and TELEPHONY_TRUNK_PASSWORD, as the carrier gave them"
            )
        if (self.username or self.realm) and not self.registrar:
            raise ConfigError(
                "TELEPHONY_TRUNK_USERNAME (or TELEPHONY_TRUNK_REALM) is set but TELEPHONY_TRUNK_REGISTRAR "
                "is empty: set the carrier's registrar, e.g. sip:sip.carrier.invalid, or remove the "
                "account (a trunk known by its addresses only needs none)"
            )
        if self.username and not _USERNAME.fullmatch(self.username):
            raise ConfigError(
                f"TELEPHONY_TRUNK_USERNAME={self.username!r}: use letters, digits and . _ ~ + - only "
                "(64 at most), as in a SIP address"
            )
        if self.password and not _PASSWORD.fullmatch(self.password):
            raise ConfigError(
                "TELEPHONY_TRUNK_PASSWORD: use letters, digits and ASCII punctuation only, 128 at most "
                "(no space, accented letter, tab or line break): it is written into Kamailio's table "
                f"{UACREG}"
            )
        if self.realm and not _REALM.fullmatch(self.realm):
            raise ConfigError(
                f"TELEPHONY_TRUNK_REALM={self.realm!r}: use letters, digits and ASCII punctuation only "
                "(no space, quote or backslash), as the carrier's challenge names it"
            )
        if not MIN_EXPIRES <= self.expires <= MAX_EXPIRES:
            raise ConfigError(
                f"TELEPHONY_TRUNK_EXPIRES={self.expires}: give seconds between {MIN_EXPIRES} and "
                f"{MAX_EXPIRES} (Kamailio renews the registration before it expires)"
            )

    @property
    def sip_domain(self) -> str:
        return self.domain or self.sip.host

    @property
    def gateway_hostport(self) -> str:
        """The gateway's host[:port], for the outbound legs' request URI (the number @ the gateway)."""
        return _hostport(self.gateway)

    @property
    def gateway_host(self) -> str:
        """The gateway's host: an IP address (without IPv6 brackets) or a DNS name; empty: none."""
        return _host(self.gateway)

    @property
    def gateway_ip(self) -> str:
        """The gateway's IP address when it is written as one (else it is a DNS name, or none)."""
        return _ip_or_empty(self.gateway_host)

    @property
    def registrar_hostport(self) -> str:
        """The registrar's host[:port]: the domain of the registered address (sip:username@...)."""
        return _hostport(self.registrar)

    @property
    def registrar_host(self) -> str:
        return _host(self.registrar)

    @property
    def registrar_ip(self) -> str:
        """The registrar's IP address when written as one (a name is resolved by Kamailio, per request)."""
        return _ip_or_empty(self.registrar_host)

    @property
    def outbound(self) -> str:
        """Where the call control's outbound legs (and the calls Kamailio forwards) go: the gateway if
        one is set, else the registrar (a carrier that registers its customers takes their calls)."""
        return self.gateway or self.registrar

    @property
    def contact_address(self) -> str:
        """The registered contact's host:port (IPv6 in brackets), Kamailio's SIP address, with the
        registrar's transport (;transport=tcp: the carrier calls it over TCP too)."""
        host = f"[{self.sip.host}]" if ":" in self.sip.host else self.sip.host
        found = _GATEWAY.fullmatch(self.registrar)
        return f"{host}:{self.sip.port}" + ((found["params"] or "") if found else "")

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
            registrar=settings.TELEPHONY_TRUNK_REGISTRAR,
            username=settings.TELEPHONY_TRUNK_USERNAME,
            password=settings.TELEPHONY_TRUNK_PASSWORD,
            realm=settings.TELEPHONY_TRUNK_REALM,
            expires=settings.TELEPHONY_TRUNK_EXPIRES,
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
        **{name: value for name, value in layout.__dict__.items() if name != "password"},  # never here
        "domain": layout.sip_domain,
        "gateway_hostport": layout.gateway_hostport,
        "gateway_host": layout.gateway_host,
        "gateway_ip": layout.gateway_ip,
        "registrar_hostport": layout.registrar_hostport,
        "registrar_host": layout.registrar_host,
        "registrar_ip": layout.registrar_ip,
        "outbound": layout.outbound,
        "outbound_hostport": _hostport(layout.outbound),
        "contact_address": layout.contact_address,
        "uacreg_table": UACREG,
        "run": folder / "run",
        "tables": folder.absolute(),  # db_text's folder: the fallback table (fallback.py)
        "fallback_table": fallback.TABLE,
        "recordings": folder / "recordings",
    }
    env = _environment()
    return {name: env.get_template(name).render(**context) for name in ("kamailio.cfg", "rtpengine.conf")}


def check_kamailio(path: Path) -> None:
    """Kamailio's own check of a configuration file (``kamailio -c``); ConfigError with its words."""
    done = subprocess.run(["kamailio", "-c", "-f", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise ConfigError("kamailio refuses the configuration:\n" + (done.stderr or done.stdout)[-2000:])


def write(layout: Layout, folder: Path) -> dict[str, Path]:
    """Write the files (and the folders they use) under ``folder``; returns their paths. The fallback
    table is left as it is, or written empty when there is none (Kamailio loads it at start):
    ``fallback.write`` fills it from the database. The trunk's registration table is written from
    the settings (and removed without a registrar: no password left behind)."""
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
    registration = write_registration(layout, folder)
    if registration is not None:
        paths[UACREG] = registration
    return paths


def _escape(value: str) -> str:
    """A db_text value: its separator ':' and the escape character itself escaped (dbt_file.c)."""
    return value.replace("\\", "\\\\").replace(":", "\\:")


def render_registration(layout: Layout) -> str:
    """The uacreg table: its columns, then the trunk's account (none without a registrar). Kamailio
    registers sip:<username>@<registrar host[:port]> through the registrar, with the contact
    sip:<username>@<its SIP address> (l_uuid is the contact's user), every ``expires`` seconds."""
    lines = [UACREG_COLUMNS]
    if layout.registrar:
        user = layout.username  # _USERNAME: nothing to escape
        fields = [
            "1", user, user, layout.sip_domain, user, _escape(layout.registrar_hostport),
            _escape(layout.realm), user, _escape(layout.password), "", _escape(layout.registrar),
            str(layout.expires), "0", "0", "", "",
        ]  # fmt: skip
        lines.append(":".join(fields))
    return "\n".join(lines) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by its owner only, atomically (Kamailio may be reading it), its
    modification time moved on by a whole second at least (db_text reads a table again only then)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    partial = path.with_name(f".{path.name}.new")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(partial, path)
    second = 1_000_000_000
    if before and path.stat().st_mtime_ns // second <= before // second:
        later = (before // second + 1) * second
        os.utime(path, ns=(later, later))


def write_registration(layout: Layout, folder: Path) -> Path | None:
    """The trunk's registration table in ``folder`` (mode 0600: it holds the password), with the
    version table uac checks; without a registrar, the table is removed and None returned."""
    path = folder / UACREG
    if not layout.registrar:
        path.unlink(missing_ok=True)
        return None
    folder.mkdir(parents=True, exist_ok=True)
    _write_private(folder / "version", f"{VERSION_COLUMNS}\n1:{UACREG}:{UACREG_VERSION}\n")
    _write_private(path, render_registration(layout))
    return path


def reload_registration(socket: Path) -> None:
    """Ask the Kamailio listening on the control ``socket`` to load the uacreg table again (it then
    registers with the new account at its next round, within 20 s). Kamailio refuses a second reload
    within 30 s of the previous one (reg_gc_interval): ConfigError, in words."""
    kamcmd = shutil.which("kamcmd")
    if kamcmd is None:
        raise ConfigError("kamcmd is not installed (Debian: apt-get install kamailio)")
    if not socket.exists():
        raise ConfigError(f"Kamailio is not running: no control socket {socket}")
    done = subprocess.run([kamcmd, "-s", f"unix:{socket}", "uac.reg_reload"],
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    said = (done.stderr + done.stdout).strip()[-1000:]
    if done.returncode != 0 or "error" in said.lower():
        if "not found" in said.lower():
            said += " (this Kamailio runs without a registrar: restart it with the new configuration)"
        elif "shift" in said.lower():
            said += " (Kamailio takes a new account at most once every 30 s: run it again in a moment)"
        raise ConfigError(f"Kamailio did not reload the trunk's registration: {said}")
