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
