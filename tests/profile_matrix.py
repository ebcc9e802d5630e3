"""Every built-in profile x variant x addenda combination, with the profile's own example values for
the parameters each needs (looping over profile data, so a new profile, addendum or parameter is
covered without edits)."""

from __future__ import annotations

import itertools
from typing import Any, Iterator

from iam_foundry.profiles.load import list_profiles, load_profile
from tests.conftest import TEST_ACCOUNT

SAMPLE_REGION = "eu-west-1"  # not the default region, so a silent us-east-1 would show


def sample_parameters(profile_name: str, addenda: list[str]) -> dict[str, str]:
    """The parameters a choice needs (required ones, and those its addenda require), from each spec's example."""
    profile = load_profile(profile_name)
    needed = {key for key, spec in profile.parameters.items() if spec.required}
    needed |= {key for name in addenda for key in profile.addenda[name].requires_parameters}
    return {key: profile.parameters[key].example for key in sorted(needed)}


def every_builtin_choice() -> Iterator[tuple[str, str, list[str], dict[str, str]]]:
    for name in list_profiles():
        profile = load_profile(name)
        for variant in profile.variants:
            allowed = [a for a, spec in profile.addenda.items() if not spec.only_variants or variant in spec.only_variants]
            for count in range(len(allowed) + 1):
                for addenda in itertools.combinations(allowed, count):
                    yield name, variant, list(addenda), sample_parameters(name, list(addenda))


def choice_config(profile: str, variant: str, addenda: list[str], parameters: dict[str, str],
                  **fields: Any) -> dict[str, Any]:
    """A raw config with one deployment of that choice (real-AWS shaped, explicit account and region)."""
    spec = load_profile(profile)
    if any(spec.addenda[a].platform_creates_node_role for a in addenda):
        fields = {"create_node_role": False, **fields}  # the platform creates the node role itself
    return {"region": SAMPLE_REGION, "localstack": {"enabled": False}, "deployments": [
        {"name": "d", "profile": profile, "variant": variant, "addenda": addenda, "account_id": TEST_ACCOUNT,
         # Iguazio's installer needs the user's key (on by default): accept it in clear for these document tests.
         "parameters": parameters, "allow_plaintext_secret_in_state": True, **fields}]}
