"""What each vendor asks for, written down here, checked against the synthesized stacks.

The expectations below are not read from `policy_json/` nor from snapshots: they are the vendors'
published statements (sources named per profile; copies in the shared reference folder the profiles
were written from), with the Sids this project gives them. For every built-in profile, variant and
addendum: the statements in order (so a dropped or added statement fails), the actions each must
hold, its exact `Condition` (none where the table says none), and the resources where the vendor or
the README scopes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from iam_foundry.config import parse_config
from iam_foundry.policy_templates import list_profiles, load_profile
from tests.conftest import resources, synth_raw

PASSED_TO_EC2 = {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
S3_FULL = "arn:aws:iam::aws:policy/AmazonS3FullAccess"


@dataclass(frozen=True)
class S:
    """One expected statement: Sid, actions it must hold, exact Condition, exact resources (if given)."""

    sid: str
    actions: frozenset[str]
    condition: dict | None = None
    resources: tuple[str, ...] | None = None


def s(sid: str, *actions: str, condition: dict | None = None, resources: tuple[str, ...] | None = None) -> S:
    return S(sid, frozenset(actions), condition, resources)


@dataclass(frozen=True)
class Case:
    deployment: dict
    policies: dict  # policy name -> [S, ...] in order; "{acct}" in resources is the case's account
    user_managed: tuple[str, ...] = ()
    role_managed: tuple[str, ...] = ()
    has_user: bool = True
    attached_to_user: tuple[str, ...] = ()  # custom policy names attached to the user
    attached_to_role: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)


# --- NextAI: SkyPilot's "Minimal IAM policy" and its optional statements -------------------------
# Source: skypilot-org/skypilot docs/source/cloud-setup/cloud-permissions/aws.rst @ 9fe81c3f
# (minimal-user-policy.json, addendum-clone-disk-from.json, addendum-open-ports.json,
# addendum-iam-role-autocreate.json); the vendor's role name skypilot-v1 is our node role.
NEXTAI_BASE = [
    s("RunInstancesFromAnyImage", "ec2:RunInstances", resources=("arn:aws:ec2:*::image/ami-*",)),
    s("RunInstancesInAccount", "ec2:RunInstances", resources=tuple(
        f"arn:aws:ec2:*:{{acct}}:{kind}/*" for kind in ("instance", "network-interface", "subnet", "volume", "security-group"))),
    s("ManageInstances", "ec2:TerminateInstances", "ec2:DeleteTags", "ec2:StartInstances", "ec2:CreateTags", "ec2:StopInstances",
      resources=("arn:aws:ec2:*:{acct}:instance/*",)),
    s("DescribeEC2", "ec2:Describe*", resources=("*",)),
    s("ManageSecurityGroups", "ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", resources=("arn:aws:ec2:*:{acct}:*",)),
    s("CreateSpotServiceLinkedRole", "iam:CreateServiceLinkedRole",
      condition={"StringEquals": {"iam:AWSServiceName": "spot.amazonaws.com"}}, resources=("*",)),
]
NEXTAI_PASS_ROLE = [
    s("PassNodeRole", "iam:GetRole", "iam:PassRole", resources=("arn:aws:iam::{acct}:role/nextai-role",)),
    s("GetNodeInstanceProfile", "iam:GetInstanceProfile", resources=("arn:aws:iam::{acct}:instance-profile/nextai-role",)),
]
NEXTAI_ADDENDA = [  # in addendum-name order: clone-disk, open-ports, role-creation (replaces the last two)
    s("CloneDiskImages", "ec2:CreateImage", "ec2:CopyImage", "ec2:DeregisterImage", resources=("*",)),
    s("OpenPorts", "ec2:DeleteSecurityGroup", "ec2:ModifyInstanceAttribute", resources=("arn:aws:ec2:*:{acct}:*",)),
    s("CreateAndPassNodeRole", "iam:GetRole", "iam:PassRole", "iam:CreateRole", "iam:AttachRolePolicy", "iam:PutRolePolicy",
      resources=("arn:aws:iam::{acct}:role/nextai-role",)),
    s("CreateNodeInstanceProfile", "iam:GetInstanceProfile", "iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile",
      resources=("arn:aws:iam::{acct}:instance-profile/nextai-role",)),
]

# --- AI Unlimited: Teradata/ai-unlimited deployments/aws/policies @ 07eccd0a -------------------
# ai-unlimited-workspaces.json, ai-unlimited-workspaces-without-iam-role-permissions.json,
# ai-unlimited-engine.json, session-manager.json. The vendor's single all-"*" statement is split by
# purpose; PassRole gets iam:PassedToService = ec2 and the scoping the README documents.
AIU_SHARED = [
    s("Compute", "ec2:RunInstances", "ec2:TerminateInstances", "ec2:CreateLaunchTemplate", "ec2:CreateVpc", "ec2:CreateSubnet",
      "ec2:AssociateAddress", "ec2:DescribeInstances", resources=("*",)),
    s("EngineSecrets", "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:GetSecretValue",
      "secretsmanager:PutSecretValue", "secretsmanager:TagResource", resources=("arn:aws:secretsmanager:us-east-1:{acct}:secret:compute-engine/*",)),
    s("EngineBuckets", "s3:CreateBucket", "s3:DeleteBucket", "s3:PutObject", "s3:GetObject", "s3:DeleteObject"),
    s("EngineStacks", "cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:DescribeStacks",
      "cloudformation:ListStacks", "cloudformation:DescribeStackEvents"),
    s("EngineParameters", "ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter",
      resources=("arn:aws:ssm:us-east-1:{acct}:parameter/*",)),
    s("EngineDns", "route53:GetHostedZone", "route53:ChangeResourceRecordSets", "route53:GetChange"),
]
AIU_WITH_ROLES = [
    s("PassRolesToEngineInstances", "iam:PassRole", condition=PASSED_TO_EC2,
      resources=("arn:aws:iam::{acct}:role/ai-unlimited", "arn:aws:iam::{acct}:role/compute-engine-*")),
    s("ManageClusterRoles", "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:PutRolePolicy", "iam:TagRole",
      resources=("arn:aws:iam::{acct}:role/compute-engine-*",)),
    s("ManageClusterInstanceProfiles", "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile",
      "iam:RemoveRoleFromInstanceProfile", resources=("arn:aws:iam::{acct}:instance-profile/compute-engine-*",)),
]
AIU_WITHOUT_ROLES = [
    s("PassNodeRoleToEngineInstances", "iam:PassRole", condition=PASSED_TO_EC2, resources=("arn:aws:iam::{acct}:role/ai-unlimited",)),
    s("ReadAndTagNodeRole", "iam:GetRole", "iam:PutRolePolicy", "iam:TagRole", resources=("arn:aws:iam::{acct}:role/ai-unlimited",)),
    s("ManageEngineInstanceProfiles", "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile",
      resources=("arn:aws:iam::{acct}:instance-profile/compute-engine-*", "arn:aws:iam::{acct}:instance-profile/ai-unlimited")),
]
AIU_SESSION_MANAGER = [  # session-manager.json: its three statements, all on "*"
    s("SessionManagerAgent", "ssm:UpdateInstanceInformation", "ssm:ListAssociations", "ssm:PutInventory", resources=("*",)),
    s("SessionManagerMessages", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel", resources=("*",)),
    s("SessionManagerEc2Messages", "ec2messages:AcknowledgeMessage", "ec2messages:GetMessages", "ec2messages:SendReply", resources=("*",)),
]
AIU_LOAD_BALANCER = [  # the ACM certificate and Route 53 records the -with-alb/-with-nlb templates need
    s("LoadBalancerCertificates", "acm:RequestCertificate", "acm:DescribeCertificate", "acm:DeleteCertificate"),
    s("LoadBalancerDnsRecords", "route53:ListHostedZones", "route53:ChangeResourceRecordSets", "route53:GetChange"),
]

# --- Iguazio: iguazio doc site static/downloads/install/cloud/aws/roles/ -----------------------
# provazio.json (vanilla), provazio-eks.json (eks, $AWS_ACCOUNT_ID filled), assignipaddress.json
# (node role; the vendor's single statement split so only the describe calls stay on "*").
# The vendor's iam:PassRole on arn:aws:iam::*:role/... is narrowed to this account's node role.
IGZ_PASS_NODE_ROLE = s("PassNodeRole", "iam:PassRole", condition=PASSED_TO_EC2,
                       resources=("arn:aws:iam::{acct}:role/IguazioDataScienceNode",))
IGZ_SERVICE_LINKED = s("ServiceLinkedRoles", "iam:CreateServiceLinkedRole", resources=("arn:aws:iam::{acct}:role/aws-service-role/*",))
IGZ_VANILLA = [
    s("Instance", "ec2:RunInstances", "ec2:TerminateInstances", "ec2:CreatePlacementGroup", "ec2:DescribeImages", resources=("*",)),
    s("Network", "ec2:AllocateAddress", "ec2:AssignPrivateIpAddresses", "ec2:CreateRouteTable", "ec2:AuthorizeSecurityGroupIngress",
      resources=("*",)),
    s("Autoscaling", "autoscaling:CreateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup",
      "autoscaling:DescribeAutoScalingGroups", resources=("*",)),
    IGZ_SERVICE_LINKED,
    IGZ_PASS_NODE_ROLE,
]
IGZ_EKS = [
    s("EC2", "ec2:*", resources=("*",)),
    s("LoadBalancing", "elasticloadbalancing:*", resources=("*",)),
    s("CloudWatch", "cloudwatch:*", resources=("*",)),
    s("AutoScaling", "autoscaling:*", resources=("*",)),
    s("ServiceLinkedRolesForCluster", "iam:CreateServiceLinkedRole", resources=("*",), condition={"StringEquals": {"iam:AWSServiceName": [
        "autoscaling.amazonaws.com", "ec2scheduled.amazonaws.com", "elasticloadbalancing.amazonaws.com", "spot.amazonaws.com",
        "spotfleet.amazonaws.com", "transitgateway.amazonaws.com"]}}),
    s("CloudFormation", "cloudformation:*", resources=("*",)),
    s("EKS", "eks:*", resources=("*",)),
    s("PublicParameters", "ssm:GetParameter", "ssm:GetParameters",
      resources=("arn:aws:ssm:*:{acct}:parameter/aws/*", "arn:aws:ssm:*::parameter/aws/*")),
    s("KmsGrants", "kms:CreateGrant", "kms:DescribeKey", resources=("*",)),
    s("EksctlRoles", "iam:CreateRole", "iam:DeleteRole", "iam:PassRole", "iam:CreateInstanceProfile", "iam:AttachRolePolicy"),
    s("ReadRoles", "iam:GetRole", resources=("arn:aws:iam::{acct}:role/*",)),
    s("ServiceLinkedRolesForEks", "iam:CreateServiceLinkedRole", resources=("*",), condition={"StringEquals": {"iam:AWSServiceName": [
        "eks.amazonaws.com", "eks-nodegroup.amazonaws.com", "eks-fargate.amazonaws.com"]}}),
    IGZ_SERVICE_LINKED,
    IGZ_PASS_NODE_ROLE,
]
IGZ_NODE = [
    s("MoveSecondaryPrivateIp", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
      resources=("arn:aws:ec2:us-east-1:{acct}:network-interface/*",)),
    s("FindClusterInterfaces", "ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces", resources=("*",)),
]

# --- Anyscale: anyscale/terraform-aws-anyscale-cloudfoundation-modules @ 9880f839 --------------
# modules/aws-anyscale-iam/s3-bucket-access.tmpl (cluster node role's bucket policy).
ANYSCALE = [
    s("S3BucketAccess", "s3:PutObject", "s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads",
      "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload", "s3:GetBucketLocation",
      resources=("arn:aws:s3:::anyscale-data", "arn:aws:s3:::anyscale-data/*")),
]

CASES: dict[str, Case] = {
    "nextai": Case({"profile": "nextai"}, {"nextai-policy": NEXTAI_BASE + NEXTAI_PASS_ROLE},
                   attached_to_user=("nextai-policy",), attached_to_role=("nextai-policy",)),
    "nextai-all-addenda": Case(
        {"profile": "nextai", "addenda": ["s3-access", "role-creation", "open-ports", "clone-disk"]},
        {"nextai-policy": NEXTAI_BASE + NEXTAI_ADDENDA}, user_managed=(S3_FULL,), role_managed=(S3_FULL,),
        attached_to_user=("nextai-policy",), attached_to_role=("nextai-policy",)),
    "ai-unlimited-with-iam-role-permissions": Case(
        {"profile": "ai-unlimited"}, {"ai-unlimited-workspaces": AIU_WITH_ROLES + AIU_SHARED},
        has_user=False, attached_to_role=("ai-unlimited-workspaces",)),
    "ai-unlimited-with-iam-role-permissions-all-addenda": Case(
        {"profile": "ai-unlimited", "addenda": ["session-manager", "load-balancer"]},
        {"ai-unlimited-workspaces": AIU_WITH_ROLES + AIU_SHARED + AIU_LOAD_BALANCER + AIU_SESSION_MANAGER},
        has_user=False, attached_to_role=("ai-unlimited-workspaces",)),
    "ai-unlimited-without-iam-role-permissions-all-addenda": Case(
        {"profile": "ai-unlimited", "variant": "without-iam-role-permissions", "addenda": ["session-manager", "load-balancer"]},
        {"ai-unlimited-workspaces": AIU_WITHOUT_ROLES + AIU_SHARED + AIU_LOAD_BALANCER + AIU_SESSION_MANAGER,
         "ai-unlimited-engine": [s("ReadEngineSecrets", "secretsmanager:GetSecretValue",
                                   resources=("arn:aws:secretsmanager:us-east-1:{acct}:secret:compute-engine/*",))]},
        has_user=False, attached_to_role=("ai-unlimited-workspaces", "ai-unlimited-engine")),
    "iguazio-vanilla": Case({"profile": "iguazio"}, {"ManageIguazioSystems": IGZ_VANILLA, "AssignPrivateIPAddresses": IGZ_NODE},
                            attached_to_user=("ManageIguazioSystems",), attached_to_role=("AssignPrivateIPAddresses",)),
    "iguazio-eks": Case({"profile": "iguazio", "variant": "eks"},
                        {"ManageIguazioSystems": IGZ_EKS, "AssignPrivateIPAddresses": IGZ_NODE},
                        attached_to_user=("ManageIguazioSystems",), attached_to_role=("AssignPrivateIPAddresses",)),
    "anyscale": Case({"profile": "anyscale", "parameters": {"cloud_id": "cld_abc123", "bucket": "anyscale-data"}},
                     {"cld_abc123-cluster_node_s3_access": ANYSCALE}, has_user=False,
                     attached_to_role=("cld_abc123-cluster_node_s3_access",)),
}


def account_of(index: int) -> str:
    return f"{100000000000 + index:012d}"  # one account per case, so default names never clash


@pytest.fixture(scope="module")
def stacks(tmp_path_factory) -> dict[str, dict]:
    deployments = [{"name": name, "account_id": account_of(index), **case.deployment} for index, (name, case) in enumerate(CASES.items())]
    raw = {"region": "us-east-1", "localstack": {"enabled": False},
           "backend": {"type": "s3", "bucket": "acme-terraform-state", "key_prefix": "iam"}, "deployments": deployments}
    return synth_raw(raw, tmp_path_factory.mktemp("facts"))


def as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def policies_by_name(stack: dict) -> dict[str, tuple[str, dict]]:
    return {p["name"]: (address, json.loads(p["policy"])) for address, p in resources(stack, "aws_iam_policy").items()}


def test_every_builtin_profile_variant_and_addendum_has_written_facts():
    covered_variants = {(c.deployment["profile"], c.deployment.get("variant") or load_profile(c.deployment["profile"]).default_variant)
                        for c in CASES.values()}
    covered_addenda = {(c.deployment["profile"], a) for c in CASES.values() for a in c.deployment.get("addenda", [])}
    for name in list_profiles():
        profile = load_profile(name)
        for variant in profile.variants:
            assert (name, variant) in covered_variants, f"no written facts for {name} variant {variant}"
        for addendum in profile.addenda:
            assert (name, addendum) in covered_addenda, f"no written facts for {name} addendum {addendum}"


@pytest.mark.parametrize("case", list(CASES))
def test_statements_sids_actions_conditions_and_resources_are_the_vendors(stacks, case):
    expected = CASES[case]
    account = account_of(list(CASES).index(case))
    found = policies_by_name(stacks[case])
    assert sorted(found) == sorted(expected.policies)
    for policy_name, statements in expected.policies.items():
        document = found[policy_name][1]
        assert document["Version"] == "2012-10-17"
        assert [st.get("Sid") for st in document["Statement"]] == [e.sid for e in statements], policy_name
        for got, want in zip(document["Statement"], statements):
            where = f"{policy_name}/{want.sid}"
            assert got["Effect"] == "Allow", where
            assert want.actions <= set(as_list(got["Action"])), (where, sorted(want.actions - set(as_list(got["Action"]))))
            assert got.get("Condition") == want.condition, where
            if want.resources is not None:
                assert as_list(got["Resource"]) == [r.format(acct=account) for r in want.resources], where


@pytest.mark.parametrize("case", list(CASES))
def test_policies_and_managed_arns_are_attached_where_the_vendor_says(stacks, case):
    expected = CASES[case]
    stack = stacks[case]
    found = policies_by_name(stack)
    ref = {name: f"${{aws_iam_policy.{address}.arn}}" for name, (address, _) in found.items()}
    user_arns = [a["policy_arn"] for a in resources(stack, "aws_iam_user_policy_attachment").values()]
    role_arns = [a["policy_arn"] for a in resources(stack, "aws_iam_role_policy_attachment").values()]
    assert ("aws_iam_user" in stack["resource"]) == expected.has_user
    assert sorted(user_arns) == sorted([ref[n] for n in expected.attached_to_user] + list(expected.user_managed))
    assert sorted(role_arns) == sorted([ref[n] for n in expected.attached_to_role] + list(expected.role_managed))
    trust = json.loads(resources(stack, "aws_iam_role")["node_role"]["assume_role_policy"])
    assert [(st["Effect"], st["Principal"], st["Action"]) for st in trust["Statement"]] == \
        [("Allow", {"Service": "ec2.amazonaws.com"}, "sts:AssumeRole")]
