"""The discourse-async command line, driven in-process (Click's CliRunner) against the fake Discourse."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("click")  # the `cli` extra
pytest.importorskip("rich")

import click
import httpx
from click.testing import CliRunner, Result

from discourse_async._generated.api import METHOD_NAMES, OPERATIONS
from discourse_async.cli import main
from discourse_async.cli._app import State, cli
from discourse_async.cli._output import EXIT_CODES
from discourse_async.testing import FakeDiscourse

OPERATION_OF = {method: operation for operation, method in METHOD_NAMES.items()}
Run = Callable[..., Result]


@pytest.fixture
def fake() -> FakeDiscourse:
    return FakeDiscourse()


@pytest.fixture
def run(fake: FakeDiscourse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Invoke the CLI against the fake with an admin key from the environment; no user config is read."""
    for name in ("URL", "API_KEY", "API_USERNAME", "USER_API_KEY", "USER_API_CLIENT_ID", "PROFILE"):
        monkeypatch.delenv(f"DISCOURSE_{name}", raising=False)
    monkeypatch.setenv("DISCOURSE_ASYNC_CONFIG", str(tmp_path / "config.toml"))

    def invoke(*args: str, env: dict[str, str | None] | None = None, input: str | bytes | None = None) -> Result:
        environment: dict[str, str | None] = {
            "DISCOURSE_URL": "http://forum.test",
            "DISCOURSE_API_KEY": fake.admin_api_key,
            "DISCOURSE_API_USERNAME": "system",
        }
        environment.update(env or {})
        state = State(transport=httpx.ASGITransport(app=fake), client_options={"rate_limits": None, "max_retries": 0})
        return CliRunner().invoke(cli, list(args), obj=state, env=environment, input=input)

    return invoke


def lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines()]


# ---------------------------------------------------------------------------- the cases


def test_read_a_topic(fake: FakeDiscourse, run: Run) -> None:
    topic = fake.seed_topics(3)[1]
    result = run("topics", "get-topic", str(topic.id))
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["id"] == topic.id
    assert data["title"] == topic.title
    assert result.stdout.count("\n") == 1  # not a terminal: compact JSON on one line


def test_write_a_reply(fake: FakeDiscourse, run: Run) -> None:
    topic = fake.seed_topics(1)[0]
    raw = "A reply written from the command line."
    result = run("posts", "create-post", "--raw", raw, "--topic-id", str(topic.id))
    assert result.exit_code == 0, result.stderr
    post = json.loads(result.stdout)
    assert post["topic_id"] == topic.id
    assert fake.post(post["id"]).raw == raw
    assert fake.count_requests("POST", "/posts.json", wrote=True) == 1


def test_an_iterator_streams_n_json_lines(fake: FakeDiscourse, run: Run) -> None:
    fake.seed_topics(75)
    result = run("topics", "iter-latest", "--max-items", "40")
    assert result.exit_code == 0, result.stderr
    items = lines(result)
    assert len(items) == 40
    assert len({item["id"] for item in items}) == 40
    # Lazy: 40 items are two pages of 30, and the third page is never asked for.
    assert fake.count_requests("GET", "/latest.json") == 2


def test_iterator_with_a_positional_argument(fake: FakeDiscourse, run: Run) -> None:
    topic = fake.seed_topics(1)[0]
    fake.seed_posts(topic.id, 44)
    result = run("topics", "iter-posts", str(topic.id))
    assert result.exit_code == 0, result.stderr
    assert [item["post_number"] for item in lines(result)] == list(range(1, 46))


