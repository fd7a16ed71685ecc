"""Security groups: one regional family, one kind."""

from chalicelib.model import Kind

SECURITY_GROUP = Kind("security_group")
