"""Load the demo accounts, directory, contacts and one user per role. Idempotent."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from permanence.accounts.models import Account, HoursException, PhoneNumber, WeeklyHours
from permanence.contacts.models import Contact, ContactNumber
from permanence.directory.models import Absence, Collaborator, Service, TransferWindow
from permanence.users.models import Language, Role, Training, User

DEMO_PASSWORD = "permanence-demo"

WEEKDAYS = range(0, 5)


def _weekly(account: Account, ranges: dict[int, list[tuple[time, time]]]) -> None:
    account.weekly_hours.all().delete()
    WeeklyHours.objects.bulk_create(
        WeeklyHours(account=account, weekday=day, opens=start, closes=end)
        for day, day_ranges in ranges.items()
        for start, end in day_ranges
    )


def _number(account: Account, number: str, label: str) -> None:
    if not PhoneNumber.objects.filter(number=number, released_at__isnull=True).exists():
        PhoneNumber.objects.create(account=account, number=number, label=label)


def _collaborator(account: Account, key: dict[str, Any], **fields: Any) -> Collaborator:
    collaborator, _ = Collaborator.objects.update_or_create(account=account, **key, defaults=fields)
    return collaborator


def _contact(account: Account, numbers: list[str], **fields: Any) -> None:
    contact, _ = Contact.objects.update_or_create(
        account=account,
        first_name=fields.pop("first_name", ""),
        last_name=fields.pop("last_name", ""),
        company=fields.pop("company", ""),
        defaults=fields,
    )
    for number in numbers:
        ContactNumber.objects.get_or_create(contact=contact, account=account, number=number)


def _user(username: str, role: Role, account: Account | None = None, **fields: Any) -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults={"role": role, "account": account, **fields}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    return user


def load_law_firm() -> Account:
    account, _ = Account.objects.update_or_create(
        slug="cabinet-durand",
        defaults={
            "name": "Cabinet Durand & Associés",
            "trade": "legal",
            "greeting": "Cabinet Durand et Associés, bonjour",
            "default_recipients": "accueil@cabinet-durand.example",
            "after_hours": "voicemail",
            "instructions": (
                "Ne jamais donner d'avis juridique.\n"
                "Les prospects : prendre nom, téléphone et objet, proposer un rendez-vous.\n"
                "Les confrères sont toujours passés à l'avocat demandé s'il est disponible."
            ),
        },
    )
    _number(account, "+33145000101", "Standard")
    _number(account, "+33145000102", "Ligne clients")
    lunch = [(time(9), time(12, 30)), (time(14), time(18, 30))]
    _weekly(account, {day: lunch for day in WEEKDAYS})
    HoursException.objects.update_or_create(
        account=account, label="Fermeture de fin d'année",
        defaults={"start_date": timezone.localdate().replace(month=12, day=24),
                  "end_date": timezone.localdate().replace(month=12, day=31), "ranges": ""},
    )
    family, _ = Service.objects.get_or_create(account=account, name="Droit de la famille")
    company, _ = Service.objects.get_or_create(account=account, name="Droit des sociétés")
    durand = _collaborator(
        account, {"last_name": "Durand", "first_name": "Claire"},
        title="Maître", job_title="Avocate associée", service=family,
        specialties="droit de la famille, divorce, garde d'enfants",
        keywords="divorce, séparation, pension alimentaire, succession",
        direct_line="+33145000111", mobile="+33612000111", email="c.durand@cabinet-durand.example",
        transfer_mode="conditional", transfer_caller_types="client, colleague",
        transfer_urgent_bypass=True,
    )
    TransferWindow.objects.filter(collaborator=durand).delete()
    TransferWindow.objects.bulk_create(
        TransferWindow(collaborator=durand, weekday=d, start=time(14), end=time(17, 30))
        for d in range(0, 4)
    )
    lefort = _collaborator(
        account, {"last_name": "Lefort", "first_name": "Antoine"},
        title="Maître", job_title="Avocat associé", service=company,
        specialties="droit des sociétés, fusions-acquisitions, baux commerciaux",
        keywords="création d'entreprise, statuts, cession, bail commercial",
        direct_line="+33145000112", email="a.lefort@cabinet-durand.example",
        transfer_mode="always",
    )
    moreau = _collaborator(
        account, {"last_name": "Moreau", "first_name": "Julie"},
        title="Maître", job_title="Avocate collaboratrice", service=company,
        specialties="droit des sociétés, contentieux commercial",
        keywords="impayés, litige commercial",
        direct_line="+33145000113", email="j.moreau@cabinet-durand.example",
        transfer_mode="conditional", transfer_caller_types="client",
    )
    _collaborator(
        account, {"last_name": "Petit", "first_name": "Sophie"},
        job_title="Assistante juridique", direct_line="+33145000114",
        email="s.petit@cabinet-durand.example", transfer_mode="always",
        keywords="rendez-vous, facture, honoraires",
    )
    now = timezone.now()
    Absence.objects.update_or_create(
        collaborator=lefort, kind="leave", note="Congés",
        defaults={"starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=6),
                  "replacement": moreau},
    )
    _contact(account, ["+33611223344"], first_name="Bernard", last_name="Martin",
             company="SARL Martin Bâtiment", tags="client, vip", email="b.martin@martin-batiment.example")
    _contact(account, ["+33687654321"], first_name="Isabelle", last_name="Roux",
             tags="client", notes="Dossier de divorce suivi par Maître Durand.")
    _contact(account, ["+33155667788"], first_name="Pierre", last_name="Garnier",
             company="Cabinet Garnier", tags="confrère")
    _contact(account, ["+33899001122"], company="Annuaire Pro Plus", tags="cold caller, blocked",
             notes="Démarchage publicitaire : refuser poliment.")
    return account


def load_medical_practice() -> Account:
    account, _ = Account.objects.update_or_create(
        slug="cabinet-medical-tilleuls",
        defaults={
            "name": "Cabinet médical des Tilleuls",
            "trade": "medical",
            "greeting": "Cabinet médical des Tilleuls, bonjour",
            "default_recipients": "secretariat@tilleuls.example",
            "after_hours": "callback",
            "closed_greeting": (
                "Cabinet médical des Tilleuls, bonjour. Le cabinet est fermé. En cas d'urgence vitale, "
                "appelez le 15. Nous vous rappellerons dès la réouverture."
            ),
            "holiday_subdivision": "57",
            "instructions": (
                "Urgence vitale : dire d'appeler le 15.\n"
                "Vérifier l'identité du patient (nom, date de naissance) avant toute information.\n"
                "Ne jamais passer d'appel pendant les consultations."
            ),
        },
    )
    _number(account, "+33387000201", "Accueil")
    day = [(time(8), time(12)), (time(13, 30), time(19))]
    _weekly(account, {**{d: day for d in WEEKDAYS}, 5: [(time(8), time(12))]})
    general, _ = Service.objects.get_or_create(account=account, name="Médecine générale")
    _collaborator(
        account, {"last_name": "Bernard", "first_name": "Luc"},
        title="Dr", job_title="Médecin généraliste", service=general,
        specialties="médecine générale, pédiatrie", keywords="vaccin, certificat, enfant",
        direct_line="+33387000211", email="dr.bernard@tilleuls.example",
        transfer_mode="conditional", transfer_urgent_only=True,
        instructions="Ne le déranger que pour un confrère ou une urgence.",
    )
    _collaborator(
        account, {"last_name": "Nguyen", "first_name": "Anne"},
        title="Dr", job_title="Médecin généraliste", service=general,
        specialties="médecine générale, gériatrie", keywords="visite à domicile, renouvellement",
        direct_line="+33387000212", email="dr.nguyen@tilleuls.example",
        transfer_mode="conditional", transfer_urgent_only=True,
    )
    lambert = _collaborator(
        account, {"last_name": "Lambert", "first_name": "Chantal"},
        job_title="Secrétaire médicale", direct_line="+33387000213",
        email="secretariat@tilleuls.example", transfer_mode="conditional",
        instructions=(
            "Consultations 9 h-12 h et 14 h-18 h : ne jamais lui passer d'appel pendant "
            "les consultations, prendre un message."
        ),
    )
    # Put through only outside consultations: 8-9 h, 12-14 h and 18-19 h.
    TransferWindow.objects.filter(collaborator=lambert).delete()
    TransferWindow.objects.bulk_create(
        TransferWindow(collaborator=lambert, weekday=d, start=start, end=end)
        for d in WEEKDAYS
        for start, end in [(time(8), time(9)), (time(12), time(14)), (time(18), time(19))]
    )
    _contact(account, ["+33698765432"], first_name="Marcel", last_name="Dupont",
             tags="patient", notes="Patient du Dr Bernard.")
    _contact(account, ["+33387111222"], company="Laboratoire Bio-Est", tags="fournisseur")
    return account


def load_plumber() -> Account:
    account, _ = Account.objects.update_or_create(
        slug="plomberie-girard",
        defaults={
            "name": "Plomberie Girard",
            "trade": "trades",
            "greeting": "Plomberie Girard, bonjour",
            "default_recipients": "marc@plomberie-girard.example",
            "after_hours": "forward",
            "on_call_number": "+33677000301",
            "closed_on_holidays": False,
            "instructions": (
                "Dépannage 24 h/24, 7 j/7 : la permanence répond à toute heure.\n"
                "Urgences (fuite, dégât des eaux, plus d'eau chaude) : transférer sur le mobile.\n"
                "Sinon : prendre un message avec l'adresse et le problème, devis sous 48 h."
            ),
        },
    )
    _number(account, "+33478000301", "Ligne principale")
    # answered round the clock (emergency call-outs): the demo's desk has calls at any hour
    _weekly(account, {d: [(time(0), time(0))] for d in range(7)})
    _collaborator(
        account, {"last_name": "Girard", "first_name": "Marc"},
        job_title="Artisan plombier", specialties="plomberie, chauffage",
        keywords="fuite, chaudière, dégât des eaux, débouchage, chauffe-eau",
        mobile="+33677000301", email="marc@plomberie-girard.example",
        transfer_mode="conditional", transfer_urgent_only=True,
    )
    _contact(account, ["+33472001122"], company="Régie Immobilière du Rhône", tags="client, vip",
             first_name="Nadia", last_name="Benali")
    return account


def load_messaging(law: Account, plumber: Account) -> None:
    """Who gets the messages how, and the escalation of urgent ones (page Messages → Qui reçoit...)."""
    from permanence.messaging.models import DeliveryPreference, EscalationPolicy

    durand = Collaborator.objects.get(account=law, last_name="Durand")
    DeliveryPreference.objects.update_or_create(
        collaborator=durand,
        defaults={"urgent_sms": True, "quiet_start": time(20), "quiet_end": time(8)},
    )
    girard = Collaborator.objects.get(account=plumber, last_name="Girard")
    DeliveryPreference.objects.update_or_create(
        collaborator=girard, defaults={"digest": True, "digest_at": time(18, 30), "urgent_sms": True}
    )
    EscalationPolicy.objects.update_or_create(
        account=law,
        defaults={"delay_minutes": 15, "steps": ["a.lefort@cabinet-durand.example", "+33612000111"]},
    )


def load_agenda(law: Account, medical: Account) -> None:
    """Appointment types named as the demo scenarios name them, and working hours."""
    from permanence.agenda.models import AppointmentType, WorkingHours

    durand = Collaborator.objects.get(account=law, last_name="Durand")
    lefort = Collaborator.objects.get(account=law, last_name="Lefort")
    first, _ = AppointmentType.objects.update_or_create(
        account=law, code="first_meeting",
        defaults={"name": "Premier rendez-vous", "duration_minutes": 60, "buffer_after_minutes": 15,
                  "min_notice_minutes": 240, "horizon_days": 45, "places": "office, video",
                  "motives": "nouveau dossier, divorce, séparation, licenciement",
                  "questions": "Objet du dossier\nPièces à apporter"},
    )
    first.collaborators.set([durand, lefort])
    WorkingHours.objects.filter(collaborator=durand).delete()
    WorkingHours.objects.bulk_create(
        WorkingHours(collaborator=durand, weekday=d, start=start, end=end)
        for d in range(4) for start, end in ((time(9), time(12)), (time(14), time(18)))
    )
    consultation, _ = AppointmentType.objects.update_or_create(
        account=medical, code="consultation",
        defaults={"name": "Consultation", "duration_minutes": 20, "min_notice_minutes": 60,
                  "horizon_days": 30, "motives": "consultation, renouvellement, certificat"},
    )
    doctors = Collaborator.objects.filter(account=medical, last_name__in=["Bernard", "Nguyen"])
    consultation.collaborators.set(doctors)


def load_languages() -> None:
    for code, name in [("fr", "Français"), ("en", "Anglais"), ("es", "Espagnol"),
                       ("de", "Allemand"), ("it", "Italien"), ("ar", "Arabe"),
                       ("pt", "Portugais")]:
        Language.objects.get_or_create(code=code, defaults={"name": name})


def load_users(law: Account, medical: Account, plumber: Account) -> list[tuple[str, str, str]]:
    fr = Language.objects.get(code="fr")
    en = Language.objects.get(code="en")
    es = Language.objects.get(code="es")
    _user("admin", Role.OPERATOR_ADMIN, first_name="Sylviane", last_name="Roche")
    _user("assistante", Role.TECHNICAL_ASSISTANT, first_name="Aurélie", last_name="Marchand")
    camille = _user("secretaire", Role.SECRETARY, first_name="Camille", last_name="Fabre")
    camille.languages.add(fr, en)
    Training.objects.get_or_create(secretary=camille, account=law)
    Training.objects.get_or_create(secretary=camille, account=plumber)
    ines = _user("secretaire2", Role.SECRETARY, first_name="Inès", last_name="Haddad")
    ines.languages.add(fr, es)
    Training.objects.get_or_create(secretary=ines, account=medical)
    _user("durand", Role.CLIENT_ADMIN, law, first_name="Claire", last_name="Durand")
    _user("petit", Role.CLIENT_USER, law, first_name="Sophie", last_name="Petit")
    _user("tilleuls", Role.CLIENT_ADMIN, medical, first_name="Chantal", last_name="Lambert")
    _user("girard", Role.CLIENT_ADMIN, plumber, first_name="Marc", last_name="Girard")
    return [
        ("admin", "Administrateur opérateur", "tout"),
        ("assistante", "Assistante technique", "tous les comptes"),
        ("secretaire", "Secrétaire", "Cabinet Durand, Plomberie Girard"),
        ("secretaire2", "Secrétaire", "Cabinet médical des Tilleuls"),
        ("durand", "Administrateur client", "Cabinet Durand"),
        ("petit", "Collaborateur client", "Cabinet Durand"),
        ("tilleuls", "Administrateur client", "Cabinet médical des Tilleuls"),
        ("girard", "Administrateur client", "Plomberie Girard"),
    ]


def load_scenarios(law: Account, medical: Account, plumber: Account) -> None:
    """Each account's main scenario published (approved by its client admin); the law
    firm also has a version 2 waiting for its approval. Left alone once it exists."""
    from permanence.scenarios import services
    from permanence.scenarios.models import Scenario, Status
    from permanence.scenarios.signals import MAIN

    assistant = User.objects.get(username="assistante")
    for account, client_admin in ((law, "durand"), (medical, "tilleuls"), (plumber, "girard")):
        scenario = Scenario.objects.filter(account=account, name=MAIN).first()
        if scenario is None:  # accounts made before scenarios existed
            template = services.TRADE_TEMPLATE.get(account.trade, "switchboard")
            scenario = services.create_scenario(account, MAIN, template, assistant).version.scenario
        version = scenario.latest
        if version is None or version.number != 1 or version.status != Status.DRAFT:
            continue  # already loaded, or changed by hand
        services.send_to_client(version, assistant)
        services.approve(version, User.objects.get(username=client_admin))
        if account == law:
            draft = services.new_version(scenario, assistant)
            services.save_draft(draft, draft.source.replace(
                "Je vous propose un premier rendez-vous.",
                "Je vous propose un premier rendez-vous de 45 minutes, au cabinet ou en visio."), assistant)
            services.send_to_client(draft, assistant)


HISTORY_WEEKS = 10


def load_billing(law: Account, medical: Account, plumber: Account) -> None:
    """Each account's plan, billing profile and (the practice's) service promise; the plumber changed plans
    in the middle of last month, so that its invoice shows a prorated change."""
    from datetime import date, timedelta
    from decimal import Decimal as D

    from django.utils import timezone

    from permanence.billing.models import BillingProfile, Plan, ServicePromise

    since = date(2020, 1, 1)
    profiles = {
        law: dict(legal_name="Cabinet Martin & Associés SELARL", address="8 place Bellecour",
                  postcode="69002", city="Lyon", vat_id="FR76888888880", siret="88888888000018",
                  email="compta@cabinet-martin.fr"),
        medical: dict(legal_name="Cabinet médical des Tilleuls SCM", address="3 allée des Tilleuls",
                      postcode="69100", city="Villeurbanne", email="secretariat@tilleuls.fr"),
        plumber: dict(legal_name="Dupont Plomberie EURL", address="21 rue de la Soie", postcode="69100",
                      city="Villeurbanne", email="contact@dupont-plomberie.fr"),
    }
    for account, fields in profiles.items():
        BillingProfile.objects.update_or_create(account=account, defaults=fields)
    Plan.objects.update_or_create(account=law, starts_on=since, defaults=dict(
        name="Forfait 100 appels", monthly_fee=D("149"), included_calls=100, per_call=D("1.20"),
        after_hours_surcharge=D("0.50"), holiday_surcharge=D("1.50"), per_sms_part=D("0.09"),
        per_appointment=D("0.80")))
    Plan.objects.update_or_create(account=medical, starts_on=since, defaults=dict(
        name="Forfait 600 minutes", monthly_fee=D("99"), included_minutes=600, per_minute=D("0.45"),
        per_sms_part=D("0.09"), per_appointment=D("0.50"), minimum=D("120")))
    Plan.objects.update_or_create(account=plumber, starts_on=since, defaults=dict(
        name="À l'appel", per_call=D("1.50"), per_sms_part=D("0.09"), cap=D("350")))
    if Plan.objects.filter(account=plumber).count() == 1:  # the change, once
        last_month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=15)
        Plan.objects.create(account=plumber, starts_on=last_month, name="Forfait 60 appels",
                            monthly_fee=D("79"), included_calls=60, per_call=D("1.10"),
                            per_sms_part=D("0.09"))
    ServicePromise.objects.update_or_create(account=medical, defaults=dict(
        answer_within_seconds=20, answer_share=D("0.80"), max_abandon_rate=D("0.05"),
        delivery_within_minutes=5, delivery_share=D("0.95"), penalty_percent=D("0.05")))


def load_history(law: Account, medical: Account, plumber: Account, out: Any = None) -> int:
    """Ten weeks of past calls (reports and forecasts have something to show); left alone once
    there. A line of progress to ``out`` (a command's stdout) after each week stored."""
    from django.utils import timezone

    from permanence.calls import history

    today = timezone.localdate()
    camille = User.objects.get(username="secretaire").pk
    ines = User.objects.get(username="secretaire2").pk
    stored = 0
    for account, per_week, secretaries, seed in (
        (law, 220, [camille], 1),
        (medical, 520, [ines], 2),
        (plumber, 140, [camille], 3),
    ):
        stored += history.generate(
            account,
            weeks=HISTORY_WEEKS,
            until=today,
            calls_per_week=per_week,
            secretaries=secretaries,
            seed=seed,
            progress=history.report_to(out) if out is not None else None,
        )
    return stored


class Command(BaseCommand):
    help = "Load or refresh the demo accounts and users (safe to run again)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-history", action="store_true", help="do not generate the past weeks of calls"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            load_languages()
            law = load_law_firm()
            medical = load_medical_practice()
            plumber = load_plumber()
            logins = load_users(law, medical, plumber)
            load_scenarios(law, medical, plumber)
            load_messaging(law, plumber)
            load_agenda(law, medical)
            load_billing(law, medical, plumber)
            stored = 0 if options["no_history"] else load_history(law, medical, plumber, self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        if stored:
            self.stdout.write(f"Call history: {stored} calls over the last {HISTORY_WEEKS} weeks.")
        self.stdout.write(f"Logins (password for all: {DEMO_PASSWORD}):")
        for username, role, scope in logins:
            self.stdout.write(f"  {username:<12} {role:<26} {scope}")