def test_upload_with_progress_disabled(fake: FakeDiscourse, run: Run, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello from the command line\n" * 100)
    result = run("uploads", "upload", str(path), "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    record = json.loads(result.stdout)
    assert record["original_filename"] == "notes.txt"
    assert fake.read_upload(record["id"]) == path.read_bytes()


def test_upload_progress_is_plain_lines_when_not_a_terminal(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(2048))
    result = run("uploads", "upload", str(path), "--type", "composer")
    assert result.exit_code == 0, result.stderr
    assert "data.bin: 2048/2048 bytes (100%)" in result.stderr


def test_not_found_exits_4_with_discourses_message(run: Run) -> None:
    result = run("topics", "get-topic", "9999")
    assert result.exit_code == 4
    assert result.stdout == ""
    assert "404 not_found" in result.stderr
    assert "The requested URL or resource could not be found." in result.stderr


def test_missing_required_body_field_is_refused_before_any_request(fake: FakeDiscourse, run: Run) -> None:
    result = run("posts", "create-post", "--topic-id", "1")
    assert result.exit_code == 2
    assert "missing --raw" in result.stderr
    assert fake.requests == []


def test_missing_required_query_parameter_is_refused_before_any_request(fake: FakeDiscourse, run: Run) -> None:
    result = run("users", "list-directory", "--order", "likes_received")
    assert result.exit_code == 2
    assert "--period" in result.stderr
    assert fake.requests == []


def test_every_operation_has_a_command_and_nothing_else_is_there() -> None:
    ctx = click.Context(cli)
    namespaces = {namespace for namespace, _method, _path in OPERATIONS.values()}
    assert cli.list_commands(ctx) == sorted(n.replace("_", "-") for n in namespaces)
    seen = set()
    for group_name in cli.list_commands(ctx):
        group = cli.get_command(ctx, group_name)
        assert isinstance(group, click.Group)
        for name in group.list_commands(ctx):
            assert group.get_command(ctx, name) is not None
            operation = OPERATION_OF.get(name.replace("-", "_"))
            if operation is not None:
                assert OPERATIONS[operation][0] == group_name.replace("-", "_")
                seen.add(operation)
            else:
                assert name.startswith("iter") or (group_name, name) == ("uploads", "upload"), (group_name, name)
    assert seen == set(OPERATIONS)


# ---------------------------------------------------------------------------- options, bodies, output


def test_dry_run_prints_the_request_with_keys_masked(fake: FakeDiscourse, run: Run) -> None:
    result = run("--dry-run", "posts", "create-post", "--raw", "Hello there, long enough.", "--topic-id", "7")
    assert result.exit_code == 0, result.stderr
    request = json.loads(result.stdout)
    assert request["method"] == "POST"
    assert request["url"] == "http://forum.test/posts.json"
    assert request["headers"]["Api-Key"] == "****"
    assert request["headers"]["Api-Username"] == "system"
    assert request["body"] == {"raw": "Hello there, long enough.", "topic_id": 7}
    assert fake.admin_api_key not in result.stdout + result.stderr
    assert fake.requests == []


def test_dry_run_with_a_user_api_key_and_a_query(fake: FakeDiscourse, run: Run) -> None:
    env: dict[str, str | None] = {"DISCOURSE_API_KEY": None, "DISCOURSE_API_USERNAME": None}
    args = ("topics", "get-topic-posts", "5", "--post-ids", "1,2", "--post-ids", "3", "--dry-run")
    result = run(*args, "--user-api-key", "secret-user-key", env=env)
    assert result.exit_code == 0, result.stderr
    request = json.loads(result.stdout)
    assert request["headers"]["User-Api-Key"] == "****"
    assert "Api-Key" not in request["headers"]
    assert request["url"].endswith("/t/5/posts.json?post_ids%5B%5D=1&post_ids%5B%5D=2&post_ids%5B%5D=3")
    assert "secret-user-key" not in result.stdout
    assert fake.requests == []


def test_enums_are_choices_that_take_dashes(run: Run) -> None:
    result = run("users", "list-directory", "--period", "weekly", "--order", "likes-received", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["url"].endswith("?period=weekly&order=likes_received")
    refused = run("users", "list-directory", "--period", "fortnightly", "--order", "likes_received")
    assert refused.exit_code == 2
    assert "weekly" in refused.stderr  # the choices are listed


def test_body_from_a_file_or_stdin_with_options_on_top(fake: FakeDiscourse, run: Run, tmp_path: Path) -> None:
    topic = fake.seed_topics(1)[0]
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"topic_id": topic.id, "raw": "The raw text from the file."}))
    from_file = run("posts", "create-post", "--body", f"@{body}", "--raw", "The raw text from an option.")
    assert from_file.exit_code == 0, from_file.stderr
    assert fake.post(json.loads(from_file.stdout)["id"]).raw == "The raw text from an option."
    stdin = json.dumps({"topic_id": topic.id, "raw": "The raw text from standard input."})
    from_stdin = run("posts", "create-post", "--body", "-", input=stdin)
    assert from_stdin.exit_code == 0, from_stdin.stderr
    assert fake.post(json.loads(from_stdin.stdout)["id"]).raw == "The raw text from standard input."
    broken = run("posts", "create-post", "--body", "[1, 2]")
    assert broken.exit_code == 2
    assert "JSON object" in broken.stderr


