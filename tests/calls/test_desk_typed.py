"""A refused answer at the desk keeps everything the secretary typed on the step."""

from django.test import Client

from permanence.scenarios.models import ScenarioVersion


def test_a_refused_step_keeps_what_was_typed(personas, alpha):
    ScenarioVersion.objects.filter(scenario__account=alpha).update(status="published")
    desk = Client()
    desk.force_login(personas["secretary"])
    url = desk.post("/desk/training", {"account": "alpha"})["Location"]
    desk.post(url, {})
    desk.post(url, {"caller_type": "client"})
    page = desk.post(url, {"name": "Jean Dupont", "company": "Dupont & Fils", "phone": ""}).content.decode()
    assert "Cette réponse est obligatoire" in page
    assert 'value="Jean Dupont"' in page and 'value="Dupont &amp; Fils"' in page
    wrong = desk.post(url, {"name": "Jean Dupont", "phone": "12"}).content.decode()
    assert 'value="12"' in wrong  # the refused value too, to correct it
