"""Reads security groups from EC2 and turns them into canonical `SecurityGroupState`.

get → transform: `SecurityGroupCollector` does the I/O (and raises `ReadError`);
`parse_security_group` is pure and tested on canned responses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ReadError
from chalicelib.kinds.security_group.canonical import (
    canonical_cidr,
    canonical_ports,
    canonical_proto,
)
from chalicelib.kinds.security_group.model import (
    Direction,
    GroupNames,
    PeerType,
    Rule,
    SecurityGroupState,
)
from chalicelib.model import ResourceRef

# EC2 accepts 5..1000 for DescribeSecurityGroups MaxResults; the largest page means fewest calls.
PAGE_SIZE = 1000
# EC2 takes at most 200 values in one filter (FilterLimitExceeded beyond; moto takes any)
MAX_FILTER_VALUES = 200
_NOT_FOUND = frozenset({"InvalidGroup.NotFound", "InvalidGroupId.NotFound"})
_RULE_NOT_FOUND = frozenset({"InvalidSecurityGroupRuleId.NotFound"})

# The table of reads this collector makes, with the IAM permission each needs; the
# Lambda's least-privilege policy is derived from it.
READS: tuple[tuple[str, str], ...] = (
    ("DescribeSecurityGroups", "ec2:DescribeSecurityGroups"),
    ("DescribeSecurityGroupRules", "ec2:DescribeSecurityGroupRules"),
    ("DescribeVpcs", "ec2:DescribeVpcs"),
)

Ec2ClientFactory = Callable[[str], Any]


def _rules_of(permissions: list[dict[str, Any]], direction: Direction) -> Iterator[Rule]:
    for perm in permissions:
        proto = canonical_proto(perm.get("IpProtocol", "-1"))
        from_port, to_port = canonical_ports(proto, perm.get("FromPort"), perm.get("ToPort"))
        peers: list[tuple[PeerType, str, str | None]] = []
        for item in perm.get("IpRanges", []):
            peers.append(("cidr", canonical_cidr(item["CidrIp"]), item.get("Description")))
        for item in perm.get("Ipv6Ranges", []):
            peers.append(("cidr6", canonical_cidr(item["CidrIpv6"]), item.get("Description")))
        for item in perm.get("PrefixListIds", []):
            peers.append(("prefix_list", item["PrefixListId"], item.get("Description")))
        for item in perm.get("UserIdGroupPairs", []):
            # Group ids are unique across accounts: the peer's account adds nothing to compare.
            group_id = item.get("GroupId") or item.get("GroupName", "")
            peers.append(("group", group_id, item.get("Description")))
        for peer_type, peer, description in peers:
            yield Rule(direction, proto, from_port, to_port, peer_type, peer, description or None)


def parse_security_group(
    raw: Mapping[str, Any], region: str, peer_names: Mapping[str, str] | None = None
) -> SecurityGroupState:
    """One `SecurityGroups[]` item → canonical state (a permission with n peers → n rules)."""
    owner = str(raw.get("OwnerId", ""))
    rules = frozenset(
        [
            *_rules_of(raw.get("IpPermissions", []), "ingress"),
            *_rules_of(raw.get("IpPermissionsEgress", []), "egress"),
        ]
    )
    group_id, name = raw["GroupId"], raw.get("GroupName", "")
    if isinstance(peer_names, GroupNames) and peer_names.get(group_id) == name:
        names: Mapping[str, str] = peer_names  # its VPC's names, shared: it is among them
    else:
        names = {**(peer_names or {}), group_id: name}
    return SecurityGroupState(
        group_id=raw["GroupId"],
        name=raw.get("GroupName", ""),
        vpc_id=raw.get("VpcId"),
        description=raw.get("Description", ""),
        account=owner,
        region=region,
        rules=rules,
        tags={t["Key"]: t["Value"] for t in raw.get("Tags", [])},
        peer_names=names,
    )


def _same_vpc_names(raw: Mapping[str, Any], peers: list[dict[str, Any]]) -> dict[str, str]:
    """Names a spec may use for peers: group names are unique only within one VPC."""
    vpc = raw.get("VpcId")
    return {p["GroupId"]: p.get("GroupName", "") for p in peers if p.get("VpcId") == vpc}


def referenced_group_ids(raw: Mapping[str, Any]) -> set[str]:
    """Same-account groups named as peers (other accounts' groups cannot be described)."""
    owner = raw.get("OwnerId")
    found: set[str] = set()
    for key in ("IpPermissions", "IpPermissionsEgress"):
        for perm in raw.get(key, []):
            for pair in perm.get("UserIdGroupPairs", []):
                if pair.get("GroupId") and pair.get("UserId", owner) == owner:
                    found.add(pair["GroupId"])
    found.discard(raw["GroupId"])
    return found


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


class SecurityGroupCollector:
    """Live reads for one account; one EC2 client per region, made on first use."""

    def __init__(self, ec2_for_region: Ec2ClientFactory) -> None:
        self._ec2_for_region = ec2_for_region
        self._clients: dict[str, Any] = {}

    def _ec2(self, region: str) -> Any:
        if region not in self._clients:
            self._clients[region] = self._ec2_for_region(region)
        return self._clients[region]

    def _call(self, region: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self._ec2(region), operation)(**kwargs)
            return result
        except ClientError as exc:
            code = _error_code(exc)
            if code in _NOT_FOUND or code in _RULE_NOT_FOUND:
                raise
            raise ReadError(f"{operation} in {region} failed: {code}", code=code) from exc
        except BotoCoreError as exc:
            raise ReadError(f"{operation} in {region} failed: {exc}", code="ClientError") from exc

    def _default_vpc(self, region: str) -> str | None:
        vpcs = self._call(
            region, "describe_vpcs", Filters=[{"Name": "is-default", "Values": ["true"]}]
        ).get("Vpcs", [])
        return vpcs[0]["VpcId"] if vpcs else None

    def _group_ids_for_rules(self, region: str, rule_ids: tuple[str, ...]) -> list[str]:
        try:
            rules = self._call(
                region, "describe_security_group_rules", SecurityGroupRuleIds=list(rule_ids)
            ).get("SecurityGroupRules", [])
        except ClientError as exc:
            raise ReadError(
                f"rules {', '.join(rule_ids)} no longer exist, so their group cannot be found",
                code=_error_code(exc),
            ) from exc
        return sorted({r["GroupId"] for r in rules})

    def _describe(self, region: str, **kwargs: Any) -> list[dict[str, Any]]:
        try:
            groups: list[dict[str, Any]] = self._call(
                region, "describe_security_groups", **kwargs
            ).get("SecurityGroups", [])
            return groups
        except ClientError:
            return []  # not found: the group is gone

    def _peers(self, region: str, raws: list[dict[str, Any]]) -> list[dict[str, Any]]:
        wanted = set().union(*(referenced_group_ids(r) for r in raws)) if raws else set()
        if not wanted:
            return []
        # A filter, not GroupIds: a stale reference to a deleted group must not fail the read.
        return self._describe(region, Filters=[{"Name": "group-id", "Values": sorted(wanted)}])

    def with_default_vpc(self, ref: ResourceRef) -> ResourceRef:
        """A name-only reference points into the region's default VPC: say which one."""
        if ref.id or ref.rule_ids or not ref.name or ref.vpc_id:
            return ref
        vpc_id = self._default_vpc(ref.region)
        return dataclasses.replace(ref, vpc_id=vpc_id) if vpc_id else ref

    def read(self, ref: ResourceRef) -> list[SecurityGroupState]:
        """The live groups a reference points at; [] when they do not exist.

        Raises ReadError when AWS would not tell (AccessDenied, throttled past retries).
        """
        region = ref.region
        if ref.id:
            raws = self._describe(region, GroupIds=[ref.id])
        elif ref.rule_ids:
            group_ids = self._group_ids_for_rules(region, ref.rule_ids)
            raws = self._describe(region, GroupIds=group_ids) if group_ids else []
        elif ref.name:
            ref = self.with_default_vpc(ref)
            if ref.vpc_id is None:
                return []
            raws = self._describe(
                region,
                Filters=[
                    {"Name": "group-name", "Values": [ref.name]},
                    {"Name": "vpc-id", "Values": [ref.vpc_id]},
                ],
            )
        else:
            return []
        peers = self._peers(region, raws)
        return [parse_security_group(raw, region, _same_vpc_names(raw, peers)) for raw in raws]

    def _all_pages(self, region: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Every DescribeSecurityGroups page, at the largest page size AWS allows."""
        raws: list[dict[str, Any]] = []
        try:
            paginator = self._ec2(region).get_paginator("describe_security_groups")
            for page in paginator.paginate(**kwargs, PaginationConfig={"PageSize": PAGE_SIZE}):
                raws.extend(page.get("SecurityGroups", []))
        except ClientError as exc:
            code = _error_code(exc)
            raise ReadError(
                f"DescribeSecurityGroups in {region} failed: {code}", code=code
            ) from exc
        except BotoCoreError as exc:
            raise ReadError(f"DescribeSecurityGroups in {region} failed: {exc}") from exc
        return raws

    def names_present(self, region: str, names: list[str]) -> set[tuple[str | None, str]]:
        """(vpc, name) of live groups with any of these names: one call per 200 names (the
        most one filter takes), not one per name."""
        found: set[tuple[str | None, str]] = set()
        unique = sorted(set(names))
        for start in range(0, len(unique), MAX_FILTER_VALUES):
            chunk = unique[start : start + MAX_FILTER_VALUES]
            raws = self._all_pages(region, Filters=[{"Name": "group-name", "Values": chunk}])
            found.update((raw.get("VpcId"), raw.get("GroupName", "")) for raw in raws)
        return found

    def list_region(self, region: str) -> list[SecurityGroupState]:
        """Every group in the region, canonical, with VPC-local names for group peers."""
        raws = self._all_pages(region)
        names_by_vpc: dict[str | None, GroupNames] = {}
        for raw in raws:
            names = names_by_vpc.setdefault(raw.get("VpcId"), GroupNames())
            names[raw["GroupId"]] = raw.get("GroupName", "")
        return [parse_security_group(raw, region, names_by_vpc[raw.get("VpcId")]) for raw in raws]
