"""Named actions on scenarios: check, create, save, and move a version through its life.

Views parse and authorise, then call these; each validates, writes in one
transaction and appends to the audit trail. The life of a version::

    draft ──submit──▶ review ──send──▶ sent ──approve──▶ approved ──▶ published
      ▲                 │               │
      └──── changes ────┴──── changes ──┘          (a new version starts as a draft)

Only a version without errors leaves the draft; publishing retires the version
in service at the same entry point of the account (whichever scenario it
belonged to), so exactly one serves each entry point (a database constraint
holds it too). The desk reads it through ``live.in_service``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from permanence.accounts.models import Account
from permanence.audit.models import Action
from permanence.audit.trail import record
from permanence.scenarios import environment, live
from permanence.scenarios.engine import checker, model
from permanence.scenarios.engine.runtime import scenario_hash
from permanence.scenarios.models import (
    ENTRY_VALIDATOR,
    MAIN_ENTRY,
    Comment,
    Remark,
    Scenario,
    ScenarioVersion,
    Status,
)

LIBRARY = Path(__file__).resolve().parent / "library"
#: the template library: one ready scenario per trade, and the standard switchboard
TEMPLATES: dict[str, str] = {
    "switchboard": "Standard téléphonique (accueil, personne demandée, message)",
    "legal": "Juridique : qualification du dossier",
    "medical": "Médical : prise de rendez-vous",
    "real_estate": "Immobilier : demande de visite",
    "ecommerce": "E-commerce : service après-vente",
    "trades": "Artisans : demande de devis",
}
TRADE_TEMPLATE = {
    "legal": "legal",
    "medical": "medical",
    "real_estate": "real_estate",
    "ecommerce": "ecommerce",
    "trades": "trades",
}


class ScenarioError(Exception):
    """An action refused, with a sentence for the user."""


logger = logging.getLogger(__name__)
MAX_PUBLISH_DELAY = timedelta(days=90)


def _text(value: str) -> str:
    """Text from a form: refused whole if it holds a NUL character (no database stores it)."""
    if "\x00" in value:
        raise ScenarioError(_("The text contains a NUL character: nothing was saved."))
    return value


def template_source(key: str) -> str:
    if key not in TEMPLATES:
        raise ScenarioError(_("Unknown template “%(key)s”.") % {"key": key})
    return (LIBRARY / f"{key}.yaml").read_text(encoding="utf-8")


def library_blocks() -> dict[str, model.Block]:
    """The shared blocks, read from the database (a block with errors is left out)."""
    return dict(live.library().blocks)


def check(source: str, account: Account | None) -> checker.Result:
    """The check of the editor, the approval and the command line: with the shared blocks."""
    info = environment.account_info(account) if account else None
    return checker.check(source, info, live.library().blocks)


@dataclass
class Saved:
    version: ScenarioVersion
    result: checker.Result


def store_check(version: ScenarioVersion, result: checker.Result) -> None:
    version.errors = len(result.problems.errors)
    version.warnings = len(result.problems.warnings)
    version.digest = scenario_hash(version.source)


@transaction.atomic
def create_scenario(
    account: Account, name: str, template: str, author: Any, request: Any = None, entry: str = MAIN_ENTRY
) -> Saved:
    name = " ".join(_text(name).split())
    entry = _text(entry).strip() or MAIN_ENTRY
    if not name:
        raise ScenarioError(_("Give the scenario a name."))
    if Scenario.objects.filter(account=account, name=name).exists():
        raise ScenarioError(_("This account already has a scenario named “%(name)s”.") % {"name": name})
    try:
        ENTRY_VALIDATOR(entry)
    except ValidationError:
        message = _("“%(entry)s” is not an entry point name: lower-case letters, digits, - and _.")
        raise ScenarioError(message % {"entry": entry}) from None
    source = template_source(template)
    scenario = Scenario.objects.create(account=account, name=name, entry=entry)
    version = ScenarioVersion(scenario=scenario, number=1, source=source, author=author)
    result = check(source, account)
    store_check(version, result)
    version.save()
    record(author, Action.CREATE, version, account=account, request=request, template=template)
    return Saved(version, result)


@transaction.atomic
def save_draft(version: ScenarioVersion, source: str, user: Any, request: Any = None) -> Saved:
    version = ScenarioVersion.objects.select_for_update().get(pk=version.pk)
    if not version.editable:
        raise ScenarioError(_("Only a draft can be edited; start a new version."))
    version.source = _text(source).replace("\r\n", "\n")
    result = check(version.source, version.scenario.account)
    store_check(version, result)
    version.save()
    record(
        user,
        Action.UPDATE,
        version,
        account=version.scenario.account,
        request=request,
        errors=version.errors,
        warnings=version.warnings,
    )
    return Saved(version, result)


@transaction.atomic
def new_version(scenario: Scenario, user: Any, request: Any = None) -> ScenarioVersion:
    scenario = Scenario.objects.select_for_update().get(pk=scenario.pk)
    open_version = scenario.versions.filter(status__in=[Status.DRAFT, Status.REVIEW, Status.SENT]).first()
    if open_version is not None:
        raise ScenarioError(
            _("Version %(number)s is still open: finish it first.") % {"number": open_version.number}
        )
    base = scenario.published or scenario.latest
    if base is None:
        raise ScenarioError(_("This scenario has no version to start from."))
    version = ScenarioVersion(
        scenario=scenario,
        number=(scenario.latest.number if scenario.latest else 0) + 1,
        source=base.source,
        author=user,
    )
    store_check(version, check(version.source, scenario.account))
    version.save()
    record(user, Action.CREATE, version, account=scenario.account, request=request, based_on=base.number)
    return version


def _transition(
    version: ScenarioVersion, allowed_from: tuple[str, ...], to: str, user: Any, request: Any, **fields: Any
) -> ScenarioVersion:
    locked = (
        ScenarioVersion.objects.select_for_update().select_related("scenario__account").get(pk=version.pk)
    )
    if locked.status not in allowed_from:
        raise ScenarioError(
            _("This version is “%(status)s”: this action is not possible now.")
            % {"status": locked.get_status_display()}
        )
    if to in (Status.REVIEW, Status.SENT, Status.APPROVED, Status.PUBLISHED):
        result = check(locked.source, locked.scenario.account)
        store_check(locked, result)
        if result.problems.errors:
            locked.save()
            raise ScenarioError(
                _("The scenario has %(count)s error(s): correct them first.")
                % {"count": len(result.problems.errors)}
            )
    before = locked.status
    locked.status = to
    for key, value in fields.items():
        setattr(locked, key, value)
    locked.save()
    record(
        user,
        Action.UPDATE,
        locked,
        account=locked.scenario.account,
        request=request,
        status_from=before,
        status_to=to,
    )
    return locked


@transaction.atomic
def submit_for_review(version: ScenarioVersion, user: Any, request: Any = None) -> ScenarioVersion:
    return _transition(version, (Status.DRAFT,), Status.REVIEW, user, request)


@transaction.atomic
def send_to_client(version: ScenarioVersion, user: Any, request: Any = None) -> ScenarioVersion:
    return _transition(
        version, (Status.DRAFT, Status.REVIEW), Status.SENT, user, request, sent_at=timezone.now()
    )


@transaction.atomic
def request_changes(version: ScenarioVersion, user: Any, text: str, request: Any = None) -> ScenarioVersion:
    text = _text(text).strip()
    if not text:
        raise ScenarioError(_("Say what should change."))
    locked = _transition(version, (Status.REVIEW, Status.SENT), Status.DRAFT, user, request)
    Comment.objects.create(version=locked, kind=Comment.Kind.CHANGES, text=text[:4000], author=user)
    return locked


def approve(version: ScenarioVersion, user: Any, request: Any = None,
            publish_at: datetime | None = None) -> ScenarioVersion:
    """The client admin approves: the version is put in service at its scenario's entry point, now or
    at ``publish_at`` (the worker publishes it then; the desk shows what changes meanwhile)."""
    now = timezone.now()
    if publish_at is not None and publish_at > now + MAX_PUBLISH_DELAY:
        raise ScenarioError(_("Publish within %(days)d days.") % {"days": MAX_PUBLISH_DELAY.days})
    later = publish_at is not None and publish_at > now
    try:
        with transaction.atomic():
            locked = _transition(
                version, (Status.SENT,), Status.APPROVED, user, request, approved_at=now, approved_by=user,
                publish_at=publish_at if later else None,
            )
            Comment.objects.create(
                version=locked, kind=Comment.Kind.APPROVAL, text=_("Approved."), author=user
            )
            if later:
                return locked
            return publish(locked, user, request)
    except IntegrityError:  # another approval put a version in service at this entry point meanwhile
        raise ScenarioError(
            _("Another version was put in service at this entry point at the same moment: try again.")
        ) from None


def publish_due(now: datetime | None = None) -> int:
    """Put in service the approved versions whose time has come (the worker's ``publication`` step);
    safe to run twice at once. Returns how many were published."""
    now = now or timezone.now()
    done = 0
    due = ScenarioVersion.objects.filter(status=Status.APPROVED, publish_at__lte=now)
    for pk in due.values_list("pk", flat=True):
        try:
            with transaction.atomic():
                locked = ScenarioVersion.objects.select_for_update().filter(
                    pk=pk, status=Status.APPROVED).first()
                if locked is None:
                    continue  # published by another worker meanwhile
                publish(locked, None)
                done += 1
        except IntegrityError:  # another version was put in service at this entry point meanwhile
            continue
        except ScenarioError as refused:  # no longer valid (the directory changed since): not retried
            ScenarioVersion.objects.filter(pk=pk).update(publish_at=None)
            logger.warning("scenario version %s not published at its time: %s", pk, refused)
    return done


def publish(version: ScenarioVersion, user: Any, request: Any = None) -> ScenarioVersion:
    """Put an approved version in service; the one serving the same entry point is retired."""
    scenario = version.scenario
    serving = ScenarioVersion.objects.select_for_update().filter(
        account_id=scenario.account_id, entry=scenario.entry, status=Status.PUBLISHED
    )
    for old in serving.exclude(pk=version.pk).select_related("scenario"):
        old.status = Status.RETIRED
        old.save(update_fields=["status", "updated"])
        record(
            user,
            Action.UPDATE,
            old,
            account=scenario.account,
            request=request,
            status_from=Status.PUBLISHED,
            status_to=Status.RETIRED,
            replaced_by=f"{scenario.name} v{version.number}",
        )
    return _transition(
        version, (Status.APPROVED,), Status.PUBLISHED, user, request, published_at=timezone.now()
    )


def comment(version: ScenarioVersion, user: Any, text: str, step: str = "") -> Comment:
    text = _text(text).strip()
    step = _text(step)
    if not text:
        raise ScenarioError(_("The comment is empty."))
    return Comment.objects.create(
        version=version, kind=Comment.Kind.REVIEW, text=text[:4000], step=step[:160], author=user
    )


def remark(version: ScenarioVersion, user: Any, step: str, text: str) -> Remark:
    text = _text(text).strip()
    if not text:
        raise ScenarioError(_("The remark is empty."))
    parsed = live.for_version(version).scenario  # with the shared blocks' steps
    if step not in parsed.steps:
        raise ScenarioError(_("There is no step “%(name)s”.") % {"name": step})
    return Remark.objects.create(version=version, step=step, text=text[:4000], author=user)
