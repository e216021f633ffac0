"""A client admin reads the messages of the account, acknowledges an urgent one, sends a dead letter
again, and says who gets the messages and how."""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_messages_page_acknowledge_resend_and_preferences(page, personas, alpha, beta):
    from django.db import transaction

    from browser.conftest import screenshot, sign_in
    from permanence.directory.models import Collaborator
    from permanence.messaging import outbox
    from permanence.messaging.models import Delivery, DeliveryPreference, Message

    anne = Collaborator.objects.get(account=alpha)
    anne.email, anne.mobile = "anne@alpha.example", "+33611223344"
    anne.save()
    with transaction.atomic():
        urgent = outbox.queue_message(
            alpha,
            subject="Fuite d'eau au cabinet",
            body="Rappeler M. Durand.",
            recipients=[anne.email],
            urgent=True,
        )
        normal = outbox.queue_message(
            alpha, subject="Demande de devis", body="Mme Lucie Martin.", recipients=["06 11 22 33 44"]
        )
        outbox.queue_message(beta, subject="Message de Beta", body="secret", recipients=["b@beta.example"])
    Delivery.objects.filter(message=urgent).update(status="sent")
    Delivery.objects.filter(message=normal).update(status="dead", attempts=8, last_error="HTTP 503")

    sign_in(page, "client_admin")
    page.wait_for_url(re.compile(r"/a/alpha/$"))
    page.get_by_role("link", name="Messages").click()
    rows = page.get_by_test_id("messages").locator("tbody tr")
    assert rows.count() == 2 and "Message de Beta" not in page.content()
    urgent_row = page.get_by_test_id(f"message-{urgent.pk}")
    assert "non confirmé" in urgent_row.inner_text()
    dead_row = page.get_by_test_id(f"message-{normal.pk}")
    assert "Échec définitif" in dead_row.inner_text() and "06 11 22 33 44" in dead_row.inner_text()
    screenshot(page, "messages")

    page.get_by_label("Urgents seulement").check()
    page.wait_for_url(re.compile(r"urgent=1"))
    assert rows.count() == 1
    page.get_by_test_id(f"message-{urgent.pk}").get_by_role("button", name="Je l’ai lu").click()
    page.wait_for_load_state()
    assert "lu par client_admin" in page.get_by_test_id(f"message-{urgent.pk}").inner_text()
    assert Message.objects.get(pk=urgent.pk).acknowledgement.by == "client_admin"

    page.goto("/a/alpha/messages/")
    page.get_by_test_id(f"message-{normal.pk}").get_by_role("button", name="Renvoyer").click()
    page.wait_for_load_state()
    assert "Renvoyé à 1 destinataire" in page.content()
    assert Delivery.objects.get(message=normal).status == "queued"

    page.get_by_test_id("settings-link").click()
    card = page.get_by_test_id(f"prefs-{anne.pk}")
    card.get_by_label("SMS").nth(1).check()  # urgent messages by SMS
    card.locator(f"#id_p{anne.pk}-quiet_start").fill("21:00")
    card.locator(f"#id_p{anne.pk}-quiet_end").fill("07:30")
    screenshot(page, "message-settings")
    card.get_by_role("button", name="Enregistrer").click()
    page.wait_for_load_state()
    assert "Préférences de Maître Anne Alphonse enregistrées." in page.content()
    saved = DeliveryPreference.objects.get(collaborator=anne)
    assert saved.urgent_sms and str(saved.quiet_start) == "21:00:00" and str(saved.quiet_end) == "07:30:00"


def test_operator_sees_undelivered_messages_of_all_accounts(page, personas, alpha, beta):
    from django.db import transaction

    from browser.conftest import screenshot, sign_in
    from permanence.messaging import outbox
    from permanence.messaging.models import Delivery, Message

    with transaction.atomic():
        ours = outbox.queue_message(alpha, subject="Rappel Alpha", body="x", recipients=["a@alpha.example"])
        theirs = outbox.queue_message(
            beta, subject="Fuite chez Mme Roux", body="x", recipients=["06 22 33 44 55"]
        )
    Delivery.objects.filter(message=ours).update(status="dead", last_error="SMTP 550: mailbox unavailable")
    Delivery.objects.filter(message=theirs).update(
        status="dead", last_error="provider reports undelivered (error 30003)"
    )
    Message.objects.filter(pk__in=[ours.pk, theirs.pk]).update(status="failed")

    sign_in(page, "admin")
    page.get_by_role("link", name="Échecs d'envoi").click()
    table = page.get_by_test_id("failed")
    assert "Rappel Alpha" in table.inner_text() and "Fuite chez Mme Roux" in table.inner_text()
    assert "06 22 33 44 55" in table.inner_text() and "error 30003" in table.inner_text()
    screenshot(page, "failed-messages")
    page.get_by_test_id(f"failed-{theirs.pk}").get_by_role("button", name="Renvoyer").click()
    page.wait_for_url(re.compile(r"/messages/failed/$"))
    assert "Renvoyé à 1 destinataire" in page.content()
    assert Delivery.objects.get(message=theirs).status == "queued"
