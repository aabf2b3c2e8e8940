"""The docs and the CLI agree: every ``cityiot ...`` command line shown in README.md, docs/*.md and
the capability READMEs (code blocks and inline code) names a real command, uses only options its
``--help`` lists, and gives it no more arguments than it takes. Fast: ``--help`` through typer's
CliRunner, no servers."""

from __future__ import annotations

import functools
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from cityiot.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
CAPABILITIES = (
    "adapters",
    "cityiot",
    "collectors",
    "core",
    "dashboards",
    "gateways",
    "schemas",
    "simulator",
    "streams",
)
DOCS = sorted(
    [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *(readme for package in CAPABILITIES for readme in (ROOT / package).rglob("README.md")),
    ]
)
CLI = get_command(app)
# Wide enough that rich never wraps an option name in the help text.
HELP_ENV = {"COLUMNS": "200"}
# Doc shorthand for "more options": not an argument.
ELLIPSES = {"...", "…"}
SHELL_OPERATORS = {"&&", "||", "|", ";", "&", "(", ")"}


@dataclass(frozen=True)
class Usage:
    """One command line a doc shows: where, as written, and its words after ``cityiot``."""

    doc: str
    line: int
    text: str
    words: tuple[str, ...]

    def where(self) -> str:
        return f"{self.doc}:{self.line}: `{self.text}`"


# -- extraction -------------------------------------------------------------------------------
def usages_in(text: str, doc: str) -> list[Usage]:
    """The ``cityiot`` command lines of a Markdown text: in fenced and indented code blocks, as
    shell lines (after ``VAR=value`` prefixes, ``&&``, ``|``); in inline code, a span starting
    with ``cityiot ``, where ``a [--x] / b / c`` (a command table's shorthand) is three siblings."""
    found: list[Usage] = []
    lines = text.splitlines()
    fence: str | None = None
    previous_blank_or_code = True
    number = 0
    while number < len(lines):
        line = lines[number]
        number += 1
        start = number
        stripped = line.strip()
        marker = stripped[:3]
        if fence is None and marker in ("```", "~~~"):
            fence = marker
            continue
        if fence is not None and stripped.startswith(fence):
            fence = None
            continue
        indented = line.startswith("    ") and previous_blank_or_code
        if fence is not None or indented:
            while line.rstrip().endswith("\\") and number < len(lines):  # continued line
                line = line.rstrip()[:-1] + " " + lines[number]
                number += 1
            found += [Usage(doc, start, line.strip(), words) for words in _shell_commands(line)]
        else:
            for span in re.findall(r"(?<!`)`([^`]+)`(?!`)", line):
                if span.startswith("cityiot "):
                    found += [Usage(doc, start, span, words) for words in _table_commands(span)]
        previous_blank_or_code = not stripped or indented
    return found


def _shell_commands(line: str) -> list[tuple[str, ...]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:  # unbalanced quotes: not a shell line
        return []
    commands = []
    at_start = True
    for i, token in enumerate(tokens):
        if token in SHELL_OPERATORS or token == "$":
            at_start = True
        elif at_start and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", token):
            continue  # VAR=value before the command
        elif at_start and token == "cityiot":
            rest = []
            for word in tokens[i + 1 :]:
                if word in SHELL_OPERATORS:
                    break
                rest.append(word)
            commands.append(_words(rest))
            at_start = False
        else:
            at_start = False
    return commands


def _table_commands(span: str) -> list[tuple[str, ...]]:
    first, *siblings = span.split(" / ")
    words = _words(first.split()[1:])
    commands = [words]
    # The siblings replace the first one's last command word (`services up ... / status`).
    parents = [w for w in words if not w.startswith("-") and w.islower()][:-1]
    commands += [(*parents, *_words(sibling.split())) for sibling in siblings]
    return commands


def _words(tokens: list[str]) -> tuple[str, ...]:
    words = (token.strip("[]") for token in tokens)
    return tuple(word for word in words if word and word not in ELLIPSES)


# -- checking --------------------------------------------------------------------------------
@functools.cache
def help_text(path: tuple[str, ...]) -> str:
    """``cityiot <path> --help``, as CliRunner prints it."""
    result = CliRunner().invoke(app, [*path, "--help"], env=HELP_ENV)
    if result.exit_code != 0:
        raise AssertionError(f"cityiot {' '.join(path)} --help failed: {result.output}")
    return result.output


def problems(usage: Usage) -> list[str]:
    """What in ``usage`` the CLI does not have (empty: the doc is right)."""
    command: Any = CLI
    path: list[str] = []
    words = list(usage.words)
    while words and hasattr(command, "commands") and not words[0].startswith("-"):
        name = words.pop(0)
        if name not in command.commands:
            return [f"no command `cityiot {' '.join([*path, name])}`"]
        command = command.commands[name]
        path.append(name)
    shown = f"cityiot {' '.join(path)}".strip()
    text = help_text(tuple(path))
    options = {opt: param for param in command.params for opt in param.opts + param.secondary_opts}
    arguments = sum(1 for param in command.params if param.param_type_name == "argument")
    found: list[str] = []
    given = 0
    trust_arguments = True  # after an unknown option, its value would count as an argument
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("-") and len(word) > 1:
            flag = word.split("=", 1)[0]
            if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text):
                found.append(f"`{shown}` has no option `{flag}`")
                trust_arguments = False
                continue
            param = options.get(flag)
            takes_value = param is not None and not getattr(param, "is_flag", False)
            if takes_value and "=" not in word:
                i += 1  # the option's value
        else:
            given += 1
            if trust_arguments and given > arguments:
                found.append(
                    f"`{shown}` takes {arguments} argument(s); `{word}` would be one too many"
                )
    return found


