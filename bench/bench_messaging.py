"""Messages: deliveries per second to a local SMTP server and to a local webhook receiver, 1 and 4 workers.

Each run: a fresh SQLite database file (or BENCH_DATABASE_URL, e.g. PostgreSQL),
N messages queued, then `permanence worker` processes started and timed until
every delivery is sent. Run: make bench. With `--rq`, the tasks go through Redis
(TASKS_BACKEND=rq, BENCH_REDIS_URL or redis://127.0.0.1:6379/14, emptied first).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller

N = 1000
RQ = "--rq" in sys.argv
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
BIN = Path(sys.executable).parent
SETUP = """
import django
django.setup()
from django.db import transaction
from permanence.accounts.models import Account
from permanence.messaging import outbox
from permanence.messaging.models import WebhookEndpoint
account = Account.objects.create(slug="{slug}", name="Bench", greeting="Bonjour")
if {webhook}:
    WebhookEndpoint.objects.create(account=account, url="{url}", secret="s")
for i in range({n}):
    with transaction.atomic():
        outbox.queue_message(account, subject=f"Message {{i}}", body="Corps",
                             recipients=[] if {webhook} else [f"r{{i}}@example.fr"])
"""
COUNT = """
import django
django.setup()
from permanence.messaging.models import Delivery
print(Delivery.objects.filter(message__account__slug="{slug}").exclude(status="sent").count())
"""


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.count += 1
        return "250 OK"


def run(channel: str, workers: int, smtp_port: int, url: str) -> float:
    folder = Path(tempfile.mkdtemp(prefix="permanence-bench-msg-"))
    env = os.environ | {
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{folder / 'db.sqlite3'}",
        "PERMANENCE_DATA_DIR": str(folder),
        "DJANGO_SETTINGS_MODULE": "permanence.settings",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
    }
    if RQ:
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        env |= {"TASKS_BACKEND": "rq", "REDIS_URL": REDIS_URL}
    subprocess.run([BIN / "permanence", "migrate", "--no-input"], env=env, check=True, capture_output=True)
    webhook = channel == "webhook"
    slug = f"bench-{channel}-{workers}-{int(time.time())}"
    subprocess.run(
        [sys.executable, "-c", SETUP.format(n=N, webhook=webhook, url=url, slug=slug)], env=env, check=True
    )
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [BIN / "permanence", "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(workers)
    ]
    while True:
        left = int(
            subprocess.run(
                [sys.executable, "-c", COUNT.format(slug=slug)], env=env, capture_output=True, text=True
            ).stdout
            or N
        )
        if left == 0:
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    for p in processes:
        p.terminate()
        p.wait(timeout=20)
    return N / elapsed


def main() -> None:
    sink = Sink()
    port = 0
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    database = "the given database" if os.environ.get("BENCH_DATABASE_URL") else "SQLite"
    database += ", tasks on Redis (RQ)" if RQ else ""
    try:
        for channel in ("email", "webhook"):
            for workers in (1, 4):
                rate = run(channel, workers, port, url)
                print(
                    f"{channel:8} {workers} worker(s), {N} deliveries on {database}: {rate:.0f} deliveries/s"
                )
    finally:
        controller.stop()
        server.shutdown()


if __name__ == "__main__":
    main()
