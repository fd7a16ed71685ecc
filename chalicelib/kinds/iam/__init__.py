"""IAM: one global listing per account serves four kinds."""

from chalicelib.model import Kind

IAM_POLICY = Kind("iam_policy")
IAM_ROLE = Kind("iam_role")
IAM_USER = Kind("iam_user")
IAM_GROUP = Kind("iam_group")
