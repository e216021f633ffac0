"""The whole account as one file, and back (reversibility): ``export_account`` writes a zip archive of
JSON Lines files, one per kind of row, that ``import_account`` restores into another instance, all or
nothing. The format is documented in docs/export-format.md (a test checks every file and field is).

One table, ``KINDS``, says what is exported: a model, how its rows belong to the account, the fields
left out and why. The rest follows from the fields' types:

* the account's own key is implicit (everything in the archive is the account's);
* a row of another file is named by its ``ref``, the row's line in its file (from 1): database ids are
  never written, so the archive means the same on any instance;
* a user is named by the username; ``users.jsonl`` describes them (see ``_restore_users``);
* a file (audio) is ``{"name", "size", "sha256", "archived"}``: its storage name and size, and, when
  the audio is included, the file inside the archive with its digest; the import writes an archived
  file under a new name and never takes a name as a reference to a file already here;
* dates ISO 8601, instants in UTC; JSON fields as stored (the ids some hold are written as refs:
  ``json_refs``).

The models left out entirely are in ``LEFT_OUT``, with the reason. The client's download
(``for_client``) holds what the client sees in the portal: ``Kind.client`` says which rows.

The import makes new rows only: it never changes a row it did not make (a user of this instance named by
the archive is only named).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import PurePosixPath
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.utils import validate_file_name
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify

from permanence.accounts.models import (
    Account,
    HoursException,
    Instruction,
    InstructionReading,
    PhoneNumber,
    WeeklyHours,
)
from permanence.agenda.models import (
    Appointment,
    AppointmentType,
    AvailabilityException,
    CalendarFeed,
    CalendarLink,
    ExternalEvent,
    RemoteCopy,
    SyncIssue,
    WorkingHours,
)
from permanence.api.models import ApiKey, IdempotentRequest
from permanence.audit.models import AuditEvent
from permanence.billing.models import (
    BillingProfile,
    Decision,
    Dispute,
    Invoice,
    InvoiceLine,
    Plan,
    ServicePromise,
)
from permanence.calls.models import Call, CallEvent, CallRecording, Desk, PresenceSpan, Supervision, Voicemail
from permanence.contacts.models import Contact, ContactNumber
from permanence.directory.models import (
    Absence,
    Collaborator,
    DirectoryChange,
    Rota,
    RotaMember,
    RotaSwap,
    Service,
    TransferWindow,
)
from permanence.messaging.models import (
    Acknowledgement,
    CallbackTask,
    Delivery,
    DeliveryEvent,
    DeliveryPreference,
    EscalationPolicy,
    Message,
    MessageFlag,
    PushSubscription,
    Survey,
    SurveyOptOut,
    WebhookEndpoint,
)
from permanence.privacy.models import DataRequest, LegalHold, RetentionPolicy
from permanence.reporting.models import CallReview, Rollup
from permanence.scenarios.models import (
    Block,
    Comment,
    Remark,
    Run,
    Scenario,
    ScenarioVersion,
    Status,
    VersionReading,
)
from permanence.users.models import CLIENT_ROLES, STAFF_ROLES, Role, Training

FORMAT = "permanence-account"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
USERS_FILE = "users.jsonl"
AUDIO_DIR = "audio"
BATCH = 500
FILE_KEYS = ("name", "size", "sha256", "archived")
USER_FIELDS = ("ref", "username", "first_name", "last_name", "email", "role", "is_active", "date_joined",
               "member")


class ArchiveError(ValueError):
    """The archive cannot be imported (or the account exported); the message says why, in one line."""


@dataclass(frozen=True)
class Kind:
    """One file of the archive: the rows of ``model`` that belong to the account through ``owner``."""

    name: str
    model: type[models.Model]
    owner: str  # the lookup from a row to its account; "" for the account itself
    leave_out: Mapping[str, str] = field(default_factory=dict)  # field name -> why it is not exported
    json_refs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # JSON field -> key -> kind
    restore: Callable[[Any, _Restore, str], None] | None = None  # fills on import what the file leaves out
    client: Q | None = None  # the rows the client's download holds (what the client sees); None: all

    @property
    def file(self) -> str:
        return f"{self.name}.jsonl"

    def rows(self, account: Account, *, for_client: bool = False) -> QuerySet[Any]:
        lookup = {self.owner: account} if self.owner else {"pk": account.pk}
        rows = self.model._default_manager.filter(**lookup)
        if for_client and self.client is not None:
            rows = rows.filter(self.client)
        return rows.order_by("pk")

    def fields(self) -> list[models.Field[Any, Any]]:
        """The fields written, in the model's order: every concrete and many-to-many field but the
        primary key, the implicit account and the ones left out."""
        found = [*self.model._meta.concrete_fields, *self.model._meta.many_to_many]
        return [f for f in found
                if not f.primary_key and f.name not in self.leave_out and _role(f) != "account"]


def _role(f: Any) -> str:
    """How a field is written: account (implicit), user (username), ref (a row of another file), refs
    (a list of them), file (audio), or value."""
    if f.is_relation:
        target = f.related_model
        if target is Account:
            return "account"
        if target is get_user_model():
            return "user"
        return "refs" if f.many_to_many else "ref"
    if isinstance(f, models.FileField):
        return "file"
    return "value"


def _restore_webhook(endpoint: WebhookEndpoint, ctx: _Restore, where: str) -> None:
    endpoint.secret = secrets.token_urlsafe(32)
    ctx.report.webhook_secrets += 1


def _restore_api_key(key: ApiKey, ctx: _Restore, where: str) -> None:
    if key.user_id not in ctx.members:  # a key acts as its own user: one of the account's, made here
        name = next((n for n, pk in ctx.users.items() if pk == key.user_id), key.user_id)
        raise ArchiveError(f"{where}, user: “{name}” is not a user of the account (an API key's user is "
                           "made by the import)")
    key.digest = ""  # matches no key: the key's text cannot come back
    if key.revoked_at is None:
        key.revoked_at = ctx.now
        ctx.revoked_key_users.append(key.user_id)
    ctx.report.api_keys_revoked += 1


DISPATCH_STATE = "the dispatcher's working state while a call waits or rings (offered to whom, until when)"
COUNTED = "computed by the reports as they count the call; the new instance counts the imported calls itself"
#: the scenario versions a client admin sees (``policy.visible_version_statuses``): the others are the
#: operator's work in progress, left out of the client's download with their comments and runs
CLIENT_VERSIONS = (Status.SENT, Status.APPROVED, Status.PUBLISHED, Status.RETIRED)
KINDS: tuple[Kind, ...] = (
    Kind("account", Account, ""),
    Kind("phone_numbers", PhoneNumber, "account"),
    Kind("weekly_hours", WeeklyHours, "account"),
    Kind("hours_exceptions", HoursException, "account"),
    Kind("instructions", Instruction, "account"),
    Kind("services", Service, "account"),
    Kind("collaborators", Collaborator, "account"),
    Kind("transfer_windows", TransferWindow, "collaborator__account"),
    Kind("absences", Absence, "collaborator__account"),
    Kind("rotas", Rota, "account"),
    Kind("rota_members", RotaMember, "rota__account"),
    Kind("rota_swaps", RotaSwap, "rota__account"),
    Kind("directory_changes", DirectoryChange, "account", json_refs={"data": {"service": "services"}}),
    Kind("contacts", Contact, "account"),
    Kind("contact_numbers", ContactNumber, "contact__account"),
    Kind("scenarios", Scenario, "account", client=Q(
        pk__in=ScenarioVersion.objects.filter(status__in=CLIENT_VERSIONS).values("scenario"))),
    Kind("scenario_versions", ScenarioVersion, "scenario__account", client=Q(status__in=CLIENT_VERSIONS)),
    # the client's change requests and approvals; not the technical assistants' review notes
    Kind("scenario_comments", Comment, "version__scenario__account",
         client=Q(version__status__in=CLIENT_VERSIONS) & ~Q(kind=Comment.Kind.REVIEW)),
    Kind("scenario_remarks", Remark, "version__scenario__account", client=Q(pk__in=[])),  # the desk's
    Kind("scenario_runs", Run, "version__scenario__account",  # not the training calls'
         client=Q(test=False, version__status__in=CLIENT_VERSIONS)),
    Kind("calls", Call, "account", leave_out={
        "offered_to": DISPATCH_STATE, "offer_expires_at": DISPATCH_STATE, "passed_by": DISPATCH_STATE,
        "caller_leaves_at": "a simulated caller's patience (the simulator's, not a real caller's)",
        "rolled_up_at": COUNTED, "called_again": COUNTED,
    }),
    Kind("call_events", CallEvent, "call__account"),
    Kind("call_recordings", CallRecording, "account"),
    Kind("messages", Message, "account", leave_out={"rolled_up": COUNTED, "ack_rolled_up": COUNTED},
         json_refs={"fields": {"voicemail": "voicemails"}}),
    Kind("deliveries", Delivery, "message__account", leave_out={
        "lease_until": "a worker's hold on a delivery while it sends it",
        "enqueued_at": "when a task to send it was last queued on this instance's worker",
    }),
    Kind("delivery_events", DeliveryEvent, "delivery__message__account"),
    Kind("acknowledgements", Acknowledgement, "message__account"),
    Kind("message_flags", MessageFlag, "message__account"),
    Kind("voicemails", Voicemail, "account"),
    Kind("callback_tasks", CallbackTask, "account"),
    Kind("surveys", Survey, "account"),
    Kind("webhooks", WebhookEndpoint, "account", restore=_restore_webhook, leave_out={
        "secret": "a shared signing secret: the import makes a new one, to give to the receiving system",
    }),
    Kind("escalation_policy", EscalationPolicy, "account"),
    Kind("delivery_preferences", DeliveryPreference, "collaborator__account"),
    Kind("working_hours", WorkingHours, "collaborator__account"),
    Kind("availability_exceptions", AvailabilityException, "collaborator__account"),
    Kind("appointment_types", AppointmentType, "account"),
    Kind("appointments", Appointment, "account"),
    Kind("api_keys", ApiKey, "account", restore=_restore_api_key, leave_out={
        "digest": "the key's secret (as a digest): never exported; the import revokes the key",
    }),
    Kind("retention_policy", RetentionPolicy, "account"),
    Kind("legal_holds", LegalHold, "account"),
    Kind("data_requests", DataRequest, "account"),
)
KIND_OF: dict[type[models.Model], Kind] = {kind.model: kind for kind in KINDS}
KIND_NAMED: dict[str, Kind] = {kind.name: kind for kind in KINDS}

CALENDAR = ("the collaborator's own calendar: its password is not exported and the sync's state belongs to "
            "this instance; link the calendar again on the new one")
#: models related to an account that are not exported, and why
LEFT_OUT: dict[type[models.Model], str] = {
    InstructionReading: "which secretary saw an instruction at the desk: the operator's desk state",
    VersionReading: "which secretary saw a new scenario version: the operator's desk state",
    Block: "the operator's library of shared blocks (not the account's): a scenario names the blocks it uses",
    Desk: "a secretary's status at the desk: the operator's",
    PresenceSpan: "a secretary's presence: the operator's",
    Supervision: "the operator's live supervision of its secretaries' calls",
    CallReview: "the operator's reviews of its secretaries' work",
    Rollup: "figures computed from the calls: the new instance counts the imported calls itself",
    Training: "who of the operator's staff answers the account: set up again on the new instance",
    CalendarFeed: "private calendar addresses are secrets: issue new ones on the new instance",
    CalendarLink: CALENDAR,
    RemoteCopy: CALENDAR,
    ExternalEvent: CALENDAR,
    SyncIssue: CALENDAR,
    PushSubscription: "a browser's push subscription and its keys: the browser subscribes again",
    SurveyOptOut: "numbers that refused the surveys, for the whole instance rather than one account",
    AuditEvent: "this instance's trail of who read or changed the data: it stays here (the export is in it)",
    IdempotentRequest: "the API's protection against a request sent twice (a day long)",
    BillingProfile: "the operator's contract with the client (whom to bill, what not to bill): the new "
                    "provider writes its own",
    Plan: "the operator's prices: the new provider has its own",
    ServicePromise: "the service levels this operator promised: the new provider promises its own",
    Invoice: "the operator's accounting records, kept ten years here (French commercial law): the client "
             "downloads each invoice as a Factur-X PDF from its portal",
    Dispute: "part of the operator's accounting records (with the invoices)",
    InvoiceLine: "part of the operator's accounting records (with the invoices)",
    Decision: "part of the operator's accounting records (with the invoices): why each call was billed or "
              "not",
}


# --- export -----------------------------------------------------------------------------------------


@dataclass
class Manifest:
    data: dict[str, Any]

    @property
    def rows(self) -> int:
        return sum(self.data["files"].values())


def audio_kinds() -> frozenset[str]:
    """The kinds whose rows may carry audio files (``export_account(audio=...)``)."""
    return frozenset(k.name for k in KINDS if any(_role(f) == "file" for f in k.fields()))


class _Moved(Exception):
    """The account changed while it was being written (a row made, changed or deleted meanwhile)."""


ATTEMPTS = 3


def export_account(account: Account, out: IO[bytes], *, audio: Collection[str] = (),
                   now: datetime | None = None, for_client: bool = False) -> Manifest:  # fmt: skip
    """Write the account's archive to ``out`` (a binary file, seekable). ``audio``: the kinds whose audio
    files go into the archive (``audio_kinds()`` for all); the others are written by reference only.
    ``for_client``: the client's download, what the client sees in the portal (``Kind.client``: not the
    operator's drafts, review notes, remarks from the desk, training runs); else everything.

    The account may be live (calls arriving): on PostgreSQL the archive is read from one snapshot; on
    SQLite, or inside a transaction already begun, an archive that the account changed while it was
    written is written again (a few times at most)."""
    for _attempt in range(ATTEMPTS):
        start = out.tell()
        try:
            with _snapshot():
                return _export(account, out, frozenset(audio), now, for_client)
        except _Moved:
            out.seek(start)
            out.truncate()
    raise ArchiveError("the account kept changing while it was being exported: try again")


@contextmanager
def _snapshot() -> Iterator[None]:
    """One consistent view of the data for the whole export, where the database gives one cheaply."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _export(account: Account, out: IO[bytes], audio: frozenset[str], now: datetime | None,
            for_client: bool) -> Manifest:  # fmt: skip
    from permanence import __version__

    now = now or timezone.now()
    refs = {kind.model: _refs(kind.rows(account, for_client=for_client)) for kind in KINDS}
    users = _UserNames()
    files: dict[str, int] = {}
    sounds = {"referenced": 0, "archived": 0}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for kind in KINDS:
            rows = kind.rows(account, for_client=for_client).filter(pk__lte=max(refs[kind.model], default=0))
            many = [f.name for f in kind.fields() if _role(f) == "refs"]
            if many:
                rows = rows.prefetch_related(*many)
            count = 0
            # the rows wait in a temporary file while their audio files go into the archive
            with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
                for obj in rows.iterator(chunk_size=1000):
                    count += 1
                    if refs[kind.model].get(obj.pk) != count:  # a row deleted since the refs were counted
                        raise _Moved
                    spool.write(_line(_dump(kind, obj, refs, users, archive, account, kind.name in audio,
                                            sounds, for_client)))
                if count != len(refs[kind.model]):
                    raise _Moved
                spool.seek(0)
                with archive.open(_member(kind.file, now), "w", force_zip64=True) as handle:
                    shutil.copyfileobj(spool, handle)
            files[kind.file] = count
        members = get_user_model().objects.filter(Q(account=account) | Q(pk__in=users.ids))
        count = 0
        with archive.open(_member(USERS_FILE, now), "w") as handle:
            for count, user in enumerate(members.order_by("username"), start=1):
                member = user.account_id == account.pk  # else the operator's staff: only their names
                handle.write(_line({
                    "ref": count, "username": user.username, "first_name": user.first_name,
                    "last_name": user.last_name, "email": user.email if member else "", "role": user.role,
                    "is_active": user.is_active, "date_joined": _plain(user.date_joined) if member else None,
                    "member": member,
                }))
        files[USERS_FILE] = count
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "permanence_version": __version__,
            "exported_at": _plain(now),
            "account": account.slug,
            "for_client": for_client,
            "files": files,
            "audio": sounds,
        }
        archive.writestr(_member(MANIFEST, now), json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return Manifest(manifest)


def _member(name: str, when: datetime) -> zipfile.ZipInfo:
    """A file of the archive, dated when the export was made (in UTC), compressed."""
    info = zipfile.ZipInfo(name, date_time=when.astimezone(UTC).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


class _UserNames:
    """Usernames by id, looked up once each; remembers who was named."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    @property
    def ids(self) -> list[int]:
        return list(self.names)

    def __call__(self, pk: int | None) -> str | None:
        if pk is None:
            return None
        if pk not in self.names:
            self.names[pk] = get_user_model().objects.values_list("username", flat=True).get(pk=pk)
        return self.names[pk]


def _refs(rows: QuerySet[Any]) -> dict[int, int]:
    return {pk: ref for ref, pk in enumerate(rows.values_list("pk", flat=True), start=1)}


def _line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _plain(value: Any) -> Any:
    """A value as JSON holds it: instants in UTC, dates and times ISO 8601."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (int, float, str, bool, list, dict)) or value is None:
        return value
    return str(value)  # UUID, Decimal


def _ref_of(refs: dict[type[models.Model], dict[int, int]], target: Any, pk: Any, account: Account,
            where: str, for_client: bool, optional: bool) -> int | None:  # fmt: skip
    """The ref of the row ``pk`` names; in the client's download, none for a row left out of it (when
    the field may be empty)."""
    if pk is None:
        return None
    try:
        return refs[target][pk]
    except KeyError:
        kind = KIND_OF[target]
        if kind.rows(account, for_client=for_client).filter(pk=pk).exists():
            raise _Moved from None  # made since the refs were counted
        if for_client and kind.rows(account).filter(pk=pk).exists():
            if optional:
                return None
            raise ArchiveError(f"{where} names a {target._meta.label} (id {pk}) left out of the client's "
                               "download") from None
        raise ArchiveError(f"{where} names a {target._meta.label} (id {pk}) of another account") from None


def _dump(kind: Kind, obj: Any, refs: dict[type[models.Model], dict[int, int]], users: _UserNames,
          archive: zipfile.ZipFile, account: Account, with_audio: bool, sounds: dict[str, int],
          for_client: bool) -> dict[str, Any]:  # fmt: skip
    ref = refs[kind.model][obj.pk]
    row: dict[str, Any] = {"ref": ref}
    where = f"{kind.file} row {ref}"
    for f in kind.fields():
        role = _role(f)
        if role == "user":
            row[f.name] = users(getattr(obj, f.attname))
        elif role == "ref":
            pk = getattr(obj, f.attname)
            row[f.name] = _ref_of(refs, f.related_model, pk, account, f"{where} ({f.name})", for_client,
                                  f.null)
        elif role == "refs":
            linked = (_ref_of(refs, f.related_model, o.pk, account, where, for_client, True)
                      for o in getattr(obj, f.name).all())
            row[f.name] = sorted(ref for ref in linked if ref is not None)
        elif role == "file":
            row[f.name] = _dump_file(getattr(obj, f.name), archive, f"{kind.name}/{ref}-{f.name}", with_audio,
                                     sounds)
        else:
            value = _plain(f.value_from_object(obj))
            for key, target in kind.json_refs.get(f.name, {}).items():
                if isinstance(value, dict) and isinstance(value.get(key), int):
                    value = {**value, key: refs[KIND_NAMED[target].model].get(value[key])}
            row[f.name] = value
    return row


def _dump_file(fieldfile: Any, archive: zipfile.ZipFile, member: str, with_audio: bool,
               sounds: dict[str, int]) -> dict[str, Any] | None:  # fmt: skip
    if not fieldfile:
        return None
    sounds["referenced"] += 1
    name = fieldfile.name
    out: dict[str, Any] = dict.fromkeys(FILE_KEYS)
    out["name"] = name
    try:
        out["size"] = default_storage.size(name)
    except (OSError, NotImplementedError):
        return out  # referenced, but not found in storage
    if with_audio:
        member = f"{AUDIO_DIR}/{member}{PurePosixPath(name).suffix.lower()}"
        digest = hashlib.sha256()
        with default_storage.open(name, "rb") as source, \
                archive.open(_member(member, timezone.now()), "w", force_zip64=True) as target:
            for chunk in iter(lambda: source.read(1 << 16), b""):
                digest.update(chunk)
                target.write(chunk)
        out["sha256"] = digest.hexdigest()
        out["archived"] = member
        sounds["archived"] += 1
    return out


# --- import -----------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    account: Account | None = None
    rows: int = 0
    users_created: list[str] = field(default_factory=list)  # the account's users, without a password
    staff_mapped: list[str] = field(default_factory=list)  # names of this instance's staff
    staff_kept_as_names: list[str] = field(default_factory=list)  # inactive users made to hold a name
    api_keys_revoked: int = 0
    webhook_secrets: int = 0
    audio_restored: int = 0
    audio_missing: list[str] = field(default_factory=list)  # rows whose audio is not in the archive


@dataclass
class _Restore:
    now: datetime
    report: ImportReport
    account_id: int | None = None
    users: dict[str, int] = field(default_factory=dict)  # username -> id here
    members: set[int] = field(default_factory=set)  # the account's users, made by this import
    pks: dict[str, dict[int, int]] = field(default_factory=dict)  # kind -> ref -> id here
    written: list[str] = field(default_factory=list)  # files written to storage (removed on failure)
    revoked_key_users: list[int] = field(default_factory=list)


def import_account(source: str | Any, *, slug: str | None = None, actor: Any = None,
                   now: datetime | None = None) -> ImportReport:  # fmt: skip
    """Restore an archive made by ``export_account`` as a new account (``slug``, or the archive's):
    all or nothing. Raises ArchiveError, saying why, when the archive cannot be imported."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(f"not a readable zip archive ({exc})") from None
    with archive:
        manifest = _read_manifest(archive)
        ctx = _Restore(now=now or timezone.now(), report=ImportReport())
        try:
            with transaction.atomic(), _timestamps_as_given():
                _import(archive, manifest, slug, ctx, actor)
        except BaseException:
            for name in ctx.written:
                default_storage.delete(name)
            raise
    return ctx.report


def _read_manifest(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except KeyError:
        raise ArchiveError(f"no {MANIFEST} in the archive: not an account exported by Permanence") from None
    except (ValueError, zipfile.BadZipFile) as exc:
        raise ArchiveError(f"{MANIFEST} is unreadable ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"{MANIFEST} does not describe a “{FORMAT}” archive")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise ArchiveError(
            f"format version {version!r} is unknown: this Permanence reads version {FORMAT_VERSION}")
    files = manifest.get("files")
    expected = {kind.file for kind in KINDS} | {USERS_FILE}
    if not isinstance(files, dict) or not all(isinstance(n, int) and n >= 0 for n in files.values()):
        raise ArchiveError(f"{MANIFEST} gives no count of rows per file")
    if missing := sorted(expected - set(files)):
        raise ArchiveError(f"{MANIFEST} lists no {', '.join(missing)}")
    if unknown := sorted(set(files) - expected):
        raise ArchiveError(f"{MANIFEST} lists files this version does not know: {', '.join(unknown)}")
    present = set(archive.namelist())
    if absent := sorted(name for name in expected if name not in present):
        raise ArchiveError(f"the archive is incomplete: {', '.join(absent)} missing")
    return manifest


def _rows(archive: zipfile.ZipFile, name: str, count: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """The file's rows with where each is (``calls.jsonl line 3``), checked as JSON objects numbered 1,
    2, 3... and as many as the manifest says."""
    line = 0
    try:
        with archive.open(name) as raw:
            for line, text in enumerate(io.TextIOWrapper(raw, encoding="utf-8"), start=1):
                where = f"{name} line {line}"
                try:
                    row = json.loads(text)
                except ValueError:
                    raise ArchiveError(f"{where}: not JSON") from None
                if not isinstance(row, dict) or row.get("ref") != line:
                    raise ArchiveError(f"{where}: not a row numbered {line} (its “ref”)")
                yield where, row
    except (zipfile.BadZipFile, UnicodeDecodeError, EOFError) as exc:
        raise ArchiveError(f"{name} is damaged ({exc})") from None
    if line != count:
        raise ArchiveError(
            f"{name} has {line} rows where the manifest says {count}: the archive is incomplete")


def _import(archive: zipfile.ZipFile, manifest: dict[str, Any], slug: str | None, ctx: _Restore,
            actor: Any) -> None:  # fmt: skip
    from permanence.audit import trail
    from permanence.audit.models import Action

    files = manifest["files"]
    slug = slug or str(manifest.get("account") or "")
    if slugify(slug) != slug or not slug:
        raise ArchiveError(f"“{slug}” is not a short name (lower-case letters, digits and dashes)")
    if Account.objects.filter(slug=slug).exists():
        raise ArchiveError(
            f"an account with the short name “{slug}” already exists here: give another (--slug)")
    _check_numbers_free(archive, files)
    members = _restore_users(archive, files[USERS_FILE], ctx)
    deferred: list[tuple[Any, str, str, int]] = []  # (row, field, kind, ref): set once that kind is made
    json_fixes: list[tuple[Kind, Any, str, str, str, int]] = []
    for kind in KINDS:
        made: dict[int, int] = {}
        ctx.pks[kind.name] = made
        batch: list[tuple[int, Any, dict[str, list[int]]]] = []
        for where, row in _rows(archive, kind.file, files[kind.file]):
            if kind.model is Account:
                row = {**row, "slug": slug}
            obj, many = _build(kind, row, where, ctx, deferred, json_fixes, archive)
            batch.append((row["ref"], obj, many))
            if len(batch) >= BATCH:
                _save(kind, batch, made)
                batch = []
        _save(kind, batch, made)
        if kind.model is Account:
            ctx.account_id = made.get(1)
            if ctx.account_id is None or len(made) != 1:
                raise ArchiveError("account.jsonl must hold the account, in one row")
            _make_members(members, ctx)
    for obj, name, target, ref in deferred:
        pk = _pk(ctx, target, ref, f"{obj._meta.label} {name}")
        type(obj)._default_manager.filter(pk=obj.pk).update(**{name: pk})
    for kind, obj, name, key, target, ref in json_fixes:
        value = getattr(obj, name)
        value[key] = ctx.pks[target].get(ref)
        kind.model._default_manager.filter(pk=obj.pk).update(**{name: value})
    if revoked := set(ctx.revoked_key_users) & ctx.members:  # only users this import made
        get_user_model().objects.filter(pk__in=revoked).update(is_active=False)
    account = Account.objects.get(pk=ctx.account_id)
    ctx.report.account = account
    ctx.report.rows = sum(files.values())
    trail.record(actor, Action.IMPORT, account, object_repr=account.name, via="import_account",
                 exported_at=manifest.get("exported_at"), exported_as=manifest.get("account"),
                 rows=ctx.report.rows)


def _check_numbers_free(archive: zipfile.ZipFile, files: dict[str, int]) -> None:
    """A number rings at one account at a time: refused clearly when another account here has it."""
    current = [str(row.get("number")) for _where, row in _rows(archive, "phone_numbers.jsonl",
                                                                files["phone_numbers.jsonl"])
               if row.get("released_at") is None]
    taken = PhoneNumber.objects.filter(number__in=current, released_at__isnull=True).select_related("account")
    if found := [f"{n.number} ({n.account.slug})" for n in taken]:
        raise ArchiveError(f"numbers already in service here for another account: {', '.join(found)}")


def _restore_users(archive: zipfile.ZipFile, count: int, ctx: _Restore) -> list[tuple[str, dict[str, Any]]]:
    """The people ``users.jsonl`` names. The operator's staff the data names (secretaries who answered,
    authors of comments...) are mapped to this instance's staff user of the same username; a name unknown
    here is kept as an inactive user with no password, the role of a secretary and no training: it
    reaches nothing. The account's own users (``member``) are checked here, made by ``_make_members``
    once the account is: they are returned."""
    model = get_user_model()
    rows = list(_rows(archive, USERS_FILE, count))
    for where, row in rows:
        if set(row) != set(USER_FIELDS):
            raise ArchiveError(f"{where}: the fields should be {', '.join(USER_FIELDS)}")
        if not isinstance(row["username"], str) or not row["username"]:
            raise ArchiveError(f"{where}: no username")
        if row["member"] and row["role"] not in CLIENT_ROLES:
            raise ArchiveError(f"{where}: a user of the account must be a client admin or collaborator")
    existing = {u.username: u for u in model.objects.filter(username__in=[r["username"] for _w, r in rows])}
    if taken := sorted(r["username"] for _w, r in rows if r["member"] and r["username"] in existing):
        raise ArchiveError(f"usernames already taken here: {', '.join(taken)} (the account's users are made "
                           "again with their usernames)")
    if clients := sorted(name for name, user in existing.items() if user.role not in STAFF_ROLES):
        raise ArchiveError(f"the operator's staff named {', '.join(clients)} are client users here")
    members = []
    for where, row in rows:
        name = row["username"]
        if row["member"]:
            members.append((where, row))
        elif name in existing:
            ctx.users[name] = existing[name].pk
            ctx.report.staff_mapped.append(name)
        else:
            ctx.users[name] = _make_user(row, where, role=Role.SECRETARY, active=False).pk
            ctx.report.staff_kept_as_names.append(name)
    return members


def _make_members(members: list[tuple[str, dict[str, Any]]], ctx: _Restore) -> None:
    """The account's users, made again in the new account with no usable password: each gets one from
    the operator (``permanence changepassword``)."""
    for where, row in members:
        user = _make_user(row, where, role=row["role"], active=bool(row["is_active"]), account=ctx.account_id)
        ctx.users[user.username] = user.pk
        ctx.members.add(user.pk)
        ctx.report.users_created.append(user.username)


def _make_user(row: dict[str, Any], where: str, *, role: str, active: bool,
               account: int | None = None) -> Any:  # fmt: skip
    model = get_user_model()
    user = model(username=row["username"], first_name=row["first_name"] or "",
                 last_name=row["last_name"] or "", email=row["email"] or "", role=role, is_active=active,
                 account_id=account)
    if row["date_joined"] is not None:  # none for the staff: made now
        user.date_joined = _value(model._meta.get_field("date_joined"), row["date_joined"],
                                  f"{where}, date_joined")
    user.set_unusable_password()
    try:
        user.clean_fields(exclude=["password", "account", "last_login"])
        user.save()
    except ValidationError as exc:
        raise ArchiveError(f"{where}: {_messages(exc)}") from None
    except DatabaseError as exc:
        raise ArchiveError(f"{where}: refused by the database ({exc})") from None
    return user


def _pk(ctx: _Restore, kind: str, ref: Any, where: str) -> int:
    try:
        return ctx.pks[kind][ref]
    except (KeyError, TypeError):
        raise ArchiveError(f"{where}: no row {ref!r} in {kind}.jsonl") from None


def _build(kind: Kind, row: dict[str, Any], where: str, ctx: _Restore, deferred: list[Any],
           json_fixes: list[Any], archive: zipfile.ZipFile) -> tuple[Any, dict[str, list[int]]]:  # fmt: skip
    fields = kind.fields()
    expected = {"ref", *(f.name for f in fields)}
    if missing := sorted(expected - set(row)):
        raise ArchiveError(f"{where}: missing {', '.join(missing)}")
    if unknown := sorted(set(row) - expected):
        raise ArchiveError(f"{where}: unknown {', '.join(unknown)}")
    obj = kind.model()
    many: dict[str, list[int]] = {}
    files: list[tuple[Any, Any, str]] = []
    for f in kind.model._meta.concrete_fields:
        if _role(f) == "account":
            setattr(obj, f.attname, ctx.account_id)
    for f in fields:
        value = row[f.name]
        role = _role(f)
        here = f"{where}, {f.name}"
        if role == "user":
            if value is None and not f.null:
                raise ArchiveError(f"{here}: empty")
            if value is not None and value not in ctx.users:
                raise ArchiveError(f"{here}: “{value}” is not in {USERS_FILE}")
            setattr(obj, f.attname, None if value is None else ctx.users[value])
        elif role == "ref":
            target = KIND_OF[f.related_model].name
            if value is None:
                if not f.null:
                    raise ArchiveError(f"{here}: empty")
                setattr(obj, f.attname, None)
            elif target in ctx.pks and target != kind.name:
                setattr(obj, f.attname, _pk(ctx, target, value, here))
            else:  # the same file (an escalation of a message): set once the rows are made
                deferred.append((obj, f.attname, target, value))
        elif role == "refs":
            target = KIND_OF[f.related_model].name
            if not isinstance(value, list):
                raise ArchiveError(f"{here}: not a list")
            many[f.name] = [_pk(ctx, target, ref, here) for ref in value]
        elif role == "file":  # once the other fields are set: the file is named after them
            files.append((f, value, here))
        else:
            value = _value(f, value, here)
            for key, target in kind.json_refs.get(f.name, {}).items():
                if isinstance(value, dict) and value.get(key) is not None:
                    json_fixes.append((kind, obj, f.name, key, target, value[key]))
            setattr(obj, f.attname, value)
    for f, value, here in files:
        setattr(obj, f.attname, _restore_file(f, obj, value, archive, here, ctx))
    if kind.restore is not None:
        kind.restore(obj, ctx, where)
    return obj, many


def _value(f: Any, value: Any, where: str) -> Any:
    """A plain value read as the field reads it, then checked as the field checks it (type, choices,
    length, validators; not blankness, which forms judge)."""
    if value is None:
        if not f.null and not isinstance(f, models.JSONField):
            raise ArchiveError(f"{where}: empty")
        return None
    if isinstance(value, (dict, list)) and not isinstance(f, models.JSONField):
        raise ArchiveError(f"{where}: not a single value")
    try:
        python = f.to_python(value)
        if isinstance(python, datetime) and timezone.is_naive(python):
            raise ArchiveError(f"{where}: “{value}” has no UTC offset")
        if f.choices and python not in f.empty_values:
            f.validate(python, None)
        if python not in f.empty_values:
            f.run_validators(python)
    except ValidationError as exc:
        raise ArchiveError(f"{where}: {_messages(exc)}") from None
    return python


def _messages(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _save(kind: Kind, batch: list[tuple[int, Any, dict[str, list[int]]]], made: dict[int, int]) -> None:
    """Insert a batch of rows, then their many-to-many links; a clash with this instance is refused with
    the field at fault when it is a unique field, the database's words otherwise."""
    if not batch:
        return
    objs = [obj for _ref, obj, _many in batch]
    for f in kind.model._meta.concrete_fields:
        if f.unique and not f.primary_key and _role(f) == "value":
            values = [getattr(o, f.attname) for o in objs if getattr(o, f.attname) not in (None, "")]
            clash = kind.model._default_manager.filter(**{f"{f.attname}__in": values}).values_list(
                f.attname, flat=True).first()
            if clash is not None:
                raise ArchiveError(f"{kind.file}: the {f.name} {clash} is already on this instance "
                                   "(was this account imported here before?)")
    try:
        with transaction.atomic():
            kind.model._default_manager.bulk_create(objs)
    except DatabaseError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArchiveError(f"{kind.file}: refused by the database ({first})") from None
    for ref, obj, many in batch:
        made[ref] = obj.pk
        for name, pks in many.items():
            through = kind.model._meta.get_field(name).remote_field.through
            source, target = _through_columns(kind.model, name)
            through.objects.bulk_create(through(**{source: obj.pk, target: pk}) for pk in pks)


def _through_columns(model: type[models.Model], name: str) -> tuple[str, str]:
    f = model._meta.get_field(name)
    return f.m2m_column_name(), f.m2m_reverse_name()


def _restore_file(f: Any, obj: Any, value: Any, archive: zipfile.ZipFile, where: str, ctx: _Restore) -> str:
    """The file's storage name here: the archived file written under a new name, as the field names the
    files of the new row; none for a file not in the archive (listed in the report). A name is never
    taken as a reference to a file already here: it may be another account's, or shared by two rows
    (deleting one's would delete the other's)."""
    if value is None:
        return ""
    if not isinstance(value, dict) or set(value) != set(FILE_KEYS) or not isinstance(value["name"], str):
        raise ArchiveError(f"{where}: a file is written {{{', '.join(FILE_KEYS)}}}")
    name = value["name"]
    try:
        validate_file_name(name, allow_relative_path=True)
    except SuspiciousFileOperation:
        raise ArchiveError(f"{where}: “{name}” is not a file name under the media folder") from None
    member = value["archived"]
    if member is None:
        ctx.report.audio_missing.append(f"{where}: {name}")
        return ""
    if not isinstance(member, str) or not member.startswith(f"{AUDIO_DIR}/"):
        raise ArchiveError(f"{where}: “{member}” is not a file of the archive's {AUDIO_DIR} folder")
    with tempfile.TemporaryFile() as copy:
        digest = hashlib.sha256()
        try:
            with archive.open(member) as source:
                for chunk in iter(lambda: source.read(1 << 16), b""):
                    digest.update(chunk)
                    copy.write(chunk)
        except KeyError:
            raise ArchiveError(f"{where}: {member} is not in the archive") from None
        except (zipfile.BadZipFile, EOFError) as exc:
            raise ArchiveError(f"{member} is damaged ({exc})") from None
        if digest.hexdigest() != value["sha256"] or copy.tell() != value["size"]:
            raise ArchiveError(f"{member} is not the file {where} describes (size or SHA-256 differ)")
        copy.seek(0)
        target = f.generate_filename(obj, PurePosixPath(name).name)
        saved = default_storage.save(target, File(copy, name=PurePosixPath(target).name))  # never overwrites
    ctx.written.append(saved)
    ctx.report.audio_restored += 1
    return saved


@contextmanager
def _timestamps_as_given() -> Iterator[None]:
    """Creation and change times come from the archive, not from the clock (``auto_now`` and
    ``auto_now_add`` are off meanwhile: the import runs in its own command)."""
    switched = []
    for kind in KINDS:
        for f in kind.model._meta.concrete_fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                switched.append((f, f.auto_now, f.auto_now_add))
                f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in switched:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


def copy_to(path: str, write: Callable[[IO[bytes]], Any]) -> Any:
    """Write a file whole or not at all: into a temporary file beside ``path``, renamed at the end."""
    folder = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".export-", suffix=".zip", delete=False) as handle:
        try:
            result = write(handle)
        except BaseException:
            os.unlink(handle.name)
            raise
    os.replace(handle.name, path)
    return result
