"""README cannot drift from the program: every command line it shows parses, and the names it
offers (avatar looks, formats, emotions, styles) are the program's."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from visemic.cli import build_parser
from visemic.outputs import formats

README = Path(__file__).resolve().parents[1] / "README.md"


def command_lines() -> list[str]:
    """Every ``visemic …`` line in README's shell blocks, comments and continuations joined."""
    lines: list[str] = []
    in_block = False
    pending = ""
    for raw in README.read_text(encoding="utf-8").splitlines():
        if raw.startswith("```"):
            in_block = raw.strip() in ("```sh", "```bash", "```console")
            continue
        if not in_block:
            continue
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if line.startswith("VISEMIC_API_KEY="):
            line = line.split(" ", 1)[1]
        if line.startswith("visemic "):
            lines.append(line)
    return lines


def test_readme_shows_commands():
    assert len(command_lines()) > 20


@pytest.mark.parametrize("line", command_lines())
def test_readme_command_parses(line):
    words = shlex.split(line, comments=True)
    words = [w for w in words if w not in (">", "|")][: _until_redirect(words)]
    command = words[1:]
    if command[0] == "rhubarb":
        from visemic import rhubarb_cli

        rhubarb_cli.build_parser().parse_args(command[1:])
        return
    args = build_parser().parse_args(command)  # raises UsageError on an unknown flag or value
    assert hasattr(args, "run")
    out = getattr(args, "output", None)
    fmt = getattr(args, "format", None)
    if command[0] in ("animate", "say") and (out is not None or fmt is not None):
        formats.resolve_format(out if out is not None else formats.STDOUT, fmt)
    if getattr(args, "avatar", None) is not None:
        from visemic.render.looks import LOOKS

        assert args.avatar in LOOKS


def _until_redirect(words: list[str]) -> int:
    for i, w in enumerate(words):
        if w in (">", "|", "&&", ";"):
            return i
    return len(words)


def test_names_offered_in_prose_are_the_programs():
    from visemic.motion.emotion_poses import EMOTIONS
    from visemic.motion.style import PRESETS
    from visemic.render.looks import LOOKS

    text = README.read_text(encoding="utf-8")
    offered = re.findall(r"--avatar ([\w|]+)", text)
    assert offered
    for group in offered:
        assert set(group.split("|")) <= set(LOOKS), group
    for group in re.findall(r"--format ([\w|-]+)`", text):
        assert set(group.split("|")) <= set(formats.format_names()), group
    emotions = re.search(r"Emotions: ([\w ]+),", text)
    assert emotions and set(emotions.group(1).split()) == set(EMOTIONS)
    styles = re.search(r"Styles: ([\w ]+),", text)
    assert styles and set(styles.group(1).split()) == set(PRESETS)
    listed = re.search(r"or `--format` \(`([^`]+)`\)", text)
    assert listed and listed.group(1).split() == formats.format_names()
