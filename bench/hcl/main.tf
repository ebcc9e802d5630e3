# Hand-written HCL equivalent of the default `nextai` stack (iam-foundry.toml), written the way a
# person would: same resources, same policy document, same LocalStack provider settings.
# bench/run.py plans it beside the synthesized stack and checks both plans are identical before
# comparing plan times. Both use a local backend, so no state bucket is needed.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0, < 7.0"
    }
  }
  backend "local" {
    path = "terraform.tfstate"
  }
}

# The benchmark's own LocalStack (bench/run.py starts it on this port).
provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true
  max_retries                 = 2
  endpoints {
    iam = "http://127.0.0.1:4599"
    s3  = "http://127.0.0.1:4599"
    sts = "http://127.0.0.1:4599"
  }
}

data "aws_caller_identity" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  tags = {
    ManagedBy            = "iam-foundry"
    IamFoundryDeployment = "nextai"
    Team                 = "ml-platform"
  }
}

resource "aws_iam_policy" "policy" {
  name        = "nextai-policy"
  path        = "/"
  description = "NextAI (SkyPilot-style launcher) policy (iam-foundry deployment nextai)"
  tags        = local.tags
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "RunInstancesFromAnyImage"
        Effect   = "Allow"
        Action   = "ec2:RunInstances"
        Resource = "arn:aws:ec2:*::image/ami-*"
      },
      {
        Sid    = "RunInstancesInAccount"
        Effect = "Allow"
        Action = "ec2:RunInstances"
        Resource = [
          "arn:aws:ec2:*:${local.account_id}:instance/*",
          "arn:aws:ec2:*:${local.account_id}:network-interface/*",
          "arn:aws:ec2:*:${local.account_id}:subnet/*",
          "arn:aws:ec2:*:${local.account_id}:volume/*",
          "arn:aws:ec2:*:${local.account_id}:security-group/*",
        ]
      },
      {
        Sid      = "ManageInstances"
        Effect   = "Allow"
        Action   = ["ec2:TerminateInstances", "ec2:DeleteTags", "ec2:StartInstances", "ec2:CreateTags", "ec2:StopInstances"]
        Resource = "arn:aws:ec2:*:${local.account_id}:instance/*"
      },
      {
        Sid      = "DescribeEC2"
        Effect   = "Allow"
        Action   = ["ec2:Describe*"]
        Resource = "*"
      },
      {
        Sid      = "ManageSecurityGroups"
        Effect   = "Allow"
        Action   = ["ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress"]
        Resource = "arn:aws:ec2:*:${local.account_id}:*"
      },
      {
        Sid       = "CreateSpotServiceLinkedRole"
        Effect    = "Allow"
        Action    = "iam:CreateServiceLinkedRole"
        Resource  = "*"
        Condition = { StringEquals = { "iam:AWSServiceName" = "spot.amazonaws.com" } }
      },
      {
        Sid      = "PassNodeRole"
        Effect   = "Allow"
        Action   = ["iam:GetRole", "iam:PassRole"]
        Resource = ["arn:aws:iam::${local.account_id}:role/nextai-role"]
      },
      {
        Sid      = "GetNodeInstanceProfile"
        Effect   = "Allow"
        Action   = ["iam:GetInstanceProfile"]
        Resource = "arn:aws:iam::${local.account_id}:instance-profile/nextai-role"
      },
      # addendum clone-disk
      {
        Sid      = "CloneDiskImages"
        Effect   = "Allow"
        Action   = ["ec2:CreateImage", "ec2:CopyImage", "ec2:DeregisterImage"]
        Resource = "*"
      },
      # addendum open-ports
      {
        Sid      = "OpenPorts"
        Effect   = "Allow"
        Action   = ["ec2:DeleteSecurityGroup", "ec2:ModifyInstanceAttribute"]
        Resource = "arn:aws:ec2:*:${local.account_id}:*"
      },
    ]
  })
}

resource "aws_iam_user" "user" {
  name          = "nextai"
  path          = "/"
  force_destroy = false
  tags          = local.tags
}

resource "aws_iam_user_policy_attachment" "user_policy_0" {
  user       = aws_iam_user.user.name
  policy_arn = aws_iam_policy.policy.arn
}

# addendum s3-access
resource "aws_iam_user_policy_attachment" "user_policy_1" {
  user       = aws_iam_user.user.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
}

resource "aws_iam_role" "node_role" {
  name = "nextai-role"
  path = "/"
  tags = local.tags
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EC2AssumeRole"
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "node_role_policy_0" {
  role       = aws_iam_role.node_role.name
  policy_arn = aws_iam_policy.policy.arn
}

# addendum s3-access
resource "aws_iam_role_policy_attachment" "node_role_policy_1" {
  role       = aws_iam_role.node_role.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
}

resource "aws_iam_instance_profile" "instance_profile" {
  name = "nextai-role"
  path = "/"
  role = aws_iam_role.node_role.name
  tags = local.tags
}

output "account_id" {
  description = "AWS account the deployment lives in"
  value       = local.account_id
}

output "user_name" {
  description = "IAM user name"
  value       = aws_iam_user.user.name
}

output "user_arn" {
  description = "IAM user ARN"
  value       = aws_iam_user.user.arn
}

output "policy_names" {
  description = "Names of the custom managed policies"
  value       = [aws_iam_policy.policy.name]
}

output "policy_arns" {
  description = "ARNs of the custom managed policies (one per part)"
  value       = [aws_iam_policy.policy.arn]
}

output "role_name" {
  description = "Node role name"
  value       = aws_iam_role.node_role.name
}

output "role_arn" {
  description = "Node role ARN"
  value       = aws_iam_role.node_role.arn
}

output "instance_profile_name" {
  description = "Instance profile name"
  value       = aws_iam_instance_profile.instance_profile.name
}

output "instance_profile_arn" {
  description = "Instance profile ARN"
  value       = aws_iam_instance_profile.instance_profile.arn
}
