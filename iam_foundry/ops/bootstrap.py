"""The S3 state bucket, created and hardened the way a careful team would.

Versioning on, default encryption (SSE-S3, or SSE-KMS with a key you name), public access blocked,
a bucket policy that denies any request not made over TLS and every request from the users and roles
the config creates, and an ownership tag. Idempotent: a second run changes nothing. A bucket that
exists without the ownership tag is refused unless the caller asks to adopt it.

Why deny the project's own principals: state holds every output, an access key's secret in plain
text unless pgp_key is set, and the ARNs of everything; yet some profiles grant broad S3 access
(NextAI's s3-access addendum attaches AmazonS3FullAccess; the AI Unlimited role manages buckets).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from botocore.exceptions import ClientError

from iam_foundry.access.principals import account_of, as_stored, principal_arn, principals_of
from iam_foundry.config.model import FoundryConfig
from iam_foundry.errors import FoundryError, Problem
from iam_foundry.plan import allows_create_role
from iam_foundry.policy.documents import build_documents
from iam_foundry.policy.elements import as_list

OWNER_TAG = {"Key": "ManagedBy", "Value": "iam-foundry"}


def deny_insecure_transport(bucket: str, partition: str = "aws") -> dict[str, Any]:
    arn = f"arn:{partition}:s3:::{bucket}"
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]}


def created_principal_arns(config: FoundryConfig) -> list[str]:
    """aws:PrincipalArn patterns of every user and role the config's deployments create, and of the
    roles those principals may create themselves (AI Unlimited's cluster roles under its name prefix):
    a role's sessions carry the role's ARN there. Read from each deployment's plan, so a variant's own
    roles count too. An account not given in the config is matched with '*'. A CreateRole on a bare
    '*' (no name prefix) is left out: denying every role of the account would lock out its admins."""
    arns: set[str] = set()
    for deployment in config.deployments:
        documents = build_documents(deployment)
        stand_in = f":iam::{account_of(documents)}:"
        account = f":iam::{deployment.account_id or '*'}:"
        arns |= {principal_arn(documents, principal).replace(stand_in, account) for principal in principals_of(documents)}
        for policy in documents.policies:
            for part in policy.parts:
                for statement in part["Statement"]:
                    if allows_create_role(statement):
                        resources = as_stored(statement.get("Resource", []), account_of(documents))
                        arns |= {r.replace(stand_in, account) for r in as_list(resources)
                                 if ":role/" in r and not r.endswith(":role/*")}
    return sorted(arns)


def state_bucket_policy(bucket: str, partition: str = "aws", denied_principals: Sequence[str] = ()) -> dict[str, Any]:
    """TLS only, and nothing at all for the principals the project creates.

    The principals are matched with an aws:PrincipalArn condition rather than listed as Principal:
    S3 refuses a Principal ARN that does not exist yet (bootstrap runs before the first apply), and
    a listed principal is pinned to its unique id, so a re-created user would slip through."""
    policy = deny_insecure_transport(bucket, partition)
    if denied_principals:
        arn = f"arn:{partition}:s3:::{bucket}"
        policy["Statement"].append({
            "Sid": DENY_SID, "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"], "Condition": {"ArnLike": {"aws:PrincipalArn": list(denied_principals)}},
        })
    return policy


DENY_SID = "DenyPrincipalsIamFoundryCreates"


def denied_so_far(s3, bucket: str) -> list[str]:
    """The principals the bucket policy already denies (our statement only): several configs may keep
    their state in one bucket, and each run must add its principals, never drop another config's."""
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as err:
        if err.response["Error"]["Code"] in ("NoSuchBucketPolicy", "NoSuchBucket", "404"):
            return []
        raise
    for statement in policy.get("Statement", []):
        if statement.get("Sid") == DENY_SID:
            arns = statement.get("Condition", {}).get("ArnLike", {}).get("aws:PrincipalArn", [])
            return [arns] if isinstance(arns, str) else list(arns)
    return []


def _tags(s3, bucket: str) -> list[dict[str, str]]:
    try:
        return s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
    except ClientError as err:
        if err.response["Error"]["Code"] in ("NoSuchTagSet", "NoSuchTagSetError"):
            return []
        raise


def bootstrap_state_bucket(s3, bucket: str, region: str, kms_key_id: str | None = None, adopt: bool = False,
                           partition: str = "aws", denied_principals: Sequence[str] = ()) -> list[str]:
    """Create (if missing) and harden the state bucket; returns what was done, for the log.

    denied_principals: created_principal_arns(config); added to those the bucket policy already denies."""
    done: list[str] = []
    try:
        s3.head_bucket(Bucket=bucket)
        exists = True
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code in ("404", "NoSuchBucket", "NotFound"):
            exists = False
        elif code in ("403", "AccessDenied"):
            raise FoundryError(Problem(f"backend.bucket '{bucket}'", "exists but belongs to someone else (access denied)",
                                       "choose another bucket name")) from None
        else:
            raise
    if not exists:
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **kwargs)
        done.append("created")
    tags = _tags(s3, bucket)
    if OWNER_TAG not in tags:
        if exists and not adopt:
            raise FoundryError(Problem(f"backend.bucket '{bucket}'", "exists and was not created by iam-foundry",
                                       "pass --adopt to harden it and use it for state, or choose another bucket"))
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [t for t in tags if t["Key"] != OWNER_TAG["Key"]] + [OWNER_TAG]})
        done.append("tagged" if not exists else "adopted")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    rule: dict[str, Any] = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_id} if kms_key_id else {"SSEAlgorithm": "AES256"}
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": rule, "BucketKeyEnabled": bool(kms_key_id)}]})
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    # A principal denied by an earlier run (another config sharing the bucket, or a deployment since
    # removed) stays denied: a stale entry names nobody, a dropped one would open the state to it.
    kept = [arn for arn in denied_so_far(s3, bucket) if arn not in denied_principals]
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(state_bucket_policy(bucket, partition, sorted({*denied_principals, *kept}))))
    denied = f", denied to the {len(denied_principals)} users/roles the config creates" if denied_principals else ""
    if kept:
        denied += f" and the {len(kept)} an earlier run denied"
    done.append(f"hardened (versioning, encryption, public access block, TLS-only policy{denied})")
    return done
