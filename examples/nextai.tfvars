# The default deployment written as .tfvars, for teams who think in HCL:
#   iam-foundry --config examples/nextai.tfvars validate
region = "us-east-1"

localstack = {
  enabled  = true
  endpoint = "http://127.0.0.1:4566"
}

backend = {
  type       = "s3"
  bucket     = "iam-foundry-state"
  key_prefix = "iam-foundry"
}

deployments = [
  {
    name              = "nextai"
    profile           = "nextai"
    addenda           = ["clone-disk", "open-ports", "s3-access"]
    create_access_key = false
    max_managed_policies_per_principal = 10
    tags              = { Team = "ml-platform" }
  },
]
