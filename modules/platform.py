"""PlatformIam: one ML platform's IAM setup (a profile, its addenda) as a construct.

iam-foundry's own stacks emit their plan through `emit_plan`; a platform team's cdktf app adds
`PlatformIam(stack, "ml", profile="nextai", addenda=[...])` to its own TerraformStack, next to its
own provider (typed binding or not). The construct validates its inputs like a config deployment
(every problem as Problem(where, message, fix)) and prefixes its Terraform names with its construct
id, so several fit in one stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from constructs import Construct

from iam_foundry.emit.tfjson import expr, hcl_literal, readable_expression, to_terraform
from iam_foundry.plan import LogicalIds, Plan

from .aws import Ref, StackBlocks
from .node_role import NodeRole, NodeRoleSettings
from .policy import CustomManagedPolicy
from .user import RestrictedUser, UserSettings


@dataclass
class Emitted:
    """What emit_plan made: the constructs, and each planned output's value."""

    user: RestrictedUser | None = None
    role: NodeRole | None = None
    policies: dict[str, CustomManagedPolicy] = field(default_factory=dict)
    boundary: CustomManagedPolicy | None = None  # the profile boundary (no attachment: a permissions boundary)
    roles: dict[str, NodeRole] = field(default_factory=dict)  # the variant's own roles (e.g. engine_role)
    outputs: dict[str, Any] = field(default_factory=dict)


def emit_plan(scope: Construct, plan: Plan, deployment: Any, tags: Mapping[str, str], ids: LogicalIds,
              output_prefix: str | None = "", moved_from_indexes: bool = False) -> Emitted:
    """The plan's resources (and, unless output_prefix is None, its outputs) in scope's stack.

    Attachments are keyed by policy id (parts: <id>, <id>_2, ...) and managed ones by their origin,
    so another policy coming or going never shifts an address. moved_from_indexes: `moved` blocks
    from the addresses an earlier iam-foundry gave them (user_policy_0, 1, ... in attachment order)."""
    blocks = StackBlocks.of(scope)
    emitted = Emitted()
    arns: dict[str, dict[str, str]] = {"user": {}, "node_role": {}, **{role.key: {} for role in plan.roles}}
    for planned in plan.policies:
        policy = CustomManagedPolicy(scope, planned.logical_id, planned.name, list(planned.parts or ()),
                                     description=planned.description, path=deployment.path, tags=dict(tags))
        emitted.policies[planned.id] = policy
        for principal in planned.attach_to:
            arns[principal].update(zip(planned.part_keys(), policy.arns))
        for role_index, (role_key, role_name) in enumerate(zip(planned.role_keys, planned.attach_to_roles)):
            # A role the stack does not own (e.g. the vendor's access role): destroy only detaches.
            # Keyed by part and by the role's template key, as in an exported module: another role or
            # part coming or going never shifts an address.
            for part_index, (part_key, arn) in enumerate(zip(planned.part_keys(), policy.arns)):
                ref = blocks.add_resource("aws_iam_role_policy_attachment", f"{ids.policy_prefix}{part_key}_existing_role_{role_key}",
                                          {"role": role_name, "policy_arn": arn})
                if moved_from_indexes:
                    blocks.add_moved(Ref(f"aws_iam_role_policy_attachment.{ids.policy_prefix}{planned.id}_existing_role_{role_index}_{part_index}"), ref)
    for attachment in plan.attachments:
        arns[attachment.principal][attachment.key] = attachment.arn
    if plan.boundary is not None:
        emitted.boundary = CustomManagedPolicy(scope, plan.boundary.logical_id, plan.boundary.name, [plan.boundary.document()],
                                               description=plan.boundary.description, path=deployment.path, tags=dict(tags))
    if plan.account_id.startswith("${") and not deployment.account_id:  # read at plan time
        blocks.shared_data("aws_caller_identity", "current")
    if plan.creates_user:
        emitted.user = RestrictedUser(scope, ids.user, UserSettings(
            name=plan.names["user_name"], path=deployment.path, permissions_boundary=plan.permissions_boundary,
            force_destroy=deployment.force_destroy, create_access_key=deployment.create_access_key,
            pgp_key=deployment.pgp_key, tags=dict(tags),
        ), arns["user"])
        if moved_from_indexes:
            _moved(blocks, "aws_iam_user_policy_attachment", "user_policy", emitted.user.attachments.values())
    if plan.creates_role:
        preconditions = [{"condition": expr(f"{readable_expression(p.actual)} == {hcl_literal(p.expected)}"),
                          "error_message": p.error_message} for p in plan.preconditions]
        emitted.role = NodeRole(scope, ids.role, NodeRoleSettings(
            name=plan.names["role_name"], instance_profile_name=plan.names["instance_profile_name"],
            trust_policy=plan.trust_policy or {}, path=deployment.path,
            permissions_boundary=plan.permissions_boundary, tags=dict(tags), preconditions=preconditions,
        ), arns["node_role"], instance_profile_id=ids.instance_profile)
        if moved_from_indexes:
            _moved(blocks, "aws_iam_role_policy_attachment", "node_role_policy", emitted.role.attachments.values())
    for role in plan.roles:
        # The same construct as the node role: its own trust policy, instance profile and boundary.
        if role.boundary is not None:
            CustomManagedPolicy(scope, role.boundary.logical_id, role.boundary.name, [role.boundary.document()],
                                description=role.boundary.description, path=deployment.path, tags=dict(tags))
        emitted.roles[role.key] = NodeRole(scope, role.logical_id, NodeRoleSettings(
            name=role.name, instance_profile_name=role.instance_profile_name, trust_policy=role.trust_policy, path=deployment.path,
            permissions_boundary=role.permissions_boundary, tags=dict(tags),
        ), arns[role.key])
    for output in plan.outputs:
        emitted.outputs[output.name] = output.value
        if output_prefix is not None:
            blocks.add_output(f"{output_prefix}{output.name}", output.value, output.description, sensitive=output.sensitive)
    return emitted


