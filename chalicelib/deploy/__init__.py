"""What a deployment needs from AWS: the Lambda's IAM policy, derived from tables."""
