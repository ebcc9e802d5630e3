"""The `can` and `check` commands (registered on the main CLI in cli.py)."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from iam_foundry.errors import FoundryError, Problem

out = Console()
err = Console(stderr=True)
ACCOUNT_IN_ARN = re.compile(r"^arn:[^:]+:[^:]*:[^:]*:(\d{12}):")


def _parse_context(pairs: tuple[str, ...]) -> dict[str, str | list[str]]:
    context: dict[str, str | list[str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise FoundryError(Problem(f"--context {pair}", "not KEY=VALUE", "write e.g. --context iam:PassedToService=ec2.amazonaws.com"))
        key = key.strip()
        if key in context:  # a repeated key is a multivalued key, e.g. aws:TagKeys
            previous = context[key]
            context[key] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            context[key] = value
    return context


def _split_principal(text: str, names: list[str]) -> tuple[str, str]:
    deployment, sep, principal = text.rpartition(":")
    if not sep:
        if len(names) != 1:
            raise FoundryError(Problem(f"principal '{text}'", "name the deployment as well",
                                       f"write DEPLOYMENT:user, DEPLOYMENT:role or DEPLOYMENT:<variant's role, e.g. engine_role>, deployments: {names}"))
        deployment, principal = names[0], text
    return deployment, principal


@click.command("can")
@click.argument("principal", metavar="PRINCIPAL")
@click.argument("action")
@click.argument("resource", required=False, default="*")
@click.option("--context", "context_pairs", multiple=True, metavar="KEY=VALUE",
              help="A condition key of the request, e.g. iam:PassedToService=ec2.amazonaws.com (repeat a key for several values).")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.pass_obj
def can(obj: Any, principal: str, action: str, resource: str, context_pairs: tuple[str, ...], as_json: bool) -> None:
    """May PRINCIPAL (DEPLOYMENT:user, DEPLOYMENT:role, or a variant's own role such as DEPLOYMENT:engine_role) make ACTION on RESOURCE?

    Answers offline from the rendered documents, as AWS evaluates identity policies (explicit deny,
    allow, conditions, permissions boundary when its content is known). Exit 0 if allowed, 1 if not.
    """
    from iam_foundry.access import actions
    from iam_foundry.access.evaluate import Request, evaluate
    from iam_foundry.access.principals import boundary_of, normalize_principal, principal_arn, principal_policies
    from iam_foundry.policy.documents import build_documents

    config = obj.config
    deployment_name, who = _split_principal(principal, [d.name for d in config.deployments])
    kind = normalize_principal(who)
    deployment = config.deployment(deployment_name)
    info = actions.action_info(action)
    if info is None:
        raise FoundryError(Problem(f"action '{action}'", "no such AWS action", actions.suggestion(action)))
    notes: list[str] = []
    if resource != "*" and info.arn_formats and actions.resource_type_of(action, resource) is None:
        raise FoundryError(Problem(f"resource '{resource}'", f"not a resource type {info.full_name} takes",
                                   f"use an ARN like one of {list(info.arn_formats)}"))
    if resource == "*" and info.arn_formats and "" not in info.resource_types:
        notes.append(f"{info.full_name} is authorized on resource ARNs ({', '.join(t for t in info.resource_types if t)}); "
                     f"asking about '*' only matches statements on '*'. Give an ARN, e.g. {info.arn_formats[0]}")
    context = _parse_context(context_pairs)
    for key in context:
        if not actions.known_condition_key(action, key):
            notes.append(f"condition key '{key}' is not one {info.full_name} sends; statements that test it see the value given here anyway")
    if deployment.account_id is None and (match := ACCOUNT_IN_ARN.match(resource)):
        deployment = dataclasses.replace(deployment, account_id=match.group(1))
        notes.append(f"the config gives no account_id: evaluating in account {match.group(1)}, from the resource ARN")
    documents = build_documents(deployment)
    policies = principal_policies(documents, kind)
    if not policies:
        raise FoundryError(Problem(f"principal '{principal}'", f"deployment '{deployment.name}' creates no {kind.replace('_', ' ')}",
                                   "ask about the principal it creates (see `iam-foundry validate`)"))
    bounds = boundary_of(documents, kind)
    boundary = bounds.documents
    if bounds.note:
        notes.append(bounds.note)
    arn = principal_arn(documents, kind)
    if kind == "user":
        context.setdefault("aws:username", deployment.user_name)
    decision = evaluate(policies, Request(info.full_name, resource, context), boundary)
    if as_json:
        out.print_json(json.dumps({"principal": arn, "action": info.full_name, "resource": resource, "context": context,
                                   "allowed": decision.allowed, "reason": decision.reason, "notes": notes,
                                   "deciding": [dataclasses.asdict(r) for r in decision.deciding]}))
    else:
        word = "[bold green]ALLOWED[/bold green]" if decision.allowed else "[bold red]DENIED[/bold red]"
        out.print(f"{word} {escape(arn)} {info.full_name} on {escape(resource)}", highlight=False, soft_wrap=True)
        out.print(f"  {escape(decision.reason.split(' by ')[0] if decision.deciding else decision.reason)}"
                  + (":" if decision.deciding else ""), highlight=False)
        for ref in decision.deciding:
            out.print(f"    {escape(ref.policy)} / {escape(ref.sid)}  {escape(ref.source)}", highlight=False, soft_wrap=True)
        for note in notes:
            err.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    sys.exit(0 if decision.allowed else 1)


@click.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print every principal's verdict, paths and acceptances as JSON.")
@click.option("--markdown", is_flag=True, help="Print the README's risk table of every built-in profile, variant and addendum.")
@click.option("--builtin", is_flag=True, help="Check every built-in profile × variant × addenda combination instead of the config.")
@click.pass_obj
def check(obj: Any, as_json: bool, markdown: bool, builtin: bool) -> None:
    """Privilege-escalation verdict of every principal: bounded, can-modify-own-role or admin-equivalent
    (with the path), then each deployment's call contract (N/N required calls allowed, never-needed
    calls denied). Exit 1 on an admin-equivalent principal whose paths the profile does not accept in
    policy_json/<profile>/risk-accepted.json, or on any contract miss."""
    from iam_foundry.access.check import as_json as checks_json
    from iam_foundry.access.check import (
        builtin_combinations,
        builtin_config,
        check_builtin,
        check_config,
        markdown_table,
        principal_label,
        route_text,
        verdict_text,
    )
    from iam_foundry.access.contracts import contract_results, format_results, summarize

    if markdown:
        out.print(markdown_table(), end="", highlight=False, markup=False, soft_wrap=True)
        return
    if builtin:
        checks = [c for p, v, a in builtin_combinations() for c in check_builtin(p, v, a)]
    else:
        checks = check_config(obj.config)
    if as_json:
        out.print(checks_json(checks), highlight=False, markup=False, soft_wrap=True)
    else:
        table = Table(title="privilege escalation")
        for column in ("deployment" if not builtin else "profile (variant) addenda", "principal", "verdict", "path", "state bucket"):
            table.add_column(column, overflow="fold")
        for c in checks:
            name = c.report.identity.deployment if not builtin else f"{c.profile} ({c.variant}) {', '.join(c.addenda) or '-'}"
            colour = "red" if c.fails else "yellow" if c.verdict != "bounded" else "green"
            table.add_row(escape(name), principal_label(c.report.identity.kind), f"[{colour}]{escape(verdict_text(c))}[/{colour}]", escape(route_text(c)),
                          c.state_bucket())
        out.print(table)
    failing = [c for c in checks if c.fails]
    for c in failing:
        for path in c.unaccepted:
            err.print(f"[red]-[/red] {escape(c.report.identity.key)}: {escape(str(path))} (fix: narrow the statements, or accept the risk "
                      f"with its source and a reason in policy_json/{c.profile}/risk-accepted.json)", highlight=False, soft_wrap=True)
        for other in c.unaccepted_via:
            err.print(f"[red]-[/red] {escape(c.report.identity.key)}: can act as {escape(other)}, which is admin-equivalent",
                      highlight=False, soft_wrap=True)
    for c in checks:
        for note in c.report.notes:
            err.print(f"[yellow]note:[/yellow] {escape(c.report.identity.key)}: {escape(note)}", highlight=False, soft_wrap=True)
    # Call contracts: what the platform must be able to call, and must not (policy_json/<profile>/contract.json).
    if builtin:
        deployments = [(f"{p} ({v}) {', '.join(a) or '-'}", builtin_config(p, v, a).deployments[0]) for p, v, a in builtin_combinations()]
    else:
        deployments = [(d.name, d) for d in obj.config.deployments]
    contract_failed = False
    for label, deployment in deployments:
        results = contract_results(deployment)
        summary = summarize(label, results)
        contract_failed |= not summary.ok
        if not as_json and (not builtin or not summary.ok):
            (out if summary.ok else err).print(escape(format_results(label, results)), highlight=False, soft_wrap=True)
    sys.exit(1 if failing or contract_failed else 0)
