"""What each vendor asks for, written down as independent expectations (not read from `policy_json/`).

The vendors' published statements (sources named per profile; the copies the profiles were written
from are in the team's shared reference folder), with the Sids this project gives them: for each
statement the actions it must hold, its exact `Condition` (None = none) and, where the vendor or the
README scopes them, its exact resources. Resource templates use {acct}, {role}, {instance_profile},
{bucket}, {secret_scope}, {prefix} (AI Unlimited's cluster_role_prefix) and {zone} (its hosted_zone_id). Used by tests/profiles/test_facts.py (synthesized stacks) and the LocalStack cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASSED_TO_EC2 = {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
S3_FULL = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
EC2_FULL = "arn:aws:iam::aws:policy/AmazonEC2FullAccess"
ECR_READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"


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
# The page's statement 7 (iam:GetRole + iam:PassRole on the role) is split so PassRole can carry
# iam:PassedToService = ec2 (the launcher passes the role only to RunInstances: skypilot @ 61fc313f
# sky/provision/aws/config.py L74-76; policy_json/nextai/SOURCES.md).
NEXTAI_PASS_NODE_ROLE = s("PassNodeRole", "iam:PassRole", condition=PASSED_TO_EC2, resources=("arn:aws:iam::{acct}:role/{role}",))
NEXTAI_PASS_ROLE = [
    s("GetNodeRole", "iam:GetRole", resources=("arn:aws:iam::{acct}:role/{role}",)),
    NEXTAI_PASS_NODE_ROLE,
    s("GetNodeInstanceProfile", "iam:GetInstanceProfile", resources=("arn:aws:iam::{acct}:instance-profile/{instance_profile}",)),
]
# In addendum-name order: clone-disk, open-ports, role-creation (replaces the read-only role statements
# GetNodeRole and GetNodeInstanceProfile; PassNodeRole stays), s3-object-access.
NEXTAI_ADDENDA = [
    s("CloneDiskImages", "ec2:CreateImage", "ec2:CopyImage", "ec2:DeregisterImage", resources=("*",)),
    s("OpenPorts", "ec2:DeleteSecurityGroup", "ec2:ModifyInstanceAttribute", resources=("arn:aws:ec2:*:{acct}:*",)),
    # role-creation: config.py L158-226 also calls iam:PutRolePolicy (L222) and attaches exactly AmazonEC2FullAccess and
    # AmazonS3FullAccess (L189-200), so AttachRolePolicy is limited to those two by iam:PolicyARN (nextai/SOURCES.md).
    s("CreateNodeRole", "iam:GetRole", "iam:CreateRole", "iam:PutRolePolicy", resources=("arn:aws:iam::{acct}:role/{role}",)),
    s("AttachNodeRolePolicies", "iam:AttachRolePolicy", condition={"ArnEquals": {"iam:PolicyARN": [EC2_FULL, S3_FULL]}},
      resources=("arn:aws:iam::{acct}:role/{role}",)),
    s("CreateNodeInstanceProfile", "iam:GetInstanceProfile", "iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile",
      resources=("arn:aws:iam::{acct}:instance-profile/{instance_profile}",)),
    # s3-object-access: the page's "Optional: If you would like to have your users access S3 buckets", the newer,
    # narrower statements (objects read/write/delete, list buckets; no bucket creation, deletion or policy).
    s("S3ObjectReadWrite", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", resources=("arn:aws:s3:::*/*",)),
    s("S3ListBuckets", "s3:ListBucket", "s3:GetBucketLocation", resources=("arn:aws:s3:::*",)),
    s("S3ListAllMyBuckets", "s3:ListAllMyBuckets", resources=("*",)),
]
NEXTAI_S3_OBJECT_SIDS = ("S3ObjectReadWrite", "S3ListBuckets", "S3ListAllMyBuckets")

# --- AI Unlimited: Teradata/ai-unlimited deployments/aws/policies @ 07eccd0a -------------------
# ai-unlimited-workspaces.json, ai-unlimited-workspaces-without-iam-role-permissions.json,
# ai-unlimited-engine.json, session-manager.json. The vendor's single all-"*" statement is split by
# purpose; PassRole gets iam:PassedToService = ec2 and the scoping the README documents. No vendor file
# names the cluster roles (git grep finds compute-engine only in secret names), so their prefix is the
# required parameter cluster_role_prefix ({prefix}); ai-unlimited/SOURCES.md, "compute-engine- prefix".
AIU_SHARED = [
    s("Compute", "ec2:RunInstances", "ec2:TerminateInstances", "ec2:CreateLaunchTemplate", "ec2:CreateVpc", "ec2:CreateSubnet",
      "ec2:AssociateAddress", "ec2:DescribeInstances", resources=("*",)),
    s("EngineSecrets", "secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:GetSecretValue",
      "secretsmanager:PutSecretValue", "secretsmanager:TagResource",
      # the server's scope is always compute-engine/* (ai-unlimited-engine.json L7-9, README L355-392); cluster_name
      # narrows only the per-cluster engine policy (README L374-381; SOURCES.md "cluster_name on the server's EngineSecrets")
      resources=("arn:aws:secretsmanager:us-east-1:{acct}:secret:compute-engine/*",)),
    s("EngineBuckets", "s3:CreateBucket", "s3:DeleteBucket", "s3:PutObject", "s3:GetObject", "s3:DeleteObject"),
    s("EngineStacks", "cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:DescribeStacks",
      "cloudformation:ListStacks", "cloudformation:DescribeStackEvents"),
    s("EngineParameters", "ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter",
      resources=("arn:aws:ssm:us-east-1:{acct}:parameter/*",)),
    # public SSM parameters the vendor's template resolves (ai-unlimited-with-nlb.yaml L50-52); no account in their ARN
    s("PublicParameters", "ssm:GetParameter", "ssm:GetParameters", resources=("arn:aws:ssm:us-east-1::parameter/aws/service/*",)),
    s("EngineDns", "route53:GetHostedZone", "route53:ChangeResourceRecordSets", "route53:GetChange"),
]
AIU_WITH_ROLES = [
    s("PassRolesToEngineInstances", "iam:PassRole", condition=PASSED_TO_EC2,
      resources=("arn:aws:iam::{acct}:role/{role}", "arn:aws:iam::{acct}:role/{prefix}*")),
    s("ManageClusterRoles", "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:PutRolePolicy", "iam:TagRole",
      resources=("arn:aws:iam::{acct}:role/{prefix}*",)),
    # ai-unlimited-workspaces.json L14-18 (GetRole, GetRolePolicy, List* on "*"), narrowed to its own role (SOURCES.md)
    s("ReadOwnRole", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
      "iam:ListRolePolicies", resources=("arn:aws:iam::{acct}:role/{role}",)),
    s("ManageClusterInstanceProfiles", "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile",
      "iam:RemoveRoleFromInstanceProfile", resources=("arn:aws:iam::{acct}:instance-profile/{prefix}*",)),
]
# Without role permissions, an admin pre-creates the role "to pass to the Regulus clusters" (README L228-231,
# L358-359); the vendor's IAM actions stay (workspaces-without L6-19) but target that separate engine role and its
# instance profile, never the server's own role (issue #12; ai-unlimited/SOURCES.md "Engine role").
AIU_WITHOUT_ROLES = [
    s("PassEngineRoleToEngineInstances", "iam:PassRole", condition=PASSED_TO_EC2, resources=("arn:aws:iam::{acct}:role/{engine_role}",)),
    s("ReadAndTagEngineRole", "iam:GetRole", "iam:PutRolePolicy", "iam:TagRole", resources=("arn:aws:iam::{acct}:role/{engine_role}",)),
    s("ManageEngineInstanceProfiles", "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:AddRoleToInstanceProfile",
      resources=("arn:aws:iam::{acct}:instance-profile/{prefix}*", "arn:aws:iam::{acct}:instance-profile/{engine_instance_profile}")),
]
AIU_SESSION_MANAGER = [  # session-manager.json: its three statements, all on "*"
    s("SessionManagerAgent", "ssm:UpdateInstanceInformation", "ssm:ListAssociations", "ssm:PutInventory", resources=("*",)),
    s("SessionManagerMessages", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel", resources=("*",)),
    s("SessionManagerEc2Messages", "ec2messages:AcknowledgeMessage", "ec2messages:GetMessages", "ec2messages:SendReply", resources=("*",)),
]
# The ACM certificate and Route 53 record set of the vendor's ALB template (ai-unlimited-with-alb.yaml @ 3f5784b5
# L110-112 HostedZoneId, L1182-1189 ACMCertificate with DNS validation, L1191-1199 LoadBalancerDNS) are CloudFormation
# resources created with the stack creator's credentials: a separate, unattached deployer policy <role>-deployer
# scoped to hosted_zone_id ({zone}), not statements on the instance role (ai-unlimited/SOURCES.md, "Load balancer").
AIU_DEPLOYER = [
    s("RequestCertificate", "acm:RequestCertificate", condition={"StringEquals": {"acm:ValidationMethod": "DNS"}}, resources=("*",)),
    s("ManageCertificate", "acm:DescribeCertificate", "acm:DeleteCertificate", resources=("arn:aws:acm:us-east-1:{acct}:certificate/*",)),
    s("HostedZoneRecords", "route53:GetHostedZone", "route53:ChangeResourceRecordSets", resources=("arn:aws:route53:::hostedzone/{zone}",)),
    s("RecordChanges", "route53:GetChange", resources=("arn:aws:route53:::change/*",)),
]

# --- Iguazio: iguazio doc site static/downloads/install/cloud/aws/roles/ -----------------------
# provazio.json (vanilla), provazio-eks.json (eks, $AWS_ACCOUNT_ID filled), assignipaddress.json
# (node role; the vendor's single statement split so only the describe calls stay on "*").
# The vendor's iam:PassRole on arn:aws:iam::*:role/... is narrowed to this account's node role.
IGZ_PASS_NODE_ROLE = s("PassNodeRole", "iam:PassRole", condition=PASSED_TO_EC2,
                       resources=("arn:aws:iam::{acct}:role/{role}",))
# EKS: the vendor passes IguazioDataScienceNode with no condition (provazio-eks.json L133-134) and eks:CreateNodegroup
# passes a node group's role to eks.amazonaws.com: exactly EC2 and EKS (iguazio/SOURCES.md, "Node role to EKS").
IGZ_EKS_PASS_NODE_ROLE = s("PassNodeRole", "iam:PassRole",
                           condition={"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "eks.amazonaws.com"]}},
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
    # split out of the vendor's eksctl statement (L84): iam:ListInstanceProfiles has no resource type, so only "*"
    # matches it (Service Authorization Reference; iguazio/SOURCES.md, "ListInstanceProfiles")
    s("ListInstanceProfiles", "iam:ListInstanceProfiles", resources=("*",)),
    s("ReadRoles", "iam:GetRole", resources=("arn:aws:iam::{acct}:role/*",)),
    s("ServiceLinkedRolesForEks", "iam:CreateServiceLinkedRole", resources=("*",), condition={"StringEquals": {"iam:AWSServiceName": [
        "eks.amazonaws.com", "eks-nodegroup.amazonaws.com", "eks-fargate.amazonaws.com"]}}),
    IGZ_SERVICE_LINKED,
    IGZ_EKS_PASS_NODE_ROLE,
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
# access-role addendum: the access role's IAM statement (iam-policies-data.tf L1-11, L58-71: iam:PassRole and
# iam:GetInstanceProfile on the cluster node role and its instance profile), as a policy <role>-access-role-pass
# attached by name to the existing access role (anyscale/SOURCES.md, "Access role").
ANYSCALE_ACCESS_ROLE = [
    s("PassNodeRoleToEc2", "iam:PassRole", condition=PASSED_TO_EC2, resources=("arn:aws:iam::{acct}:role/{role}",)),
    s("GetNodeInstanceProfile", "iam:GetInstanceProfile", resources=("arn:aws:iam::{acct}:instance-profile/{instance_profile}",)),
]



# The vendors' default names (README, profile pages), for the resource templates.
NEXTAI_NAMES = {"role": "nextai-role", "instance_profile": "nextai-role"}
AIU_PARAMETERS = {"cluster_role_prefix": "aiu-cluster-"}  # required, no default: no vendor source names a prefix
AIU_NAMES = {"role": "ai-unlimited", "instance_profile": "ai-unlimited", "prefix": "aiu-cluster-",
             "engine_role": "ai-unlimited-engine", "engine_instance_profile": "ai-unlimited-engine",
             "secret_scope": "compute-engine/*"}  # README: .../secret:compute-engine/* without parameters.cluster_name
AIU_ZONE = "Z0123456789ABCDEFGHIJ"  # parameters.hosted_zone_id, required by the load-balancer addendum
# Iguazio: the node policy is <role_name>-AssignPrivateIPAddresses (the vendor's fixed name clashes for a second
# deployment in one account; iguazio/SOURCES.md "Node policy name"); the installer asks for the user's access key
# (aws-installation-guide.md, seed 002 "Save the User Credential"), so one is created by default.
IGZ_NAMES = {"role": "IguazioDataScienceNode", "instance_profile": "IguazioDataScienceNode"}
IGZ_NODE_POLICY = "IguazioDataScienceNode-AssignPrivateIPAddresses"
# On real AWS an access key without pgp_key needs the explicit plaintext-in-state consent.
IGZ_KEY_CONSENT = {"allow_plaintext_secret_in_state": True}
# Anyscale: the default role is anyscale-cluster-node-<cloud_id>, after the module's prefix (main.tf L139): the
# vendor's <cloud_id>-cluster_node_role is the role a Managed-Resources cloud already has (anyscale/SOURCES.md).
ANYSCALE_NAMES = {"role": "anyscale-cluster-node-cld_abc123", "instance_profile": "anyscale-cluster-node-cld_abc123",
                  "bucket": "anyscale-data"}


@dataclass(frozen=True)
class Case:
    deployment: dict
    policies: dict  # policy name -> [S, ...] in order
    user_managed: tuple[str, ...] = ()
    role_managed: tuple[str, ...] = ()
    has_user: bool = True
    has_role: bool = True  # the stack creates the node role (not with role-creation: the launcher does)
    access_key: bool = False
    attached_to_user: tuple[str, ...] = ()  # custom policy names attached to the user
    attached_to_role: tuple[str, ...] = ()
    attached_to_existing_roles: dict = field(default_factory=dict)  # role the stack does not own -> policy names
    names: dict = field(default_factory=dict)  # {role}, {instance_profile}, {bucket}, ... of the resource templates
    # A variant's own roles: principal id -> (role name, instance profile name, custom policy names attached to it).
    own_roles: dict = field(default_factory=dict)


NEXTAI_ALL_ADDENDA = ["s3-access", "s3-object-access", "role-creation", "open-ports", "clone-disk"]

CASES: dict[str, Case] = {
    "nextai": Case({"profile": "nextai"}, {"nextai-policy": NEXTAI_BASE + NEXTAI_PASS_ROLE},
                   attached_to_user=("nextai-policy",), attached_to_role=("nextai-policy",), names=NEXTAI_NAMES),
    # s3-access gives S3 to users only (seed 000: "have your users access S3 buckets"); the node role's
    # AmazonS3FullAccess is the separate s3-access-node-role (config.py L189-192); nextai/SOURCES.md.
    "nextai-s3-access": Case({"profile": "nextai", "addenda": ["s3-access"]}, {"nextai-policy": NEXTAI_BASE + NEXTAI_PASS_ROLE},
                             user_managed=(S3_FULL,), attached_to_user=("nextai-policy",), attached_to_role=("nextai-policy",),
                             names=NEXTAI_NAMES),
    "nextai-s3-access-node-role": Case({"profile": "nextai", "addenda": ["s3-access-node-role"]},
                                       {"nextai-policy": NEXTAI_BASE + NEXTAI_PASS_ROLE}, role_managed=(S3_FULL,),
                                       attached_to_user=("nextai-policy",), attached_to_role=("nextai-policy",), names=NEXTAI_NAMES),
    # role-creation: the launcher creates the node role, so the stack must not (create_node_role = false), and
    # with no node role there is nothing for s3-access-node-role to attach to.
    "nextai-all-addenda": Case(
        {"profile": "nextai", "addenda": NEXTAI_ALL_ADDENDA, "create_node_role": False},
        {"nextai-policy": NEXTAI_BASE + [NEXTAI_PASS_NODE_ROLE] + NEXTAI_ADDENDA}, user_managed=(S3_FULL,),
        attached_to_user=("nextai-policy",), has_role=False, names=NEXTAI_NAMES),
    "ai-unlimited-with-iam-role-permissions": Case(
        {"profile": "ai-unlimited", "parameters": AIU_PARAMETERS}, {"ai-unlimited-workspaces": AIU_WITH_ROLES + AIU_SHARED},
        has_user=False, attached_to_role=("ai-unlimited-workspaces",), names=AIU_NAMES),
    "ai-unlimited-with-iam-role-permissions-all-addenda": Case(
        {"profile": "ai-unlimited", "addenda": ["session-manager", "load-balancer"],
         "parameters": {**AIU_PARAMETERS, "hosted_zone_id": AIU_ZONE}},
        {"ai-unlimited-workspaces": AIU_WITH_ROLES + AIU_SHARED + AIU_SESSION_MANAGER, "ai-unlimited-deployer": AIU_DEPLOYER},
        has_user=False, attached_to_role=("ai-unlimited-workspaces",), names={**AIU_NAMES, "zone": AIU_ZONE}),
    "ai-unlimited-without-iam-role-permissions-all-addenda": Case(
        {"profile": "ai-unlimited", "variant": "without-iam-role-permissions", "addenda": ["session-manager", "load-balancer"],
         "parameters": {**AIU_PARAMETERS, "hosted_zone_id": AIU_ZONE}},
        {"ai-unlimited-workspaces": AIU_WITHOUT_ROLES + AIU_SHARED + AIU_SESSION_MANAGER, "ai-unlimited-deployer": AIU_DEPLOYER,
         "ai-unlimited-engine": [s("ReadEngineSecrets", "secretsmanager:GetSecretValue",
                                   resources=("arn:aws:secretsmanager:us-east-1:{acct}:secret:{secret_scope}",))]},
        has_user=False, attached_to_role=("ai-unlimited-workspaces",), names={**AIU_NAMES, "zone": AIU_ZONE},
        own_roles={"engine_role": ("ai-unlimited-engine", "ai-unlimited-engine", ("ai-unlimited-engine",))}),
    "iguazio-vanilla": Case({"profile": "iguazio", **IGZ_KEY_CONSENT}, {"ManageIguazioSystems": IGZ_VANILLA, IGZ_NODE_POLICY: IGZ_NODE},
                            access_key=True, attached_to_user=("ManageIguazioSystems",), attached_to_role=(IGZ_NODE_POLICY,),
                            names=IGZ_NAMES),
    "iguazio-eks": Case({"profile": "iguazio", "variant": "eks", **IGZ_KEY_CONSENT},
                        {"ManageIguazioSystems": IGZ_EKS, IGZ_NODE_POLICY: IGZ_NODE},
                        access_key=True, attached_to_user=("ManageIguazioSystems",), attached_to_role=(IGZ_NODE_POLICY,), names=IGZ_NAMES),
    "anyscale": Case({"profile": "anyscale", "parameters": {"cloud_id": "cld_abc123", "bucket": "anyscale-data"}},
                     {"cld_abc123-cluster_node_s3_access": ANYSCALE}, has_user=False,
                     attached_to_role=("cld_abc123-cluster_node_s3_access",), names=ANYSCALE_NAMES),
    # ecr-read-only: main.tf L229-234 attaches AmazonEC2ContainerRegistryReadOnly to the node role by default.
    "anyscale-all-addenda": Case(
        {"profile": "anyscale", "addenda": ["ecr-read-only", "access-role"],
         "parameters": {"cloud_id": "cld_abc123", "bucket": "anyscale-data", "access_role_name": "cld_abc123-anyscale-access"}},
        {"cld_abc123-cluster_node_s3_access": ANYSCALE, "anyscale-cluster-node-cld_abc123-access-role-pass": ANYSCALE_ACCESS_ROLE},
        has_user=False, role_managed=(ECR_READ_ONLY,), attached_to_role=("cld_abc123-cluster_node_s3_access",),
        attached_to_existing_roles={"cld_abc123-anyscale-access": ("anyscale-cluster-node-cld_abc123-access-role-pass",)},
        names=ANYSCALE_NAMES),
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
