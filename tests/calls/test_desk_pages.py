"""Desk pages: training calls run the real scenario and send nothing; remarks reach the scenario."""

import pytest
from django.test import Client

from permanence.calls.models import Call
from permanence.messaging.models import Message
from permanence.scenarios.models import Remark, ScenarioVersion


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def publish(alpha):
    ScenarioVersion.objects.filter(scenario__account=alpha).update(status="published")


def test_training_call_runs_the_scenario_and_sends_nothing(personas, alpha):
    publish(alpha)
    secretary = client_for(personas["secretary"])
    response = secretary.post("/desk/training", {"account": "alpha"})
    call = Call.objects.get(training=True)
    assert response["Location"] == f"/desk/calls/{call.pk}/"
    page = secretary.get(response["Location"]).content.decode()
    assert "formation" in page and "Cabinet Alpha, bonjour" in page
    url = response["Location"]
    secretary.post(url, {})
    secretary.post(url, {"caller_type": "cold_caller"})
    secretary.post(url, {})
    secretary.post(
        url + "finish",
        {"send": "1", "subject": "Essai", "body": "Démarchage", "recipients": "accueil@alpha.example"},
    )
    call.refresh_from_db()
    assert call.state == "done" and call.outcome == "refusal" and call.training
    assert Message.objects.get(call=call).status == "training"


def test_training_only_on_accounts_within_reach(personas, alpha, beta):
    response = client_for(personas["secretary"]).post("/desk/training", {"account": "beta"})
    assert response.status_code == 404 and not Call.objects.exists()


def test_remark_from_a_call_reaches_the_version(personas, alpha):
    publish(alpha)
    secretary = client_for(personas["secretary"])
    url = secretary.post("/desk/training", {"account": "alpha"})["Location"]
    secretary.get(url)
    secretary.post(url + "remark", {"step": "welcome", "text": "La formule est trop longue."})
    remark = Remark.objects.get()
    assert remark.step == "welcome" and remark.version.status == "published"


def test_finish_before_the_outcome_is_refused_unless_forced(personas, alpha):
    publish(alpha)
    secretary = client_for(personas["secretary"])
    url = secretary.post("/desk/training", {"account": "alpha"})["Location"]
    secretary.get(url)
    secretary.post(url + "finish", {"send": "1", "subject": "S", "body": "B"})
    assert Call.objects.get().state == "talking"
    secretary.post(url + "finish", {"force": "1", "send": "1", "subject": "S", "body": "B"})
    assert Call.objects.get().state == "done"


def test_the_finish_sent_twice_finishes_once_and_says_so(personas, alpha):
    """A retry after a lost answer, a double click: the second finish changes nothing, and says why."""
    publish(alpha)
    secretary = client_for(personas["secretary"])
    url = secretary.post("/desk/training", {"account": "alpha"})["Location"]
    secretary.get(url)
    form = {"force": "1", "send": "1", "subject": "S", "body": "B", "recipients": "accueil@alpha.example"}
    assert secretary.post(url + "finish", form).status_code == 302
    again = secretary.post(url + "finish", form, follow=True)
    assert again.status_code == 200 and "déjà terminé" in again.content.decode()
    assert Call.objects.get().state == "done" and Message.objects.count() == 1


def test_hold_and_resume_are_events(personas, alpha):
    publish(alpha)
    secretary = client_for(personas["secretary"])
    url = secretary.post("/desk/training", {"account": "alpha"})["Location"]
    secretary.post(url + "hold")
    secretary.post(url + "hold")
    kinds = list(Call.objects.get().events.values_list("kind", flat=True))
    assert kinds[-2:] == ["on_hold", "resumed"]


def test_simulate_command_runs_to_the_end(alpha):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "simulate",
        "--accounts",
        "alpha",
        "--rate",
        "3600",
        "--duration",
        "20",
        "--patience",
        "1",
        "--speed",
        "100",
        "--seed",
        "1",
        stdout=out,
    )
    assert "calls planned" in out.getvalue() and "Simulation over." in out.getvalue()
    calls = Call.objects.filter(account=alpha)
    assert calls.exists() and set(calls.values_list("state", flat=True)) == {"abandoned"}


def test_simulate_refuses_unknown_accounts(db):
    import pytest
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="unknown accounts: nowhere"):
        call_command("simulate", "--accounts", "nowhere")


def test_invalid_answer_is_shown_under_its_field(personas, alpha):
    publish(alpha)
    secretary = client_for(personas["secretary"])
    url = secretary.post("/desk/training", {"account": "alpha"})["Location"]
    secretary.post(url, {})
    secretary.post(url, {"caller_type": "client"})
    page = secretary.post(url, {"name": "J", "phone": "12"}).content.decode()
    assert 'data-testid="error-name"' in page and "Au moins 2 caractères." in page
    assert 'data-testid="error-phone"' in page


