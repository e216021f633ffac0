"""The cluster's deployment files (deploy/, docs/deployment.md) name real commands and settings, and
backup.sh then restore.sh give back the database (on PostgreSQL). Nothing here needs Docker."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
PERMANENCE = "/opt/permanence/.venv/bin/permanence"
DATA_DIR = "/var/lib/permanence"
APP_SERVICES = ("migrate", "web1", "web2", "worker1", "worker2", "dispatcher", "telephony")
CLUSTER = ("web1", "web2", "worker1", "worker2", "dispatcher")


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def assert_real_command(argv: list[str]) -> None:
    """``permanence <command> [options]`` that the command's own parser accepts."""
    from django.core.management import get_commands, load_command_class

    assert argv and Path(argv[0]).name == "permanence", f"not a permanence command: {argv}"
    assert len(argv) > 1, f"{argv}: which command?"
    name = argv[1].replace("-", "_")
    commands = get_commands()
    assert name in commands, f"`permanence {argv[1]}` is no command of Permanence's or Django's"
    parser = load_command_class(commands[name], name).create_parser("permanence", name)
    parser.parse_args(argv[2:])  # CommandError on an unknown option or a missing argument


def service_commands(service: dict[str, Any]) -> list[list[str]]:
    command = service["command"]
    argv = shlex.split(command) if isinstance(command, str) else [str(word) for word in command]
    if argv[:2] == ["sh", "-c"]:
        return [shlex.split(part) for part in argv[2].split("&&")]
    return [argv]


