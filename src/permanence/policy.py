"""Who may do what on which account: the one place where access is decided.

Every view and API endpoint asks here; nothing else compares roles. Two
questions, always in this order:

1. *Scope*: is the account within the user's reach at all? Operator admins and
   technical assistants reach every account; a secretary reaches the accounts
   she is trained on; a client user reaches only their own account. Outside the
   scope the object does not exist for the user (views answer 404, never 403,
   so that another client's names do not leak).
2. *Permission*: may this role perform this action? Inside the scope, a refusal
   is a 403.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from permanence.accounts.models import Account
from permanence.users.models import Role

if TYPE_CHECKING:
    from permanence.users.models import User


class Perm(enum.StrEnum):
    VIEW_ACCOUNT = "view_account"  # account card, hours, numbers, directory
    EDIT_ACCOUNT = "edit_account"  # greeting, instructions, hours, directory
    VIEW_CONTACTS = "view_contacts"  # caller data: audited
    EDIT_CONTACTS = "edit_contacts"
    IMPORT_CONTACTS = "import_contacts"
    EXPORT_CONTACTS = "export_contacts"
    IDENTIFY_CALLER = "identify_caller"
    VIEW_AUDIT = "view_audit"
    VIEW_SCENARIOS = "view_scenarios"  # which versions: see visible_versions()
    EDIT_SCENARIOS = "edit_scenarios"  # write, review, send for approval, test drafts
    APPROVE_SCENARIOS = "approve_scenarios"  # the client's approval, or a change request
    REMARK_SCENARIOS = "remark_scenarios"  # feedback from the desk on a step
    USE_DESK = "use_desk"  # take calls, and training calls on the accounts within reach
    VIEW_MESSAGES = "view_messages"  # the account's messages and their delivery states
    RESEND_MESSAGES = "resend_messages"
    ACK_MESSAGES = "ack_messages"  # confirm an urgent message was read (client side)
    EDIT_DELIVERY_PREFS = "edit_delivery_prefs"  # who gets messages how: channels, quiet hours, escalation
    VIEW_AGENDA = "view_agenda"  # appointment types, free slots, appointments (caller data: audited)
    BOOK_APPOINTMENTS = "book_appointments"  # book, move, cancel
    MANAGE_AGENDA = "manage_agenda"  # private calendar addresses, working hours, appointment types
    VIEW_REPORTS = "view_reports"  # the account's figures (volumes, service level, waits), exports
    SUPERVISE = "supervise"  # the live view of queues and secretaries' statuses (the operator)
    PLAN_STAFFING = "plan_staffing"  # forecasts and the secretaries needed per interval (the operator)
    HEAR_RECORDINGS = "hear_recordings"  # play and download the account's call recordings (audited)
    EDIT_PROMPTS = "edit_prompts"  # the texts callers hear (waiting, closed, voicemail, legal notice)
    MANAGE_API_KEYS = "manage_api_keys"  # the account's API keys for its own systems (created, revoked)
    FLAG_MESSAGES = "flag_messages"  # say a message was wrong (the quality loop; client side)
    MANAGE_PRIVACY = "manage_privacy"  # retention periods, legal holds, data subjects' requests (GDPR)
    EXPORT_ACCOUNT = "export_account"  # the whole account as one file (reversibility)
    READ_SENSITIVE = "read_sensitive"  # sensitive fields of a message (health, legal), signed in, audited
    VIEW_INVOICES = "view_invoices"  # the account's issued invoices, their lines and calls, PDFs
    DISPUTE_CALLS = "dispute_calls"  # say a billed call should not have been (the client admin)
    MANAGE_BILLING = "manage_billing"  # plans, monthly run, drafts, issuing, disputes decided


_ALL = frozenset(Perm)

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.OPERATOR_ADMIN: _ALL,
    Role.TECHNICAL_ASSISTANT: frozenset(
        {
            Perm.VIEW_ACCOUNT,
            Perm.EDIT_ACCOUNT,
            Perm.VIEW_CONTACTS,
            Perm.EDIT_CONTACTS,
            Perm.IMPORT_CONTACTS,
            Perm.IDENTIFY_CALLER,
            Perm.VIEW_SCENARIOS,
            Perm.EDIT_SCENARIOS,
            Perm.REMARK_SCENARIOS,
            Perm.USE_DESK,
            Perm.VIEW_MESSAGES,
            Perm.RESEND_MESSAGES,
            Perm.EDIT_DELIVERY_PREFS,
            Perm.VIEW_AGENDA,
            Perm.BOOK_APPOINTMENTS,
            Perm.MANAGE_AGENDA,
            Perm.VIEW_REPORTS,
            Perm.SUPERVISE,
            Perm.PLAN_STAFFING,
            Perm.HEAR_RECORDINGS,
            Perm.EDIT_PROMPTS,
        }
    ),
    Role.SECRETARY: frozenset({Perm.VIEW_ACCOUNT, Perm.VIEW_CONTACTS, Perm.IDENTIFY_CALLER,
                               Perm.VIEW_SCENARIOS, Perm.REMARK_SCENARIOS, Perm.USE_DESK,
                               Perm.VIEW_AGENDA, Perm.BOOK_APPOINTMENTS}),
    Role.CLIENT_ADMIN: frozenset(
        {
            Perm.VIEW_ACCOUNT,
            Perm.EDIT_ACCOUNT,
            Perm.VIEW_CONTACTS,
            Perm.EDIT_CONTACTS,
            Perm.IMPORT_CONTACTS,
            Perm.EXPORT_CONTACTS,
            Perm.VIEW_AUDIT,
            Perm.VIEW_SCENARIOS,
            Perm.APPROVE_SCENARIOS,
            Perm.VIEW_MESSAGES,
            Perm.RESEND_MESSAGES,
            Perm.ACK_MESSAGES,
            Perm.EDIT_DELIVERY_PREFS,
            Perm.VIEW_AGENDA,
            Perm.BOOK_APPOINTMENTS,
            Perm.MANAGE_AGENDA,
            Perm.VIEW_REPORTS,
            Perm.HEAR_RECORDINGS,
            Perm.EDIT_PROMPTS,
            Perm.MANAGE_API_KEYS,
            Perm.FLAG_MESSAGES,
            Perm.MANAGE_PRIVACY,
            Perm.EXPORT_ACCOUNT,
            Perm.READ_SENSITIVE,
            Perm.VIEW_INVOICES,
            Perm.DISPUTE_CALLS,
        }
    ),
    Role.CLIENT_USER: frozenset({Perm.VIEW_ACCOUNT, Perm.VIEW_CONTACTS, Perm.VIEW_SCENARIOS,
                                 Perm.VIEW_MESSAGES, Perm.ACK_MESSAGES, Perm.FLAG_MESSAGES, Perm.VIEW_AGENDA,
                                 Perm.VIEW_REPORTS, Perm.READ_SENSITIVE}),
}


def _active(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def visible_accounts(user: User | Any) -> QuerySet[Account]:
    """The accounts within the user's scope."""
    if not _active(user):
        return Account.objects.none()
    if user.role in (Role.OPERATOR_ADMIN, Role.TECHNICAL_ASSISTANT):
        return Account.objects.all()
    if user.role == Role.SECRETARY:
        return Account.objects.filter(trainings__secretary=user)
    if user.role in (Role.CLIENT_ADMIN, Role.CLIENT_USER) and user.account_id:
        return Account.objects.filter(pk=user.account_id)
    return Account.objects.none()


