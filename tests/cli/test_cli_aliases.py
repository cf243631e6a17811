"""Old command and option names keep working, hidden, with one deprecation line on stderr (cli/_aliases.py).

The names of the 0.1 command line are recorded in ``names_0_1.py``; the renames to come are read from the
table ``make generate`` writes from codegen/names.yaml and codegen/deprecations.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("click")  # the `cli` extra
pytest.importorskip("rich")

import click
import httpx
from click.testing import CliRunner, Result

from codegen import aliases as alias_tables
from codegen.build_spec import load_yaml
from codegen.preview import load_deprecations
from discourse_async._generated import aliases
from discourse_async._generated.api import METHOD_NAMES, OPERATIONS
from discourse_async.cli import _aliases, _spec
from discourse_async.cli._app import State, cli
from discourse_async.testing import FakeDiscourse
from tests.cli import names_0_1

ROOT = Path(__file__).resolve().parents[2]


def resolve(name: str) -> click.Command | None:
    namespace, command = name.split()
    ctx = click.Context(cli)
    group = cli.get_command(ctx, namespace)
    assert isinstance(group, click.Group), namespace
    return group.get_command(click.Context(group, parent=ctx), command)


def flags(command: click.Command) -> set[str]:
    return {o for p in command.params for o in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("name", sorted(names_0_1.COMMANDS))
def test_every_command_and_option_of_0_1_is_still_there(name: str) -> None:
    command = resolve(name)
    assert command is not None, f"{name}: no such command"
    missing = {*names_0_1.COMMON, *names_0_1.COMMANDS[name]} - flags(command)
    assert not missing, f"{name}: {sorted(missing)} no longer accepted"


def test_the_root_options_of_0_1_are_still_there() -> None:
    assert set(names_0_1.ROOT) <= flags(cli)


def test_every_old_python_name_is_an_old_command_name_too() -> None:
    """The Python API's deprecated aliases (rendered into the namespace classes) and the CLI's agree."""
    for namespace in _spec.namespaces():
        cls = _spec.namespace_class(namespace)
        for attr in dir(cls):
            method = getattr(cls, attr)
            if getattr(method, "__deprecated__", None) and not attr.startswith("_"):
                new = method.__wrapped__.__name__
                assert aliases.COMMANDS[attr][0] == new, attr
                assert resolve(f"{namespace.replace('_', '-')} {attr.replace('_', '-')}") is not None, attr


def test_old_names_are_hidden_from_help() -> None:
    result = CliRunner().invoke(cli, ["backups", "--help"])
    assert "list-backups" in result.stdout
    assert "get-backups" not in result.stdout


# ---------------------------------------------------------------------------- running old names


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Invoke the CLI against a fake Discourse with an admin key; no user config is read."""
    fake = FakeDiscourse()
    for name in ("URL", "API_KEY", "API_USERNAME", "USER_API_KEY", "USER_API_CLIENT_ID", "PROFILE"):
        monkeypatch.delenv(f"DISCOURSE_{name}", raising=False)
    monkeypatch.setenv("DISCOURSE_ASYNC_CONFIG", str(tmp_path / "config.toml"))

    def invoke(*args: str) -> Result:
        env = {"DISCOURSE_URL": "http://forum.test", "DISCOURSE_API_KEY": fake.admin_api_key}
        env["DISCOURSE_API_USERNAME"] = "system"
        state = State(transport=httpx.ASGITransport(app=fake), client_options={"rate_limits": None, "max_retries": 0})
        return CliRunner().invoke(cli, list(args), obj=state, env=env)

    invoke.fake = fake  # type: ignore[attr-defined]
    return invoke