def test_directory_matches_show_availability_and_transfer_rule(personas, alpha):
    from datetime import timedelta

    from django.utils import timezone

    from permanence.directory.models import Absence, Collaborator

    publish(alpha)
    anne = Collaborator.objects.get(account=alpha)
    Absence.objects.create(
        collaborator=anne,
        kind="leave",
        starts_at=timezone.now() - timedelta(hours=1),
        ends_at=timezone.now() + timedelta(days=1),
    )
    secretary = client_for(personas["secretary"])
    url = secretary.post("/desk/training", {"account": "alpha", "caller": "0699999999"})["Location"]
    secretary.post(url, {})
    secretary.post(url, {"caller_type": "client"})
    secretary.post(url, {"name": "Jean Dupont"})
    page = secretary.post(url, {"search": "1", "q": "alphonse"}).content.decode()
    assert "Maître Anne Alphonse" in page and ">absent<" in page and "Toujours transférer" in page


def test_the_desks_poll_reads_and_never_offers_nor_takes_back(personas, alpha):
    from datetime import timedelta

    from django.utils import timezone

    from permanence.calls import services
    from permanence.calls.models import Desk

    secretary = personas["secretary"]
    page = client_for(secretary)
    call = services.call_arrived("01 45 00 00 01", None)  # nobody ready: it waits
    Desk.objects.update_or_create(secretary=secretary, defaults={"status": "ready"})
    assert page.get("/desk/poll").json() == {"offer": None, "call": None, "status": "ready"}
    assert Call.objects.get(pk=call.pk).state == "queued"  # the GET changed nothing
    [(offered, _)] = services.dispatch()
    Call.objects.filter(pk=offered).update(offer_expires_at=timezone.now() - timedelta(seconds=1))
    assert page.get("/desk/poll").json()["offer"]["call"] == call.pk  # lapsed, but only a dispatch says so
    assert Call.objects.get(pk=call.pk).state == "offered"


def answered_call(personas, caller="06 11 11 11 11"):
    from permanence.calls import services

    secretary = personas["secretary"]
    services.set_status(secretary, "ready")
    call = services.call_arrived("01 45 00 00 01", caller)
    services.dispatch()
    services.accept(call, secretary)
    return call, client_for(secretary)


def test_a_message_that_names_nobody_goes_to_the_accounts_default_recipients(personas, alpha):
    alpha.default_recipients = "secretariat@alpha.example, 06 99 88 77 66"
    alpha.save()
    call, page = answered_call(personas)
    screen = page.get(f"/desk/calls/{call.pk}/").content.decode()
    assert 'value="secretariat@alpha.example, +33699887766"' in screen  # seen before sending
    response = page.post(f"/desk/calls/{call.pk}/finish", {"send": "1", "subject": "Rappel", "body": "Merci"})
    assert response.status_code == 302
    message = Message.objects.get(call=call)
    assert message.recipients == ["secretariat@alpha.example", "+33699887766"]
    assert message.status == "queued"
    assert {d.channel for d in message.deliveries.all()} == {"email", "sms"}


