import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from permanence.env import envbool, envint, envlist

ROOT = Path(__file__).resolve().parents[1]


def test_envbool(monkeypatch):
    for raw, value in [("true", True), ("Yes", True), ("1", True), ("off", False), ("", False)]:
        monkeypatch.setenv("X_FLAG", raw)
        assert envbool("X_FLAG") is value
    monkeypatch.delenv("X_FLAG")
    assert envbool("X_FLAG", True) is True
    monkeypatch.setenv("X_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='ture'"):
        envbool("X_FLAG")


def test_envint_and_envlist(monkeypatch):
    monkeypatch.setenv("X_NUM", "12")
    assert envint("X_NUM", 3) == 12
    monkeypatch.setenv("X_NUM", "douze")
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        envint("X_NUM", 3)
    monkeypatch.setenv("X_NUM", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        envint("X_NUM", 3, minimum=1)
    monkeypatch.setenv("X_LIST", " a, b ,,c ")
    assert envlist("X_LIST") == ["a", "b", "c"]


def _cli(*args, env=None, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "permanence.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
    )


def test_cli_help_lists_subcommands():
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("serve", "load_demo", "import_contacts", "export_contacts", "identify"):
        assert f"  {command}" in result.stdout


def test_secret_key_generated_once_and_kept(tmp_path):
    env = {"PERMANENCE_DATA_DIR": str(tmp_path), "SECRET_KEY": "", "DATABASE_URL": ""}
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "permanence.settings"},
    )
    second = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "permanence.settings"},
    )
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.strip()) >= 50
    assert first.stdout == second.stdout
    key_file = tmp_path / "secret_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"


def test_bad_setting_is_a_clear_error_not_a_traceback(tmp_path):
    result = _cli("check", env={"DEBUG": "maybe", "PERMANENCE_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DEBUG='maybe'" in result.stderr and "Traceback" not in result.stderr


def test_bad_database_url(tmp_path):
    result = _cli("check", env={"DATABASE_URL": "nonsense://x", "PERMANENCE_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr


def test_stylesheet_is_served_without_debug(client, settings):
    """The demo runs with DEBUG off: WhiteNoise must still serve the app's CSS."""
    assert settings.DEBUG is False
    response = client.get("/static/permanence/app.css")
    assert response.status_code == 200
    assert b".card" in b"".join(response.streaming_content)


def test_no_model_change_lacks_a_migration(db):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out)
    except SystemExit as exit:
        pytest.fail(f"models changed without a migration:\n{out.getvalue()} ({exit})")


def _setting(code, env, tmp_path):
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); from django.conf import settings; {code}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "PERMANENCE_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "permanence.settings",
            **env,
        },
    )


def test_sqlite_by_url_queues_writers_like_the_default_file(tmp_path):
    result = _setting(
        "print(settings.DATABASES['default']['OPTIONS'])",
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "'timeout': 20" in result.stdout and "'transaction_mode': 'IMMEDIATE'" in result.stdout


def test_task_backends_are_chosen_clearly(tmp_path):
    rq = _setting(
        "print(settings.TASKS['default']['BACKEND'], settings.RQ_QUEUES['default']['URL'])",
        {"TASKS_BACKEND": "rq", "REDIS_URL": "redis://127.0.0.1:6379/3", "DATABASE_URL": ""},
        tmp_path,
    )
    assert rq.stdout.split() == ["django_tasks_rq.RQBackend", "redis://127.0.0.1:6379/3"], rq.stderr
    missing = _cli(
        "check", env={"TASKS_BACKEND": "rq", "REDIS_URL": "", "PERMANENCE_DATA_DIR": str(tmp_path)}
    )
    assert missing.returncode != 0 and "TASKS_BACKEND=rq needs REDIS_URL" in missing.stderr
    assert "Traceback" not in missing.stderr
    wrong = _cli("check", env={"TASKS_BACKEND": "celery", "PERMANENCE_DATA_DIR": str(tmp_path)})
    assert wrong.returncode != 0 and "write db (the default) or rq" in wrong.stderr


def test_a_server_database_needs_a_shared_secret_key(tmp_path):
    """Each node would generate its own key: a session signed by one would be refused by the next."""
    url = "postgres://postgres@127.0.0.1:5432/postgres"
    refused = _cli("check", env={"DATABASE_URL": url, "SECRET_KEY": "", "PERMANENCE_DATA_DIR": str(tmp_path)})
    assert refused.returncode != 0
    assert "SECRET_KEY must be set" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "secret_key").exists()
    given = _setting("print(settings.SECRET_KEY)", {"DATABASE_URL": url, "SECRET_KEY": "shared"}, tmp_path)
    assert given.returncode == 0 and given.stdout.strip() == "shared"


