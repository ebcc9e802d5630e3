"""How the constructs write Terraform: AWS blocks assembled in Python, handed to cdktf once per stack.

The typed `cdktf_cdktf_provider_aws` binding costs ~20 s and ~550 MB to import, for a dozen IAM
resources. Even cdktf's generic TerraformResource costs a round trip to the jsii (node) process for
every attribute, which made 100 deployments 5x slower than one. So each construct records its
blocks in the stack's `StackBlocks`, and the stack passes them to cdktf with one override per block
type. References between resources are Terraform expressions made with `iam_foundry.emit.tfjson.expr`
(logical ids are fixed by the constructs, so no cdktf token resolution is needed); everything else is
literal text, escaped when the blocks are written (`to_terraform`).
tests/emit/test_typed_equivalence.py checks the output against the typed binding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from cdktf import TerraformBackend, TerraformStack
from constructs import Construct

from iam_foundry.emit.tfjson import expr, to_terraform

from .versions import AWS_PROVIDER_SOURCE, AWS_PROVIDER_VERSION, TESTED_AWS_PROVIDER_VERSIONS  # noqa: F401


@dataclass(frozen=True)
class Ref:
    """A resource or data source address; `attr` gives a Terraform reference to one of its attributes."""

    address: str

    def attr(self, name: str) -> str:
        return expr(f"{self.address}.{name}")


@dataclass
class StackBlocks:
    """The blocks of one stack (terraform settings, provider, data, resources, outputs), written to cdktf
    in one override per top-level key; overrides are deep-merged with what cdktf writes itself (the
    S3Backend block)."""

    terraform: dict[str, Any] = field(default_factory=dict)
    provider: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    data: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    output: dict[str, dict[str, Any]] = field(default_factory=dict)
    imports: list[dict[str, str]] = field(default_factory=list)  # `import` blocks: existing resources to adopt
    # Addresses `destroy` removes from state instead of deleting (adopted resources stay in the account).
    forget_on_destroy: list[str] = field(default_factory=list)

    moved: list[dict[str, str]] = field(default_factory=list)
    # Set for a stack iam-foundry did not build (a platform team's own app): each block is written
    # to it at once, since no iam-foundry code runs at the end of that stack to write them in bulk.
    stack: TerraformStack | None = None

    @staticmethod
    def of(scope: Construct) -> "StackBlocks":
        """The blocks of the stack holding `scope`: an iam-foundry stack's batch, or, in any other
        TerraformStack, blocks written through to it as they are added."""
        stack = TerraformStack.of(scope)
        blocks = getattr(stack, "terraform_blocks", None)
        if not isinstance(blocks, StackBlocks):
            blocks = StackBlocks(stack=stack)
            stack.terraform_blocks = blocks
        return blocks

    def add_resource(self, resource_type: str, logical_id: str, attributes: Mapping[str, Any]) -> Ref:
        return self._add(self.resource, "", resource_type, logical_id, attributes)

    def add_data(self, data_type: str, logical_id: str, attributes: Mapping[str, Any] | None = None) -> Ref:
        return self._add(self.data, "data.", data_type, logical_id, attributes or {})

    def adopt(self, address: str, import_id: str, keep_on_destroy: bool, lifecycle: Mapping[str, Any] | None = None) -> None:
        """Import an existing resource instead of creating it. Kept on destroy: it is never replaced
        either (prevent_destroy makes a plan that would replace it fail instead)."""
        resource_type, logical_id = address.split(".")
        block = self.resource[resource_type][logical_id]
        merged = {**block.get("lifecycle", {}), **(lifecycle or {})}
        if keep_on_destroy:
            merged["prevent_destroy"] = True
            self.forget_on_destroy.append(address)
        if merged:
            block["lifecycle"] = merged
        self.imports.append({"to": address, "id": import_id})

    def add_output(self, name: str, value: Any, description: str, sensitive: bool = False) -> None:
        if name in self.output:
            raise ValueError(f"duplicate output {name}")
        self.output[name] = {"value": value, "description": description, **({"sensitive": True} if sensitive else {})}
        if self.stack is not None:
            self.stack.add_override(f"output.{name}", to_terraform(self.output[name]))

    def shared_data(self, data_type: str, logical_id: str) -> Ref:
        """A data source several constructs read (the caller's identity): added once."""
        if logical_id in self.data.get(data_type, {}):
            return Ref(f"data.{data_type}.{logical_id}")
        return self.add_data(data_type, logical_id)

    def add_moved(self, old: Ref, new: Ref) -> None:
        """A `moved` block: state recorded at the old address is kept at the new one."""
        self.moved.append({"from": old.address, "to": new.address})
        if self.stack is not None:
            self.stack.add_override("moved", list(self.moved))

    def _add(self, section: dict, prefix: str, block_type: str, logical_id: str, attributes: Mapping[str, Any]) -> Ref:
        blocks = section.setdefault(block_type, {})
        if logical_id in blocks:
            raise ValueError(f"duplicate {block_type}.{logical_id}")
        blocks[logical_id] = {key: value for key, value in attributes.items() if value is not None}
        if self.stack is not None:
            self.stack.add_override(f"{prefix.rstrip('.') or 'resource'}.{block_type}.{logical_id}", to_terraform(blocks[logical_id]))
        return Ref(f"{prefix}{block_type}.{logical_id}")

    def write_to(self, stack: TerraformStack, stack_name: str) -> None:
        """One cdktf call per non-empty block type, plus the output list the cdktf CLI reads from metadata.

        This is where plan values become Terraform JSON: user text is escaped, expressions go live."""
        for section in ("terraform", "provider", "data", "resource", "output", "moved"):
            content = getattr(self, section)
            if content:
                # Terraform reads backend settings literally (no templates), so they are not escaped.
                stack.add_override(section, content if section == "terraform" else to_terraform(content))
        if self.imports:
            stack.add_override("import", to_terraform(self.imports))
        if self.forget_on_destroy:
            stack.add_override("//.iam_foundry", {"forget_on_destroy": self.forget_on_destroy})
        if self.output:
            stack.add_override("//.outputs", {stack_name: {name: name for name in self.output}})


def aws_provider_blocks(attributes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The AWS provider: its `required_providers` entry (a version range; the cdktf CLI requires one)
    and its `provider` block, for the stack to write with its other overrides."""
    required = {"required_providers": {"aws": {"source": AWS_PROVIDER_SOURCE, "version": AWS_PROVIDER_VERSION}}}
    return required, {"aws": [dict(attributes)]}


class DeclaredBackend(TerraformBackend):
    """Declares the stack's backend type ("s3", "local", ...) to cdktf; its settings come from the
    stack's `terraform.backend.<type>` override (StackBlocks.terraform).

    Same JSON as cdktf's S3Backend/LocalBackend plus overrides, at a sixth of the cost per stack (the
    typed backends validate and copy every argument across the jsii boundary), which is what keeps
    100 deployments within 2x of one.
    """

    def __init__(self, scope: Construct, backend_type: str):
        super().__init__(scope, "backend", backend_type)

    def get_remote_state_data_source(self, scope: Construct, name: str, from_stack: str):  # noqa: D102
        raise NotImplementedError("iam-foundry stacks do not read each other's state")
