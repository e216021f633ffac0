"""Scenario pages: list, editor with live check and drawing, test mode, diff, approval, remarks."""

from __future__ import annotations

import contextlib
import difflib
import json
import logging
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from permanence import policy
from permanence.accounts import periods
from permanence.accounts.actions import period_error
from permanence.accounts.models import Account
from permanence.audit import trail
from permanence.audit.models import Action
from permanence.policy import Perm
from permanence.portal.access import member_required
from permanence.scenarios import changes, environment, live, runform, services
from permanence.scenarios.engine import checker, drawing
from permanence.scenarios.engine.runtime import AnswerError, Run, scenario_hash
from permanence.scenarios.models import Remark, Scenario, ScenarioVersion, Status

MAX_SOURCE = 500_000


def _scenario(
    request: HttpRequest, slug: str, pk: int, perm: Perm = Perm.VIEW_SCENARIOS
) -> tuple[Account, Scenario]:
    account = policy.get_account_or_404(request.user, slug, perm)
    try:
        scenario = Scenario.objects.get(pk=pk, account=account)
    except Scenario.DoesNotExist:
        raise Http404 from None
    return account, scenario


def _version(
    request: HttpRequest, slug: str, pk: int, number: int, perm: Perm = Perm.VIEW_SCENARIOS
) -> tuple[Account, Scenario, ScenarioVersion]:
    account, scenario = _scenario(request, slug, pk, perm)
    statuses = policy.visible_version_statuses(request.user)
    try:
        version = scenario.versions.get(number=number, status__in=statuses)
    except ScenarioVersion.DoesNotExist:
        raise Http404 from None
    return account, scenario, version


def _problems(result: checker.Result) -> list[dict[str, Any]]:
    return [p.as_dict(_) for p in result.problems.sorted()]


def _remarks_by_step(scenario: Scenario) -> dict[str, list[Remark]]:
    grouped: dict[str, list[Remark]] = {}
    for remark in Remark.objects.filter(version__scenario=scenario).select_related("author", "version"):
        grouped.setdefault(remark.step, []).append(remark)
    return dict(sorted(grouped.items()))


@member_required
@require_http_methods(["GET", "POST"])
def scenario_list(request: HttpRequest, slug: str) -> HttpResponse:
    account = policy.get_account_or_404(request.user, slug, Perm.VIEW_SCENARIOS)
    can_edit = policy.has_perm(request.user, Perm.EDIT_SCENARIOS)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        try:
            saved = services.create_scenario(
                account,
                request.POST.get("name", ""),
                request.POST.get("template", "switchboard"),
                request.user,
                request,
                entry=request.POST.get("entry", ""),
            )
        except services.ScenarioError as exc:
            messages.error(request, str(exc))
            return redirect("scenarios", account.slug)
        return redirect("scenario_version", account.slug, saved.version.scenario_id, saved.version.number)
    statuses = policy.visible_version_statuses(request.user)
    rows = []
    for scenario in account.scenarios.prefetch_related("versions"):
        versions = [v for v in scenario.versions.all() if v.status in statuses]
        if versions or can_edit:
            rows.append({"scenario": scenario, "versions": versions})
    default = services.TRADE_TEMPLATE.get(account.trade, "switchboard")
    return render(
        request,
        "scenarios/list.html",
        {
            "account": account,
            "rows": rows,
            "can_edit": can_edit,
            "templates": services.TEMPLATES.items(),
            "default_template": default,
        },
    )


@member_required
@require_GET
def scenario_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    account, scenario = _scenario(request, slug, pk)
    statuses = policy.visible_version_statuses(request.user)
    version = scenario.versions.filter(status__in=statuses).order_by("-number").first()
    if version is None:
        raise Http404
    return redirect("scenario_version", account.slug, scenario.pk, version.number)


