"""Review page of a deployment (`iam-foundry report`) and vendor comparison (`iam-foundry vendor-diff`)."""
