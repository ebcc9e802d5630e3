"""The evaluator against the examples in AWS's documentation of policy evaluation.

Each row names the documentation page its policy comes from (IAM User Guide):
  [logic]      reference_policies_evaluation-logic.html (+ ..._policy-eval-denyallow.html)
  [boundary]   access_policies_boundaries.html
  [operators]  reference_policies_elements_condition_operators.html
  [multi]      reference_policies_condition-single-vs-multi-valued-context-keys.html
  [variables]  reference_policies_variables.html
  [action]     reference_policies_elements_action.html / ..._notaction.html
  [resource]   reference_policies_elements_resource.html / ..._notresource.html
  [examples]   reference_policies_examples_*.html
"""

from __future__ import annotations

import pytest

from iam_foundry.access.evaluate import Decision, PolicyDocument, Request, StatementRef, evaluate

ACCOUNT = "123456789012"


def policy(*statements: dict, name: str = "p") -> PolicyDocument:
    return PolicyDocument(name, {"Version": "2012-10-17", "Statement": list(statements)}, source=f"{name}.json")


def allow(action, resource="*", sid="", **extra) -> dict:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource, **extra}
    return {"Sid": sid, **statement} if sid else statement


def deny(action, resource="*", sid="", **extra) -> dict:
    statement = {"Effect": "Deny", "Action": action, "Resource": resource, **extra}
    return {"Sid": sid, **statement} if sid else statement


