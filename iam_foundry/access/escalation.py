"""Privilege-escalation analysis over what a config creates: users, node roles, their policies, trust
policies, the roles each principal can pass, create or modify.

Every step is asked of the evaluator against a concrete ARN, never decided from action names alone:
the principal's own user or role and its own policies; another deployment's principals; a stand-in
for "some other role / user / group / instance / function already in the account" (whose
permissions are unknown, so taking it over counts as admin-equivalent, since accounts do hold admin
roles); and, for every role or instance-profile ARN pattern in its policies (e.g.
`role/compute-engine-*`), a role of that pattern the principal could create.

The methods are the public catalogue (Rhino Security Labs' IAM privilege escalation list and its
follow-ups): CreatePolicyVersion, SetDefaultPolicyVersion, Attach/Put User/Group/Role policy,
CreateAccessKey/CreateLoginProfile/UpdateLoginProfile on others, AddUserToGroup,
UpdateAssumeRolePolicy, CreateRole (+ Attach/Put), PassRole + a service that runs code with the
role (EC2 on demand or Spot, CloudFormation, Lambda, Glue, Data Pipeline, SageMaker, CodeBuild,
ECS), code where an existing role runs (ModifyInstanceAttribute + Stop/Start, SSM
SendCommand/StartSession, EC2 Instance Connect, a new launch-template version, a change set on an
existing stack, UpdateFunctionCode, UpdateDevEndpoint), and permissions-boundary removal.

Roles that match a pattern the principal may create (e.g. `eksctl-*`) are taken to be the
platform's own roles, holding only what the principal can give them; a role of unknown content is
the stand-in "other role" (e.g. `role/*`).

Verdict per principal: `admin-equivalent` (a path reaches every permission in the account),
`can-modify-own-role` (it can change its own permissions, but no path to admin was found), or
`bounded`.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from iam_foundry.access import actions
from iam_foundry.access.evaluate import Decision, PolicyDocument, Request, StatementRef, evaluate, statement_matches
from iam_foundry.access.principals import (
    account_of,
    boundary_of,
    customer_policy_arns,
    instance_profile_arn,
    principal_arn,
    principal_policies,
    principals_of,
    trust_policy,
)
from iam_foundry.policy.elements import as_list

ADMIN_EQUIVALENT = "admin-equivalent"
CAN_MODIFY_OWN = "can-modify-own-role"
BOUNDED = "bounded"
ADMIN = "ADMIN"  # graph sink: every permission in the account
OWN = "own-permissions"  # target of a path that changes the principal's own permissions, within a boundary
PROBE = "iam-foundry-probe"
# Stand-in ids that look like real ones (policies often say image/ami-*, instance/i-*).
PROBE_IDS = {"ImageId": "ami-0123456789abcdef0", "InstanceId": "i-0123456789abcdef0", "SubnetId": "subnet-0123456789abcdef0",
             "NetworkInterfaceId": "eni-0123456789abcdef0", "SecurityGroupId": "sg-0123456789abcdef0",
             "VolumeId": "vol-0123456789abcdef0", "Id": "0123abcd-0000-0000-0000-000000000000",
             "TaskDefinitionRevisionNumber": "1", "DocumentName": "AWS-RunShellScript"}
# IAM refuses to create roles under this path or to change service-linked roles' policies.
SERVICE_ROLE_PATH = ":role/aws-service-role/"


@dataclass(frozen=True)
class Step:
    """One allowed request on the way, with the statements that allow it."""

    action: str
    resource: str
    deciding: tuple[StatementRef, ...] = ()
    note: str = ""

    def __str__(self) -> str:
        sids = ", ".join(sorted({r.sid for r in self.deciding}))
        return f"{self.action} on {self.resource}" + (f" [{sids}]" if sids else "") + (f" ({self.note})" if self.note else "")

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "resource": self.resource, "note": self.note,
                "deciding": [{"policy": r.policy, "sid": r.sid, "source": r.source} for r in self.deciding]}


@dataclass(frozen=True)
class Path:
    """One way from a principal to a target: ADMIN, its own permissions, or another principal."""

    method: str
    target: str          # ADMIN, "own-permissions", or an identity key
    steps: tuple[Step, ...]
    summary: str

    @property
    def sids(self) -> frozenset[str]:
        return frozenset(r.sid for s in self.steps for r in s.deciding)

    def __str__(self) -> str:
        return f"{self.method}: {self.summary}; " + " → ".join(str(s) for s in self.steps)

    def as_json(self) -> dict[str, Any]:
        return {"method": self.method, "target": self.target, "summary": self.summary, "steps": [s.as_json() for s in self.steps]}


@dataclass(frozen=True)
class PassService:
    """A service that runs code with a role it is passed, and the calls that make it do so."""

    name: str
    principal: str
    calls: tuple[tuple[str, str], ...]   # (action, resource type or "" for "*")
    needs_instance_profile: bool = False


PASS_SERVICES = (
    PassService("EC2", "ec2.amazonaws.com", (("ec2:RunInstances", "instance"), ("ec2:RunInstances", "image"), ("ec2:RunInstances", "subnet"),
                                             ("ec2:RunInstances", "network-interface"), ("ec2:RunInstances", "security-group"),
                                             ("ec2:RunInstances", "volume")), needs_instance_profile=True),
    PassService("EC2 Spot", "ec2.amazonaws.com", (("ec2:RequestSpotInstances", "spot-instances-request"), ("ec2:RequestSpotInstances", "image"),
                                                  ("ec2:RequestSpotInstances", "subnet"), ("ec2:RequestSpotInstances", "security-group")),
                needs_instance_profile=True),
    PassService("CloudFormation", "cloudformation.amazonaws.com", (("cloudformation:CreateStack", "stack"),)),
    PassService("CloudFormation (update)", "cloudformation.amazonaws.com", (("cloudformation:UpdateStack", "stack"),)),
    PassService("Lambda", "lambda.amazonaws.com", (("lambda:CreateFunction", "function"), ("lambda:InvokeFunction", "function"))),
    PassService("Glue", "glue.amazonaws.com", (("glue:CreateDevEndpoint", ""),)),
    PassService("Data Pipeline", "datapipeline.amazonaws.com", (("datapipeline:CreatePipeline", ""), ("datapipeline:PutPipelineDefinition", "pipeline"),
                                                                ("datapipeline:ActivatePipeline", "pipeline"))),
    PassService("SageMaker", "sagemaker.amazonaws.com", (("sagemaker:CreateNotebookInstance", "notebook-instance"),
                                                         ("sagemaker:CreatePresignedNotebookInstanceUrl", "notebook-instance"))),
    PassService("CodeBuild", "codebuild.amazonaws.com", (("codebuild:CreateProject", "project"), ("codebuild:StartBuild", "project"))),
    PassService("ECS", "ecs-tasks.amazonaws.com", (("ecs:RegisterTaskDefinition", "task-definition"), ("ecs:RunTask", "task-definition"))),
)

# Running code where some existing role already is: (method, [(action, resource type, context)]).
EXISTING_COMPUTE = (
    ("ModifyInstanceAttribute+StopInstances+StartInstances", "replace an existing instance's user data and restart it: code runs as that instance's role",
     (("ec2:ModifyInstanceAttribute", "instance", {"ec2:Attribute": "userData"}), ("ec2:StopInstances", "instance", {}),
      ("ec2:StartInstances", "instance", {}))),
    ("ssm:SendCommand", "run a command on an existing instance: it runs as that instance's role",
     (("ssm:SendCommand", "instance", {}), ("ssm:SendCommand", "document", {}))),
    ("ssm:StartSession", "open a shell on an existing instance: it runs as that instance's role", (("ssm:StartSession", "instance", {}),)),
    ("ec2-instance-connect:SendSSHPublicKey", "log in to an existing instance: a shell with that instance's role",
     (("ec2-instance-connect:SendSSHPublicKey", "instance", {}),)),
    ("ec2:CreateLaunchTemplateVersion+ModifyLaunchTemplate", "put user data in a new default version of an existing launch template: "
     "instances launched from it run the code as its instance profile's role",
     (("ec2:CreateLaunchTemplateVersion", "launch-template", {}), ("ec2:ModifyLaunchTemplate", "launch-template", {}))),
    ("cloudformation:CreateChangeSet+ExecuteChangeSet", "change an existing stack: CloudFormation applies it with the stack's service role",
     (("cloudformation:CreateChangeSet", "stack", {}), ("cloudformation:ExecuteChangeSet", "stack", {}))),
    ("lambda:UpdateFunctionCode", "replace an existing function's code: it runs as the function's role", (("lambda:UpdateFunctionCode", "function", {}),)),
    ("glue:UpdateDevEndpoint", "add an SSH key to an existing Glue endpoint: a shell with its role", (("glue:UpdateDevEndpoint", "devendpoint", {}),)),
)


@dataclass
class Identity:
    """A principal the config creates, with everything the analysis needs to know about it."""

    key: str                     # "<deployment>:user", "<deployment>:node_role" or "<deployment>:<own role>"
    deployment: str
    kind: str                    # "user", "node_role", or a variant's own role ("engine_role")
    arn: str
    policies: list[PolicyDocument]
    boundary: list[PolicyDocument] | None
    boundary_note: str
    own_policy_arns: list[str]
    partition: str
    region: str
    account: str
    trust: dict[str, Any] | None = None           # roles: trust policy as stored
    instance_profile: str | None = None           # roles: the instance profile the project creates for it
    boundary_arn: str | None = None               # the permissions boundary set on it (content in `boundary`)

    @property
    def bounded(self) -> bool:
        """A known boundary caps whatever the principal gives itself: writing '*' on its own policies
        reaches at most the boundary, not every permission."""
        return self.boundary is not None


@dataclass
class PrincipalReport:
    identity: Identity
    verdict: str
    admin_route: list[Path]                       # shortest chain to ADMIN (may pass through other identities)
    paths: list[Path]                             # every direct path found from this principal
    state_access: dict[str, list[Step]] = field(default_factory=dict)   # "read"/"write" -> steps
    notes: list[str] = field(default_factory=list)

    @property
    def admin_paths(self) -> list[Path]:
        return [p for p in self.paths if p.target == ADMIN]

    def as_json(self) -> dict[str, Any]:
        return {"principal": self.identity.key, "arn": self.identity.arn, "verdict": self.verdict,
                "admin_route": [p.as_json() for p in self.admin_route], "paths": [p.as_json() for p in self.paths],
                "state_bucket": {mode: [s.as_json() for s in steps] for mode, steps in self.state_access.items()},
                "notes": self.notes}


def _short(action: str) -> str:
    return action.split(":", 1)[1]


def probe_arn(action: str, resource_type: str, partition: str, region: str, account: str, name: str = PROBE) -> str:
    """A concrete ARN of the action's resource type, e.g. an instance that exists in the account."""
    if not resource_type:
        return "*"
    template = actions.arn_format(action, resource_type)

    def fill(match: re.Match[str]) -> str:
        slot = match.group(0)[2:-1]
        return {"Partition": partition, "Region": region, "Account": account}.get(slot) or PROBE_IDS.get(slot) or name

    return actions.ARN_SLOT.sub(fill, template)