def test_send_with_nobody_to_send_to_is_refused_and_keeps_what_was_typed(personas, alpha):
    alpha.default_recipients = ""
    alpha.allowed_recipients = "accueil@alpha.example"
    alpha.save()
    call, page = answered_call(personas)
    response = page.post(
        f"/desk/calls/{call.pk}/finish", {"send": "1", "subject": "Rappel urgent", "body": "Le texte tapé"}
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "Rappel urgent" in text and "Le texte tapé" in text  # nothing lost
    assert not Message.objects.filter(call=call).exists()
    assert Call.objects.get(pk=call.pk).state == "talking"  # the call is not finished meanwhile
    wrong = page.post(
        f"/desk/calls/{call.pk}/finish",
        {"send": "1", "subject": "Rappel", "body": "Texte", "recipients": "anne, x@y.fr"},
    )
    assert wrong.status_code == 400 and "anne" in wrong.content.decode()
    assert not Message.objects.filter(call=call).exists()
    page.post(
        f"/desk/calls/{call.pk}/finish",
        {"send": "1", "subject": "Rappel", "body": "Texte", "recipients": "accueil@alpha.example"},
    )
    assert Message.objects.get(call=call).recipients == ["accueil@alpha.example"]


def test_a_training_call_says_kept_not_sent_and_is_not_in_the_secretarys_figures(personas, alpha):
    page = client_for(personas["secretary"])
    response = page.post("/desk/training", {"account": "alpha"})
    call = Call.objects.get(training=True)
    finished = page.post(
        response["Location"] + "finish", {"send": "1", "subject": "Essai", "body": "Essai", "force": "1"},
        follow=True,
    )
    text = finished.content.decode()
    assert "queued" not in text.lower() and "en file" not in text.lower()
    assert Message.objects.get(call=call).status == "training"
    assert finished.context["today"] == 0  # a training call is not one of the day's calls


def test_call_backs_from_closed_hours_appear_at_the_desk_when_the_account_reopens(personas, alpha):
    from datetime import timedelta

    from django.utils import timezone

    from permanence.messaging.models import CallbackTask

    closed = services_call(alpha)
    CallbackTask.objects.create(account=alpha, call=closed, number="+33612345678",
                                due_at=timezone.now() + timedelta(hours=10))  # fmt: skip
    page = client_for(personas["secretary"])
    assert 'data-testid="callback"' not in page.get("/desk/").content.decode()  # not before the reopening
    CallbackTask.objects.update(due_at=timezone.now() - timedelta(minutes=1))
    text = page.get("/desk/").content.decode()
    assert 'data-testid="callback"' in text and "06 12 34 56 78" in text


def services_call(alpha):
    from permanence.calls import services

    alpha.status, alpha.after_hours = "suspended", "message"
    alpha.save()
    call = services.call_arrived("01 45 00 00 01", "06 12 34 56 78")
    alpha.status = "active"
    alpha.save()
    assert call.state == "not_served"
    return call


def test_default_recipients_stored_invalid_do_not_break_the_call_page(personas, alpha):
    from permanence.accounts.models import Account

    Account.objects.filter(pk=alpha.pk).update(default_recipients="pas une adresse")  # around the form
    call, page = answered_call(personas)
    response = page.get(f"/desk/calls/{call.pk}/")
    assert response.status_code == 200 and response.context["recipients"] == ""
    refused = page.post(f"/desk/calls/{call.pk}/finish", {"send": "1", "subject": "Rappel", "body": "Texte"})
    assert refused.status_code == 400 and not Message.objects.filter(call=call).exists()


def test_a_message_goes_only_to_the_directory_and_the_allowed_recipients(personas, alpha):
    """A free-typed address is refused with what she typed kept; the directory's people, the account's
    default and other allowed recipients (a whole domain too) pass."""
    from permanence.directory.models import Collaborator

    alpha.default_recipients = "secretariat@alpha.example"
    alpha.allowed_recipients = "comptable@cabinet-expert.example, @alpha-associes.example"
    alpha.full_clean()
    alpha.save()
    Collaborator.objects.filter(account=alpha).update(email="anne@alpha.example", mobile="+33611223344")
    call, page = answered_call(personas)
    refused = page.post(f"/desk/calls/{call.pk}/finish", {
        "send": "1", "subject": "Rappel", "body": "Texte",
        "recipients": "anne@alpha.example, pirate@evil.example",
    })
    assert refused.status_code == 400
    text = refused.content.decode()
    assert "pirate@evil.example" in text and "annuaire" in text and "Texte" in text
    assert not Message.objects.filter(call=call).exists()
    allowed = ("anne@alpha.example, 06 11 22 33 44, comptable@cabinet-expert.example,"
               " paul@alpha-associes.example")
    sent = page.post(f"/desk/calls/{call.pk}/finish", {
        "send": "1", "subject": "Rappel", "body": "Texte", "recipients": allowed})
    assert sent.status_code == 302
    assert Message.objects.get(call=call).recipients == [
        "anne@alpha.example", "+33611223344", "comptable@cabinet-expert.example",
        "paul@alpha-associes.example",
    ]


def test_the_allowed_recipients_are_checked_when_saved(alpha):
    from django.core.exceptions import ValidationError

    alpha.allowed_recipients = "@not a domain"
    with pytest.raises(ValidationError) as refused:
        alpha.full_clean()
    assert "allowed_recipients" in refused.value.message_dict


def test_allowed_recipients_stored_invalid_do_not_break_the_finish(personas, alpha):
    """Allowed recipients the back-office would refuse now (stored before, or around the form) are read as
    none: the directory and the default recipients still pass, anything else is refused with a sentence."""
    from permanence.accounts.models import Account
    from permanence.directory.models import Collaborator

    Account.objects.filter(pk=alpha.pk).update(allowed_recipients="@not a domain, comptable@expert.example")
    Collaborator.objects.filter(account=alpha).update(email="anne@alpha.example")
    call, page = answered_call(personas)
    refused = page.post(f"/desk/calls/{call.pk}/finish", {
        "send": "1", "subject": "Rappel", "body": "Texte", "recipients": "comptable@expert.example"})
    assert refused.status_code == 400 and "comptable@expert.example" in refused.content.decode()
    assert not Message.objects.filter(call=call).exists()
    both = "anne@alpha.example, accueil@alpha.example"  # the directory's, the account's default
    sent = page.post(f"/desk/calls/{call.pk}/finish", {
        "send": "1", "subject": "Rappel", "body": "Texte", "recipients": both})
    assert sent.status_code == 302
    assert Message.objects.get(call=call).recipients == ["anne@alpha.example", "accueil@alpha.example"]
