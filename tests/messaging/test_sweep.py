"""The outbox sweep queues again only the deliveries whose task is really lost (database task backend).

A delivery overdue under a backlog still has its task waiting in the queue: a second task would only
bury the queue (before, 1,000 deliveries made 11,222 tasks, and dead letters sent again by hand waited
behind 15,968 spare tasks). A task that ran and died with a killed worker, or vanished, is replaced once.
"""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from permanence.messaging import outbox
from permanence.messaging.models import Delivery


def queue(account, n=1):
    with transaction.atomic():
        return [
            outbox.queue_message(account, subject=f"S{i}", body="B", recipients=[f"r{i}@example.fr"])
            .deliveries.get()
            .pk
            for i in range(n)
        ]


def tasks_for(delivery_id):
    return DBTaskResult.objects.filter(
        task_path="permanence.messaging.tasks.deliver", args_kwargs__args__0=delivery_id
    )


def later(seconds=None):
    from django.conf import settings

    return timezone.now() + timedelta(seconds=seconds or settings.MESSAGING_SWEEP_GRACE_SECONDS + 1)


def test_a_backlog_is_left_to_its_waiting_tasks(alpha):
    ids = queue(alpha, 30)
    before = DBTaskResult.objects.count()
    assert all(tasks_for(i).filter(status=TaskResultStatus.READY).count() == 1 for i in ids)
    assert outbox.sweep(later()) == 0
    assert outbox.sweep(later(3600)) == 0  # however long they wait
    assert DBTaskResult.objects.count() == before


def test_a_task_that_vanished_is_queued_again_once(alpha):
    lost, kept = queue(alpha, 2)
    tasks_for(lost).delete()  # as if Redis, or the task row, had lost it
    assert outbox.sweep(later()) == 1
    assert tasks_for(lost).filter(status=TaskResultStatus.READY).count() == 1
    assert tasks_for(kept).count() == 1
    assert outbox.sweep(later(3600)) == 0  # its new task waits: nothing more


def test_a_task_claimed_by_a_killed_worker_is_replaced(alpha):
    """The worker claimed the task (RUNNING) and died before sending: the row stays RUNNING for good."""
    [delivery_id] = queue(alpha)
    tasks_for(delivery_id).update(status=TaskResultStatus.RUNNING)
    assert outbox.sweep(later()) == 1
    assert tasks_for(delivery_id).filter(status=TaskResultStatus.READY).count() == 1


def test_a_delivery_left_sending_is_replaced_after_its_lease_only_if_no_task_waits(alpha, settings):
    first, second = queue(alpha, 2)
    now = timezone.now()
    Delivery.objects.filter(pk__in=[first, second]).update(
        status="sending", lease_until=now + timedelta(seconds=settings.MESSAGING_LEASE_SECONDS)
    )
    tasks_for(first).update(status=TaskResultStatus.RUNNING)  # its worker was killed while sending
    assert outbox.sweep(now) == 0  # the lease still runs
    after_lease = now + timedelta(seconds=settings.MESSAGING_LEASE_SECONDS + 1)
    assert outbox.sweep(after_lease) == 1  # the second still has a waiting task: it takes over itself
    assert tasks_for(first).filter(status=TaskResultStatus.READY).count() == 1
    assert outbox.attempt(first, now=after_lease) == "sent"


def test_sent_again_by_hand_is_not_buried(alpha, smtp):
    [delivery_id] = queue(alpha)
    smtp.reply = "554 5.7.1 Rejected"
    assert outbox.attempt(delivery_id) == "dead"
    smtp.reply = None
    tasks_for(delivery_id).update(status=TaskResultStatus.SUCCESSFUL)  # the worker ran it
    outbox.retry_dead(Delivery.objects.get(pk=delivery_id))
    assert tasks_for(delivery_id).filter(status=TaskResultStatus.READY).count() == 1
    assert outbox.sweep(later(3600)) == 0  # its task waits: no spare one
    assert outbox.attempt(delivery_id) == "sent" and len(smtp.envelopes) == 1


def test_a_delivery_sent_meanwhile_is_not_queued_again(alpha):
    [delivery_id] = queue(alpha)
    tasks_for(delivery_id).delete()
    Delivery.objects.filter(pk=delivery_id).update(status="sent")
    assert outbox.sweep(later()) == 0


def test_a_channel_that_raises_makes_a_failure_not_a_delivery_stuck_sending(alpha, settings, caplog):
    """Before, the delivery stayed "sending": the sweep queued it again after every lease, forever."""
    settings.EMAIL_BACKEND = "permanence.no_such_module.EmailBackend"  # a misconfiguration
    [delivery_id] = queue(alpha)
    assert outbox.attempt(delivery_id) == "failed"
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.lease_until is None and delivery.last_error.startswith("internal error: ")
    assert f"delivery {delivery_id}: the email channel raised" in caplog.text
    for _ in range(7):  # retried with backoff, then a dead letter the operator sees
        Delivery.objects.filter(pk=delivery_id).update(next_attempt_at=timezone.now())
        outbox.attempt(delivery_id)
    assert Delivery.objects.get(pk=delivery_id).status == "dead"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plan")
def test_the_sweep_reads_the_deliveries_through_the_index(alpha):
    from permanence.messaging.outbox import _overdue, _stale

    now = timezone.now()
    for condition, order in ((_overdue(now), "next_attempt_at"), (_stale(now), "lease_until")):
        query = Delivery.objects.filter(condition).order_by(order).values_list("pk", flat=True)[:10]
        sql, params = query.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "INDEX delivery_due" in plan and "SCAN messaging_delivery" not in plan.replace(
            "USING INDEX", ""
        ), plan
