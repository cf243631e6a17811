"""What a user's ``mypy --strict`` sees: the README's code, the examples and a bot written from the docs.

No ``# type: ignore``, no ``isinstance(..., Unset)``, no casts: ordinary code type-checks, and the
types are the ones the models promise (``reveal_type`` of a post's fields).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

mypy_api = pytest.importorskip("mypy.api")

ROOT = Path(__file__).resolve().parents[2]
PRELUDE = "from __future__ import annotations\n\nfrom discourse_async import Discourse\n\n"
#: README blocks that are not Python a user runs as it stands (none today).
NOT_CHECKED: set[int] = set()


def readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", text, re.S)]


def as_module(index: int, block: str) -> str:
    """A README block as a module: blocks with a top-level ``await`` become the body of a coroutine
    that is handed the client as ``dc``, the way the README's text introduces them."""
    try:
        compile(block, f"readme_block_{index}", "exec")
    except SyntaxError:  # 'await' outside function
        pass
    else:
        return block
    return PRELUDE + f"async def block_{index}(dc: Discourse) -> None:\n" + textwrap.indent(block, "    ")


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, int]:
    where = tmp_path_factory.mktemp("typing")
    files = [
        str(ROOT / "tests" / "models" / "typing" / "bot.py"),
        *sorted(str(p) for p in (ROOT / "examples").glob("*.py")),
    ]
    for i, block in enumerate(readme_blocks()):
        if i not in NOT_CHECKED:
            path = where / f"readme_block_{i}.py"
            path.write_text(as_module(i, block), encoding="utf-8")
            files.append(str(path))
    out, err, status = mypy_api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(where / ".cache"), "--python-version", "3.11", *files]
    )
    return out + err, status


def test_mistakes_are_type_errors(tmp_path: Path) -> None:
    """tests/models/typing/misuse.py: each line marked ``# expect: <code>`` fails with that code, no other line fails."""
    path = ROOT / "tests" / "models" / "typing" / "misuse.py"
    expected = {
        i: m.group(1)
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if (m := re.search(r"# expect: ([\w-]+)", line))
    }
    out, err, _status = mypy_api.run(["--strict", "--no-incremental", "--cache-dir", str(tmp_path), str(path)])
    found = {int(line): code for line, code in re.findall(r"misuse\.py:(\d+): error: .*\[([\w-]+)\]", out + err)}
    assert len(expected) >= 8
    assert found == expected, out + err


def test_no_type_ignores_or_unset_checks() -> None:
    sources = [(ROOT / "tests" / "models" / "typing" / "bot.py").read_text(), *readme_blocks()]
    sources += [p.read_text() for p in (ROOT / "examples").glob("*.py")]
    for text in sources:
        assert "type: ignore" not in text
        assert "Unset" not in text
        assert "cast(" not in text


def test_strict_mypy_passes(checked: tuple[str, int]) -> None:
    output, _status = checked
    errors = [line for line in output.splitlines() if ": error:" in line]
    assert not errors, "\n".join(errors)


def test_types_of_a_post(checked: tuple[str, int]) -> None:
    output, _status = checked
    revealed = re.findall(r'bot\.py:\d+: note: Revealed type is "(.*)"', output)
    assert revealed == ["discourse_async._generated.models.post.Post", "str | None", "str", "datetime.datetime"]
