"""Tolerant directory search: by name (spelling, accents) and by need."""

from permanence.directory.search import Entry, fold, search

DIRECTORY = [
    Entry(
        "claire-durand",
        "Maître Claire Durand",
        "Claire",
        "Durand",
        service="Droit de la famille",
        specialties=("droit de la famille", "divorce", "garde d'enfants"),
    ),
    Entry(
        "antoine-lefort",
        "Maître Antoine Lefort",
        "Antoine",
        "Lefort",
        service="Droit des sociétés",
        specialties=("droit des sociétés", "fusions-acquisitions"),
        keywords=("bail commercial",),
    ),
    Entry(
        "karim-benali",
        "Dr Karim Bénali",
        "Karim",
        "Bénali",
        aliases=("docteur B",),
        specialties=("cardiologie",),
    ),
    Entry(
        "sophie-petit",
        "Sophie Petit",
        "Sophie",
        "Petit",
        service="Accueil",
        keywords=("facture", "rendez-vous"),
    ),
]


def refs(query, **kw):
    return [m.ref for m in search(DIRECTORY, query, **kw)]


def test_fold_removes_accents_case_and_punctuation():
    assert fold("Maître Bénali-Séverin, l'œuvre") == "maitre benali severin l oeuvre"


def test_name_with_spelling_mistakes_and_without_accents():
    assert refs("Durant")[0] == "claire-durand"
    assert refs("benali")[0] == "karim-benali"
    assert refs("maître lefor")[0] == "antoine-lefort"
    assert refs("Claire")[0] == "claire-durand"


def test_need_finds_the_person_who_handles_it():
    assert refs("c'est pour un divorce", by="need") == ["claire-durand"]
    assert refs("un problème de bail commercial", by="need")[0] == "antoine-lefort"
    assert refs("une facture", by="need") == ["sophie-petit"]
    assert refs("cardiologie", by="need") == ["karim-benali"]


def test_by_name_ignores_needs_and_service_filters():
    assert refs("divorce", by="name") == []
    assert refs("Durand", service="Droit des sociétés") == []
    assert refs("Lefort", service="droit des societes") == ["antoine-lefort"]


def test_nothing_for_nonsense_or_empty():
    assert refs("zzzz qqqq") == []
    assert refs("") == [] and refs("le de la") == []