def _leaf_commands(command: Any = CLI, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    if not hasattr(command, "commands"):
        return {path}
    return {
        leaf
        for name, sub in command.commands.items()
        for leaf in _leaf_commands(sub, (*path, name))
    }


def _resolved(usage: Usage) -> tuple[str, ...]:
    command: Any = CLI
    path: list[str] = []
    for word in usage.words:
        if not hasattr(command, "commands") or word not in command.commands:
            break
        command = command.commands[word]
        path.append(word)
    return tuple(path)


def _doc_usages(doc: Path) -> list[Usage]:
    return usages_in(doc.read_text(encoding="utf-8"), str(doc.relative_to(ROOT)))


# -- tests -----------------------------------------------------------------------------------
@pytest.mark.parametrize("doc", DOCS, ids=[str(d.relative_to(ROOT)) for d in DOCS])
def test_docs_commands_match_the_cli(doc: Path) -> None:
    """Each command line of the doc names a real command, its options and its arguments."""
    found = [f"{usage.where()}: {p}" for usage in _doc_usages(doc) for p in problems(usage)]
    assert not found, "the doc and the CLI differ:\n" + "\n".join(found)


def test_docs_commands_readme_table_lists_every_command() -> None:
    """README.md's Commands table shows every command of the CLI."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Commands\n", 1)[1].split("\n## ", 1)[0]
    shown = {_resolved(usage) for usage in usages_in(table, "README.md")}
    missing = sorted(" ".join(leaf) for leaf in _leaf_commands() - shown)
    assert missing == [], f"README.md's Commands table lacks: {missing}"


def test_docs_commands_are_found_in_every_form() -> None:
    """Fenced, indented and inline commands are all extracted, with env prefixes and siblings."""
    text = "\n".join(
        [
            "Run `cityiot services up [--detach] / status [--json] / down` first.",
            "",
            "```sh",
            "CITYIOT_REGISTRY_PATH=r.csv cityiot collect --registry r.csv  # a comment",
            "cityiot simulate --devices 10 \\",
            "    --rate 5 && cityiot stream",
            "make demo   # runs cityiot up",
            "```",
            "",
            "    cityiot alerts run",
        ]
    )
    assert [(u.line, u.words) for u in usages_in(text, "x.md")] == [
        (1, ("services", "up", "--detach")),
        (1, ("services", "status", "--json")),
        (1, ("services", "down")),
        (4, ("collect", "--registry", "r.csv")),
        (5, ("simulate", "--devices", "10", "--rate", "5")),
        (5, ("stream",)),
        (10, ("alerts", "run")),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("`cityiot services up -d`", "`cityiot services up` has no option `-d`"),
        ("`cityiot certs OUT`", "`cityiot certs` takes 0 argument(s); `OUT` would be one too many"),
        ("`cityiot health`", "no command `cityiot health`"),
        ("`cityiot alerts nope`", "no command `cityiot alerts nope`"),
    ],
    ids=["unknown-option", "extra-argument", "unknown-command", "unknown-subcommand"],
)
def test_docs_commands_drift_is_reported(line: str, expected: str) -> None:
    """A doc line the CLI does not match is reported, naming the command and what is missing."""
    (usage,) = usages_in(line, "x.md")
    assert problems(usage) == [expected]


def test_docs_commands_right_lines_pass() -> None:
    """Option values and optional arguments are not mistaken for extra arguments."""
    text = (
        "`cityiot dashboards snapshot out/ --last 6h` `cityiot alerts check [FILE]` "
        "`cityiot certs --host mosquitto --out tls` `cityiot up --duration=30`"
    )
    assert [problems(usage) for usage in usages_in(text, "x.md")] == [[], [], [], []]