def test_boolean_and_enum_body_fields(fake: FakeDiscourse, run: Run) -> None:
    topic = fake.seed_topics(1)[0]
    result = run("topics", "update-topic-status", str(topic.id), "--status", "closed", "--enabled", "true")
    assert result.exit_code == 0, result.stderr
    assert fake.topic(topic.id).closed
    dry = run("users", "delete-user", "5", "--delete-posts", "--no-block-email", "--dry-run")
    assert json.loads(dry.stdout)["body"] == {"delete_posts": True, "block_email": False}


def test_a_multipart_body_takes_a_file_path(fake: FakeDiscourse, run: Run, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("attached")
    result = run("uploads", "create-upload", "--upload-type", "composer", "--synchronous", "--file", str(path))
    assert result.exit_code == 0, result.stderr
    assert fake.read_upload(json.loads(result.stdout)["id"]) == b"attached"


def test_table_and_json_lines_of_a_list(fake: FakeDiscourse, run: Run) -> None:
    topics = fake.seed_topics(3)
    table = run("topics", "list-latest-topics", "--format", "table", "--columns", "id,title")
    assert table.exit_code == 0, table.stderr
    assert "title" in table.stdout
    assert topics[0].title in table.stdout
    jsonl = run("--format", "jsonl", "topics", "list-latest-topics")
    assert sorted(item["id"] for item in lines(jsonl)) == sorted(t.id for t in topics)


def test_a_server_error_exits_8(fake: FakeDiscourse, run: Run) -> None:
    fake.add_fault("GET", "/site.json", status=502)
    result = run("site", "get-site")
    assert result.exit_code == 8
    assert "502" in result.stderr


def test_a_bad_key_exits_5_and_is_not_echoed(run: Run) -> None:
    result = run("site", "get-site-basic-info", "--api-key", "not-a-real-key")
    assert result.exit_code == 5
    assert "invalid_access" in result.stderr
    assert "not-a-real-key" not in result.stdout + result.stderr


def test_no_site_is_a_usage_error(run: Run) -> None:
    result = run("site", "get-site", env={"DISCOURSE_URL": None})
    assert result.exit_code == 2
    assert "--url" in result.stderr


def test_help_lists_commands_summaries_and_exit_codes(run: Run) -> None:
    root = run("--help")
    assert root.exit_code == 0
    assert "topics" in root.stdout
    assert "private-messages" in root.stdout
    for code, meaning in EXIT_CODES:
        assert f"{code}  {meaning}" in root.stdout
    topics = run("topics", "--help")
    assert "Fetch a topic with its first chunk of posts" in topics.stdout
    assert "iter-latest" in topics.stdout
    command = run("posts", "create-post", "--help")
    assert "POST /posts.json" in command.stdout
    assert re.search(r"--raw TEXT\s+The post's text, in Markdown.*?\(body field\)\s+\[required\]", command.stdout, re.S)
    assert "--api-key" not in command.stdout  # global options are accepted there, listed on the root only


# ---------------------------------------------------------------------------- site and credentials


def test_profiles_from_the_config_file(fake: FakeDiscourse, run: Run, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        f'[profiles.default]\nurl = "http://forum.test"\napi_key = "{fake.admin_api_key}"\napi_username = "system"\n'
        '[profiles.staging]\nurl = "http://staging.test"\nuser_api_key = "staging-key"\n'
    )
    (tmp_path / "config.toml").chmod(0o600)
    no_env: dict[str, str | None] = {"DISCOURSE_URL": None, "DISCOURSE_API_KEY": None, "DISCOURSE_API_USERNAME": None}
    default = run("site", "get-site-basic-info", env=no_env)
    assert default.exit_code == 0, default.stderr
    staging = run("--profile", "staging", "--dry-run", "site", "get-site", env=no_env)
    request = json.loads(staging.stdout)
    assert request["url"] == "http://staging.test/site.json"
    assert request["headers"]["User-Api-Key"] == "****"
    missing = run("--profile", "nope", "site", "get-site", env=no_env)
    assert missing.exit_code == 2
    assert "staging" in missing.stderr  # the known profiles are named


def test_a_key_never_goes_to_a_url_from_another_place(fake: FakeDiscourse, run: Run, tmp_path: Path) -> None:
    # The default profile's key belongs to its own site, not to the one in DISCOURSE_URL.
    (tmp_path / "config.toml").write_text('[profiles.default]\nurl = "http://prod.test"\napi_key = "prod-key"\n')
    result = run("site", "get-site", "--dry-run", env={"DISCOURSE_API_KEY": None, "DISCOURSE_API_USERNAME": None})
    request = json.loads(result.stdout)
    assert request["url"] == "http://forum.test/site.json"
    assert "Api-Key" not in request["headers"]


def test_the_missing_extra_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)  # import rich -> ImportError
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 1
    assert "pip install 'discourse-async[cli]'" in capsys.readouterr().err


