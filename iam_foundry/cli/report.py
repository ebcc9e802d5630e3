"""The `report` and `vendor-diff` commands (registered on the main CLI in cli.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from iam_foundry.errors import FoundryError, Problem

out = Console()
err = Console(stderr=True)
REPORT_DIR = "iam-review"   # beside the config, like every other output
FORMATS = {"md": ".md", "html": ".html"}


def render(report: Any, fmt: str) -> str:
    if fmt == "md":
        from iam_foundry.report.markdown import render_markdown

        return render_markdown(report)
    from iam_foundry.report.html import render_html

    return render_html(report)


def render_report(config: Any, name: str, fmt: str) -> str:
    """One deployment's report as text (the analysis still sees every deployment of the config)."""
    from iam_foundry.policy.documents import build_documents
    from iam_foundry.report.model import report_from

    documents = [build_documents(d) for d in config.deployments]
    return render(report_from(next(d for d in documents if d.deployment.name == name), documents, config.backend), fmt)


def write_reports(config: Any, names: list[str], formats: list[str], outdir: Path) -> list[Path]:
    """One self-contained file per deployment and format; the analysis sees every deployment of the config."""
    from iam_foundry.policy.documents import build_documents
    from iam_foundry.report.model import report_from

    documents = [build_documents(d) for d in config.deployments]
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        report = report_from(next(d for d in documents if d.deployment.name == name), documents, config.backend)
        for fmt in formats:
            path = outdir / f"{name}{FORMATS[fmt]}"
            path.write_text(render(report, fmt), encoding="utf-8")
            written.append(path)
    return written


@click.command("report")
@click.option("--stack", "-s", "stacks", multiple=True, metavar="NAME", help="Deployment to report on; repeat for several. Default: all.")
@click.option("--format", "formats", type=click.Choice(sorted(FORMATS)), multiple=True,
              help="md (renders on GitHub/GitLab, graph in Mermaid) or html (one file, inline SVG). Default: both.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help=f"Folder for the files (default: {REPORT_DIR}/ beside the config), or a file ending in .md/.html for one deployment and format.")
@click.pass_obj
def report(obj: Any, stacks: tuple[str, ...], formats: tuple[str, ...], out_dir: Path | None) -> None:
    """A security reviewer's page per deployment: verdicts, the escalation graph, actions by access
    level, the call contract and the difference from the vendor's published policy."""
    config = obj.config
    names = [config.deployment(n).name for n in stacks] if stacks else [d.name for d in config.deployments]
    target = out_dir if out_dir is not None else obj.config_path.resolve().parent / REPORT_DIR
    chosen = list(dict.fromkeys(formats)) or ["md", "html"]
    if target.suffix in FORMATS.values():
        # One named file, e.g. docs/sample-report.md: one deployment, the format its suffix says.
        fmt = next(k for k, v in FORMATS.items() if v == target.suffix)
        if len(names) != 1 or (formats and chosen != [fmt]):
            raise FoundryError(Problem(f"--out {target}", "a file name takes exactly one deployment in its own format",
                                       f"add -s NAME (deployments: {names}) and drop --format, or give a folder"))
        if target.is_dir():
            raise FoundryError(Problem(f"--out {target}", "is a folder named like a file", "give another name"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_report(config, names[0], fmt), encoding="utf-8")
        out.print(escape(str(target)), highlight=False, soft_wrap=True)
        return
    if target.exists() and not target.is_dir():
        raise FoundryError(Problem(f"--out {target}", "is a file", "give a folder (it is created when missing)"))
    for path in write_reports(config, names, chosen, target):
        out.print(escape(str(path)), highlight=False, soft_wrap=True)


@click.command("vendor-diff")
@click.argument("profile")
@click.option("--against", "against_file", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="A newly published vendor policy (JSON document or list of statements).")
@click.option("--variant", default=None, help="Profile variant to compare (default: the profile's default).")
def vendor_diff(profile: str, against_file: Path, variant: str | None) -> None:
    """Actions and resources a newly published vendor policy adds or removes relative to PROFILE, and
    relative to the vendor copy the profile was made from (policy_json/PROFILE/vendor/, same file name).
    Exit 1 when the vendor changed since that copy (or, with no copy of that name, when actions differ)."""
    from iam_foundry.profiles.load import list_profiles, load_profile
    from iam_foundry.report.vendor import against

    if profile not in list_profiles():
        raise FoundryError(Problem(f"profile '{profile}'", "no such built-in profile", f"use one of {list_profiles()}"))
    if not against_file.is_file():
        raise FoundryError(Problem(f"--against {against_file}", "no such file", "give the vendor's published JSON"))
    if variant is not None and variant not in load_profile(profile).variants:
        raise FoundryError(Problem(f"--variant {variant}", "no such variant", f"use one of {sorted(load_profile(profile).variants)}"))
    diff = against(profile, against_file, variant)
    out.print(f"{escape(str(against_file))} against {profile} ({', '.join(diff.compared_with)}):", highlight=False, soft_wrap=True)
    for title, items in (("actions added (in the file, not in the profile)", diff.actions_added),
                         ("actions removed (in the profile, not in the file)", diff.actions_removed),
                         ("resources added", diff.resources_added), ("resources removed", diff.resources_removed)):
        out.print(f"  {title}: {len(items)}", highlight=False, soft_wrap=True)
        for item in items:
            out.print(f"    {'+' if 'added' in title else '-'} {escape(item)}", highlight=False, soft_wrap=True)
    if diff.since_copy is not None:
        actions_added, actions_removed, resources_added, resources_removed = diff.since_copy
        out.print(f"  since the committed vendor copy: {len(actions_added)} actions added, {len(actions_removed)} removed; "
                  f"{len(resources_added)} resources added, {len(resources_removed)} removed", highlight=False, soft_wrap=True)
        for sign, items in (("+", actions_added), ("-", actions_removed), ("+", resources_added), ("-", resources_removed)):
            for item in items:
                out.print(f"    {sign} {escape(item)}", highlight=False, soft_wrap=True)
        changed = any(diff.since_copy)
    else:
        out.print("  no committed vendor copy has this file name: compared with the profile only", highlight=False, soft_wrap=True)
        changed = bool(diff.actions_added or diff.actions_removed)
    sys.exit(1 if changed else 0)
