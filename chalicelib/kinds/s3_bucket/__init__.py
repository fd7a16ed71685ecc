"""S3 buckets: read account-wide, one kind."""

from chalicelib.model import Kind

S3_BUCKET = Kind("s3_bucket")
