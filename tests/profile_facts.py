"""What each vendor asks for, written down as independent expectations (not read from `policy_json/`).

The vendors' published statements (sources named per profile; the copies the profiles were written
from are in the team's shared reference folder), with the Sids this project gives them: for each
statement the actions it must hold, its exact `Condition` (None = none) and, where the vendor or the
README scopes them, its exact resources. Resource templates use {acct}, {role}, {instance_profile},
{bucket} and {secret_scope}. Used by tests/test_profile_facts.py (synthesized stacks) and the LocalStack cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    s("PassNodeRole", "iam:GetRole", "iam:PassRole", resources=("arn:aws:iam::{acct}:role/{role}",)),
    s("GetNodeInstanceProfile", "iam:GetInstanceProfile", resources=("arn:aws:iam::{acct}:instance-profile/{instance_profile}",)),
]
NEXTAI_ADDENDA = [  # in addendum-name order: clone-disk, open-ports, role-creation (replaces the last two)
    s("CloneDiskImages", "ec2:CreateImage", "ec2:CopyImage", "ec2:DeregisterImage", resources=("*",)),
    s("OpenPorts", "ec2:DeleteSecurityGroup", "ec2:ModifyInstanceAttribute", resources=("arn:aws:ec2:*:{acct}:*",)),
    s("CreateAndPassNodeRole", "iam:GetRole", "iam:PassRole", "iam:CreateRole", "iam:AttachRolePolicy", "iam:PutRolePolicy",
      resources=("arn:aws:iam::{acct}:role/{role}",)),
    s("CreateNodeInstanceProfile", "iam:GetInstanceProfile", "iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile",
      resources=("arn:aws:iam::{acct}:instance-profile/{instance_profile}",)),
]

# --- AI Unlimited: Teradata/ai-unlimited deployments/aws/policies @ 07eccd0a -------------------
# ai-unlimited-workspaces.json, ai-unlimited-workspaces-without-iam-role-permissions.json,
# ai-unlimited-engine.json, session-manager.json. The vendor's single all-"*" statement is split by
# purpose; PassRole gets iam:PassedToService = ec2 and the scoping the README documents.
AIU_SHARED = [
    s("Compute", "ec2:RunInstances", "ec2:TerminateInstances", "ec2:CreateLaunchTemplate", "ec2:CreateVpc", "ec2:CreateSubnet",
      "ec2:AssociateAddress", "ec2:DescribeInstances", resources=("*",)),
    s("EngineSecrets", "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:GetSecretValue",
      "secretsmanager:PutSecretValue", "secretsmanager:TagResource", resources=("arn:aws:secretsmanager:us-east-1:{acct}:secret:{secret_scope}",)),
    s("EngineBuckets", "s3:CreateBucket", "s3:DeleteBucket", "s3:PutObject", "s3:GetObject", "s3:DeleteObject"),
    s("EngineStacks", "cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:DescribeStacks",
      "cloudformation:ListStacks", "cloudformation:DescribeStackEvents"),
    s("EngineParameters", "ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter",
      resources=("arn:aws:ssm:us-east-1:{acct}:parameter/*",)),
    s("EngineDns", "route53:GetHostedZone", "route53:ChangeResourceRecordSets", "route53:GetChange"),
]
AIU_WITH_ROLES = [
    s("PassRolesToEngineInstances", "iam:PassRole", condition=PASSED_TO_EC2,
      resources=("arn:aws:iam::{acct}:role/{role}", "arn:aws:iam::{acct}:role/compute-engine-*")),
    s("ManageClusterRoles", "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:PutRolePolicy", "iam:TagRole",
      resources=("arn:aws:iam::{acct}:role/compute-engine-*",)),
    s("ManageClusterInstanceProfiles", "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile",
      "iam:RemoveRoleFromInstanceProfile", resources=("arn:aws:iam::{acct}:instance-profile/compute-engine-*",)),
]
AIU_WITHOUT_ROLES = [
    s("PassNodeRoleToEngineInstances", "iam:PassRole", condition=PASSED_TO_EC2, resources=("arn:aws:iam::{acct}:role/{role}",)),
    s("ReadAndTagNodeRole", "iam:GetRole", "iam:PutRolePolicy", "iam:TagRole", resources=("arn:aws:iam::{acct}:role/{role}",)),
    s("ManageEngineInstanceProfiles", "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile",
      resources=("arn:aws:iam::{acct}:instance-profile/compute-engine-*", "arn:aws:iam::{acct}:instance-profile/{instance_profile}")),
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
                       resources=("arn:aws:iam::{acct}:role/{role}",))
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
      resources=("arn:aws:s3:::{bucket}", "arn:aws:s3:::{bucket}/*")),
]



# The vendors' default names (README, profile pages), for the resource templates.
NEXTAI_NAMES = {"role": "nextai-role", "instance_profile": "nextai-role"}
AIU_NAMES = {"role": "ai-unlimited", "instance_profile": "ai-unlimited",
             "secret_scope": "compute-engine/*"}  # README: .../secret:compute-engine/* without parameters.cluster_name
IGZ_NAMES = {"role": "IguazioDataScienceNode", "instance_profile": "IguazioDataScienceNode"}


@dataclass(frozen=True)
class Case:
    deployment: dict
    policies: dict  # policy name -> [S, ...] in order
    user_managed: tuple[str, ...] = ()
    role_managed: tuple[str, ...] = ()
    has_user: bool = True
    attached_to_user: tuple[str, ...] = ()  # custom policy names attached to the user
    attached_to_role: tuple[str, ...] = ()
    names: dict = field(default_factory=dict)  # {role}, {instance_profile}, {bucket} of the resource templates


CASES: dict[str, Case] = {
    "nextai": Case({"profile": "nextai"}, {"nextai-policy": NEXTAI_BASE + NEXTAI_PASS_ROLE},
                   attached_to_user=("nextai-policy",), attached_to_role=("nextai-policy",), names=NEXTAI_NAMES),
    "nextai-all-addenda": Case(
        {"profile": "nextai", "addenda": ["s3-access", "role-creation", "open-ports", "clone-disk"]},
        {"nextai-policy": NEXTAI_BASE + NEXTAI_ADDENDA}, user_managed=(S3_FULL,), role_managed=(S3_FULL,),
        attached_to_user=("nextai-policy",), attached_to_role=("nextai-policy",), names=NEXTAI_NAMES),
    "ai-unlimited-with-iam-role-permissions": Case(
        {"profile": "ai-unlimited"}, {"ai-unlimited-workspaces": AIU_WITH_ROLES + AIU_SHARED},
        has_user=False, attached_to_role=("ai-unlimited-workspaces",), names=AIU_NAMES),
    "ai-unlimited-with-iam-role-permissions-all-addenda": Case(
        {"profile": "ai-unlimited", "addenda": ["session-manager", "load-balancer"]},
        {"ai-unlimited-workspaces": AIU_WITH_ROLES + AIU_SHARED + AIU_LOAD_BALANCER + AIU_SESSION_MANAGER},
        has_user=False, attached_to_role=("ai-unlimited-workspaces",), names=AIU_NAMES),
    "ai-unlimited-without-iam-role-permissions-all-addenda": Case(
        {"profile": "ai-unlimited", "variant": "without-iam-role-permissions", "addenda": ["session-manager", "load-balancer"]},
        {"ai-unlimited-workspaces": AIU_WITHOUT_ROLES + AIU_SHARED + AIU_LOAD_BALANCER + AIU_SESSION_MANAGER,
         "ai-unlimited-engine": [s("ReadEngineSecrets", "secretsmanager:GetSecretValue",
                                   resources=("arn:aws:secretsmanager:us-east-1:{acct}:secret:{secret_scope}",))]},
        has_user=False, attached_to_role=("ai-unlimited-workspaces", "ai-unlimited-engine"), names=AIU_NAMES),
    "iguazio-vanilla": Case({"profile": "iguazio"}, {"ManageIguazioSystems": IGZ_VANILLA, "AssignPrivateIPAddresses": IGZ_NODE},
                            attached_to_user=("ManageIguazioSystems",), attached_to_role=("AssignPrivateIPAddresses",), names=IGZ_NAMES),
    "iguazio-eks": Case({"profile": "iguazio", "variant": "eks"},
                        {"ManageIguazioSystems": IGZ_EKS, "AssignPrivateIPAddresses": IGZ_NODE},
                        attached_to_user=("ManageIguazioSystems",), attached_to_role=("AssignPrivateIPAddresses",), names=IGZ_NAMES),
    "anyscale": Case({"profile": "anyscale", "parameters": {"cloud_id": "cld_abc123", "bucket": "anyscale-data"}},
                     {"cld_abc123-cluster_node_s3_access": ANYSCALE}, has_user=False,
                     attached_to_role=("cld_abc123-cluster_node_s3_access",),
                     names={"role": "cld_abc123-cluster_node_role", "instance_profile": "cld_abc123-cluster_node_role", "bucket": "anyscale-data"}),
}


def as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def assert_statements(statements: list[dict], expected: list[S], fmt: dict[str, str], where: str) -> None:
    """Statements in order with the expected Sids, actions, conditions and resources."""
    assert [st.get("Sid") for st in statements] == [e.sid for e in expected], where
    for got, want in zip(statements, expected):
        label = f"{where}/{want.sid}"
        assert got["Effect"] == "Allow", label
        missing = want.actions - set(as_list(got["Action"]))
        assert not missing, (label, sorted(missing))
        assert got.get("Condition") == want.condition, label
        if want.resources is not None:
            assert as_list(got["Resource"]) == [r.format(**fmt) for r in want.resources], label
