# Hand-written HCL equivalent of the default `nextai` stack (bench/run.py compares plan times).
terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
  backend "local" {
    path = "terraform.tfstate"
  }
}

variable "endpoint" {
  type = string
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  s3_use_path_style           = true
  endpoints {
    iam = var.endpoint
    sts = var.endpoint
    s3  = var.endpoint
  }
}

data "aws_caller_identity" "current" {}

locals {
  tags = { ManagedBy = "iam-foundry", IamFoundryDeployment = "nextai", Team = "ml-platform" }
}

resource "aws_iam_policy" "policy" {
  name        = "nextai-policy"
  path        = "/"
  description = "NextAI (SkyPilot-style launcher) policy (iam-foundry deployment nextai)"
  policy      = templatefile("${path.module}/nextai-policy.json.tftpl", { account_id = data.aws_caller_identity.current.account_id })
  tags        = local.tags
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

resource "aws_iam_user_policy_attachment" "user_policy_1" {
  user       = aws_iam_user.user.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
}

resource "aws_iam_role" "node_role" {
  name = "nextai-role"
  path = "/"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Sid = "EC2AssumeRole", Effect = "Allow", Principal = { Service = "ec2.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
  tags = local.tags
}

resource "aws_iam_role_policy_attachment" "node_role_policy_0" {
  role       = aws_iam_role.node_role.name
  policy_arn = aws_iam_policy.policy.arn
}

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
