"""What the installer is handed: each profile's fields, and a variant's own roles where the platform is told of them."""

from __future__ import annotations

from iam_foundry.access.check import builtin_config
from iam_foundry.ops.handoff import handoff_entry
from iam_foundry.profiles.load import list_profiles, load_profile


def _outputs(names: list[str]) -> dict[str, str]:
    return {name: f"<{name}>" for name in names}


def test_a_variant_s_own_role_is_handed_over_with_its_arn_and_instance_profile():
    """AI Unlimited's engine role has no CloudFormation parameter: the handoff names it for AI Unlimited's own setup."""
    checked = 0
    for profile_name in list_profiles():
        profile = load_profile(profile_name)
        for variant in profile.variants:
            config = builtin_config(profile_name, variant, [])
            name = config.deployments[0].name
            roles = profile.roles(variant)
            outputs = _outputs(["role_name"] + [f"{r.key}_{o}" for r in roles for o in ("name", "arn", "instance_profile_name")])
            fields = handoff_entry(config, name, outputs)["for the installer"]
            for role in roles:
                checked += 1
                assert role.handoff
                assert fields[role.handoff] == f"<{role.key}_name>"
                assert fields[f"{role.handoff} ARN"] == f"<{role.key}_arn>"
                assert fields[f"{role.handoff} instance profile"] == f"<{role.key}_instance_profile_name>"
            assert not [label for label in fields if roles == () and "engine" in label.lower()]
    assert checked == 1