@member_required
@require_http_methods(["GET", "POST"])
def scenario_version(request: HttpRequest, slug: str, pk: int, number: int) -> HttpResponse:
    account, scenario, version = _version(request, slug, pk, number)
    can_edit = policy.has_perm(request.user, Perm.EDIT_SCENARIOS)
    source = version.source
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        source = request.POST.get("source", "")[:MAX_SOURCE]
        try:
            saved = services.save_draft(version, source, request.user, request)
            version = saved.version
            messages.success(
                request,
                _("Saved.")
                if not version.errors
                else _("Saved, with %(count)s error(s) to correct.") % {"count": version.errors},
            )
        except services.ScenarioError as exc:
            messages.error(request, str(exc))
        return redirect("scenario_version", account.slug, scenario.pk, version.number)
    result = services.check(source, account)
    statuses = policy.visible_version_statuses(request.user)
    visible = scenario.versions.filter(status__in=statuses)
    compare_with = visible.filter(number__lt=version.number).order_by("-number").first()
    return render(
        request,
        "scenarios/version.html",
        {
            "compare_with": compare_with,
            "account": account,
            "scenario": scenario,
            "version": version,
            "seen_by": changes.seen_by(version) if version in changes.pending(account) else None,
            "source": source,
            "problems": _problems(result),
            "mermaid": drawing.mermaid(result.scenario),
            "steps": list(result.scenario.steps),
            "can_edit": can_edit,
            "editable": can_edit and version.editable,
            "can_approve": policy.has_perm(request.user, Perm.APPROVE_SCENARIOS)
            and version.status == Status.SENT,
            "can_remark": policy.has_perm(request.user, Perm.REMARK_SCENARIOS),
            "versions": visible,
            "comments": version.comments.select_related("author"),
            "remarks": _remarks_by_step(scenario) if can_edit else {},
            "my_remarks": version.remarks.filter(author=request.user) if not can_edit else [],
            "Status": Status,
        },
    )


@member_required
@require_POST
def scenario_check(request: HttpRequest, slug: str, pk: int, number: int) -> HttpResponse:
    """The editor's live check (HTMX): problems and drawing of the text being typed, nothing saved."""
    account, _scenario_, _version_ = _version(request, slug, pk, number, Perm.EDIT_SCENARIOS)
    result = services.check(request.POST.get("source", "")[:MAX_SOURCE], account)
    return render(
        request,
        "scenarios/_check.html",
        {
            "problems": _problems(result),
            "mermaid": drawing.mermaid(result.scenario),
            "oob": True,
        },
    )


ACTIONS: dict[str, Perm] = {
    "submit": Perm.EDIT_SCENARIOS,
    "send": Perm.EDIT_SCENARIOS,
    "new_version": Perm.EDIT_SCENARIOS,
    "comment": Perm.EDIT_SCENARIOS,
    "approve": Perm.APPROVE_SCENARIOS,
    "changes": Perm.EDIT_SCENARIOS,  # or the client admin's change request: see below
    "remark": Perm.REMARK_SCENARIOS,
}


