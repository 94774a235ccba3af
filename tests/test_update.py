"""`copier update` keeps generated projects current, whichever engine made them.

The release tests work on a throwaway git repository of the committed template (a
release is a commit, so uncommitted edits of the work tree stay out), tagged v1. A
project is generated from v1 by cookiecutter (pinned with --checkout, as docs/updating.md
tells users) or by copier, committed, and edited by "the team". The template then changes
the ways releases do (a changed file, a new file, a new question, a file moved with a
migration) and is tagged v2; `copier update` must merge all of it and keep the team's
work. v3 then edits the line the team edited: the project's bin/update must say so.
Also here: changing an answer on update, an update with no template change (a no-op),
hooks/migrate.py on its own, and the update from every release recorded in releases.toml
(tagged in a throwaway clone) to HEAD, which CI runs for every change.
Nothing touches $HOME: it points at a temporary folder for every step.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import copier
import pytest
import yaml
from copier.errors import UserMessageError
from helpers import ANSWERS_FILE, TEMPLATE, layout, tree
from packaging.version import Version
from updates import (
    DATA,
    ENGINES,
    ROOT,
    SLUG,
    TEAM_GUIDE_LINE,
    TEAM_NOTES_EDIT,
    TEAM_NOTES_LINE,
    V3_GUIDE_LINE,
    answers,
    append,
    bin_update,
    commit_all,
    committed_template,
    edit,
    generate,
    git,
    leftovers,
    no_home,
    release_v1,
    release_v2,
    release_v3,
)

pytestmark = pytest.mark.xdist_group("update")
__all__ = ["no_home"]  # an autouse fixture: imported to apply here too

GENERATED_MESSAGE = "Next: cd into it"  # printed by the post-gen hook on copy only
UNRELEASED_WARNING = "not a release tag"  # the post-gen hook, under cookiecutter

# --- generating and updating -----------------------------------------------------------


# --- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_update_merges_a_release_and_keeps_the_teams_work(
    tmp_path: Path, engine: str, capfd: pytest.CaptureFixture[str]
) -> None:
    repo = release_v1(tmp_path)
    project = generate(engine, repo, tmp_path, "v1")
    generated = capfd.readouterr()
    assert GENERATED_MESSAGE in generated.out  # one-time message on copy
    assert UNRELEASED_WARNING not in generated.err  # made from a release tag
    assert answers(project)["_commit"] == "v1"
    append(project / "docs" / "guide.md", TEAM_GUIDE_LINE)
    edit(project / "NOTES.md", "Paragraph 4.\n", TEAM_NOTES_EDIT)
    append(project / "NOTES.md", TEAM_NOTES_LINE)
    (project / "ops").mkdir()
    (project / "ops" / "runbook.md").write_text("Not in the template's layout.\n")
    commit_all(project, "Team edits")

    release_v2(repo)
    copier.run_update(project, defaults=True, overwrite=True, unsafe=True, quiet=True)

    # The hooks ran for the update (prune) but did no copy-only work: no layout check
    # (it would refuse ops/runbook.md) and no "next steps" message.
    assert GENERATED_MESSAGE not in capfd.readouterr().out
    assert (project / "ops" / "runbook.md").is_file()
    assert not (project / "src" / SLUG / "worker.py").exists()
    record = answers(project)
    assert record["_commit"] == "v2"
    assert record["support_url"] == "https://support.example.invalid/"
    guide = (project / "docs" / "guide.md").read_text()
    assert f"Release two line for {SLUG}.\n" in guide
    assert guide.endswith(TEAM_GUIDE_LINE)
    assert (project / "docs" / "support.md").read_text() == (
        "Support: https://support.example.invalid/\n"
    )
    assert not (project / "NOTES.md").exists()
    notes = (project / "docs" / "NOTES.md").read_text()
    assert notes.startswith("# Notes for Demo Service\n")
    assert "Paragraph 1, revised in v2.\n" in notes
    assert TEAM_NOTES_EDIT in notes
    assert notes.endswith(TEAM_NOTES_LINE)
    assert leftovers(project) == []

    # v3 edits lines the team edited: bin/update must not report success.
    commit_all(project, "Update to v2")
    release_v3(repo)
    (project / "scratch.txt").write_text("uncommitted\n")
    refused = bin_update(project, "--defaults")
    assert refused.returncode == 1
    assert "commit or stash" in refused.stderr and "scratch.txt" in refused.stderr
    assert answers(project)["_commit"] == "v2"
    (project / "scratch.txt").unlink()

    conflicted = bin_update(project, "--defaults")
    assert conflicted.returncode == 1, conflicted.stdout + conflicted.stderr
    assert "conflicts with your changes in:\n  docs/NOTES.md\n  docs/guide.md\n" in (
        conflicted.stderr
    )
    assert answers(project)["_commit"] == "v3"


def test_bin_update_reports_rejected_hunks_and_a_clean_merge(tmp_path: Path) -> None:
    repo = release_v1(tmp_path)
    project = generate("copier", repo, tmp_path, "v1")
    append(project / "docs" / "guide.md", TEAM_GUIDE_LINE)
    commit_all(project, "Team edit")
    release_v2(repo)

    merged = bin_update(project, "--defaults", "--vcs-ref", "v2")
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "merged cleanly" in merged.stdout
    assert answers(project)["_commit"] == "v2"

    commit_all(project, "Update to v2")
    release_v3(repo)
    rejected = bin_update(project, "--defaults", "--conflict", "rej")
    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    assert "  ./docs/guide.md.rej\n" in rejected.stderr
    assert "Paragraph 4, release three.\n" in (project / "docs" / "NOTES.md").read_text()


def team_files(repo: Path) -> list[str]:
    """The project paths copier never updates once they exist (copier.yml's team files)."""
    config = yaml.safe_load((repo / "copier.yml").read_text(encoding="utf-8"))
    return [p.replace("{{ project_slug }}", SLUG) for p in config.get("_skip_if_exists", [])]


def recorded_releases(path: Path = TEMPLATE / "releases.toml") -> list[tuple[str, str]]:
    """The releases the template records (version, commit), oldest first."""
    record = tomllib.loads(path.read_text(encoding="utf-8"))
    return sorted(record.items(), key=lambda item: Version(item[0]))


def history_with_release_tags(tmp_path: Path) -> Path:
    """A clone of the template with its history, the work tree committed on top as HEAD,
    and a tag v<version> on the commit of every recorded release (tags may not travel)."""
    repo = tmp_path / "history"
    git(tmp_path, "clone", "-q", "--no-checkout", str(TEMPLATE), str(repo))
    shallow = git(repo, "rev-parse", "--is-shallow-repository").strip() == "true"
    assert not shallow, "a shallow clone lacks the release commits: fetch the full history"
    # The work tree as the template's own .gitignore sees it, uncommitted edits included.
    git(repo, f"--work-tree={TEMPLATE}", "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "--no-verify", "-m", "The work tree")
    git(repo, "checkout", "-q", "-f", "HEAD")
    for version, commit in recorded_releases():
        git(repo, "merge-base", "--is-ancestor", commit, "HEAD")  # fails: not in history
        git(repo, "tag", "-f", f"v{version}", commit)  # -f: a clone may carry the tags already
    return repo


def test_the_release_record_is_well_formed() -> None:
    releases = recorded_releases()
    assert releases, "releases.toml records no release: nothing for projects to update from"
    for version, commit in releases:
        assert re.fullmatch(r"[0-9a-f]{40}", commit), (version, commit)
        assert str(Version(version)) == version, f"{version} is not a normalised PEP 440"
    assert len({commit for _, commit in releases}) == len(releases), "a commit twice"
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\bv(\d+\.\d+\.\d+\S*?)[`\s)]", readme))
    assert named <= {version for version, _ in releases}, "the README names an unreleased tag"


def test_recorded_releases_sort_as_versions(tmp_path: Path) -> None:
    record = tmp_path / "releases.toml"
    record.write_text('"0.10.0" = "c"\n"0.2.0" = "b"\n"0.1.0" = "a"\n"1.0.0rc1" = "d"\n')
    assert [v for v, _ in recorded_releases(record)] == ["0.1.0", "0.2.0", "0.10.0", "1.0.0rc1"]


@pytest.mark.parametrize("version", [version for version, _ in recorded_releases()])
@pytest.mark.parametrize("engine", ENGINES)
def test_update_from_each_recorded_release_to_head_is_clean(
    tmp_path: Path, engine: str, version: str
) -> None:
    """What CI guards for every change: projects of every release can take HEAD."""
    repo = history_with_release_tags(tmp_path)
    project = generate(engine, repo, tmp_path, f"v{version}")
    assert answers(project)["_commit"] == f"v{version}"
    before = tree(project)
    copier.run_update(project, vcs_ref="HEAD", defaults=True, overwrite=True, unsafe=True)
    assert leftovers(project) == []
    fresh = tmp_path / "fresh"
    copier.run_copy(str(repo), fresh, data=DATA, vcs_ref="HEAD", defaults=True, unsafe=True)
    # The team's files stay as the release made them; every other file is HEAD's.
    kept = [rel for rel in team_files(repo) if rel in before]
    after = tree(project)
    assert {rel: after[rel] for rel in kept} == {rel: before[rel] for rel in kept}
    assert {k: v for k, v in after.items() if k not in kept} == {
        k: v for k, v in tree(fresh).items() if k not in kept
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_a_project_from_unreleased_head_updates_correctly(tmp_path: Path, engine: str) -> None:
    """Made from HEAD past the newest release: it records that release plus commits, so
    copier refuses to go "back" to the release (rather than undo HEAD's changes), and
    takes the next release with a plain update."""
    repo = history_with_release_tags(tmp_path)
    newest = f"v{recorded_releases()[-1][0]}"
    project = generate(engine, repo, tmp_path, "HEAD")
    recorded = str(answers(project)["_commit"])
    assert re.fullmatch(rf"{re.escape(newest)}-[0-9]+-g[0-9a-f]+", recorded), recorded

    with pytest.raises(UserMessageError, match="Downgrades are not supported"):
        copier.run_update(project, defaults=True, overwrite=True, unsafe=True)
    assert git(project, "status", "--porcelain") == ""  # refused before touching anything
    # (`--vcs-ref HEAD` from here: test_an_update_without_template_changes_changes_nothing)

    append(repo / ROOT / "docs" / "guide.md", V3_GUIDE_LINE)
    commit_all(repo, "The next release")
    git(repo, "tag", "v999.0.0")
    copier.run_update(project, defaults=True, overwrite=True, unsafe=True)
    assert answers(project)["_commit"] == "v999.0.0"
    assert (project / "docs" / "guide.md").read_text().endswith(V3_GUIDE_LINE)


@pytest.mark.parametrize("engine", ENGINES)
def test_an_update_without_template_changes_changes_nothing(
    tmp_path: Path, engine: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """The hooks are idempotent on update: the real template, HEAD to HEAD, is a no-op."""
    project = generate(engine, committed_template(tmp_path), tmp_path, "HEAD")
    if engine == "cookiecutter":  # untagged: later plain updates would need --vcs-ref
        assert UNRELEASED_WARNING in capfd.readouterr().err
    before = tree(project)
    copier.run_update(project, vcs_ref="HEAD", defaults=True, overwrite=True, unsafe=True)
    assert tree(project) == before
    assert git(project, "status", "--porcelain", "--", ".", f":!{ANSWERS_FILE}") == ""


def test_changing_an_answer_on_update_adds_and_removes_its_files(tmp_path: Path) -> None:
    """`bin/update -d with_worker=true` (and back): the project matches the new answers."""
    repo = committed_template(tmp_path)
    git(repo, "tag", "v1")
    project = generate("copier", repo, tmp_path, "v1")
    for with_worker in (True, False):
        copier.run_update(
            project, data={"with_worker": with_worker}, defaults=True, overwrite=True, unsafe=True
        )
        record = answers(project)
        assert record["with_worker"] is with_worker
        # The manifest of the template that made it (the work tree's may be ahead).
        selection = layout.select(record, layout.load_manifest(repo / "hooks" / "layout.yml"))
        assert layout.verify(project, selection) == []
        assert any("worker" in rel for rel in selection.expected + selection.excluded)
        commit_all(project, f"with_worker={with_worker}")


def run_migrate(project: Path, template: Path, *action: str) -> None:
    """hooks/migrate.py as copier runs it after an update from v1."""
    context = json.dumps({"project_slug": SLUG, "project_name": "Demo Service"})
    subprocess.run(
        [sys.executable, str(TEMPLATE / "hooks" / "migrate.py"), context, str(template), *action],
        cwd=project,
        env={**os.environ, "VERSION_FROM": "v1"},
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize(
    ("team_line", "release_line", "expected"),
    [
        ("one\n", "one\n", "one\nDemo Service\nthree, v2\n"),  # untouched: the release's
        ("ONE\n", "one\n", "ONE\nDemo Service\nthree, v2\n"),  # both edits kept
        ("ONE\n", "uno\n", None),  # the same line: copier-style conflict markers
    ],
    ids=["unedited", "merged", "conflict"],
)
def test_rename_migration_merges_three_way(
    tmp_path: Path, team_line: str, release_line: str, expected: str | None
) -> None:
    template = tmp_path / "template"
    (template / ROOT / "src" / "{{cookiecutter.project_slug}}").mkdir(parents=True)
    old_source = "one\n{{ cookiecutter.project_name }}\nthree\n"
    (template / ROOT / "src" / "{{cookiecutter.project_slug}}" / "old.txt").write_text(old_source)
    git(template, "init", "-q")
    commit_all(template, "v1")
    git(template, "tag", "v1")
    project = tmp_path / "project"
    (project / "src" / SLUG).mkdir(parents=True)
    (project / "src" / SLUG / "old.txt").write_text(f"{team_line}Demo Service\nthree\n")
    git(project, "init", "-q")
    commit_all(project, "Generated, then edited")
    # What copier leaves: OLD deleted, NEW rendered from the release.
    (project / "src" / SLUG / "old.txt").unlink()
    new = project / "src" / SLUG / "new.txt"
    new.write_text(f"{release_line}Demo Service\nthree" + (", v2\n" if expected else "\n"))

    run_migrate(project, template, "rename", "src/{slug}/old.txt", "src/{slug}/new.txt")

    assert not (project / "src" / SLUG / "old.txt").exists()
    if expected is not None:
        assert new.read_text() == expected
    else:
        lines = new.read_text().splitlines()
        assert lines[0] == "<<<<<<< before updating" and "ONE" in lines
        assert ">>>>>>> after updating" in lines and "uno" in lines