def test_postgresql_uses_a_pool_and_no_persistent_connections(tmp_path):
    env = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres", "SECRET_KEY": "k"}
    code = "d = settings.DATABASES['default']; print(d['CONN_MAX_AGE'], d['OPTIONS'].get('pool'))"
    result = _setting(code, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0 {'min_size': 1, 'max_size': 10, 'timeout': 10}"
    result = _setting(code, {**env, "DATABASE_POOL_MAX": "0"}, tmp_path)
    assert result.stdout.strip() == "0 None"


def test_dispatcher_mode_needs_postgresql(tmp_path):
    env = {"DISPATCH": "dispatcher", "DATABASE_URL": "", "PERMANENCE_DATA_DIR": str(tmp_path)}
    result = _cli("check", env=env)
    assert result.returncode != 0 and "DISPATCH=dispatcher needs PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr
    result = _cli("check", env={**env, "DISPATCH": "elsewhere"})
    assert result.returncode != 0 and "DISPATCH" in result.stderr and "Traceback" not in result.stderr


def test_proxy_headers_believed_only_behind_proxies(tmp_path):
    code = "print(getattr(settings, 'SECURE_PROXY_SSL_HEADER', None), settings.USE_X_FORWARDED_HOST)"
    alone = _setting(code, {"PROXY_COUNT": ""}, tmp_path)
    assert alone.stdout.strip() == "None False"
    behind = _setting(code, {"PROXY_COUNT": "1"}, tmp_path)
    assert behind.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https') True"


def test_collected_static_files_carry_a_hash_of_their_content(tmp_path):
    """STATIC_COLLECTED=1: pages name the files collectstatic wrote, with a hash in the name, so that
    browsers may keep them forever and every node serves the same ones."""
    env = {"STATIC_COLLECTED": "1"}
    collected = _cli("collectstatic", "--no-input", env={**env, "PERMANENCE_DATA_DIR": str(tmp_path)})
    assert collected.returncode == 0, collected.stderr
    manifest = tmp_path / "static" / "staticfiles.json"
    assert manifest.exists()
    code = (
        "from django.templatetags.static import static; print(static('permanence/app.css'));"
        "from django.test import Client; r = Client().get('/login/', HTTP_HOST='localhost');"
        "print(r.status_code, b'/static/permanence/app.' in r.content and b'.css' in r.content)"
    )
    result = _setting(code, env, tmp_path)
    assert result.returncode == 0, result.stderr
    url, page = result.stdout.strip().splitlines()
    assert url.startswith("/static/permanence/app.") and url.endswith(".css")
    assert url != "/static/permanence/app.css"
    hashed = tmp_path / "static" / url.removeprefix("/static/")
    assert hashed.exists()
    assert page == "200 True"


def test_client_address_behind_proxies(rf, settings):
    """Behind PROXY_COUNT proxies the address is the one the outermost proxy saw; what a client writes in
    X-Forwarded-For itself is never believed, nor is the header without proxies."""
    from permanence.audit.trail import client_ip

    request = rf.get("/", REMOTE_ADDR="127.0.0.9", HTTP_X_FORWARDED_FOR="127.0.0.66, 127.0.0.7")
    settings.PROXY_COUNT = 0
    assert client_ip(request) == "127.0.0.9"
    settings.PROXY_COUNT = 1
    assert client_ip(request) == "127.0.0.7"  # 127.0.0.66 was written by the client
    settings.PROXY_COUNT = 2
    assert client_ip(request) == "127.0.0.66"
    settings.PROXY_COUNT = 3  # fewer hops than proxies: the connection's
    assert client_ip(request) == "127.0.0.9"
    settings.PROXY_COUNT = 1
    assert client_ip(rf.get("/", REMOTE_ADDR="127.0.0.9", HTTP_X_FORWARDED_FOR="nonsense")) == "127.0.0.9"
    with_port = rf.get("/", REMOTE_ADDR="127.0.0.9", HTTP_X_FORWARDED_FOR="127.0.0.7:5678")
    assert client_ip(with_port) == "127.0.0.7"
    assert client_ip(rf.get("/", REMOTE_ADDR="127.0.0.9", HTTP_X_FORWARDED_FOR="[::1]:5678")) == "::1"


def test_failed_sign_ins_are_counted_against_the_address_the_proxy_saw(client, settings, db):
    from axes.models import AccessAttempt

    settings.PROXY_COUNT = 1
    client.post("/login/", {"username": "nobody", "password": "wrong"},
                REMOTE_ADDR="127.0.0.9", HTTP_X_FORWARDED_FOR="127.0.0.66, 127.0.0.7")
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["127.0.0.7"]


def test_smtp_sign_in_and_encryption(tmp_path):
    code = "print(settings.EMAIL_HOST_USER, settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL)"
    result = _setting(code, {"EMAIL_HOST_USER": "relay", "EMAIL_USE_TLS": "1"}, tmp_path)
    assert result.stdout.strip() == "relay True False"
    env = {"EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1", "PERMANENCE_DATA_DIR": str(tmp_path)}
    both = _cli("check", env=env)
    assert both.returncode != 0 and "EMAIL_USE_SSL" in both.stderr and "Traceback" not in both.stderr


def test_a_single_node_that_kept_its_key_goes_on_with_it(tmp_path):
    (tmp_path / "secret_key").write_text("kept-from-before")
    url = "postgres://postgres@127.0.0.1:5432/postgres"
    result = _setting("print(settings.SECRET_KEY)", {"DATABASE_URL": url, "SECRET_KEY": ""}, tmp_path)
    assert result.returncode == 0 and result.stdout.strip() == "kept-from-before"
    sqlite = _setting("print(len(settings.SECRET_KEY))", {"DATABASE_URL": f"SQLITE:///{tmp_path}/x.db",
                                                          "SECRET_KEY": ""}, tmp_path / "other")
    assert sqlite.returncode == 0, sqlite.stderr
