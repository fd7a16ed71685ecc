"""ELBv2 load balancers (application and network): one regional family, one kind."""

from chalicelib.model import Kind

LOAD_BALANCER = Kind("load_balancer")
