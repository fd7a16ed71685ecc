"""Where ELBv2 calls name their load balancer: the elasticloadbalancing rows of the table.

Calls name a load balancer by its ARN (`loadBalancerArn`), only in the response
(CreateLoadBalancer), by a listener ARN (ModifyListener, DeleteListener, certificates),
by a rule ARN (ModifyRule, DeleteRule), or among any tagged resources (AddTags,
RemoveTags, where target groups count for nothing). Listener and rule ARNs embed their
load balancer's: `listener/app/NAME/LBID/LID` belongs to `loadbalancer/app/NAME/LBID`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.events.fields import ci_get
from chalicelib.events.locators import EventRoute, Locator, first, union
from chalicelib.events.record import CloudTrailRecord
from chalicelib.kinds.load_balancer import LOAD_BALANCER
from chalicelib.model import ResourceRef

ELB_SOURCE = "elasticloadbalancing.amazonaws.com"

# arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:(loadbalancer|listener|listener-rule)/
#   (app|net)/NAME/LBID[/LID[/RID]]
_ARN = re.compile(
    r"arn:(?P<partition>[a-z-]+):elasticloadbalancing:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<what>loadbalancer|listener|listener-rule)/(?P<type>app|net)/(?P<name>[A-Za-z0-9-]{1,32})"
    r"/(?P<lb>[0-9a-f]{16})(?P<rest>(/[0-9a-f]{16}){0,2})"
)
_PARTS = {"loadbalancer": 0, "listener": 1, "listener-rule": 2}


def load_balancer_arn(arn: object) -> tuple[str, str, str] | None:
    """(load balancer ARN, account, name) of a load balancer, listener or rule ARN; else None."""
    if not isinstance(arn, str):
        return None
    match = _ARN.fullmatch(arn)
    if match is None or match["rest"].count("/") != _PARTS[match["what"]]:
        return None
    lb = (
        f"arn:{match['partition']}:elasticloadbalancing:{match['region']}:{match['account']}:"
        f"loadbalancer/{match['type']}/{match['name']}/{match['lb']}"
    )
    return lb, match["account"], match["name"]


def _refs(record: CloudTrailRecord, values: Iterable[Any]) -> list[ResourceRef]:
    region = record.aws_region
    if region is None:
        return []
    refs = []
    for value in values:
        found = load_balancer_arn(value)
        if found is not None:
            arn, account, name = found
            refs.append(ResourceRef(LOAD_BALANCER, account, region, id=arn, name=name))
    return refs


def _listed(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _request(key: str) -> Locator:
    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        return _refs(record, _listed(ci_get(record.request_parameters, key)))

    return Locator((f"requestParameters.{key}",), find, _miss(f"requestParameters.{key}"))


def _response(key: str, field: str) -> Locator:
    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        items = ci_get(record.response_elements, key)
        values = [ci_get(item, field) for item in _listed(items)]
        return _refs(record, values)

    where = f"responseElements.{key}[].{field}"
    return Locator((where,), find, _miss(where))


def _miss(where: str) -> Callable[[CloudTrailRecord], str]:
    def explain(record: CloudTrailRecord) -> str:
        return f"{record.event_name}: no load balancer, listener or rule ARN in {where}"

    return explain


LB_ARN = _request("loadBalancerArn")
LISTENER_ARN = _request("listenerArn")
RULE_ARN = _request("ruleArn")
RESOURCE_ARNS = _request("resourceArns")
CREATED = first(_response("loadBalancers", "loadBalancerArn"))
NEW_RULE = union(LISTENER_ARN, _response("rules", "ruleArn"))

_LOCATE: tuple[tuple[str, Locator], ...] = (
    ("CreateLoadBalancer", CREATED),
    ("DeleteLoadBalancer", LB_ARN),
    ("SetSecurityGroups", LB_ARN),
    ("ModifyLoadBalancerAttributes", LB_ARN),
    ("CreateListener", union(LB_ARN, _response("listeners", "loadBalancerArn"))),
    ("ModifyListener", LISTENER_ARN),
    ("DeleteListener", LISTENER_ARN),
    ("AddListenerCertificates", LISTENER_ARN),
    ("RemoveListenerCertificates", LISTENER_ARN),
    ("CreateRule", NEW_RULE),
    ("ModifyRule", RULE_ARN),
    ("DeleteRule", RULE_ARN),
    ("AddTags", RESOURCE_ARNS),
    ("RemoveTags", RESOURCE_ARNS),
)

ROWS: tuple[EventRoute, ...] = tuple(
    EventRoute(name, ELB_SOURCE, LOAD_BALANCER, locate) for name, locate in _LOCATE
)