def test_a_path_argument_that_would_change_the_endpoint_is_a_usage_error(fake: FakeDiscourse, run: Run) -> None:
    result = run("topics", "get-topic", "..")
    assert result.exit_code == 2
    assert "path parameter" in result.stderr
    assert fake.requests == []


def test_one_object_as_a_table(fake: FakeDiscourse, run: Run) -> None:
    topic = fake.seed_topics(1)[0]
    result = run("posts", "create-post", "--topic-id", str(topic.id), "--raw", "A reply shown as a table row.")
    table = run(
        "posts", "get-post", str(json.loads(result.stdout)["id"]), "--format", "table", "--columns", "id,topic_id"
    )
    assert table.exit_code == 0, table.stderr
    row = [line for line in table.stdout.splitlines() if str(topic.id) in line]
    assert len(row) == 1
    fields = run("site", "get-site-basic-info", "--format", "table")
    assert "field" in fields.stdout
    assert "Fake Discourse" in fields.stdout


# ---------------------------------------------------------------------------- arguments where a user types them


def test_search_terms_and_a_username_are_arguments(fake: FakeDiscourse, run: Run) -> None:
    topic = fake.seed_topics(3)[0]
    by_argument = run("search", "iter", topic.title.split()[0], "--max-items", "5")
    assert by_argument.exit_code == 0, by_argument.stderr
    by_option = run("search", "iter", "--q", topic.title.split()[0], "--max-items", "5")
    assert by_option.exit_code == 0, by_option.stderr
    assert lines(by_argument) == lines(by_option) != []
    actions = run("users", "iter-actions", "system", "--max-items", "3")
    assert actions.exit_code == 0, actions.stderr
    assert run("users", "iter-actions", "--username", "system", "--max-items", "3").stdout == actions.stdout
    assert run("users", "list-user-actions", "system", "--offset", "0", "--filter", "4,5").exit_code == 0


def test_an_identifying_argument_is_still_required_and_not_given_twice(fake: FakeDiscourse, run: Run) -> None:
    missing = run("users", "iter-actions")
    assert missing.exit_code == 2
    assert "missing the argument USERNAME (or --username)" in missing.stderr
    twice = run("users", "iter-actions", "alice", "--username", "bob")
    assert twice.exit_code == 2
    assert "given twice" in twice.stderr
    assert fake.requests == []


