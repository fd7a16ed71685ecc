"""Reads ELBv2 load balancers into canonical `LoadBalancerState`.

get → transform: `LoadBalancerCollector` does the I/O (clients made per region on first
use); `parse_*` are pure. The read table (`READS`) names every call and its IAM action,
for the generated policy and the member role. A load balancer that cannot be described
raises `ReadError` (its finding is `unknown`); a part of it that cannot be read
(attributes, tags, listeners, its groups' names) is recorded in `unreadable` and the rest
is still compared. Target group names come from their ARNs (`targetgroup/NAME/ID`), so no
DescribeTargetGroups is needed. Gateway load balancers are not this kind and are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import ReadError
from chalicelib.kinds.load_balancer.model import (
    ATTRIBUTES,
    FIXED_RESPONSE,
    FORWARD,
    REDIRECT,
    REDIRECT_DEFAULTS,
    TLS_PROTOCOLS,
    Action,
    Listener,
    LoadBalancerState,
    redirect,
    target_group_name,
)
from chalicelib.noise.model import IgnoreRule

ClientFactory = Callable[[str], Any]

READS: tuple[tuple[str, str], ...] = (
    ("DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancers"),
    ("DescribeListeners", "elasticloadbalancing:DescribeListeners"),
    ("DescribeListenerCertificates", "elasticloadbalancing:DescribeListenerCertificates"),
    ("DescribeLoadBalancerAttributes", "elasticloadbalancing:DescribeLoadBalancerAttributes"),
    ("DescribeTags", "elasticloadbalancing:DescribeTags"),
    ("DescribeSecurityGroups (the names of its groups)", "ec2:DescribeSecurityGroups"),
)
NOT_FOUND = frozenset({"LoadBalancerNotFound", "LoadBalancerNotFoundException"})
# DescribeTags takes at most 20 ARNs per call.
TAG_BATCH = 20
PAGE_SIZE = 400  # DescribeLoadBalancers' largest PageSize
TYPES = frozenset({"application", "network"})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


# -- pure transforms ---------------------------------------------------------------------


def parse_action(actions: Sequence[Mapping[str, Any]]) -> Action:
    """The action a request ends in: the last by Order (authenticate-* come before it)."""
    ordered = sorted(actions, key=lambda a: int(a.get("Order") or 0))
    terminal = [a for a in ordered if not str(a.get("Type", "")).startswith("authenticate")]
    if not terminal:
        return Action(str(ordered[-1].get("Type", "?")) if ordered else "none")
    raw = terminal[-1]
    kind = str(raw.get("Type", ""))
    if kind == FORWARD:
        arns = [str(raw["TargetGroupArn"])] if raw.get("TargetGroupArn") else []
        for group in raw.get("ForwardConfig", {}).get("TargetGroups", []) or []:
            if group.get("TargetGroupArn") and group["TargetGroupArn"] not in arns:
                arns.append(str(group["TargetGroupArn"]))
        return Action(FORWARD, target_groups=tuple(sorted(target_group_name(a) for a in arns)))
    if kind == REDIRECT:
        config = raw.get("RedirectConfig", {})
        fields = {key: str(config.get(key.capitalize()) or "") for key in REDIRECT_DEFAULTS}
        return redirect(fields, str(config.get("StatusCode", "")))
    if kind == FIXED_RESPONSE:
        config = raw.get("FixedResponseConfig", {})
        return Action(
            FIXED_RESPONSE,
            status_code=str(config.get("StatusCode", "")),
            content_type=config.get("ContentType") or None,
            message_body=config.get("MessageBody") or None,
        )
    return Action(kind)


def parse_listener(raw: Mapping[str, Any], certificates: Iterable[str] = ()) -> Listener:
    protocol = str(raw.get("Protocol", ""))
    certs = {str(c["CertificateArn"]) for c in raw.get("Certificates", []) or []}
    certs |= set(certificates)
    tls = protocol in TLS_PROTOCOLS
    return Listener(
        port=int(raw.get("Port", 0)),
        protocol=protocol,
        default_action=parse_action(raw.get("DefaultActions", []) or []),
        ssl_policy=(raw.get("SslPolicy") or None) if tls else None,
        certificates=tuple(sorted(certs)) if tls else (),
        arn=str(raw["ListenerArn"]) if raw.get("ListenerArn") else None,
    )


def parse_attributes(response: Mapping[str, Any]) -> dict[str, bool]:
    """The compared attributes as booleans; an attribute AWS does not report is left out."""
    found = {str(a.get("Key")): str(a.get("Value")) for a in response.get("Attributes", [])}
    return {key: found[key].lower() == "true" for key in ATTRIBUTES if key in found}


def account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


# -- I/O ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Passed:
    """A load balancer listed but not read further, and the ignore rule that skips it."""

    arn: str
    name: str
    account: str | None
    tags: Mapping[str, str]
    rule: IgnoreRule


# (ARN, name, tags or None when they could not be read) -> the rule that skips it, or None
SkipRule = Callable[[str, str, Mapping[str, str] | None], IgnoreRule | None]


class LoadBalancerCollector:
    """Live reads for one account; one elbv2 and one ec2 client per region, made on first use."""

    def __init__(self, elbv2_for_region: ClientFactory, ec2_for_region: ClientFactory) -> None:
        self._elbv2_for_region = elbv2_for_region
        self._ec2_for_region = ec2_for_region
        self._clients: dict[tuple[str, str], Any] = {}

    def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            make = self._elbv2_for_region if service == "elbv2" else self._ec2_for_region
            self._clients[key] = make(region)
        return self._clients[key]

    def _describe(self, region: str, **kwargs: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        try:
            paginator = self._client("elbv2", region).get_paginator("describe_load_balancers")
            config = {} if kwargs else {"PaginationConfig": {"PageSize": PAGE_SIZE}}
            for page in paginator.paginate(**kwargs, **config):
                found.extend(page.get("LoadBalancers", []))
        except ClientError as exc:
            code = _code(exc)
            if code in NOT_FOUND:
                return []
            raise ReadError(f"DescribeLoadBalancers in {region} failed: {code}", code=code) from exc
        except BotoCoreError as exc:
            raise ReadError(f"DescribeLoadBalancers in {region} failed: {exc}") from exc
        return [raw for raw in found if raw.get("Type") in TYPES]

    def read(
        self, region: str, *, arn: str | None = None, name: str | None = None
    ) -> LoadBalancerState | None:
        """One load balancer by ARN (else name); None when it does not exist."""
        if arn:
            raws = self._describe(region, LoadBalancerArns=[arn])
        elif name:
            raws = self._describe(region, Names=[name])
        else:
            return None
        states = self._complete(region, raws)
        return states[0] if states else None

    def list_region(self, region: str) -> list[LoadBalancerState]:
        """Every application and network load balancer in the region."""
        return self._complete(region, self._describe(region))

    def list_region_unless(
        self, region: str, skip: SkipRule
    ) -> tuple[list[LoadBalancerState], list[Passed]]:
        """`list_region`, but a load balancer `skip` names a rule for (from its ARN, name
        and tags, which are read in batches with the listing) is passed over: none of its
        own reads (listeners, certificates, attributes) are made."""
        passed: list[Passed] = []
        return self._complete(region, self._describe(region), skip, passed), passed

    def _complete(
        self,
        region: str,
        raws: list[dict[str, Any]],
        skip: SkipRule | None = None,
        passed: list[Passed] | None = None,
    ) -> list[LoadBalancerState]:
        arns = [str(raw["LoadBalancerArn"]) for raw in raws]
        tags, tags_problem = self._tags(region, arns)
        if skip is not None:
            kept = []
            for raw in raws:
                arn, name = str(raw["LoadBalancerArn"]), str(raw.get("LoadBalancerName", ""))
                known = None if tags_problem else tags.get(arn, {})
                rule = skip(arn, name, known)
                if rule is None:
                    kept.append(raw)
                elif passed is not None:
                    passed.append(Passed(arn, name, account_of(arn), known or {}, rule))
            raws = kept
        names, names_problem = self._group_names(
            region, sorted({g for raw in raws for g in raw.get("SecurityGroups", []) or []})
        )
        states = []
        for raw in raws:
            arn = str(raw["LoadBalancerArn"])
            unreadable: dict[str, str] = {}
            listeners, problem = self._listeners(region, arn)
            if problem:
                unreadable["listeners"] = problem
            attributes, problem = self._attributes(region, arn)
            if problem:
                unreadable["attributes"] = problem
            if tags_problem:
                unreadable["tags"] = tags_problem
            groups = frozenset(str(g) for g in raw.get("SecurityGroups", []) or [])
            if names_problem and groups:
                unreadable["security_groups"] = names_problem
            states.append(
                LoadBalancerState(
                    arn=arn,
                    name=str(raw.get("LoadBalancerName", "")),
                    region=region,
                    account=account_of(arn),
                    type=str(raw.get("Type", "")),
                    scheme=str(raw.get("Scheme", "")),
                    security_groups=groups,
                    group_names={g: names[g] for g in groups if g in names},
                    listeners=listeners,
                    attributes=attributes,
                    tags=tags.get(arn, {}),
                    unreadable=unreadable,
                )
            )
        return states

    def _listeners(self, region: str, arn: str) -> tuple[tuple[Listener, ...], str | None]:
        client = self._client("elbv2", region)
        try:
            raws: list[dict[str, Any]] = []
            for page in client.get_paginator("describe_listeners").paginate(LoadBalancerArn=arn):
                raws.extend(page.get("Listeners", []))
            listeners = []
            for raw in raws:
                certs: list[str] = []
                if raw.get("Protocol") in TLS_PROTOCOLS:
                    certs = self._certificates(client, str(raw["ListenerArn"]))
                listeners.append(parse_listener(raw, certs))
        except ClientError as exc:
            return (), f"DescribeListeners: {_code(exc)}"
        except BotoCoreError as exc:
            return (), f"DescribeListeners: {exc}"
        return tuple(sorted(listeners, key=lambda item: item.port)), None

    @staticmethod
    def _certificates(client: Any, listener_arn: str) -> list[str]:
        """Every certificate of a listener: DescribeListeners names only the default one."""
        found: list[str] = []
        kwargs: dict[str, Any] = {"ListenerArn": listener_arn}
        while True:
            page = client.describe_listener_certificates(**kwargs)
            found.extend(str(c["CertificateArn"]) for c in page.get("Certificates", []))
            marker = page.get("NextMarker")
            if not marker:
                return found
            kwargs["Marker"] = marker

    def _attributes(self, region: str, arn: str) -> tuple[dict[str, bool], str | None]:
        try:
            response = self._client("elbv2", region).describe_load_balancer_attributes(
                LoadBalancerArn=arn
            )
        except ClientError as exc:
            return {}, f"DescribeLoadBalancerAttributes: {_code(exc)}"
        except BotoCoreError as exc:
            return {}, f"DescribeLoadBalancerAttributes: {exc}"
        return parse_attributes(response), None

    def _tags(self, region: str, arns: list[str]) -> tuple[dict[str, dict[str, str]], str | None]:
        found: dict[str, dict[str, str]] = {}
        client = self._client("elbv2", region)
        try:
            for start in range(0, len(arns), TAG_BATCH):
                response = client.describe_tags(ResourceArns=arns[start : start + TAG_BATCH])
                for item in response.get("TagDescriptions", []):
                    found[str(item["ResourceArn"])] = {
                        str(t["Key"]): str(t.get("Value", "")) for t in item.get("Tags", [])
                    }
        except ClientError as exc:
            return {}, f"DescribeTags: {_code(exc)}"
        except BotoCoreError as exc:
            return {}, f"DescribeTags: {exc}"
        return found, None

    def _group_names(self, region: str, ids: list[str]) -> tuple[dict[str, str], str | None]:
        """Group id -> name, so a spec may name groups either way. A filter, not GroupIds:
        a deleted group must not fail the read."""
        if not ids:
            return {}, None
        try:
            paginator = self._client("ec2", region).get_paginator("describe_security_groups")
            names: dict[str, str] = {}
            for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": ids}]):
                for group in page.get("SecurityGroups", []):
                    names[str(group["GroupId"])] = str(group.get("GroupName", ""))
        except ClientError as exc:
            return {}, f"DescribeSecurityGroups: {_code(exc)}"
        except BotoCoreError as exc:
            return {}, f"DescribeSecurityGroups: {exc}"
        return names, None