@member_required
@require_POST
def scenario_action(request: HttpRequest, slug: str, pk: int, number: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise Http404
    account, scenario, version = _version(request, slug, pk, number)
    perm = ACTIONS[action]
    if action == "changes" and policy.has_perm(request.user, Perm.APPROVE_SCENARIOS):
        perm = Perm.APPROVE_SCENARIOS
    if not policy.has_perm(request.user, perm):
        raise PermissionDenied
    if action == "changes" and perm == Perm.APPROVE_SCENARIOS and version.status != Status.SENT:
        raise PermissionDenied
    text = request.POST.get("text", "")
    target = version
    try:
        if action == "submit":
            target = services.submit_for_review(version, request.user, request)
            messages.success(request, _("Sent for review by the technical assistants."))
        elif action == "send":
            target = services.send_to_client(version, request.user, request)
            messages.success(request, _("Sent to the client for approval."))
        elif action == "approve":
            when = request.POST.get("publish_at", "").strip()
            try:
                publish_at = periods.local_instant(when, account.tz) if when else None
            except periods.PeriodError as error:
                raise services.ScenarioError(period_error(error)) from None
            target = services.approve(version, request.user, request, publish_at=publish_at)
            if target.status == Status.APPROVED and target.publish_at:
                when = date_format(timezone.localtime(target.publish_at, account.tz), "DATETIME_FORMAT")
                messages.success(request, _("Approved: this version serves the calls from %(when)s; the "
                                            "secretaries see what changes before.") % {"when": when})
            else:
                messages.success(request, _("Approved: this version now serves the calls."))
        elif action == "changes":
            target = services.request_changes(version, request.user, text, request)
            messages.success(request, _("Changes requested."))
        elif action == "new_version":
            target = services.new_version(scenario, request.user, request)
            messages.success(request, _("Version %(number)s started.") % {"number": target.number})
        elif action == "comment":
            services.comment(version, request.user, text, request.POST.get("step", ""))
        elif action == "remark":
            services.remark(version, request.user, request.POST.get("step", ""), text)
            messages.success(request, _("Thank you: your remark goes to the technical assistants."))
    except services.ScenarioError as exc:
        messages.error(request, str(exc))
    if target.status not in policy.visible_version_statuses(request.user):
        return redirect("scenarios", account.slug)
    return redirect("scenario_version", account.slug, scenario.pk, target.number)


def _test_key(version: ScenarioVersion) -> str:
    return f"scenario-test:{version.pk}"


@member_required
@require_http_methods(["GET", "POST"])
def scenario_test(request: HttpRequest, slug: str, pk: int, number: int) -> HttpResponse:
    """Test mode: click through the scenario as a secretary would, the message draft beside it."""
    account, scenario, version = _version(request, slug, pk, number)
    result = services.check(version.source, account)
    if not result.ok:
        messages.error(request, _("Correct the errors before testing."))
        return redirect("scenario_version", account.slug, scenario.pk, version.number)
    key = _test_key(version)
    if request.POST.get("restart"):  # the caller's number to try (a contact's: the known caller), kept
        typed = "".join(c for c in request.POST.get("caller", "") if c.isprintable())
        request.session[key + ":caller"] = " ".join(typed.split())[:40]
    caller = request.session.get(key + ":caller") or None
    # the identity check is simulated: test mode reads no contact's values (and could be restarted at will)
    env = environment.environment(
        account, caller=caller, agent=request.user.first_name, simulated_identity=True
    )
    stored = request.session.get(key)
    errors: dict[str, str] = {}
    run = None
    if stored and request.method == "POST":  # the text may have changed since: keep what still applies
        resumed = Run.resume(result.scenario, env, stored, version=scenario_hash(version.source))
        run = resumed.run
        if resumed.unapplied:
            messages.warning(
                request,
                _("The scenario changed: %(count)s answer(s) no longer apply, from the step “%(step)s”.")
                % {"count": len(resumed.unapplied), "step": resumed.unapplied[0].step},
            )
    query = request.POST.get("q", "").strip()[:100] if request.POST.get("search") else ""
    if run is not None and query:
        pass  # a directory search at a lookup step: show the candidates, answer nothing
    elif run is None or request.POST.get("restart"):
        run = Run.start(result.scenario, env, version=scenario_hash(version.source))
    elif request.POST.get("back"):
        with contextlib.suppress(AnswerError):  # nothing to undo: stay at the first step
            run.back()
    elif request.method == "POST":
        given = runform.answer_from_post(request.POST, run.screen())
        try:
            run.answer(given)
        except AnswerError as exc:
            errors = exc.messages(_)
    request.session[key] = run.to_json()
    screen = run.screen()
    runform.identity_screen(screen, errors)
    people: list[tuple[str, str]] = []
    matches = runform.lookup_matches(account, screen, query)
    if screen.get("kind") == "lookup":
        people = runform.people(env)
    return render(
        request,
        "scenarios/test.html",
        {
            "account": account,
            "scenario": scenario,
            "version": version,
            "screen": screen,
            "errors": errors,
            "people": people,
            "matches": matches,
            "can_remark": policy.has_perm(request.user, Perm.REMARK_SCENARIOS),
            "query": query,
            "draft": run.report(),
            "answers": json.dumps(run.answers, ensure_ascii=False, indent=1),
            "caller": caller or "",
        },
    )


@member_required
@require_GET
def scenario_diff(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    account, scenario = _scenario(request, slug, pk)
    statuses = policy.visible_version_statuses(request.user)
    visible = {v.number: v for v in scenario.versions.filter(status__in=statuses)}
    try:
        old, new = visible[int(request.GET.get("a", 0))], visible[int(request.GET.get("b", 0))]
    except (KeyError, ValueError):
        raise Http404 from None
    lines = list(
        difflib.unified_diff(
            old.source.splitlines(), new.source.splitlines(), f"v{old.number}", f"v{new.number}", lineterm=""
        )
    )
    before, after = live.for_version(old).scenario, live.for_version(new).scenario
    return render(
        request,
        "scenarios/diff.html",
        {
            "account": account,
            "scenario": scenario,
            "old": old,
            "new": new,
            "lines": lines,
            "mermaid": drawing.mermaid_diff(before, after),
            "added": sorted(set(after.steps) - set(before.steps)),
            "removed": sorted(set(before.steps) - set(after.steps)),
            "changed": drawing.changed_steps(before, after),
        },
    )


@member_required
@require_GET
def scenario_print(request: HttpRequest, slug: str, pk: int, number: int) -> HttpResponse:
    """The flowchart and the steps in words, to print for the client's validation."""
    account, scenario, version = _version(request, slug, pk, number)
    parsed = live.for_version(version).scenario
    drawn = drawing.paged(parsed)  # a large scenario: several pages, each step's page in the outline
    return render(
        request,
        "scenarios/print.html",
        {
            "account": account,
            "scenario": scenario,
            "version": version,
            "mermaid": drawn.text,
            "outline": drawing.outline(parsed, drawn),
        },
    )


REPLAY_CALLS = 50
logger = logging.getLogger(__name__)


@member_required
@require_GET
def scenario_replay(request: HttpRequest, slug: str, pk: int, number: int) -> HttpResponse:
    """The account's recent real calls (their stored answers and facts) replayed on this version:
    where each would go another way. For the technical assistants, before sending it to the client."""
    account, scenario, version = _version(request, slug, pk, number, Perm.EDIT_SCENARIOS)
    target = live.for_version(version).scenario
    from permanence.calls.models import Call

    calls = (Call.objects.filter(account=account, training=False, run__isnull=False,
                                 run__version__entry=scenario.entry)
             .exclude(run__version=version).select_related("run__version")
             .order_by("-arrived_at")[:REPLAY_CALLS])
    rows = []
    for call in calls:
        stored = call.run
        env = environment.environment(account, call.arrived_at, caller=call.caller or None,
                                      called=call.called, motive=call.motive)
        try:
            result = live.resume(stored, env).run.replay(target)
        except Exception as error:  # a stored run that no longer reads: said, not a 500
            logger.warning("replay of call %s on version %s: %s", call.pk, version.pk, error)
            result = {"diverges": True, "reason": "unreadable", "path": []}
        rows.append({"call": call, "from_version": stored.version.number, "old_outcome": stored.outcome,
                     **result})
    trail.record(request.user, Action.LIST, account=account, object_type="scenarios.run",
                 object_repr=f"{len(rows)} calls replayed on v{version.number}", request=request)
    return render(request, "scenarios/replay.html", {
        "account": account, "scenario": scenario, "version": version, "rows": rows,
        "diverging": sum(1 for r in rows if r["diverges"]),
    })
