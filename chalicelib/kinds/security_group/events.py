"""Where security-group calls name their group: the EC2 rows of the event table.

EC2 records name a group by `groupId`, by `groupName` only (default VPC, delete by name),
only in `responseElements` (CreateSecurityGroup), nested in ModifySecurityGroupRules, or
by rule ids alone; CreateTags/DeleteTags name any EC2 resource, of which only groups count.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from chalicelib.events.fields import ci_get, items, text
from chalicelib.events.locators import EventRoute, Locate, Locator, first, union
from chalicelib.events.record import CloudTrailRecord
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import ResourceRef

EC2_SOURCE = "ec2.amazonaws.com"

# Real ids are a prefix and 8 (older) or 17 hex digits; redacted values ("...") are not ids.
_GROUP_ID = re.compile(r"sg-[0-9a-f]{8,17}")
_RULE_ID = re.compile(r"sgr-[0-9a-f]{8,17}")
_VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")


# -- security groups --------------------------------------------------------------------------


def _group_id(value: object) -> str | None:
    return value if isinstance(value, str) and _GROUP_ID.fullmatch(value) else None


def _rule_id(value: object) -> str | None:
    return value if isinstance(value, str) and _RULE_ID.fullmatch(value) else None


def _vpc_id(value: object) -> str | None:
    return value if isinstance(value, str) and _VPC_ID.fullmatch(value) else None


def _group_name(value: object) -> str | None:
    name = text(value)
    # A value made only of dots is a publisher's redaction, not a name someone chose.
    return name if name and name.strip(". \t") else None


def _elements(value: object) -> list[Any]:
    """A list however it was logged: plain, `{"items": [...]}`, or a single object/string."""
    if isinstance(value, list):
        return value
    if isinstance(value, Mapping):
        return items(value) if "items" in value else [value]
    if isinstance(value, str):
        return [value]
    return []


def _security_group(
    record: CloudTrailRecord,
    *,
    group_id: str | None = None,
    name: str | None = None,
    vpc_id: str | None = None,
    rule_ids: tuple[str, ...] = (),
) -> list[ResourceRef]:
    """A one-element list with the ref, or empty when there is nothing to address."""
    region = record.aws_region
    if region is None or not (group_id or name or rule_ids):
        return []
    return [
        ResourceRef(
            kind=SECURITY_GROUP,
            account=record.account,
            region=region,
            id=group_id,
            name=name,
            vpc_id=vpc_id,
            rule_ids=rule_ids,
        )
    ]


def _request_group_id(record: CloudTrailRecord) -> list[ResourceRef]:
    return _security_group(record, group_id=_group_id(record.request_parameters.get("groupId")))


def _response_group_id(record: CloudTrailRecord) -> list[ResourceRef]:
    # CreateSecurityGroup: the id exists only in the response; name and VPC are in the request.
    params = record.request_parameters
    group_id = _group_id(record.response_elements.get("groupId"))
    if group_id is None:
        return []
    return _security_group(
        record,
        group_id=group_id,
        name=_group_name(params.get("groupName")),
        vpc_id=_vpc_id(params.get("vpcId")),
    )


def _request_group_name(record: CloudTrailRecord) -> list[ResourceRef]:
    # Default-VPC calls may name the group only; a collector resolves the id later.
    params = record.request_parameters
    return _security_group(
        record,
        name=_group_name(params.get("groupName")),
        vpc_id=_vpc_id(params.get("vpcId")),
    )


def _rule_set_groups(key: str) -> Callable[[CloudTrailRecord], list[ResourceRef]]:
    def find(record: CloudTrailRecord) -> list[ResourceRef]:
        refs: list[ResourceRef] = []
        for rule in items(record.response_elements.get(key)):
            refs += _security_group(record, group_id=_group_id(ci_get(rule, "groupId")))
        return refs

    return find


def _rule_ids(values: Iterable[Any]) -> tuple[str, ...]:
    found = []
    for value in values:
        if isinstance(value, Mapping):
            value = ci_get(value, "securityGroupRuleId")
        rule_id = _rule_id(value)
        if rule_id:
            found.append(rule_id)
    return tuple(dict.fromkeys(found))


def _request_rule_ids(record: CloudTrailRecord) -> list[ResourceRef]:
    values = _elements(ci_get(record.request_parameters, "securityGroupRuleIds"))
    return _security_group(record, rule_ids=_rule_ids(values))


def _modify_request(record: CloudTrailRecord) -> Any:
    return ci_get(record.request_parameters, "ModifySecurityGroupRulesRequest")


def _modify_group_id(record: CloudTrailRecord) -> list[ResourceRef]:
    return _security_group(record, group_id=_group_id(ci_get(_modify_request(record), "GroupId")))


def _modify_rule_ids(record: CloudTrailRecord) -> list[ResourceRef]:
    rules = _elements(ci_get(_modify_request(record), "SecurityGroupRule"))
    return _security_group(record, rule_ids=_rule_ids(rules))


def _tagged_ids(record: CloudTrailRecord) -> list[str]:
    ids = []
    for item in items(record.request_parameters.get("resourcesSet")):
        resource_id = text(ci_get(item, "resourceId") if isinstance(item, Mapping) else item)
        if resource_id:
            ids.append(resource_id)
    return ids


def _tagged_groups(record: CloudTrailRecord) -> list[ResourceRef]:
    # CreateTags/DeleteTags cover every EC2 resource; only security groups concern us.
    refs: list[ResourceRef] = []
    for resource_id in _tagged_ids(record):
        refs += _security_group(record, group_id=_group_id(resource_id))
    return refs


def _tags_miss(record: CloudTrailRecord) -> str:
    ids = _tagged_ids(record)
    if not ids:
        return (
            f"{record.event_name}: no resource id in requestParameters.resourcesSet.items[]"
            ".resourceId"
        )
    shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return f"{record.event_name} on {shown}: not a security group"


REQUEST_GROUP_ID = Locator(("requestParameters.groupId",), _request_group_id)
RESPONSE_GROUP_ID = Locator(("responseElements.groupId",), _response_group_id)
REQUEST_GROUP_NAME = Locator(("requestParameters.groupName",), _request_group_name)
RULE_SET_GROUP_IDS = Locator(
    ("responseElements.securityGroupRuleSet.items[].groupId",),
    _rule_set_groups("securityGroupRuleSet"),
)
REVOKED_RULE_SET_GROUP_IDS = Locator(
    ("responseElements.revokedSecurityGroupRuleSet.items[].groupId",),
    _rule_set_groups("revokedSecurityGroupRuleSet"),
)
REQUEST_RULE_IDS = Locator(("requestParameters.securityGroupRuleIds",), _request_rule_ids)
MODIFY_GROUP_ID = Locator(
    ("requestParameters.ModifySecurityGroupRulesRequest.GroupId",), _modify_group_id
)
MODIFY_RULE_IDS = Locator(
    ("requestParameters.ModifySecurityGroupRulesRequest.SecurityGroupRule[].SecurityGroupRuleId",),
    _modify_rule_ids,
)
TAGGED_GROUPS = Locator(
    ("requestParameters.resourcesSet.items[].resourceId",), _tagged_groups, _tags_miss
)

_AUTHORIZE = first(union(REQUEST_GROUP_ID, RULE_SET_GROUP_IDS), REQUEST_GROUP_NAME)
_REVOKE = first(
    union(REQUEST_GROUP_ID, REVOKED_RULE_SET_GROUP_IDS), REQUEST_GROUP_NAME, REQUEST_RULE_IDS
)
_RULE_DESCRIPTIONS = first(REQUEST_GROUP_ID, REQUEST_GROUP_NAME)
_MODIFY = first(MODIFY_GROUP_ID, MODIFY_RULE_IDS)
_CREATE = first(RESPONSE_GROUP_ID, REQUEST_GROUP_NAME)
_DELETE = first(union(REQUEST_GROUP_ID, RESPONSE_GROUP_ID), REQUEST_GROUP_NAME)


def _security_group_row(event_name: str, locate: Locate) -> EventRoute:
    return EventRoute(event_name, EC2_SOURCE, SECURITY_GROUP, locate)


ROWS: tuple[EventRoute, ...] = (
    _security_group_row("AuthorizeSecurityGroupIngress", _AUTHORIZE),
    _security_group_row("AuthorizeSecurityGroupEgress", _AUTHORIZE),
    _security_group_row("RevokeSecurityGroupIngress", _REVOKE),
    _security_group_row("RevokeSecurityGroupEgress", _REVOKE),
    _security_group_row("ModifySecurityGroupRules", _MODIFY),
    _security_group_row("UpdateSecurityGroupRuleDescriptionsIngress", _RULE_DESCRIPTIONS),
    _security_group_row("UpdateSecurityGroupRuleDescriptionsEgress", _RULE_DESCRIPTIONS),
    _security_group_row("CreateSecurityGroup", _CREATE),
    _security_group_row("DeleteSecurityGroup", _DELETE),
    _security_group_row("CreateTags", TAGGED_GROUPS),
    _security_group_row("DeleteTags", TAGGED_GROUPS),
)
