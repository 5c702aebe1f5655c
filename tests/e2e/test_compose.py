"""docker-compose.yml is checked against the real CLI and settings (no Docker engine here).

Every app service's command must parse as an `invtwin` command line (the command path
exists and every option is one it accepts, with a valid value), and every `TWIN_*` variable
given to a service must be one that service's settings class actually reads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from pydantic_settings import BaseSettings

from api.settings import ApiSettings
from cli.main import app
from dataflows.settings import FlowSettings
from history.settings import HistorySettings
from infra.settings import BrokerSettings
from loadtests.settings import LoadTestSettings

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
APP_SERVICES = {"network", "topics", "normalize", "twin", "history", "api", "simulator", "locust"}


def simulator_settings() -> list[type[BaseSettings]]:
    """The simulator's settings class(es), wherever its module keeps them."""
    import simulator

    found: list[type[BaseSettings]] = []
    for module_name in ("simulator.settings", "simulator.live", "simulator.runner"):
        try:
            module = __import__(module_name, fromlist=["*"])
        except ImportError:
            continue
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, BaseSettings)
            and value is not BaseSettings
            and value.__module__.startswith(simulator.__name__)
        ]
    return found


# Which settings classes the deployable behind each top-level command reads.
SETTINGS_BY_COMMAND: dict[str, list[type[BaseSettings]]] = {
    "kafka": [BrokerSettings],
    "flow": [FlowSettings],
    "api": [ApiSettings],
    "history": [HistorySettings],
    "loadtest": [LoadTestSettings],
}


def env_names(settings: type[BaseSettings]) -> set[str]:
    prefix = str(settings.model_config.get("env_prefix", ""))
    return {(prefix + name).upper() for name in settings.model_fields}


def interpolate(value: str) -> str:
    """Compose's `${VAR:-default}` / `${VAR:?error}` / `${VAR}` with no variable set."""

    def substitute(match: re.Match[str]) -> str:
        operator, rest = match.group(2) or "", match.group(3) or ""
        return rest if operator == ":-" else "set-by-user"

    return re.sub(r"\$\{(\w+)(:-|:\?)?([^}]*)\}", substitute, value)


def resolve(argv: list[str]) -> list[str]:
    """Walk `invtwin argv` as the CLI would and parse the leaf's options.

    Raises the CLI's usage error (exit code 2) for an unknown option or a bad value.
    Typer ships its own copy of click, so groups are recognised by `get_command`.
    """
    command: Any = typer.main.get_command(app)
    path: list[str] = []
    args = list(argv)
    ctx = typer.Context(command, info_name="invtwin")
    while hasattr(command, "get_command"):
        assert args, f"`invtwin {' '.join(path)}` needs a sub-command"
        name = args.pop(0)
        sub = command.get_command(ctx, name)
        assert sub is not None, f"`invtwin {' '.join([*path, name])}` is not a command"
        path.append(name)
        command = sub
        ctx = typer.Context(command, info_name=name, parent=ctx)
    command.make_context(name, args, parent=ctx.parent)
    return path


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def service_items() -> list[tuple[str, dict[str, Any]]]:
    return [(n, s) for n, s in compose()["services"].items() if n in APP_SERVICES]


def test_compose_has_the_stack_with_profiles_for_simulator_and_locust() -> None:
    services = compose()["services"]
    assert set(services) == APP_SERVICES | {"kafka"}
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "broker,controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["simulator"]["profiles"] == ["sim"]
    assert services["locust"]["profiles"] == ["load"]
    # The twin's master data is the simulator's network, written before anything reads it.
    assert services["topics"]["depends_on"]["network"]["condition"] == (
        "service_completed_successfully"
    )
    for name in ("normalize", "twin", "api"):
        assert services[name]["environment"]["TWIN_MASTER_DATA"] == "/state/network.yaml"
        assert "profiles" not in services[name], f"{name} must run by default"
        assert services[name]["depends_on"]["topics"]["condition"] == (
            "service_completed_successfully"
        )


@pytest.mark.parametrize(("name", "service"), service_items(), ids=lambda v: str(v)[:20])
def test_service_command_is_a_real_invtwin_command_line(name: str, service: dict[str, Any]) -> None:
    argv = [interpolate(str(part)) for part in service["command"]]
    path = resolve(argv)
    assert path == [str(p) for p in service["command"][: len(path)]], name


@pytest.mark.parametrize(("name", "service"), service_items(), ids=lambda v: str(v)[:20])
def test_service_environment_is_read_by_its_settings(name: str, service: dict[str, Any]) -> None:
    top = str(service["command"][0])
    classes = SETTINGS_BY_COMMAND.get(top) or (simulator_settings() if top == "sim" else [])
    twin_vars = {k for k in service.get("environment", {}) if k.startswith("TWIN_")}
    if not twin_vars:
        return
    assert classes, f"{name}: no settings class known for `invtwin {top}`"
    read = set().union(*(env_names(c) for c in classes))
    unread = twin_vars - read
    assert not unread, f"{name}: {sorted(unread)} are not read by {[c.__name__ for c in classes]}"


def test_resolve_rejects_an_unknown_option_so_the_command_checks_can_fail() -> None:
    with pytest.raises(Exception) as bad_option:
        resolve(["kafka", "topics", "--no-such-option"])
    assert getattr(bad_option.value, "exit_code", None) == 2
    with pytest.raises(AssertionError):
        resolve(["no-such-command"])


def test_dockerfile_installs_the_app_and_has_a_locust_stage() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim AS app" in dockerfile
    assert "pip install -c constraints.txt ." in dockerfile  # the versions CI tested
    # the core's hot path is compiled at install time (setup.py): a compiler, then no compiler
    assert "setup.py" in dockerfile and "apt-get install" in dockerfile and "gcc" in dockerfile
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            *sources, _dest = line.split()[1:]
            missing = [s for s in sources if not (REPO / s).exists()]
            assert not missing, f"Dockerfile copies {missing}, which the repo does not have"
    assert "FROM app AS load" in dockerfile and "locust" in dockerfile
    assert 'ENTRYPOINT ["invtwin"]' in dockerfile
    for service in ("locust",):
        assert compose()["services"][service]["build"]["target"] == "load"