def in_scope(user: User | Any, account: Account) -> bool:
    return visible_accounts(user).filter(pk=account.pk).exists()


def has_perm(user: User | Any, perm: Perm) -> bool:
    """Does the role allow this action somewhere (used to show or hide links)?"""
    return _active(user) and perm in ROLE_PERMISSIONS.get(user.role, frozenset())


def allowed(user: User | Any, perm: Perm, account: Account) -> bool:
    return has_perm(user, perm) and in_scope(user, account)


def reads_every_sensitive(user: User | Any) -> bool:
    """Sensitive fields (health, legal) are meant for a message's recipients: the client admin and the
    operator admin read those of every message of the account; a client collaborator, with
    ``Perm.READ_SENSITIVE`` too, only those of a message addressed to them (``messaging.sensitive``)."""
    return has_perm(user, Perm.READ_SENSITIVE) and user.role != Role.CLIENT_USER


def reaches_every_account(user: User | Any) -> bool:
    """The operator's staff: every account is within reach (what concerns a person across accounts)."""
    return _active(user) and user.role in (Role.OPERATOR_ADMIN, Role.TECHNICAL_ASSISTANT)


def get_account_or_404(user: User | Any, slug: str, perm: Perm) -> Account:
    """The account named ``slug`` if the user may ``perm`` it.

    404 outside the user's scope (the account's existence is not revealed),
    403 inside it when the role does not have the permission.
    """
    try:
        account = visible_accounts(user).get(slug=slug)
    except Account.DoesNotExist:
        raise Http404("No such account") from None
    if not has_perm(user, perm):
        raise PermissionDenied
    return account


def visible_version_statuses(user: User | Any) -> tuple[str, ...]:
    """Which versions of a scenario the role sees: the operator's staff writing
    them see all; the desk sees what serves calls, is about to or did (for the
    "what changes" banner's diff); the client admin also sees
    what was sent for approval; a client collaborator, what serves calls."""
    if not _active(user):
        return ()
    if user.role in (Role.OPERATOR_ADMIN, Role.TECHNICAL_ASSISTANT):
        return ("draft", "review", "sent", "approved", "published", "retired")
    if user.role == Role.CLIENT_ADMIN:
        return ("sent", "approved", "published", "retired")
    if user.role == Role.SECRETARY:  # and what is about to serve or served before: the desk's "what changes"
        return ("approved", "published", "retired")
    if user.role == Role.CLIENT_USER:
        return ("published",)
    return ()
