"""Hostile answers: every free-text question, both engines, the values that break things.

Each value is either refused by both engines before anything is written (the rule in the
message, nothing left on disk), or renders with both into the same bytes, a project
whose files parse (the post-generation hook checks) and pass ruff. Nothing from an
answer ever runs: the shell-like and template-like values would create a canary file.
The default slug keeps only lowercase letters, digits and underscores, the same with
both engines, whatever the project name.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import copier
import pytest
from helpers import TEMPLATE, answers, render_cookiecutter, render_copier, tree

QUESTIONS = ["project_name", "project_slug", "description", "author_name", "author_email"]
HOSTILE = {
    "slash": "a/b",
    "dot-dot": "..",
    "dot-dot path": "../escape",
    "command substitution": "$(touch {canary})",
    "backticks": "`touch {canary}`",
    "semicolon": "a; touch {canary}",
    "quotes": 'O\'Neil "Q"',
    "backslashes": "C:\\temp\\new \\\\ end\\",
    "tab": "a\tb",
    "newline": "a\nb",
    "jinja expression": "{{{{ cycler.__init__.__globals__.os.system('touch {canary}') }}}}",
    "jinja block": "{{% for x in range(3) %}}x{{% endfor %}}",
    "jinja comment": "a {{# b #}}",
    "percent": "100% %s %(x)s %%",
    "300 characters": "x" * 300,
    "empty": "",
    "blank": "   ",
    "windows CON": "CON",
    "windows nul": "nul",
    "keyword": "class",
    "stdlib module": "json",
}
RULES = (  # what a refusal must say: the rule, not just "invalid"
    "must not be empty",
    "one line of at most 200 characters",
    "must not hold template syntax",
    "use lowercase letters, digits and single underscores",
    "it would shadow a Python keyword",
    "not an e-mail address",
)


def answer(question: str, value: str) -> str:
    if question == "author_email" and "@" not in value and value.strip():
        return f"{value}@example.com"  # the hostile part where an address can hold it
    return value


def attempt_cookiecutter(out: Path, data: dict[str, Any]) -> tuple[Path | None, str]:
    try:
        return render_cookiecutter(out, data), ""
    except Exception as error:  # cookiecutter's own, or from its Jinja: any refusal
        return None, str(error)


def attempt_copier(dst: Path, data: dict[str, Any], render: bool) -> tuple[Path | None, str]:
    try:
        return render_copier(dst, data, pretend=not render), ""
    except ValueError as error:  # copier's validators
        return None, str(error)


def leftovers(root: Path) -> list[str]:
    """Everything under root but the output folders and cookiecutter's config, replay
    and clone folders."""
    ignored = {"cookiecutterrc.yml", ".replay", ".cc"}
    outputs = {"work", "work/cc", "work/cp"}
    return sorted(
        rel
        for p in root.rglob("*")
        if (rel := p.relative_to(root).as_posix()) not in outputs
        and not ignored & set(p.relative_to(root).parts)
    )


@pytest.mark.parametrize("value", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize("question", QUESTIONS)
def test_a_hostile_answer_is_refused_cleanly_or_renders_a_sound_project(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], question: str, value: str
) -> None:
    canary = tmp_path / "canary"
    data = {question: answer(question, value.format(canary=canary))}
    work = tmp_path / "work"
    made_by_cookiecutter, cookiecutter_error = attempt_cookiecutter(work / "cc", data)
    # copier renders what the name reaches (nearly every file, and the slug); for the
    # other questions it only validates, and test_render shows both engines render such
    # text into the same bytes.
    render = question == "project_name"
    made_by_copier, copier_error = attempt_copier(work / "cp" / "project", data, render)
    captured = capfd.readouterr()

    assert not canary.exists(), "an answer was executed"
    assert (made_by_cookiecutter is None) == (made_by_copier is None), (
        f"the engines disagree: cookiecutter {cookiecutter_error!r}, copier {copier_error!r}"
    )
    if made_by_copier is None:
        for error in (cookiecutter_error + captured.err, copier_error):
            assert any(rule in error for rule in RULES), error
        assert leftovers(tmp_path) == [], "a refused answer left files behind"
        return
    assert made_by_cookiecutter is not None
    if render:
        assert tree(made_by_cookiecutter) == tree(made_by_copier)
    [package] = set((made_by_cookiecutter / "src").iterdir()) - {
        made_by_cookiecutter / "src" / "twelve_factor_check"  # the check's own package
    }
    assert re.fullmatch(r"[a-z0-9_]+", package.name)
    lint = subprocess.run(
        ["ruff", "check", "--no-cache", "--quiet", "."],
        cwd=made_by_cookiecutter,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


NAMES = [
    "My Service",
    "O'Neil -- Service!",
    "a/b/../c",
    "$(touch x); `y`",
    "2FA  Gateway",
    "Ünïcode Café",
    "CON",
    "___",
    "日本語",
    "A" * 90,
    "Ta\u00dfe  T\u00e9l\u00e9com",
]


def copier_default_slug(name: str) -> str | None:
    """The slug copier derives for this name, or None when its validator refuses it."""
    with tempfile.TemporaryDirectory() as dst:
        try:
            worker = copier.run_copy(
                str(TEMPLATE),
                dst,
                data={"project_name": name},
                defaults=True,
                pretend=True,  # asks and validates, writes nothing
                quiet=True,
                skip_tasks=True,
                vcs_ref="HEAD",
            )
        except ValueError as error:
            assert "project_slug" in str(error), error
            return None
        return str(worker.answers.combined["project_slug"])


def cookiecutter_default_slug(name: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from cookiecutter.generate import generate_context
    from cookiecutter.prompt import prompt_for_config

    monkeypatch.syspath_prepend(str(TEMPLATE))  # as cookiecutter() does for _extensions
    context = generate_context(
        str(TEMPLATE / "cookiecutter.json"), extra_context={"project_name": name}
    )
    return str(prompt_for_config(context, no_input=True)["project_slug"])


@pytest.mark.parametrize("name", NAMES)
def test_the_default_slug_is_letters_digits_underscores_and_the_same_in_both(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    slug = cookiecutter_default_slug(name, monkeypatch)
    assert re.fullmatch(r"[a-z0-9_]*", slug), slug
    refused = answers.slug_problem(slug) is not None  # by the hook, under cookiecutter
    assert copier_default_slug(name) == (None if refused else slug)
