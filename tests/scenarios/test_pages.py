"""The scenario workflow through the pages: write, check, send, approve, publish, new version, diff."""

from django.test import Client

from permanence.audit.models import AuditEvent
from permanence.scenarios.models import Comment, Remark, Scenario, ScenarioVersion, Status


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def create(personas, alpha, template="legal"):
    response = client_for(personas["assistant"]).post(
        "/a/alpha/scenarios/", {"name": "Accueil", "template": template}
    )
    scenario = Scenario.objects.get(account=alpha, name="Accueil")
    assert response.status_code == 302 and response["Location"].endswith(f"/scenarios/{scenario.pk}/v/1/")
    return scenario


def test_workflow_from_draft_to_published(personas, alpha):
    scenario = create(personas, alpha)
    version = scenario.versions.get()
    assert version.status == Status.DRAFT and version.errors == 0
    ta = client_for(personas["assistant"])
    url = f"/a/alpha/scenarios/{scenario.pk}/v/1/"
    broken = version.source.replace("next: qualify", "next: qualifyy")
    ta.post(url, {"source": broken})
    page = ta.get(url).content.decode()
    assert "Il n’y a pas d’étape « qualifyy »" in page and 'data-line="' in page
    ta.post(url + "send")
    version.refresh_from_db()
    assert version.status == Status.DRAFT and version.errors == 2  # errors block sending
    ta.post(url, {"source": broken.replace("qualifyy", "qualify")})
    ta.post(url + "send")
    version.refresh_from_db()
    assert version.status == Status.SENT and version.sent_at
    assert ta.post(url, {"source": "title: changed"}).status_code == 302
    version.refresh_from_db()
    assert "title: changed" not in version.source  # only drafts change
    client = client_for(personas["client_admin"])
    assert "Valider ce scénario" in client.get(url).content.decode()
    client.post(url + "approve")
    version.refresh_from_db()
    assert version.status == Status.PUBLISHED and version.approved_by == personas["client_admin"]
    assert scenario.published == version
    assert AuditEvent.objects.filter(object_type__icontains="scenarioversion").count() >= 4


def test_new_version_retires_the_old_one_on_publication_and_diff(personas, alpha):
    scenario = create(personas, alpha)
    ta, client = client_for(personas["assistant"]), client_for(personas["client_admin"])
    base = f"/a/alpha/scenarios/{scenario.pk}/v/"
    ta.post(base + "1/send")
    client.post(base + "1/approve")
    ta.post(base + "1/new_version")
    v2 = scenario.versions.get(number=2)
    assert v2.status == Status.DRAFT
    ta.post(
        base + "2/",
        {
            "source": v2.source.replace(
                "Je vous propose un premier rendez-vous.", "Je vous propose un rendez-vous avec un associé."
            )
        },
    )
    diff = ta.get(f"/a/alpha/scenarios/{scenario.pk}/diff/?a=1&b=2").content.decode()
    assert "+    say: &quot;Je vous propose un rendez-vous avec un associé.&quot;" in diff
    assert "class s" in diff and "changed" in diff
    ta.post(base + "2/send")
    client.post(base + "2/approve")
    statuses = dict(scenario.versions.values_list("number", "status"))
    assert statuses == {1: Status.RETIRED, 2: Status.PUBLISHED}


def test_client_asks_for_changes(personas, alpha):
    scenario = create(personas, alpha)
    base = f"/a/alpha/scenarios/{scenario.pk}/v/1/"
    client_for(personas["assistant"]).post(base + "send")
    client_for(personas["client_admin"]).post(base + "changes", {"text": "Ne pas proposer de rendez-vous."})
    version = scenario.versions.get()
    assert version.status == Status.DRAFT
    assert Comment.objects.get(version=version).kind == Comment.Kind.CHANGES
    # the draft is no longer the client's to see
    assert client_for(personas["client_admin"]).get(base).status_code == 404


