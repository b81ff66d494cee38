"""`make run AUTH=entra|both`: the commands it prints are docs/entra-id.md's, each gets the answer shown, pasted into
a shell as they are; plain `make run` is unchanged (tests/test_devhost.py holds it to the README)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import requests

from devhost.__main__ import parse_args
from tests.conftest import APP_ROOT
from tests.test_devhost import (
    free_port_before_a_free_one,
    make_dry_run,
    make_run,
    matches,
    printed_commands,
    readme_examples,
    run_curl,
)

DOC = APP_ROOT / "docs" / "entra-id.md"
ANSWERS = "# answers "


def doc_examples() -> list[tuple[str, str]]:
    """Each command block of docs/entra-id.md aimed at `make run`, with the answer block right after it."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", DOC.read_text(), re.MULTILINE | re.DOTALL)
    found = []
    for (kind, text), (next_kind, answer) in zip(blocks, [*blocks[1:], ("", "")], strict=True):
        if kind == "bash" and "localhost:7071/api/entra" in text:
            assert next_kind in ("json", "text"), f"no answer block after:\n{text}"
            found.append((text.strip(), answer.strip()))
    return found


def printed_entra_examples(printed: list[str]) -> list[tuple[str, str]]:
    """What `make run` printed after its Entra ID banner: each command with the answer line after it."""
    start = next(i for i, line in enumerate(printed) if line.startswith("Calls signed in with Microsoft Entra ID"))
    examples: list[tuple[list[str], str]] = []
    for line in printed[start + 1 : -1]:
        if line.startswith(ANSWERS):
            examples[-1] = (examples[-1][0], line.removeprefix(ANSWERS))
        elif line.startswith("# "):
            examples.append(([], ""))
        else:
            examples[-1][0].append(line)
    return [("\n".join(lines), answer) for lines, answer in examples]


def local(text: str, port: int) -> str:
    return text.replace("localhost:7071", f"localhost:{port}").replace("localhost:7072", f"localhost:{port + 1}")


def answered_as_shown(shown: str, said: str) -> bool:
    try:
        expected = json.loads(shown)
    except ValueError:
        return said.strip() == shown
    return matches(expected, json.loads(said))


@pytest.mark.skipif(not (shutil.which("bash") and shutil.which("curl")), reason="needs bash and curl, as a reader")
def test_make_run_auth_entra_prints_the_docs_commands_and_each_gets_its_answer_in_a_shell():
    documented = doc_examples()
    assert len(documented) == 4
    with make_run("--auth", "entra", port=free_port_before_a_free_one()) as (port, printed):
        assert "Try these (README.md shows the answer each gets):" not in printed  # the key routes are off
        assert any(line.startswith("App Service Authentication (a stand-in) guards /api/") for line in printed)
        shown = printed_entra_examples(printed)
        assert [(local(command, port), json_or_text(answer)) for command, answer in documented] == [
            (command, json_or_text(answer)) for command, answer in shown
        ]
        for command, answer in shown:
            said = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60)
            assert said.returncode == 0, said.stderr
            assert answered_as_shown(answer, said.stdout), f"{command}\nprinted: {said.stdout}"
        key_route = requests.get(f"http://localhost:{port}/api/GetJoinUrl", timeout=10)
        assert key_route.status_code == 401  # in entra mode the platform wants a token on every path but the spec


def json_or_text(answer: str) -> object:
    try:
        return json.loads(answer)
    except ValueError:
        return answer


def test_make_run_auth_both_serves_the_readme_calls_and_the_signed_in_ones():
    with make_run("--auth", "both", port=free_port_before_a_free_one()) as (port, printed):
        readme = readme_examples()
        banner = next(i for i, line in enumerate(printed) if line.startswith("App Service Authentication"))
        key_commands = printed_commands(printed[: banner + 1])  # it reads up to the line before the last
        assert [c.replace("localhost:7071", f"localhost:{port}") for c, _ in readme] == key_commands
        for command, expected in readme:
            answer = run_curl(command, port)  # excluded from sign-in: the key routes answer as they always have
            assert matches(expected, answer.json()), f"{command}\nanswered {answer.status_code}: {answer.text}"
        shown = printed_entra_examples(printed)
        assert [local(command, port) for command, _ in doc_examples()] == [command for command, _ in shown]
        spec = requests.get(f"http://localhost:{port}/api/openapi.json", params={"auth": "entra"}, timeout=10).json()
        assert spec["basePath"] == "/api/entra" and spec["host"] == f"localhost:{port}"


@pytest.mark.parametrize(("option", "flag"), [("AUTH=entra", "--auth entra"), ("AUTH=both", "--auth both")])
def test_make_run_passes_auth_to_devhost(option, flag):
    dry_run = make_dry_run(option)
    assert dry_run.returncode == 0, dry_run.stderr
    [command] = [line for line in dry_run.stdout.splitlines() if "-m devhost" in line]
    assert " ".join(command.split()).endswith(f"-m devhost {flag}"), command


@pytest.mark.parametrize("option", ["AUTH=keys2", "AUTH=Entra", "AUTH=on"])
def test_make_run_refuses_an_unknown_auth(option):
    dry_run = make_dry_run(option)
    assert dry_run.returncode != 0 and "-m devhost" not in dry_run.stdout
    assert f"{option} is not known" in dry_run.stderr


def test_auth_needs_the_emulator(capsys):
    assert parse_args([]).auth == "keys"
    with pytest.raises(SystemExit):
        parse_args(["--real", "--auth", "entra"])
    assert "leave out --real" in capsys.readouterr().err