def test_compose_has_the_cluster_services():
    services = compose()["services"]
    assert set(APP_SERVICES) | {"postgres", "redis"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "pg_isready" in str(services["postgres"]["healthcheck"]["test"])
    assert services["redis"]["image"].startswith("redis:7")
    for name in APP_SERVICES:
        assert services[name]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name


def test_every_compose_command_is_a_real_permanence_command():
    services = compose()["services"]
    seen = {}
    for name in APP_SERVICES:
        commands = service_commands(services[name])
        for argv in commands:
            assert_real_command(argv)
        seen[name] = [argv[1:] for argv in commands]
    assert seen["migrate"] == [["migrate", "--no-input"], ["collectstatic", "--no-input"]]
    for web in ("web1", "web2"):
        assert seen[web] == [["serve", "--host", "0.0.0.0", "--port", "8000"]]
    assert seen["worker1"] == seen["worker2"] == [["worker"]]
    assert seen["dispatcher"] == [["dispatcher"]]
    assert seen["telephony"] == [["telephony", "run"]]


def test_the_cluster_shares_one_environment():
    services = compose()["services"]
    environments = {name: services[name]["environment"] for name in CLUSTER + ("migrate",)}
    first = environments["web1"]
    for name, environment in environments.items():
        assert environment == first, f"{name} does not get the x-permanence-env block as web1 does"
    assert first["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert first["DATABASE_URL"].startswith("postgres://")
    assert first["REDIS_URL"].startswith("redis://")
    assert first["DISPATCH"] == "dispatcher"
    assert first["PERMANENCE_DATA_DIR"] == DATA_DIR
    assert str(first["STATIC_COLLECTED"]) == "1"
    # the call control on the host's network: the same settings but the addresses of the published ports
    telephony = services["telephony"]
    assert telephony["network_mode"] == "host"
    different = {key for key in first if telephony["environment"].get(key) != first[key]}
    assert different == {"DATABASE_URL", "REDIS_URL"}
    assert "@127.0.0.1:5432/" in telephony["environment"]["DATABASE_URL"]
    for name in APP_SERVICES:
        assert f"{DATA_DIR}:{DATA_DIR}" in services[name]["volumes"], name


def test_compose_starts_things_in_order_and_checks_the_web_nodes():
    services = compose()["services"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in CLUSTER + ("telephony",):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for web, port in (("web1", 8001), ("web2", 8002)):  # the proxy's upstreams (deploy/Caddyfile)
        assert "/healthz" in " ".join(services[web]["healthcheck"]["test"])
        assert services[web]["ports"] == [f"127.0.0.1:{port}:8000"]
    assert services["proxy"]["network_mode"] == "host"


def env_example() -> list[str]:
    text = (DEPLOY / "env.example").read_text()
    return re.findall(r"^#?([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)


def test_every_variable_compose_reads_is_in_env_example():
    listed = set(env_example())
    read = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (DEPLOY / "compose.yaml").read_text()))
    assert read - listed == set(), "add them to deploy/env.example, with a comment"


def test_every_variable_of_env_example_is_read_and_documented():
    settings_text = (ROOT / "src/permanence/settings.py").read_text()
    compose_text = (DEPLOY / "compose.yaml").read_text()
    configuration = (ROOT / "docs/configuration.md").read_text()
    docs = "\n".join(path.read_text() for path in (ROOT / "docs").glob("*.md"))
    names = env_example()
    assert len(names) == len(set(names)), "a variable listed twice"
    for name in names:
        assert f'"{name}"' in settings_text or f"${{{name}" in compose_text, f"{name}: nothing reads it"
        documented = (
            re.search(rf"\b{name}\b", docs)
            or any(  # `BILLING_SELLER_NAME`, `_VAT_ID`
                f"`{name[cut:]}`" in configuration and f"`{name[:cut]}_" in configuration
                for cut in range(1, len(name))
                if name[cut] == "_"
            )
        )
        assert documented, f"{name} is in deploy/env.example but in no docs/*.md"


def units() -> dict[str, configparser.RawConfigParser]:
    found = {}
    for path in sorted(UNITS.iterdir()):
        parser = configparser.RawConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
        parser.read_string(path.read_text(), source=str(path))
        found[path.name] = parser
    return found


def test_the_systemd_units_are_all_there_and_hardened():
    found = units()
    assert set(found) == {
        "permanence-web@.service", "permanence-worker@.service", "permanence-dispatcher.service",
        "permanence-telephony.service", "permanence-migrate.service", "permanence.target",
    }  # fmt: skip
    for name, unit in found.items():
        assert unit["Unit"]["Description"], name
        if name.endswith(".target"):
            assert unit["Install"]["WantedBy"] == "multi-user.target"
            continue
        service = unit["Service"]
        assert service["User"] == "permanence", name
        assert service["EnvironmentFile"] == "/etc/permanence/env", name
        assert service["NoNewPrivileges"] == "true", name
        assert service["ProtectSystem"] == "strict", name
        assert DATA_DIR in service["ReadWritePaths"].split(), name
        assert service["PrivateTmp"] == "true", name
        assert f"PERMANENCE_DATA_DIR={DATA_DIR}" in service["Environment"].split(), name
        if name == "permanence-migrate.service":
            assert service["Type"] == "oneshot"
        else:
            assert service["Restart"] == "always", name
            assert unit["Unit"]["PartOf"] == "permanence.target", name
            assert unit["Install"]["WantedBy"] == "permanence.target", name


def exec_starts(path: Path) -> list[list[str]]:
    """Every ExecStart= line (configparser keeps only the last of repeated keys)."""
    lines = re.findall(r"^ExecStart=(.+)$", path.read_text(), flags=re.MULTILINE)
    return [shlex.split(line.replace("%i", "8001")) for line in lines]


def test_every_unit_runs_a_real_permanence_command():
    seen = {}
    for path in sorted(UNITS.glob("*.service")):
        commands = exec_starts(path)
        assert commands, f"{path.name} has no ExecStart"
        for argv in commands:
            assert argv[0] == PERMANENCE, path.name
            assert_real_command(argv)
        seen[path.name] = [argv[1:] for argv in commands]
    assert seen["permanence-web@.service"] == [["serve", "--host", "127.0.0.1", "--port", "8001"]]
    assert seen["permanence-worker@.service"] == [["worker"]]
    assert seen["permanence-dispatcher.service"] == [["dispatcher"]]
    assert seen["permanence-telephony.service"] == [["telephony", "run"]]
    assert seen["permanence-migrate.service"] == [["migrate", "--no-input"], ["collectstatic", "--no-input"]]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_finds_nothing_wrong_with_the_units(tmp_path):
    for path in UNITS.iterdir():
        shutil.copy(path, tmp_path / path.name.replace("@.", "@8001."))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(path) for path in tmp_path.iterdir())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    problems = [
        line for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and f"Command {PERMANENCE} is not executable" not in line  # not installed here
    ]  # fmt: skip
    assert problems == []


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed")
def test_caddy_reads_the_proxy_configuration(tmp_path):
    environment = {
        **os.environ,
        "SITE_URL": "https://localhost",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path),
    }
    done = subprocess.run(
        ["caddy", "adapt", "--adapter", "caddyfile", "--config", str(DEPLOY / "Caddyfile")],
        capture_output=True, text=True, timeout=60, env=environment,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert '"uri":"/healthz"' in text.replace(" ", "")
    for upstream in ("127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8088"):
        assert f'"dial":"{upstream}"' in text.replace(" ", ""), upstream


@pytest.mark.parametrize("script", ["backup.sh", "restore.sh"])
def test_the_scripts_refuse_without_their_arguments(script, tmp_path):
    path = DEPLOY / script
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    missing_argument = subprocess.run(
        [str(path)],
        capture_output=True,
        text=True,
        env={**environment, "DATABASE_URL": "postgres://x@127.0.0.1/x"},
    )
    assert missing_argument.returncode == 2
    assert "usage:" in missing_argument.stderr
    missing_url = subprocess.run([str(path), str(tmp_path)], capture_output=True, text=True, env=environment)
    assert missing_url.returncode == 2
    assert "DATABASE_URL is not set" in missing_url.stderr
    sqlite = subprocess.run(
        [str(path), str(tmp_path)], capture_output=True, text=True,
        env={**environment, "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"},
    )  # fmt: skip
    assert sqlite.returncode == 2
    assert "postgres://" in sqlite.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_backup_then_restore_gives_the_database_back(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("pg_dump and pg_restore: run the suite with DATABASE_URL=postgres://...")
    missing = [
        tool for tool in ("psql", "createdb", "dropdb", "pg_dump", "pg_restore") if not shutil.which(tool)
    ]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    settings = connection.settings_dict
    host, port, user = settings["HOST"] or "127.0.0.1", str(settings["PORT"] or 5432), settings["USER"]
    password = settings.get("PASSWORD") or ""
    client = ["-h", host, "-p", port, "-U", user]
    environment = {
        **{key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "PGDATABASE")},
        "PGPASSWORD": password,
        "SECRET_KEY": "x",
        "PERMANENCE_DATA_DIR": str(tmp_path / "data"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    suffix = uuid.uuid4().hex[:8]
    source, destination = f"permanence_backup_src_{suffix}", f"permanence_backup_dst_{suffix}"
    credentials = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")

    def url(database: str) -> str:
        return f"postgres://{credentials}@{host}:{port}/{database}"

    def run(command: list[str], database: str | None = None) -> str:
        env = environment if database is None else {**environment, "DATABASE_URL": url(database)}
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def sql(database: str, statement: str) -> str:
        return run(["psql", *client, "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", statement]).strip()

    marker = f"backup marker {suffix}"
    (tmp_path / "dumps").mkdir()
    try:
        run(["createdb", *client, source])
        run(["createdb", *client, destination])
        run(["permanence", "migrate", "--no-input"], source)
        sql(source, f"INSERT INTO auth_group (name) VALUES ('{marker}')")
        migrations = sql(source, "SELECT count(*) FROM django_migrations")

        dump = Path(run([str(DEPLOY / "backup.sh"), str(tmp_path / "dumps")], source).strip())
        assert dump.parent == tmp_path / "dumps" and re.fullmatch(r"permanence-\d{8}T\d{6}Z\.dump", dump.name)
        assert [path.name for path in dump.parent.iterdir()] == [dump.name]  # no partial file left
        output = run([str(DEPLOY / "restore.sh"), str(dump)], destination)
        assert "No migrations to apply." in output

        assert sql(destination, f"SELECT count(*) FROM auth_group WHERE name = '{marker}'") == "1"
        assert sql(destination, "SELECT count(*) FROM django_migrations") == migrations
        # restoring again over the restored database replaces it whole (--clean)
        run([str(DEPLOY / "restore.sh"), str(dump)], destination)
        assert sql(destination, f"SELECT count(*) FROM auth_group WHERE name = '{marker}'") == "1"
    finally:
        for database in (source, destination):
            subprocess.run(["dropdb", *client, "--if-exists", "--force", database],
                           capture_output=True, env=environment, timeout=60)  # fmt: skip