def test_secretary_sees_only_published_and_leaves_a_remark(personas, alpha):
    scenario = create(personas, alpha)
    base = f"/a/alpha/scenarios/{scenario.pk}/v/1/"
    secretary = client_for(personas["secretary"])
    assert secretary.get(base).status_code == 404
    client_for(personas["assistant"]).post(base + "send")
    client_for(personas["client_admin"]).post(base + "approve")
    assert secretary.get(base).status_code == 200
    secretary.post(
        base + "remark", {"step": "qualify", "text": "Les clients donnent leur n° de dossier d'emblée."}
    )
    secretary.post(base + "remark", {"step": "nowhere", "text": "?"})
    assert list(Remark.objects.values_list("step", flat=True)) == ["qualify"]
    page = client_for(personas["assistant"]).get(base).content.decode()
    assert "n° de dossier d&#x27;emblée" in page or "n° de dossier d'emblée" in page


def test_test_mode_walks_to_an_outcome(personas, alpha):
    scenario = create(personas, alpha)
    url = f"/a/alpha/scenarios/{scenario.pk}/v/1/test"
    ta = client_for(personas["assistant"])
    page = ta.get(url).content.decode()
    assert "Cabinet Alpha, bonjour." in page
    ta.post(url, {})
    page = ta.post(url, {"caller_type": "cold_caller"}).content.decode()
    assert "sollicitations par téléphone" in page
    page = ta.post(url, {}).content.decode()
    assert 'data-testid="outcome"' in page and "refusal" in page
    page = ta.post(url, {"back": "1"}).content.decode()
    assert "sollicitations par téléphone" in page


def test_bad_input_never_crashes(personas, alpha):
    scenario = create(personas, alpha)
    ta = client_for(personas["assistant"])
    base = f"/a/alpha/scenarios/{scenario.pk}/v/1/"
    before = ScenarioVersion.objects.get(scenario=scenario).source
    assert ta.post(base, {"source": "title: T\x00"}).status_code == 302
    assert ScenarioVersion.objects.get(scenario=scenario).source == before  # refused whole
    assert ta.post(base + "comment", {"text": "a\x00b"}).status_code == 302
    for source in ("\x01\x02", "[" * 5000, "a: *b", "title: x\n" * 10):
        assert ta.post(base, {"source": source}).status_code == 302
        assert ta.get(base).status_code == 200
        assert ta.post(base + "check", {"source": source}).status_code == 200
    assert ta.get(base + "test").status_code == 302  # errors: back to the editor
    assert ta.get(f"/a/alpha/scenarios/{scenario.pk}/diff/?a=x&b=1").status_code == 404
    assert ta.post(base + "nonsense").status_code == 404
    assert ScenarioVersion.objects.get(scenario=scenario).errors > 0


def test_a_new_account_starts_from_its_trade_template(db):
    from factories import make_account
    from permanence.scenarios.services import template_source

    account = make_account("nouveau", trade="medical")
    version = account.scenarios.get(name="Scénario principal").versions.get()
    assert version.status == Status.DRAFT and version.errors == 0 and version.author is None
    assert version.source == template_source("medical")


def test_shared_blocks_from_the_library(personas, alpha):
    from permanence.scenarios import services
    from permanence.scenarios.models import Block

    text = (
        "title: T\nstart: a\nsteps:\n"
        "  a: {use: cold_caller, with: {company: Cabinet Alpha}}\n"
    )
    assert [p.code for p in services.check(text, alpha).problems.errors] == ["unknown_block"]
    Block.objects.create(name="cold_caller", source=(
        "params: [company]\nstart: refuse\nsteps:\n"
        "  refuse: {say: '{{ params.company }} ne répond pas au démarchage.', next: done}\n"
        "  done: {end: refusal}\n"))
    result = services.check(text, alpha)
    assert result.ok, [str(p) for p in result.problems.items]
    Block.objects.create(name="broken", source="start: [")  # a broken shared block is left out, not fatal
    assert services.check(text, alpha).ok


