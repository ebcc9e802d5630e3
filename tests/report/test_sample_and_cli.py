"""The committed sample report is the default config's report (regenerate it when this fails), and
the `report` command writes one self-contained file per deployment and format."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from iam_foundry.cli.app import cli
from iam_foundry.cli.report import render_report
from iam_foundry.config.load import load_config
from iam_foundry.paths import SOURCE_ROOT

ROOT = SOURCE_ROOT or Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "sample-report.md"
REGENERATE = "iam-foundry report -s nextai --out docs/sample-report.md"


def test_sample_report_is_current() -> None:
    config = load_config(ROOT / "iam-foundry.toml")
    assert [d.name for d in config.deployments] == ["nextai"], "the sample shows the default config's one deployment"
    expected = render_report(config, "nextai", "md")
    assert SAMPLE.read_text(encoding="utf-8") == expected, f"docs/sample-report.md is stale: run `{REGENERATE}`"


def test_readme_links_the_sample() -> None:
    assert "(docs/sample-report.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_report_command_writes_md_and_html(tmp_path: Path) -> None:
    config = tmp_path / "iam-foundry.toml"
    config.write_text((ROOT / "iam-foundry.toml").read_text(encoding="utf-8"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "report"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "iam-review"
    assert sorted(p.name for p in folder.iterdir()) == ["nextai.html", "nextai.md"]
    html = (folder / "nextai.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<script" not in html and "src=" not in html
    assert "```mermaid" in (folder / "nextai.md").read_text(encoding="utf-8")


def test_report_command_refuses_a_file_name_for_two_formats(tmp_path: Path) -> None:
    config = tmp_path / "iam-foundry.toml"
    config.write_text((ROOT / "iam-foundry.toml").read_text(encoding="utf-8"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "report", "--format", "html", "--out", str(tmp_path / "r.md")])
    assert result.exit_code == 1 and "a file name takes exactly one deployment in its own format" in result.output
    unknown = CliRunner().invoke(cli, ["--config", str(config), "report", "-s", "nope"])
    assert unknown.exit_code == 1