def test_a_required_positional_argument_shows_as_required(run: Run) -> None:
    usage = run("users", "iter-admin-list", "--help").stdout
    assert "iter-admin-list [OPTIONS] FLAG" in usage
    assert run("users", "iter-admin-list").exit_code == 2


def test_args_sections_are_a_list_in_help(run: Run) -> None:
    text = run("users", "iter-actions", "--help").stdout
    assert "Args:" not in text
    assert re.search(r"^  Arguments:\n    USERNAME  The user whose actions to list\.$", text, re.M)
    assert re.search(r"--filter TEXT\s+Which action types", text)
    assert re.search(r"--max-items INTEGER\s+Stop after this many items", text)


# ---------------------------------------------------------------------------- tables


def test_an_object_as_a_field_value_table(fake: FakeDiscourse, run: Run) -> None:
    fake.seed_users(1, prefix="alice")
    table = run("users", "get-user", "alice1", "--format", "table")
    assert table.exit_code == 0, table.stderr
    assert "(no items)" not in table.stdout + table.stderr
    assert re.search(r"username\s*│\s*alice1", table.stdout)  # the user of {"user": {...}, "user_badges": []}
    jsonl = run("users", "get-user", "alice1", "--format", "jsonl")
    assert lines(jsonl)[0]["user"]["username"] == "alice1"  # an object is one line, whole


def test_the_directory_table_shows_usernames_and_nested_columns(fake: FakeDiscourse, run: Run) -> None:
    users = fake.seed_users(3, prefix="reader")
    table = run("users", "list-directory", "--period", "all", "--format", "table")
    assert table.exit_code == 0, table.stderr
    assert "user.username" in table.stdout
    for user in users:
        assert user.username in table.stdout
    chosen = run("users", "list-directory", "--period", "all", "--format", "table", "--columns", "id,user.username")
    assert chosen.exit_code == 0, chosen.stderr
    for user in users:
        assert re.search(rf"│\s*{user.username}\s*│", chosen.stdout)


def test_an_unknown_column_is_named_with_the_fields_there_are(fake: FakeDiscourse, run: Run) -> None:
    fake.seed_topics(2)
    result = run("topics", "list-latest-topics", "--format", "table", "--columns", "id,titel")
    assert result.exit_code == 0
    assert "no field titel in the answer" in result.stderr
    assert "title" in result.stderr


# ---------------------------------------------------------------------------- the reference


def test_docs_cli_md_is_the_command_tree() -> None:
    from discourse_async.cli import _reference

    assert _reference.main(["--check"]) == 0, "run `make docs`"
    text = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `([\w-]+ [\w-]+)`$", text, re.M))
    iterators = {f"{ns.replace('_', '-')} {it.replace('_', '-')}" for ns, it in _iterators()}
    operations = {f"{OPERATIONS[op][0].replace('_', '-')} {m.replace('_', '-')}" for op, m in METHOD_NAMES.items()}
    assert documented == operations | iterators | {"uploads upload"}
    for usage in (
        "search iter [OPTIONS] [Q]",
        "users iter-actions [OPTIONS] USERNAME",
        "iter-admin-list [OPTIONS] FLAG",
    ):
        assert usage in text


def test_hidden_commands_are_left_out_of_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    from discourse_async.cli import _app, _reference

    hidden = click.Command("old-name", hidden=True, help="A deprecated alias.")
    original = _app._Namespace.__init__

    def with_alias(self: _app._Namespace, namespace: str) -> None:
        original(self, namespace)
        self.makers["old-name"] = lambda: hidden

    monkeypatch.setattr(_app._Namespace, "__init__", with_alias)
    assert "old-name" not in _reference.reference()


def _iterators() -> list[tuple[str, str]]:
    from discourse_async.cli import _spec

    return [(ns, it) for ns in _spec.namespaces() for it in _spec.iterators(ns)]