def test_test_mode_keeps_the_answers_when_the_draft_changes(personas, alpha):
    scenario = create(personas, alpha)
    version = scenario.versions.get()
    url = f"/a/alpha/scenarios/{scenario.pk}/v/1/"
    ta = client_for(personas["assistant"])
    ta.get(url + "test")
    ta.post(url + "test", {})
    ta.post(url + "test", {"caller_type": "client"})
    page = ta.post(url + "test", {"name": "Jean Dupont", "phone": "0612345678"}).content.decode()
    assert "Quel avocat souhaitez-vous joindre" in page
    branch = '{if: caller_type == "client", goto: %s}'
    changed = version.source.replace(branch % "identify_client", branch % "reassure").replace(
        "  identify_client:\n",
        "  reassure: {say: 'Je note votre appel.', next: identify_client}\n  identify_client:\n",
    )
    ta.post(url, {"source": changed})
    page = ta.post(url + "test", {}).content.decode()  # "Je note votre appel." said
    assert "ne s’appliquent plus" in page or "no longer apply" in page
    state = ta.session[f"scenario-test:{version.pk}"]
    assert state["step"] == "identify_client"  # resumed along the new text, not back to the greeting
    assert [step for step, _ in state["inputs"]] == ["welcome", "qualify", "reassure"]
    assert state["unapplied"][0]["given"]["name"] == "Jean Dupont"  # what was typed is kept


def test_a_new_scenario_gets_its_entry_point(personas, alpha):
    ta = client_for(personas["assistant"])
    ta.post("/a/alpha/scenarios/", {"name": "Nuit", "template": "switchboard", "entry": "night"})
    assert Scenario.objects.get(account=alpha, name="Nuit").entry == "night"
    page = ta.get("/a/alpha/scenarios/").content.decode()
    assert "<code>night</code>" in page and 'name="entry"' in page
    ta.post("/a/alpha/scenarios/", {"name": "Bad", "template": "switchboard", "entry": "Nuit !"})
    assert not Scenario.objects.filter(name="Bad").exists()


def test_test_mode_tries_a_known_caller_from_the_restart(personas, alpha):
    """The caller's number given at the restart is kept for the test: a contact's number shows what the
    desk would know of them (Albert Client of the fixture), filled in and marked known."""
    scenario = create(personas, alpha, template="switchboard")
    url = f"/a/alpha/scenarios/{scenario.pk}/v/1/test"
    ta = client_for(personas["assistant"])
    ta.get(url)
    page = ta.post(url, {"restart": "1", "caller": "06 11 11 11 11"}).content.decode()
    assert 'value="06 11 11 11 11"' in page
    ta.post(url, {})
    page = ta.post(url, {"caller_type": "client"}).content.decode()
    assert 'data-testid="known-name"' in page and 'value="Albert Client"' in page
    assert 'data-testid="known-phone"' in page and 'value="06 11 11 11 11"' in page
    assert 'data-testid="known-company"' not in page  # Albert has no company: asked
    page = ta.post(url, {"name": "Albert Client", "company": "", "phone": "06 11 11 11 11"}).content.decode()
    assert "Qui souhaitez-vous joindre" in page
    page = ta.post(url, {"restart": "1", "caller": ""}).content.decode()  # withheld again
    ta.post(url, {})
    page = ta.post(url, {"caller_type": "client"}).content.decode()
    assert 'data-testid="known-' not in page and 'value="Albert Client"' not in page
    response = ta.post(url, {"restart": "1", "caller": "pas un numéro \x00" + "9" * 80})  # not a number
    assert response.status_code == 200 and 'data-testid="known-' not in response.content.decode()
    ta.post(url, {})
    page = ta.post(url, {"caller_type": "client"}).content.decode()
    assert 'data-testid="known-phone"' not in page  # nothing usable was known: asked