def trust_allows(trust: Mapping[str, Any] | None, *, service: str | None = None, arn: str | None = None, account: str | None = None) -> bool:
    """Does a trust policy let this service, or this principal ARN (or its account), assume the role?"""
    if not trust:
        return False
    for statement in trust.get("Statement", []):
        if statement.get("Effect") != "Allow" or not statement_matches({**statement, "Resource": "*"}, Request("sts:AssumeRole")):
            continue
        principal = statement.get("Principal", {})
        if principal == "*":
            return True

        def listed(kind: str) -> list[str]:
            value = principal.get(kind, []) if isinstance(principal, dict) else []
            return as_list(value)

        if service and service in listed("Service"):
            return True
        if arn:
            partition = arn.split(":")[1]
            if arn in listed("AWS") or (account and {account, f"arn:{partition}:iam::{account}:root"} & set(listed("AWS"))):
                return True
    return False


def identities_of(documents: Any) -> list[Identity]:
    """The user, the node role and the variant's own roles a deployment creates (those it creates only)."""
    deployment = documents.deployment
    account = account_of(documents)
    result = []
    for kind in principals_of(documents):
        policies = principal_policies(documents, kind)
        bounds = boundary_of(documents, kind)
        result.append(Identity(
            key=f"{deployment.name}:{kind}", deployment=deployment.name, kind=kind, arn=principal_arn(documents, kind),
            policies=policies, boundary=bounds.documents, boundary_note=bounds.note, boundary_arn=bounds.arn, own_policy_arns=customer_policy_arns(documents, kind),
            partition=deployment.partition, region=deployment.region, account=account,
            trust=trust_policy(documents, kind) if kind != "user" else None,
            instance_profile=instance_profile_arn(documents, kind) if kind != "user" else None))
    return result


