"""The client's web app in Chromium: installable (manifest, icons, service worker), a push notification
shown by its service worker, and the urgent message acknowledged with one tap.

Chromium's own push service (reached by ``pushManager.subscribe``) is outside this machine's reach, so
the push is handed to the service worker through the DevTools protocol (``deliverPushMessage``) with the
payload the server encrypts for real browsers (tests/messaging/test_webpush.py decrypts that one)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from browser.conftest import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_app_installs_shows_a_push_and_acknowledges_in_one_tap(
    page: Any, personas: Any, alpha: Any, live_server: Any
):
    from django.db import transaction

    from browser.conftest import screenshot, sign_in
    from permanence.messaging import outbox, webpush
    from permanence.messaging.models import Acknowledgement

    user = personas["client_user"]
    user.email = "anne@alpha.example"
    user.save()
    with transaction.atomic():
        message = outbox.queue_message(alpha, subject="Appel urgent de M. Durand",
                                       body="Fuite d'eau, rappeler.", recipients=["anne@alpha.example"],
                                       urgent=True)
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    sign_in(page, "client_user")
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    page.goto("/app/")
    wait_until(page, "window.permanenceWorker !== undefined")
    assert page.get_by_test_id(f"urgent-{message.pk}").is_visible()
    page.get_by_test_id("push-on").wait_for(state="visible")  # not subscribed here: only "on" is offered
    assert not page.get_by_test_id("push-off").is_visible()

    # installable: the manifest read, its icons, the service worker in control of /app/
    manifest = cdp.send("Page.getAppManifest")
    assert not manifest.get("errors"), manifest.get("errors")
    errors = [e["errorId"] for e in cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]]
    assert set(errors) <= {"in-incognito"}, errors  # a test browser context counts as incognito

    # a push, as the server sends it, shown by the service worker
    for _turn in range(100):  # the registration event comes with the worker's start, within moments
        if any(r["scopeURL"].endswith("/app/") for r in registrations):
            break
        page.wait_for_timeout(50)
    scope = next(r for r in registrations if r["scopeURL"].endswith("/app/"))
    data = json.dumps(webpush.payload(message, "anne@alpha.example"))
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": live_server.url, "registrationId":
                                                  scope["registrationId"], "data": data})
    shown: list[dict[str, Any]] = []
    for _turn in range(200):  # shown once the worker has handled the push event
        shown = page.evaluate("window.permanenceWorker.getNotifications().then(list => list.map(n => ("
                              "{title: n.title, body: n.body, ack: n.data.ack, actions: n.actions.length})))")
        if shown:
            break
        page.wait_for_timeout(50)
    assert shown[0]["title"].endswith("Appel urgent de M. Durand") and "Fuite" in shown[0]["body"]
    assert "/ack/" in shown[0]["ack"] and shown[0]["actions"] == 1
    screenshot(page, "web-app")

    page.get_by_test_id(f"ack-{message.pk}").click()
    page.wait_for_url("**/app/")
    assert Acknowledgement.objects.get(message=message).by == "client_user"
    assert not page.get_by_test_id(f"urgent-{message.pk}").count()
