"""Generic AWS resources on cdktf core.

The typed `cdktf_cdktf_provider_aws` binding costs ~20 s and ~550 MB to import, for a dozen IAM
resources. These helpers write the same Terraform JSON through cdktf's generic TerraformResource,
so every synth stays fast. tests/test_typed_equivalence.py checks the output against the typed
binding.
"""

from __future__ import annotations

from typing import Any, Mapping

from cdktf import (
    TerraformDataSource,
    TerraformProvider,
    TerraformProviderGeneratorMetadata,
    TerraformResource,
)
from constructs import Construct

AWS_PROVIDER_SOURCE = "hashicorp/aws"
# The provider version the project is built and tested against (prebuilt binding 20.1.0).
AWS_PROVIDER_VERSION = "5.100.0"


def _apply(element: TerraformResource | TerraformDataSource | TerraformProvider, attributes: Mapping[str, Any]) -> None:
    for key, value in attributes.items():
        if value is not None:
            element.add_override(key, value)


def aws_resource(scope: Construct, logical_id: str, resource_type: str, attributes: Mapping[str, Any],
                 depends_on: list[TerraformResource] | None = None) -> TerraformResource:
    """A `resource "<resource_type>" "<logical_id>"` block; None attributes are left out."""
    resource = TerraformResource(scope, logical_id, terraform_resource_type=resource_type, depends_on=depends_on)
    resource.override_logical_id(logical_id)
    _apply(resource, attributes)
    return resource


def aws_data(scope: Construct, logical_id: str, data_type: str, attributes: Mapping[str, Any] | None = None) -> TerraformDataSource:
    data = TerraformDataSource(scope, logical_id, terraform_resource_type=data_type)
    data.override_logical_id(logical_id)
    _apply(data, attributes or {})
    return data


def aws_provider(scope: Construct, attributes: Mapping[str, Any]) -> TerraformProvider:
    provider = TerraformProvider(
        scope, "aws",
        terraform_resource_type="aws",
        terraform_provider_source=AWS_PROVIDER_SOURCE,
        terraform_generator_metadata=TerraformProviderGeneratorMetadata(
            provider_name="aws", provider_version_constraint=AWS_PROVIDER_VERSION),
    )
    _apply(provider, attributes)
    return provider