class Analysis:
    """Escalation analysis of every principal of a set of deployments (one account or several)."""

    def __init__(self, documents: Sequence[Any], state_bucket: str | None = None, state_keys: Mapping[str, str] | None = None):
        self.documents = list(documents)
        self.identities: dict[str, Identity] = {}
        for docs in self.documents:
            for identity in identities_of(docs):
                self.identities[identity.key] = identity
        self.by_arn = {i.arn: i for i in self.identities.values()}
        self.state_bucket = state_bucket
        self.state_keys = dict(state_keys or {})
        self._reach: dict[str | None, list[Path]] = {}
        self.paths: dict[str, list[Path]] = {key: self._paths(identity) for key, identity in self.identities.items()}

    # -- asking the evaluator --------------------------------------------------------------------

    def _ask(self, who: Identity, action: str, resource: str, context: Mapping[str, Any] | None = None, note: str = "") -> Step | None:
        context = {"aws:username": who.arn.rsplit("/", 1)[-1], **(context or {})} if who.kind == "user" else dict(context or {})
        decision: Decision = evaluate(who.policies, Request(action, resource, context), who.boundary)
        return Step(action, resource, decision.deciding, note) if decision.allowed else None

    def _all(self, who: Identity, calls: Iterable[tuple[str, str, Mapping[str, Any]]]) -> list[Step] | None:
        steps = []
        for action, resource, context in calls:
            step = self._ask(who, action, resource, context)
            if step is None:
                return None
            steps.append(step)
        return steps

    def _probe(self, who: Identity, action: str, resource_type: str, name: str = PROBE) -> str:
        return probe_arn(action, resource_type, who.partition, who.region, who.account, name)

    def _iam(self, who: Identity, kind: str, name: str) -> str:
        return f"arn:{who.partition}:iam::{who.account}:{kind}/{name}"

    def _admin_policy(self, who: Identity) -> str:
        return f"arn:{who.partition}:iam::aws:policy/AdministratorAccess"

    # -- candidates --------------------------------------------------------------------------------

    def _condition_values(self, who: Identity, key: str) -> list[str]:
        """Values the principal's conditions give a key, wildcards filled (e.g. the policy ARNs it may attach)."""
        found: list[str] = []
        for policy in who.policies:
            for _, statement in policy.statements():
                for pairs in (statement.get("Condition") or {}).values():
                    for name, values in (pairs.items() if isinstance(pairs, dict) else []):
                        if name.lower() == key.lower():
                            for value in as_list(values):
                                text = str(value).replace("*", PROBE).replace("?", "x")
                                if text not in found:
                                    found.append(text)
        return found

    def _patterns(self, who: Identity, kind: str) -> list[str]:
        """Concrete ARNs for every `<kind>/...` wildcard pattern in the principal's policies."""
        found: list[str] = []
        for policy in who.policies:
            for _, statement in policy.statements():
                resources = statement.get("Resource", [])
                for pattern in as_list(resources):
                    if f":{kind}/" not in pattern or ":iam:" not in pattern or "${" in pattern or not re.search(r"[*?]", pattern):
                        continue
                    head, _, tail = pattern.partition(f":{kind}/")
                    parts = head.split(":")
                    if len(parts) != 5 or parts[4] not in ("*", who.account):
                        continue
                    arn = f"arn:{who.partition}:iam::{who.account}:{kind}/" + tail.replace("*", PROBE).replace("?", "x")
                    if SERVICE_ROLE_PATH not in arn and arn not in found:
                        found.append(arn)
        return found

    # -- the catalogue -----------------------------------------------------------------------------

    def _paths(self, who: Identity) -> list[Path]:
        paths: list[Path] = []
        paths += self._own_policy_paths(who)
        paths += self._other_user_paths(who)
        paths += self._role_paths(who)
        paths += self._existing_compute_paths(who)
        # Patterns such as role/eksctl-* and role/eksctl-managed-* give the same path twice.
        unique: dict[tuple[str, str, frozenset[str]], Path] = {}
        for path in paths:
            unique.setdefault((path.method, path.target, path.sids), path)
        return list(unique.values())

    def _own_policy_paths(self, who: Identity) -> list[Path]:
        paths: list[Path] = []
        kind = "User" if who.kind == "user" else "Role"
        admin = {"iam:PolicyARN": self._admin_policy(who)}
        # Under a known boundary, whatever it gives itself is capped by the boundary (which it cannot lift:
        # that is asked below): the principal can change its own permissions, no more.
        top, capped = (OWN, " (capped by its permissions boundary)") if who.bounded else (ADMIN, "")
        if step := self._ask(who, f"iam:Put{kind}Policy", who.arn):
            paths.append(Path(f"Put{kind}Policy(self)", top, (step,), "write an inline '*' policy on itself" + capped))
        if step := self._ask(who, f"iam:Attach{kind}Policy", who.arn, admin):
            paths.append(Path(f"Attach{kind}Policy(self)", top, (step,), "attach AdministratorAccess to itself" + capped))
        elif step := self._ask(who, f"iam:Attach{kind}Policy", who.arn, {"iam:PolicyARN": self._iam(who, "policy", PROBE)}):
            create = self._ask(who, "iam:CreatePolicy", self._iam(who, "policy", PROBE))
            if create:
                paths.append(Path(f"CreatePolicy+Attach{kind}Policy(self)", top, (create, step), "create a '*' policy and attach it to itself" + capped))
            else:
                paths.append(Path(f"Attach{kind}Policy(self)", "own-permissions", (step,), "attach existing managed policies to itself"))
        else:
            # Attach limited by an iam:PolicyARN condition: try the policies the conditions name.
            for arn in self._condition_values(who, "iam:PolicyARN"):
                if step := self._ask(who, f"iam:Attach{kind}Policy", who.arn, {"iam:PolicyARN": arn}):
                    paths.append(Path(f"Attach{kind}Policy(self)", "own-permissions", (step,), f"attach {arn} to itself"))
                    break
        for arn in who.own_policy_arns:
            if step := self._ask(who, "iam:CreatePolicyVersion", arn):
                paths.append(Path("CreatePolicyVersion(own policy)", top, (step,), "rewrite its own managed policy as '*'" + capped))
            elif step := self._ask(who, "iam:SetDefaultPolicyVersion", arn):
                paths.append(Path("SetDefaultPolicyVersion(own policy)", "own-permissions", (step,), "switch its own policy to another existing version"))
        if who.boundary is not None or who.boundary_note:
            for action in (f"iam:Delete{kind}PermissionsBoundary", f"iam:Put{kind}PermissionsBoundary"):
                if step := self._ask(who, action, who.arn):
                    # Lifting the boundary undoes the cap on what it gives itself.
                    raises = who.bounded and any(p.target == OWN and "capped" in p.summary for p in paths)
                    paths.append(Path(f"{_short(action)}(self)", ADMIN if raises else OWN, (step,), "lift its own permissions boundary"
                                      + (" and keep the '*' it gave itself" if raises else "")))
        if who.kind == "user":
            group = self._iam(who, "group", PROBE)
            if step := self._ask(who, "iam:AddUserToGroup", group):
                paths.append(Path("AddUserToGroup", top, (step,), "join any group of the account, e.g. an administrators group" + capped))
        return paths

    def _other_user_paths(self, who: Identity) -> list[Path]:
        paths: list[Path] = []
        targets = [(self._iam(who, "user", PROBE), None)] + [(i.arn, i) for i in self.identities.values()
                                                              if i.kind == "user" and i.arn != who.arn and i.account == who.account]
        for arn, identity in targets:
            for action, what in (("iam:CreateAccessKey", "create an access key for"), ("iam:CreateLoginProfile", "set a console password for"),
                                 ("iam:UpdateLoginProfile", "reset the console password of")):
                if step := self._ask(who, action, arn):
                    if identity is None:
                        paths.append(Path(f"{_short(action)}(other user)", ADMIN, (step,), f"{what} any user of the account, e.g. an administrator"))
                    else:
                        paths.append(Path(_short(action), identity.key, (step,), f"{what} {identity.key}"))
                    break
        # A user it can create, give credentials and a policy.
        for arn in self._patterns(who, "user"):
            create = self._ask(who, "iam:CreateUser", arn)
            key = self._ask(who, "iam:CreateAccessKey", arn) or self._ask(who, "iam:CreateLoginProfile", arn)
            grant = self._ask(who, "iam:PutUserPolicy", arn) or self._ask(who, "iam:AttachUserPolicy", arn, {"iam:PolicyARN": self._admin_policy(who)})
            if create and key and grant:
                paths.append(Path(f"CreateUser+{_short(grant.action)}+{_short(key.action)}", ADMIN, (create, grant, key),
                                  "create a user, give it '*' and log in as it"))
        return paths

    def _role_candidates(self, who: Identity) -> list[tuple[str, Identity | None, str]]:
        """(role ARN, known identity or None, kind): kind is "existing" (unknown permissions), "known" or "creatable"."""
        result: list[tuple[str, Identity | None, str]] = [(self._iam(who, "role", PROBE + "-existing-role"), None, "existing")]
        result += [(i.arn, i, "known") for i in self.identities.values() if i.kind != "user" and i.account == who.account]
        # A named role this config does not create (e.g. the shared node role of a deployment with
        # create_node_role = false, analysed without the deployment that creates it): unknown permissions.
        # One it may create itself (nextai's role-creation: the launcher creates its node role) holds what it gives it.
        result += [(arn, None, "creatable" if self._create_role(who, arn) else "existing")
                   for arn in self._named(who, "role") if arn not in {r[0] for r in result}]
        result += [(arn, None, "creatable") for arn in self._patterns(who, "role") if arn not in {r[0] for r in result}]
        return result

    def _named(self, who: Identity, kind: str) -> list[str]:
        """Concrete `<kind>/...` ARNs of the principal's own account named in its policies."""
        prefix = f"arn:{who.partition}:iam::{who.account}:{kind}/"
        found: list[str] = []
        for policy in who.policies:
            for _, statement in policy.statements():
                resources = statement.get("Resource", [])
                for arn in as_list(resources):
                    if arn.startswith(prefix) and not re.search(r"[*?$]", arn) and SERVICE_ROLE_PATH not in arn and arn not in found:
                        found.append(arn)
        return found

    def _instance_profile_for(self, who: Identity, role: str, identity: Identity | None, kind: str) -> list[Step] | None:
        """Steps that give the role an instance profile to launch with ([] if one exists already)."""
        if kind == "existing" or (identity is not None and identity.instance_profile):
            return []
        for profile in self._patterns(who, "instance-profile"):
            create = self._ask(who, "iam:CreateInstanceProfile", profile)
            add = self._ask(who, "iam:AddRoleToInstanceProfile", profile)
            if create and add:
                return [create, add]
        return None

    def _obtain(self, who: Identity, role: str, identity: Identity | None, kind: str) -> list[tuple[str, list[Step], str]]:
        """Ways to act as a role: (method, steps, summary)."""
        ways: list[tuple[str, list[Step], str]] = []
        if kind == "creatable":
            if step := self._create_role(who, role):
                ways.append(("CreateRole+AssumeRole", [step, Step("sts:AssumeRole", role, (), "trust policy names the principal; same account, "
                                                                  "so no sts:AssumeRole permission is needed")],
                             "create the role trusting itself and assume it"))
        elif step := self._ask(who, "iam:UpdateAssumeRolePolicy", role):
            ways.append(("UpdateAssumeRolePolicy+AssumeRole", [step, Step("sts:AssumeRole", role, (), "trust policy now names the principal")],
                         "rewrite the role's trust policy to trust itself and assume it"))
        if identity is not None and trust_allows(identity.trust, arn=who.arn):
            # A trust policy naming the principal's ARN is enough within one account.
            ways.append(("AssumeRole", [Step("sts:AssumeRole", role, (), "the role's trust policy names the principal")],
                         "assume the role (its trust policy names it)"))
        elif identity is not None and trust_allows(identity.trust, arn=who.arn, account=who.account):
            # Trusting the account delegates to identity policies: the principal needs sts:AssumeRole.
            if step := self._ask(who, "sts:AssumeRole", role):
                ways.append(("AssumeRole", [step], "assume the role (its trust policy trusts the account)"))
        for service in PASS_SERVICES:
            if identity is not None and not trust_allows(identity.trust, service=service.principal):
                continue  # the role does not trust this service, so passing it there runs nothing
            passed = self._ask(who, "iam:PassRole", role, {"iam:PassedToService": service.principal})
            if not passed:
                continue
            calls = self._all(who, [(a, self._probe(who, a, t), {}) for a, t in service.calls])
            if calls is None:
                continue
            profile = self._instance_profile_for(who, role, identity, kind) if service.needs_instance_profile else []
            if profile is None:
                continue
            method = "PassRole+" + "+".join(dict.fromkeys(_short(a) for a, _ in service.calls))
            ways.append((method, [passed, *profile, *calls], f"pass the role to {service.name} and run code with it"))
        return ways

    def _create_role(self, who: Identity, role: str) -> Step | None:
        """CreateRole, also with the principal's own boundary named (require_boundary_on_created_roles)."""
        return self._ask(who, "iam:CreateRole", role) or (
            self._ask(who, "iam:CreateRole", role, {"iam:PermissionsBoundary": who.boundary_arn}, note="only with its own boundary")
            if who.boundary_arn else None)

    def _created_bounded(self, who: Identity, role: str) -> bool:
        """Roles of this pattern can only be created with the principal's own (known) boundary, so
        whatever it gives them is capped by that boundary."""
        return (who.bounded and self._ask(who, "iam:CreateRole", role) is None
                and self._ask(who, "iam:CreateRole", role, {"iam:PermissionsBoundary": who.boundary_arn}) is not None)

    def _boundary_reach(self, holder: Identity) -> list[Path]:
        """Admin paths of a principal that holds its whole boundary: what giving '*' to a bounded role
        amounts to. Computed once per boundary; the recursion (that holder controlling such roles
        again) reaches nothing new."""
        if holder.boundary_arn not in self._reach:
            self._reach[holder.boundary_arn] = []
            full = replace(holder, key=f"{holder.key}#boundary", policies=list(holder.boundary or []))
            self._reach[holder.boundary_arn] = [p for p in self._paths(full) if p.target == ADMIN]
        return self._reach[holder.boundary_arn]

    def _control(self, who: Identity, role: str) -> Step | None:
        """Can the principal give the role every permission?"""
        if SERVICE_ROLE_PATH in role:
            return None
        return (self._ask(who, "iam:PutRolePolicy", role, note="an inline '*' policy")
                or self._ask(who, "iam:AttachRolePolicy", role, {"iam:PolicyARN": self._admin_policy(who)}, note="AdministratorAccess"))

    def _role_paths(self, who: Identity) -> list[Path]:
        paths: list[Path] = []
        for role, identity, kind in self._role_candidates(who):
            if role == who.arn:
                continue  # its own role: covered by the own-policy methods
            ways = self._obtain(who, role, identity, kind)
            if not ways:
                continue
            if kind == "existing":
                probe = role.endswith(f"/{PROBE}-existing-role")
                what = "any role of the account (e.g. an admin role)" if probe else f"{role.rsplit('/', 1)[-1]}, a role this config does not create"
                for method, steps, summary in ways:
                    name = method.replace("Role", "Role(other role)", 1) if method.startswith("PassRole") else method + "(other role)"
                    paths.append(Path(name if probe else name.replace("(other role)", "(unknown role)"), ADMIN, tuple(steps),
                                      summary.replace("the role", what, 1) + ("" if probe else "; its permissions are unknown here")))
                continue
            control = self._control(who, role)
            # A role under a known boundary (its own, or the creator's when it may only create roles
            # with it) gets at most that boundary from '*': admin only if the boundary holds a path.
            holder = identity if identity is not None and identity.bounded else who if kind == "creatable" and self._created_bounded(who, role) else None
            if holder is not None:
                reach = self._boundary_reach(holder)
                for method, steps, summary in ways:
                    name = role.rsplit('/', 1)[-1]
                    if control and reach:
                        paths.append(Path(f"{_short(control.action)}+{method}+{reach[0].method}", ADMIN, (control, *steps, *reach[0].steps),
                                          f"give {name} its whole boundary, {summary}, then {reach[0].summary}"))
                    elif identity is not None:
                        paths.append(Path(method, identity.key, tuple(steps), summary))
                continue
            for method, steps, summary in ways:
                if control:
                    name = re.sub(r"^(CreateRole|UpdateAssumeRolePolicy)\+", rf"\1+{_short(control.action)}+", method) \
                        if method.startswith(("CreateRole", "UpdateAssumeRolePolicy")) else f"{_short(control.action)}+{method}"
                    ordered = [steps[0], control, *steps[1:]] if method.startswith(("CreateRole", "UpdateAssumeRolePolicy")) else [control, *steps]
                    paths.append(Path(name, ADMIN, tuple(ordered), f"give {role.rsplit('/', 1)[-1]} '*' and {summary}"))
                elif identity is not None:
                    paths.append(Path(method, identity.key, tuple(steps), summary))
        return paths

    def _existing_compute_paths(self, who: Identity) -> list[Path]:
        paths = []
        for method, summary, calls in EXISTING_COMPUTE:
            steps = self._all(who, [(a, self._probe(who, a, t), c) for a, t, c in calls])
            if steps is not None:
                paths.append(Path(method, ADMIN, tuple(steps), summary + " (any role an existing one runs with, e.g. an admin role)"))
        return paths

    # -- verdicts ------------------------------------------------------------------------------------

    def route_to_admin(self, key: str) -> list[Path]:
        """Shortest chain of paths from a principal to ADMIN (through other principals if needed)."""
        previous: dict[str, tuple[str, Path] | None] = {key: None}
        queue = deque([key])
        while queue:
            node = queue.popleft()
            for path in self.paths.get(node, []):
                if path.target == ADMIN:
                    chain = [path]
                    while previous[node] is not None:
                        node, link = previous[node]  # type: ignore[misc]
                        chain.insert(0, link)
                    return chain
                if path.target in self.paths and path.target not in previous:
                    previous[path.target] = (node, path)
                    queue.append(path.target)
        return []

    def state_access(self, who: Identity) -> dict[str, list[Step]]:
        if not self.state_bucket:
            return {}
        result: dict[str, list[Step]] = {}
        for deployment, key in self.state_keys.items():
            arn = f"arn:{who.partition}:s3:::{self.state_bucket}/{key}"
            for mode, action in (("read", "s3:GetObject"), ("write", "s3:PutObject")):
                if step := self._ask(who, action, arn):
                    result.setdefault(mode, []).append(step)
        return result

    def report(self, key: str) -> PrincipalReport:
        identity = self.identities[key]
        route = self.route_to_admin(key)
        own = [p for p in self.paths[key] if p.target == "own-permissions"]
        verdict = ADMIN_EQUIVALENT if route else CAN_MODIFY_OWN if own else BOUNDED
        notes = [identity.boundary_note] if identity.boundary_note else []
        return PrincipalReport(identity, verdict, route, self.paths[key], self.state_access(identity), notes)

    def reports(self) -> list[PrincipalReport]:
        return [self.report(key) for key in self.identities]
