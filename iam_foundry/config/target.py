"""Where the stacks land: real AWS, or the embedded LocalStack.

Everything LocalStack changes is here, once: its credentials, the services it runs, the provider's
endpoints and skips, and what an S3 state backend needs to reach it. The stack emitter, the backends,
the LocalStack runner and the boto3 clients of `up`/`bootstrap`/adopt ask this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_LOCALSTACK_ENDPOINT = "http://127.0.0.1:4566"
# LocalStack's documented dummy credentials; never used against real AWS.
LOCALSTACK_ACCESS_KEY = LOCALSTACK_SECRET_KEY = "test"
# The services the stacks use: IAM and STS for the resources and the account guard, S3 for state.
LOCALSTACK_SERVICES = ("iam", "sts", "s3")


@dataclass(frozen=True)
class LocalStack:
    """The config's [localstack] table: enabled = the target is the emulator at endpoint."""

    enabled: bool = True
    endpoint: str = DEFAULT_LOCALSTACK_ENDPOINT


def boto_credentials() -> dict[str, str]:
    """LocalStack's credentials as boto3 client/session keyword arguments."""
    return {"aws_access_key_id": LOCALSTACK_ACCESS_KEY, "aws_secret_access_key": LOCALSTACK_SECRET_KEY}


def _terraform_credentials() -> dict[str, str]:
    return {"access_key": LOCALSTACK_ACCESS_KEY, "secret_key": LOCALSTACK_SECRET_KEY}


def endpoints(localstack: LocalStack) -> dict[str, str]:
    return {service: localstack.endpoint for service in LOCALSTACK_SERVICES}


def provider_attributes(region: str, localstack: LocalStack) -> dict[str, Any]:
    """The AWS provider's target settings: only the region on real AWS (credentials from the usual chain)."""
    attributes: dict[str, Any] = {"region": region}
    if localstack.enabled:
        attributes.update(
            _terraform_credentials(),
            skip_credentials_validation=True,
            skip_metadata_api_check=True,
            skip_requesting_account_id=True,
            s3_use_path_style=True,
            # A local emulator that stops answering will not come back within AWS's retry budget:
            # fail in seconds rather than minutes.
            max_retries=2,
            endpoints=[endpoints(localstack)],
        )
    return attributes


def account_guard(account_id: str, localstack: LocalStack) -> dict[str, Any]:
    """The provider refuses credentials of any other account, when it starts (before any change)."""
    guard: dict[str, Any] = {"allowed_account_ids": [account_id]}
    if localstack.enabled:
        guard["skip_requesting_account_id"] = False  # provider_attributes skips it; the guard needs the caller's account
    return guard


def s3_backend_attributes(localstack: LocalStack) -> dict[str, Any]:
    """What an S3 state backend adds to reach LocalStack (nothing on real AWS)."""
    if not localstack.enabled:
        return {}
    return {**_terraform_credentials(), "endpoints": endpoints(localstack), "use_path_style": True,
            "skip_credentials_validation": True, "skip_requesting_account_id": True, "skip_metadata_api_check": True}


def boto_client_args(localstack: LocalStack) -> dict[str, Any]:
    """boto3 client arguments for the target: LocalStack's endpoint and credentials, or nothing (AWS's chain)."""
    return {"endpoint_url": localstack.endpoint, **boto_credentials()} if localstack.enabled else {}
