"""The scorecard core: weighted points over the criteria that applied, a critical miss fails the call,
and a sample that is the same for a given seed, fair across secretaries and unbiased across calls."""

from collections import Counter

import pytest

from permanence.reporting import scorecard
from permanence.reporting.scorecard import Score, ScorecardError

ALL_DONE = {"greeting": 2, "identification": 2, "scenario": 2, "message": 2, "courtesy": 2}


def test_a_perfect_call_scores_100_and_weights_count():
    assert scorecard.score(ALL_DONE).percent == 100.0
    # scenario weighs 2: a partial scenario costs 2 points of 14
    partial = scorecard.score({**ALL_DONE, "scenario": 1})
    assert (partial.points, partial.out_of) == (12, 14)
    assert partial.percent == pytest.approx(100 * 12 / 14)
    # greeting weighs 1: missing it costs 2 of 14
    assert scorecard.score({**ALL_DONE, "greeting": 0}).points == 12


def test_criteria_that_did_not_apply_are_left_out_of_the_total():
    no_identification = scorecard.score({**ALL_DONE, "identification": None})
    assert (no_identification.points, no_identification.out_of) == (12, 12)
    assert no_identification.percent == 100.0
    assert scorecard.score({}).percent is None


def test_a_missed_message_fails_the_call_whatever_the_rest():
    failed = scorecard.score({**ALL_DONE, "message": 0})
    assert failed.failed_on == ("message",) and failed.percent == 0.0
    assert scorecard.score({**ALL_DONE, "message": 1}).failed_on == ()


@pytest.mark.parametrize("ratings", [{"smile": 2}, {"greeting": 3}, {"greeting": -1}, {"greeting": True},
                                     {"greeting": "2"}])
def test_what_is_not_a_rating_is_refused(ratings):
    with pytest.raises(ScorecardError):
        scorecard.score(ratings)


def test_a_summary_averages_the_reviews_that_had_a_score():
    summary = scorecard.summarise([scorecard.score(ALL_DONE), scorecard.score({**ALL_DONE, "message": 0}),
                                   scorecard.score({})])
    assert (summary.reviews, summary.mean, summary.failed) == (3, 50.0, 1)
    assert scorecard.summarise([]).mean is None


def test_the_sample_is_stable_fair_and_unbiased():
    calls = [(call_id, call_id % 3) for call_id in range(1, 61)]  # three secretaries, 20 calls each
    picked = scorecard.sample(calls, 4, "2026-W50")
    assert len(picked) == 12
    assert Counter(call_id % 3 for call_id in picked) == {0: 4, 1: 4, 2: 4}
    assert scorecard.sample(list(reversed(calls)), 4, "2026-W50") == picked  # order does not matter
    assert scorecard.sample(calls, 4, "2026-W51") != picked  # another week, another sample
    # a secretary with fewer calls than the quota gets them all
    assert scorecard.sample([(7, 1), (9, 1)], 4, "w") == [7, 9]
    # each call as likely as any other: over many seeds, the first and last calls are picked alike
    one = [(call_id, 1) for call_id in range(1, 21)]
    counts = Counter(c for week in range(600) for c in scorecard.sample(one, 2, f"w{week}"))
    assert len(counts) == 20 and min(counts.values()) > 30 and max(counts.values()) < 95  # 60 expected
    with pytest.raises(ValueError):
        scorecard.sample(calls, -1, "w")


def test_a_score_without_points_has_no_percent():
    assert Score(0, 0, ()).percent is None
