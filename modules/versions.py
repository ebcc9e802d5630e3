"""The AWS provider requirement, shared by stacks and exported modules (no cdktf import: module export
stays light)."""

AWS_PROVIDER_SOURCE = "hashicorp/aws"
# The provider versions stacks and exported modules accept: a range, so a team already on 6.x (or an
# older 5.x) shares its lock file and plugin cache instead of pinning a second copy. Every attribute the
# project writes exists with the same meaning in 5.x and 6.x. What the tests actually ran against is
# TESTED_AWS_PROVIDER_VERSIONS (the machine's mirror; prebuilt typed binding 20.1.0 is for 5.100.0).
AWS_PROVIDER_VERSION = ">= 5.0, < 7.0"
TESTED_AWS_PROVIDER_VERSIONS = ("5.100.0",)