def _moved(blocks: StackBlocks, resource_type: str, old_prefix: str, attachments: Iterable[Ref]) -> None:
    for index, ref in enumerate(attachments):
        blocks.add_moved(Ref(f"{resource_type}.{old_prefix}_{index}"), ref)


class PlatformIam(Construct):
    """A profile's user, policies and node role in any TerraformStack.

    Takes the fields of a config deployment as keyword arguments (addenda, variant, parameters,
    account_id, user_name, create_access_key, tags, ...); `region` decides the partition and fills
    {{region}} (required by profiles that scope statements to a region). With `outputs=True` the
    plan's outputs are added to the stack as `<construct id>_<output>`; `self.outputs` always holds them.
    """

    def __init__(self, scope: Construct, construct_id: str, *, profile: str, addenda: Iterable[str] = (),
                 region: str | None = None, outputs: bool = False, **fields: Any):
        super().__init__(scope, construct_id)
        # Imported here: the config and documents modules import this package's siblings (paths.py).
        from iam_foundry.config.load import parse_config
        from iam_foundry.policy.documents import build_documents

        raw = {"localstack": {"enabled": False}, **({"region": region} if region else {}),
               "deployments": [{"name": construct_id, "profile": profile, "addenda": list(addenda), **fields}]}
        self.deployment = parse_config(raw).deployments[0]
        self.ids = LogicalIds.within(construct_id)
        documents = build_documents(self.deployment, ids=self.ids)
        self.plan = documents.plan
        emitted = emit_plan(self, self.plan, self.deployment, documents.tags, self.ids,
                            output_prefix=f"{construct_id}_" if outputs else None)
        self.user, self.role, self.policies = emitted.user, emitted.role, emitted.policies
        self.roles = emitted.roles  # the variant's own roles (e.g. "engine_role"), NodeRole constructs too
        # As Terraform strings ("${aws_iam_user.ml_user.arn}"), which any cdktf construct takes as a value.
        self.outputs: dict[str, Any] = {name: to_terraform(value) for name, value in emitted.outputs.items()}
