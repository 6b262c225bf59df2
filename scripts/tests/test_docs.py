"""The documentation's links hold: README.md and docs/*.md, plain pytest, no Odoo.

Every relative markdown link (``[text](path)``, ``[text](path#anchor)``, ``[text](#anchor)``, images
included) must name an existing file, and every ``#anchor`` a heading of the file it points at, slugged as
GitHub does. README's quick start must name commands that exist: CI (``.ci/run``) runs its test command.
Run: python -m pytest -p no:odoo scripts/tests/test_docs.py
"""
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
README = REPO / "README.md"
DOCS = sorted([README, *(REPO / "docs").glob("*.md")])

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)


def prose(text):
    """The text without fenced code blocks and inline code, where a bracket is not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def slug(heading):
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").replace("*", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    seen, result = {}, set()
    for match in HEADING.finditer(FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    # explicit HTML anchors (<a id="…"> / name="…")
    result.update(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", path.read_text(encoding="utf-8")))
    return result


def links(path):
    return [m.group(1) for m in LINK.finditer(prose(path.read_text(encoding="utf-8")))]


def test_the_documentation_files_exist():
    names = {p.relative_to(REPO).as_posix() for p in DOCS}
    for name in ("README.md", "docs/user-guide.md", "docs/admin-guide.md", "docs/developer-guide.md",
                 "docs/performance.md", "docs/reliability.md"):
        assert name in names, f"{name} is missing"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_and_anchor_resolves(doc):
    broken = []
    for target in links(doc):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:…
            continue
        path_part, _, anchor = target.partition("#")
        dest = (doc.parent / path_part).resolve() if path_part else doc
        if not dest.exists():
            broken.append(f"{target}: no file {dest.relative_to(REPO) if REPO in dest.parents else dest}")
            continue
        if anchor:
            if dest.suffix != ".md":
                broken.append(f"{target}: an anchor into a file that is not markdown")
            elif anchor not in anchors(dest):
                broken.append(f"{target}: no heading with anchor #{anchor} in {dest.relative_to(REPO)}")
    assert not broken, f"broken links in {doc.relative_to(REPO)}:\n" + "\n".join(broken)


def quick_start_commands():
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Quick start\n(.*?)(?=^## )", text, re.M | re.S)
    assert section, "README.md has no '## Quick start' section"
    block = re.search(r"^```(?:bash|sh)\n(.*?)^```", section.group(1), re.M | re.S)
    assert block, "README's quick start has no bash block"
    return [line.split("#")[0].split() for line in block.group(1).splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_quick_start_commands_exist_and_ci_runs_the_test_command():
    commands = quick_start_commands()
    assert len(commands) >= 2, commands
    for words in commands:
        script = REPO / words[0]
        assert script.is_file(), f"README's quick start runs {words[0]}, which does not exist"
    names = [words[0] for words in commands]
    assert "scripts/test.sh" in names, "the quick start no longer says how to run the tests"
    ci_lines = [line.split("#")[0] for line in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert any(re.search(r"(^|\s)scripts/test\.sh(\s|$)", line) for line in ci_lines), \
        ".ci/run no longer runs README's test command (scripts/test.sh)"


def test_the_link_checker_sees_a_broken_anchor(tmp_path):
    """The check can fail: a link to a heading that does not exist is reported."""
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## A/B splits, caps (today)\n\n[ok](#ab-splits-caps-today) [bad](#nowhere)\n"
                    "```\n[not a link](#inside-code)\n```\n")
    targets = links(page)
    assert targets == ["#ab-splits-caps-today", "#nowhere"]
    assert {"title", "ab-splits-caps-today"} <= anchors(page)
    assert "nowhere" not in anchors(page)
