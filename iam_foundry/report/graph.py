"""The picture of a deployment: principals, roles, instance profiles and what each can do to the others.

Nodes and edges come from the escalation analysis (every path `check` found becomes an edge whose
label names its method) and from the rendered documents (instance profiles, trust policies).
Paths to ADMIN are marked as escalations so both renderers can highlight them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from iam_foundry.access.check import PrincipalCheck
from iam_foundry.access.escalation import ADMIN, PROBE, Path
from iam_foundry.policy.elements import as_list

ROLE_ACTIONS = ("iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:PassRole", "iam:PutRolePolicy", "iam:AttachRolePolicy",
                "sts:AssumeRole", "iam:CreateUser", "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
                "iam:AddUserToGroup")


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    kind: str   # user, role, instance-profile, service, pattern, existing, admin


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str
    escalation: bool = False
    method: str = ""        # the `check` method this edge shows ("" for structural edges)


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def node(self, id: str, label: str, kind: str) -> str:
        if all(n.id != id for n in self.nodes):
            self.nodes.append(Node(id, label, kind))
        return id

    def edge(self, edge: Edge) -> None:
        if all((e.source, e.target, e.label) != (edge.source, edge.target, edge.label) for e in self.edges):
            self.edges.append(edge)


def node_id(text: str) -> str:
    """A Mermaid- and SVG-safe id for a principal key or ARN."""
    return "n_" + re.sub(r"[^A-Za-z0-9]", "_", text)


def _relation(path: Path, pattern: str) -> str:
    """What the path lets the principal do to the node it goes through, in the issue's words."""
    method = path.method
    modify = any(word in method for word in ("PutRolePolicy", "AttachRolePolicy", "UpdateAssumeRolePolicy"))
    if method.startswith("CreateRole"):
        return f"can create roles matching {pattern}"
    if method.startswith("CreateUser"):
        return f"can create users matching {pattern}"
    if "PassRole" in method:
        return "can modify + can pass" if modify else "can pass"
    if "AssumeRole" in method:
        return "can modify + can assume" if modify else "can assume"
    if re.search(r"Policy|Boundary", method):
        return "can modify"
    if re.search(r"AccessKey|LoginProfile", method):
        return "can log in as"
    if "AddUserToGroup" in method:
        return "can join"
    return "can run code on"


def _via(path: Path) -> str | None:
    """The role or user ARN a path goes through (None: its own policies, or existing compute)."""
    for step in path.steps:
        if step.action in ROLE_ACTIONS and ":iam::" in step.resource:
            return step.resource
    return None


def build_graph(documents: Any, checks: Sequence[PrincipalCheck]) -> Graph:
    """The graph of one deployment's principals and everything their paths reach."""
    graph = Graph()
    identities = {c.report.identity.key: c.report.identity for c in checks}
    by_arn = {i.arn: i for i in identities.values()}
    own = [c for c in checks if c.report.identity.deployment == documents.deployment.name]

    def principal(key: str) -> str:
        identity = identities[key]
        name = identity.arn.rsplit("/", 1)[-1]
        return graph.node(node_id(key), f"{key} ({'user' if identity.kind == 'user' else 'role'} {name})",
                          "user" if identity.kind == "user" else "role")

    for check in own:
        identity = check.report.identity
        me = principal(identity.key)
        if identity.instance_profile:
            profile = graph.node(node_id(identity.instance_profile), f"instance profile {identity.instance_profile.rsplit('/', 1)[-1]}",
                                 "instance-profile")
            graph.edge(Edge(profile, me, "holds"))
        for statement in (identity.trust or {}).get("Statement", []):
            services = (statement.get("Principal") or {}).get("Service", []) if isinstance(statement.get("Principal"), dict) else []
            for service in as_list(services):
                graph.edge(Edge(graph.node(node_id("svc:" + service), service, "service"), me, "can assume (trust policy)"))
    admin = None
    for check in own:
        identity = check.report.identity
        me = node_id(identity.key)
        for path in check.report.paths:
            via = _via(path)
            pattern = via.replace(PROBE, "*") if via else ""
            relation = _relation(path, pattern)
            label = f"{relation}: {path.method}"
            if path.target == "own-permissions":
                graph.edge(Edge(me, me, label, method=path.method))
                continue
            if path.target != ADMIN:
                graph.edge(Edge(me, principal(path.target), label, method=path.method))
                continue
            admin = admin or graph.node("n_ADMIN", "ADMIN: every permission in the account", "admin")
            if via is None or via == identity.arn:
                if via is None and relation == "can run code on":
                    existing = graph.node("n_existing_compute", "existing instances, stacks, functions (their roles)", "existing")
                    graph.edge(Edge(me, existing, label, True, path.method))
                    graph.edge(Edge(existing, admin, path.method, True, path.method))
                else:
                    graph.edge(Edge(me, admin, label, True, path.method))
                continue
            if via in by_arn:
                target = principal(by_arn[via].key)
            elif via.endswith(f"/{PROBE}-existing-role") or PROBE not in via:
                target = graph.node(node_id(via), f"{'any other role of the account' if PROBE in via else via.rsplit('/', 1)[-1]} "
                                    "(permissions unknown)", "existing")
            else:
                target = graph.node(node_id(pattern), f"roles matching {pattern.split(':', 5)[-1]}", "pattern")
            graph.edge(Edge(me, target, label, True, path.method))
            graph.edge(Edge(target, admin, path.method, True, path.method))
    return graph