def test_an_old_command_runs_the_new_one_with_one_deprecation_line(run: Any) -> None:
    topic = run.fake.seed_topics(1)[0]
    new = run("posts", "create-post", "--topic-id", str(topic.id), "--raw", "Written under the new name.")
    old = run("posts", "create-topic-post-pm", "--topic-id", str(topic.id), "--raw", "Written under the old name.")
    assert new.exit_code == 0 and old.exit_code == 0, old.stderr
    assert json.loads(old.stdout)["topic_id"] == json.loads(new.stdout)["topic_id"] == topic.id
    assert new.stderr == ""
    assert old.stderr.splitlines() == [
        "discourse-async: 'posts create-topic-post-pm' is deprecated since 0.2.0: use 'posts create-post'"
    ]


def test_every_old_command_gives_the_request_of_its_new_name(run: Any) -> None:
    for old, (new, _) in aliases.COMMANDS.items():
        operation = next(op for op, method in METHOD_NAMES.items() if method == new)
        group = OPERATIONS[operation][0].replace("_", "-")
        command = resolve(f"{group} {new.replace('_', '-')}")
        assert command is not None
        args = [arg for p in command.params if p.required for arg in _sample(p)]
        body = {f.key: "1" for f in _spec.operation(operation).body_fields if f.required}  # checked after --body
        args += ["--body", json.dumps(body)] if body else []
        sent = [run(group, name.replace("_", "-"), *args, "--dry-run") for name in (new, old)]
        assert sent[0].exit_code == sent[1].exit_code == 0, (old, sent[1].stderr)
        assert sent[0].stdout == sent[1].stdout
        assert len(sent[1].stderr.splitlines()) == 1 and "deprecated" in sent[1].stderr


def _sample(param: click.Parameter) -> list[str]:
    """A value a required argument or option accepts."""
    value = param.type.choices[0] if isinstance(param.type, click.Choice) else "1"
    return [str(value)] if isinstance(param, click.Argument) else [param.opts[0], str(value)]


def test_a_renamed_parameter_keeps_its_old_option(run: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # As if a document had renamed list_notifications' `limit` (was `max`) and `filter` (was `only`).
    renamed = {"max": ("limit", "0.3.0"), "only": ("filter", "0.3.0")}
    monkeypatch.setitem(aliases.PARAMETERS, "get_notifications", renamed)
    monkeypatch.setattr(_aliases, "PARAMETERS", aliases.PARAMETERS)
    new = run("notifications", "list-notifications", "--limit", "5", "--filter", "read", "--dry-run")
    old = run("notifications", "list-notifications", "--max", "5", "--only", "read", "--dry-run")
    assert new.exit_code == old.exit_code == 0, old.stderr
    assert old.stdout == new.stdout
    assert old.stderr.splitlines() == [
        "discourse-async: --max is deprecated since 0.3.0: use --limit",
        "discourse-async: --only is deprecated since 0.3.0: use --filter",
    ]
    both = run("notifications", "get-notifications", "--max", "5", "--limit", "6", "--dry-run")
    assert both.exit_code == 2
    assert "--max is the old name of --limit: give one of them" in both.stderr
    help_text = run("notifications", "list-notifications", "--help").stdout
    assert "--limit" in help_text and "--max" not in help_text


def test_the_committed_table_is_what_the_codegen_files_say() -> None:
    """A rename added to codegen/names.yaml or codegen/deprecations.yaml reaches the table (and so the CLI)."""
    spec = load_yaml(ROOT / "openapi.yaml")
    deprecations = load_deprecations(ROOT / "codegen" / "deprecations.yaml")
    assert alias_tables.tables(deprecations, spec) == (aliases.COMMANDS, aliases.PARAMETERS)
    deprecations["operations"]["fetch_topic"] = {"new": "get_topic", "since": "0.3.0"}
    deprecations["parameters"]["get_topic"] = {"topic": {"new": "id", "since": "0.3.0"}}
    commands, parameters = alias_tables.tables(deprecations, spec)
    assert commands["fetch_topic"] == ("get_topic", "0.3.0")
    assert commands["get_backups"] == ("list_backups", "0.2.0")
    assert parameters == {"get_topic": {"topic": ("id", "0.3.0")}}