BUCKET = "arn:aws:s3:::amzn-s3-demo-bucket"
HOME = allow("s3:*", [f"{BUCKET}/home/${{aws:username}}", f"{BUCKET}/home/${{aws:username}}/*"], sid="OwnHome")
REGION_DENY = {"Sid": "DenyAllOutsideRequestedRegions", "Effect": "Deny",
               "NotAction": ["cloudfront:*", "iam:*", "route53:*", "support:*"], "Resource": "*",
               "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]}}}
TAG_KEYS_ALL = allow("ec2:CreateTags", Condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}})
TAG_KEYS_ANY = allow("ec2:CreateTags", Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}})
INSTANCE_TYPES = allow("ec2:RunInstances", Condition={"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}})

# (id, identity statements, boundary statements or None, request, allowed, reason starts with)
CASES = [
    # [logic] default deny, allow, explicit deny over allow
    ("default-deny", [], None, Request("s3:GetObject", f"{BUCKET}/a"), False, "no statement allows"),
    ("allow", [allow("s3:GetObject", f"{BUCKET}/*", sid="Read")], None, Request("s3:GetObject", f"{BUCKET}/a"), True, "allowed by p/Read"),
    ("deny-beats-allow", [allow("s3:*", sid="All"), deny("s3:DeleteObject", f"{BUCKET}/*", sid="NoDelete")], None,
     Request("s3:DeleteObject", f"{BUCKET}/a"), False, "explicitly denied by p/NoDelete"),
    ("deny-elsewhere-allows", [allow("s3:*", sid="All"), deny("s3:DeleteObject", f"{BUCKET}/*", sid="NoDelete")], None,
     Request("s3:GetObject", f"{BUCKET}/a"), True, "allowed by p/All"),
    # [boundary] ShirleyRodriguez: identity allows s3, cloudwatch, ec2, iam; boundary s3, cloudwatch, ec2
    ("boundary-intersection-in", [allow(["s3:*", "cloudwatch:*", "ec2:*"]), allow("iam:*", sid="Iam")],
     [allow(["s3:*", "cloudwatch:*", "ec2:*"], sid="Boundary")], Request("ec2:DescribeInstances"), True, "allowed by"),
    ("boundary-intersection-out", [allow(["s3:*", "cloudwatch:*", "ec2:*"]), allow("iam:*", sid="Iam")],
     [allow(["s3:*", "cloudwatch:*", "ec2:*"], sid="Boundary")], Request("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/x"),
     False, "outside permissions boundary"),
    ("boundary-alone-grants-nothing", [], [allow("*", sid="Boundary")], Request("s3:ListAllMyBuckets"), False, "no statement allows"),
    ("boundary-deny-wins", [allow("*")], [allow("*"), deny("iam:*", sid="NoIam")], Request("iam:ListUsers"), False, "explicitly denied"),
    # [examples] deny outside requested regions (NotAction + StringNotEquals)
    ("region-deny-other-region", [allow("ec2:*"), REGION_DENY], None,
     Request("ec2:RunInstances", context={"aws:RequestedRegion": "us-east-1"}), False, "explicitly denied"),
    ("region-deny-allowed-region", [allow("ec2:*"), REGION_DENY], None,
     Request("ec2:RunInstances", context={"aws:RequestedRegion": "eu-west-1"}), True, "allowed by"),
    ("region-deny-notaction-exempt", [allow("iam:*"), REGION_DENY], None,
     Request("iam:ListUsers", context={"aws:RequestedRegion": "us-east-1"}), True, "allowed by"),
    # [action] case-insensitive actions, wildcards; NotAction with Allow
    ("action-case-insensitive", [allow("EC2:runinstances")], None, Request("ec2:RunInstances"), True, "allowed by"),
    ("action-wildcard-middle", [allow("iam:*AccessKey*")], None, Request("iam:ListAccessKeys"), True, "allowed by"),
    ("action-wildcard-no-match", [allow("iam:*AccessKey*")], None, Request("iam:CreateUser"), False, "no statement allows"),
    ("action-question-mark", [allow("s3:?etObject")], None, Request("s3:GetObject"), True, "allowed by"),
    ("notaction-allow-all-but-iam", [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], None, Request("iam:CreateUser"), False,
     "no statement allows"),
    ("notaction-allow-others", [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], None, Request("s3:GetObject", f"{BUCKET}/a"),
     True, "allowed by"),
    # [resource] ARNs are case-sensitive; wildcards; NotResource
    ("arn-case-sensitive", [allow("s3:GetObject", f"{BUCKET}/Reports/*")], None, Request("s3:GetObject", f"{BUCKET}/reports/q1"), False,
     "no statement allows"),
    ("arn-wildcard-path", [allow("s3:GetObject", f"{BUCKET}/*")], None, Request("s3:GetObject", f"{BUCKET}/a/b/c"), True, "allowed by"),
    ("arn-wildcard-segment", [allow("ec2:StopInstances", f"arn:aws:ec2:*:{ACCOUNT}:instance/*")], None,
     Request("ec2:StopInstances", f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-0abc"), True, "allowed by"),
    ("arn-wildcard-stays-in-segment", [allow("ec2:StopInstances", "arn:aws:ec2:*:instance/*")], None,
     Request("ec2:StopInstances", f"arn:aws:ec2:eu-west-1:{ACCOUNT}:instance/i-0abc"), False, "no statement allows"),
    ("arn-other-account", [allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/app-*")], None,
     Request("iam:PassRole", "arn:aws:iam::210987654321:role/app-x"), False, "no statement allows"),
    ("resource-star-request", [allow("ec2:DescribeInstances", f"arn:aws:ec2:*:{ACCOUNT}:instance/*")], None,
     Request("ec2:DescribeInstances", "*"), False, "no statement allows"),
    ("notresource-deny-all-but-bucket", [allow("s3:*"), {"Sid": "OnlyThisBucket", "Effect": "Deny", "Action": "s3:*",
                                                         "NotResource": [BUCKET, f"{BUCKET}/*"]}], None,
     Request("s3:GetObject", "arn:aws:s3:::other/x"), False, "explicitly denied by p/OnlyThisBucket"),
    ("notresource-bucket-allowed", [allow("s3:*"), {"Sid": "OnlyThisBucket", "Effect": "Deny", "Action": "s3:*",
                                                    "NotResource": [BUCKET, f"{BUCKET}/*"]}], None,
     Request("s3:GetObject", f"{BUCKET}/x"), True, "allowed by"),
    # [variables] ${aws:username} in Resource; missing variable matches nothing; default value
    ("variable-own-home", [HOME], None, Request("s3:PutObject", f"{BUCKET}/home/Bob/file", {"aws:username": "Bob"}), True, "allowed by p/OwnHome"),
    ("variable-other-home", [HOME], None, Request("s3:PutObject", f"{BUCKET}/home/Alice/file", {"aws:username": "Bob"}), False,
     "no statement allows"),
    ("variable-missing", [HOME], None, Request("s3:PutObject", f"{BUCKET}/home/Bob/file"), False, "no statement allows"),
    ("variable-value-is-literal", [HOME], None, Request("s3:PutObject", f"{BUCKET}/home/Bob/file", {"aws:username": "*"}), False,
     "no statement allows"),
    ("variable-default", [allow("s3:GetObject", f"{BUCKET}/${{aws:PrincipalTag/team, 'company-wide'}}/*")], None,
     Request("s3:GetObject", f"{BUCKET}/company-wide/x"), True, "allowed by"),
    ("variable-in-condition", [allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": ["", "home/", "home/${aws:username}/"]}})],
     None, Request("s3:ListBucket", BUCKET, {"aws:username": "Bob", "s3:prefix": "home/Bob/"}), True, "allowed by"),
    ("variable-special-chars", [allow("s3:GetObject", f"{BUCKET}/literal-${{*}}")], None, Request("s3:GetObject", f"{BUCKET}/literal-*"), True,
     "allowed by"),
    # [operators] String
    ("string-equals", [allow("iam:*", Condition={"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}})], None,
     Request("iam:ListUsers", context={"aws:PrincipalTag/job-category": "iamuser-admin"}), True, "allowed by"),
    ("string-equals-case", [allow("iam:*", Condition={"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}})], None,
     Request("iam:ListUsers", context={"aws:PrincipalTag/job-category": "IAMuser-admin"}), False, "no statement allows"),
    ("string-equals-ignore-case", [allow("iam:*", Condition={"StringEqualsIgnoreCase": {"aws:PrincipalTag/job-category": "iamuser-admin"}})],
     None, Request("iam:ListUsers", context={"aws:PrincipalTag/job-category": "IAMuser-Admin"}), True, "allowed by"),
    ("condition-key-case-insensitive", [allow("iam:*", Condition={"StringEquals": {"aws:principaltag/job-category": "a"}})], None,
     Request("iam:ListUsers", context={"aws:PrincipalTag/job-category": "a"}), True, "allowed by"),
    ("string-missing-key", [allow("iam:*", Condition={"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}})], None,
     Request("iam:ListUsers"), False, "no statement allows"),
    ("string-not-equals-missing-key-true", [allow("s3:*", Condition={"StringNotEquals": {"aws:PrincipalTag/team": "blocked"}})], None,
     Request("s3:ListAllMyBuckets"), True, "allowed by"),
    ("string-not-like", [allow("s3:*", Condition={"StringNotLike": {"aws:PrincipalTag/team": "temp-*"}})], None,
     Request("s3:ListAllMyBuckets", context={"aws:PrincipalTag/team": "temp-3"}), False, "no statement allows"),
    ("values-or-keys-and", [allow("ec2:RunInstances", Condition={"StringEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"],
                                                                                   "ec2:InstanceType": "t3.micro"}})], None,
     Request("ec2:RunInstances", context={"aws:RequestedRegion": "us-west-2", "ec2:InstanceType": "t3.large"}), False, "no statement allows"),
    ("values-or-keys-and-pass", [allow("ec2:RunInstances", Condition={"StringEquals": {"aws:RequestedRegion": ["us-east-1", "us-west-2"],
                                                                                        "ec2:InstanceType": "t3.micro"}})], None,
     Request("ec2:RunInstances", context={"aws:RequestedRegion": "us-west-2", "ec2:InstanceType": "t3.micro"}), True, "allowed by"),
    # [operators] Numeric, Date, Bool, Binary, IP, ARN, Null
    ("numeric-le", [allow("s3:ListBucket", BUCKET, Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}})], None,
     Request("s3:ListBucket", BUCKET, {"s3:max-keys": "10"}), True, "allowed by"),
    ("numeric-le-over", [allow("s3:ListBucket", BUCKET, Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}})], None,
     Request("s3:ListBucket", BUCKET, {"s3:max-keys": "11"}), False, "no statement allows"),
    ("numeric-not-a-number", [allow("s3:ListBucket", BUCKET, Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}})], None,
     Request("s3:ListBucket", BUCKET, {"s3:max-keys": "ten"}), False, "no statement allows"),
    ("date-greater", [allow("iam:*", Condition={"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}})], None,
     Request("iam:ListUsers", context={"aws:TokenIssueTime": "2024-05-01T10:00:00Z"}), True, "allowed by"),
    ("date-epoch", [allow("iam:*", Condition={"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})], None,
     Request("iam:ListUsers", context={"aws:CurrentTime": "1500000000"}), True, "allowed by"),
    ("date-too-late", [allow("iam:*", Condition={"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})], None,
     Request("iam:ListUsers", context={"aws:CurrentTime": "2021-06-01T00:00:00+00:00"}), False, "no statement allows"),
    ("bool-secure-transport-deny", [allow("s3:*"), deny("s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}}, sid="TlsOnly")], None,
     Request("s3:GetObject", f"{BUCKET}/a", {"aws:SecureTransport": "false"}), False, "explicitly denied by p/TlsOnly"),
    ("bool-secure-transport-ok", [allow("s3:*"), deny("s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}}, sid="TlsOnly")], None,
     Request("s3:GetObject", f"{BUCKET}/a", {"aws:SecureTransport": True}), True, "allowed by"),
    ("binary-equals", [allow("s3:*", Condition={"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}})], None,
     Request("s3:ListAllMyBuckets", context={"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}), True, "allowed by"),
    ("ip-in-range", [allow("*", Condition={"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}})], None,
     Request("s3:ListAllMyBuckets", context={"aws:SourceIp": "203.0.113.7"}), True, "allowed by"),
    ("ip-out-of-range", [allow("*", Condition={"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}})], None,
     Request("s3:ListAllMyBuckets", context={"aws:SourceIp": "198.51.100.1"}), False, "no statement allows"),
    ("not-ip-deny", [allow("*"), deny("*", Condition={"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, sid="OfficeOnly")], None,
     Request("s3:ListAllMyBuckets", context={"aws:SourceIp": "198.51.100.1"}), False, "explicitly denied"),
    ("ipv6", [allow("*", Condition={"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}})], None,
     Request("s3:ListAllMyBuckets", context={"aws:SourceIp": "2001:db8:1234:5678::9"}), True, "allowed by"),
    ("arn-like", [allow("sns:Publish", Condition={"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{ACCOUNT}:topic-*"}})], None,
     Request("sns:Publish", context={"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:topic-a"}), True, "allowed by"),
    ("arn-not-equals", [allow("sns:Publish", Condition={"ArnNotEquals": {"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:t"}})], None,
     Request("sns:Publish", context={"aws:SourceArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:t"}), False, "no statement allows"),
    ("null-true-no-temp-creds", [allow("*"), deny("*", Condition={"Null": {"aws:TokenIssueTime": "true"}}, sid="TempOnly")], None,
     Request("s3:ListAllMyBuckets"), False, "explicitly denied by p/TempOnly"),
    ("null-true-with-temp-creds", [allow("*"), deny("*", Condition={"Null": {"aws:TokenIssueTime": "true"}}, sid="TempOnly")], None,
     Request("s3:ListAllMyBuckets", context={"aws:TokenIssueTime": "2024-01-01T00:00:00Z"}), True, "allowed by"),
    ("null-false", [allow("ec2:*", Condition={"Null": {"aws:RequestTag/team": "false"}})], None,
     Request("ec2:CreateTags", context={"aws:RequestTag/team": "ml"}), True, "allowed by"),
    # [operators] ...IfExists
    ("ifexists-absent", [INSTANCE_TYPES], None, Request("ec2:RunInstances"), True, "allowed by"),
    ("ifexists-present-match", [INSTANCE_TYPES], None, Request("ec2:RunInstances", context={"ec2:InstanceType": "t2.micro"}), True, "allowed by"),
    ("ifexists-present-no-match", [INSTANCE_TYPES], None, Request("ec2:RunInstances", context={"ec2:InstanceType": "p4d.24xlarge"}), False,
     "no statement allows"),
    # [multi] ForAllValues / ForAnyValue
    ("forall-subset", [TAG_KEYS_ALL], None, Request("ec2:CreateTags", context={"aws:TagKeys": ["environment"]}), True, "allowed by"),
    ("forall-both", [TAG_KEYS_ALL], None, Request("ec2:CreateTags", context={"aws:TagKeys": ["environment", "cost-center"]}), True, "allowed by"),
    ("forall-extra-key", [TAG_KEYS_ALL], None, Request("ec2:CreateTags", context={"aws:TagKeys": ["environment", "dept"]}), False,
     "no statement allows"),
    ("forall-absent-is-true", [TAG_KEYS_ALL], None, Request("ec2:CreateTags"), True, "allowed by"),
    ("foranyvalue-one", [TAG_KEYS_ANY], None, Request("ec2:CreateTags", context={"aws:TagKeys": ["environment", "dept"]}), True, "allowed by"),
    ("foranyvalue-none", [TAG_KEYS_ANY], None, Request("ec2:CreateTags", context={"aws:TagKeys": ["dept"]}), False, "no statement allows"),
    ("foranyvalue-absent-is-false", [TAG_KEYS_ANY], None, Request("ec2:CreateTags"), False, "no statement allows"),
    ("forall-negated", [allow("ec2:CreateTags", Condition={"ForAllValues:StringNotEquals": {"aws:TagKeys": ["owner"]}})], None,
     Request("ec2:CreateTags", context={"aws:TagKeys": ["env", "owner"]}), False, "no statement allows"),
    ("foranyvalue-like", [allow("ec2:CreateTags", Condition={"ForAnyValue:StringLike": {"aws:TagKeys": ["key*"]}})], None,
     Request("ec2:CreateTags", context={"aws:TagKeys": ["other", "key1"]}), True, "allowed by"),
    # PassRole with iam:PassedToService, as the profiles use it
    ("passrole-to-ec2", [allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/node",
                               Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}})], None,
     Request("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/node", {"iam:PassedToService": "ec2.amazonaws.com"}), True, "allowed by"),
    ("passrole-to-lambda", [allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/node",
                                  Condition={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}})], None,
     Request("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/node", {"iam:PassedToService": "lambda.amazonaws.com"}), False,
     "no statement allows"),
]


@pytest.mark.parametrize(("identity", "boundary", "request_", "allowed", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_documented_evaluation(identity, boundary, request_, allowed, reason):
    decision = evaluate([policy(*identity)], request_, [policy(*boundary, name="boundary")] if boundary is not None else None)
    assert decision.allowed is allowed, decision
    assert decision.reason.startswith(reason), decision.reason


def test_deciding_statements_name_policy_sid_and_file():
    policies = [policy(allow("s3:GetObject", sid="Read"), name="first"), policy(allow("s3:*", sid="All"), name="second")]
    decision = evaluate(policies, Request("s3:GetObject", f"{BUCKET}/k"))
    assert decision.deciding == (StatementRef("first", "Read", "first.json"), StatementRef("second", "All", "second.json"))
    denied = evaluate(policies + [policy(deny("s3:*", sid="Stop"), name="third")], Request("s3:GetObject", f"{BUCKET}/k"))
    assert denied == Decision(False, "explicitly denied by third/Stop (third.json)", (StatementRef("third", "Stop", "third.json"),))


def test_outside_boundary_names_the_identity_statements_that_would_allow():
    decision = evaluate([policy(allow("iam:*", sid="Iam"))], Request("iam:ListUsers"), [policy(allow("s3:*"), name="b")])
    assert not decision and decision.reason == "outside permissions boundary"
    assert [r.sid for r in decision.deciding] == ["Iam"]


def test_statement_without_sid_is_named_by_index():
    decision = evaluate([policy(allow("s3:ListAllMyBuckets"))], Request("s3:ListAllMyBuckets"))
    assert decision.deciding[0].sid == "Statement[0]"
