"""The estate the sweep benchmark seeds on a moto server, and its 20 out-of-band changes.

Seeding goes through moto's HTTP API with boto3 clients shared by a thread pool (boto3
clients are thread-safe; sessions are not, so one session makes them all up front).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

REGIONS = ("us-east-1", "eu-west-1")
VPCS_PER_REGION = 3
SEED_WORKERS = 16
CHANGES = 20


class Aws:
    """boto3 clients on the moto server, shared by the seeding threads (clients are thread-safe)."""

    def __init__(self, endpoint: str) -> None:
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        config = Config(
            max_pool_connections=SEED_WORKERS * 2,
            retries={"mode": "standard", "max_attempts": 5},
            s3={"addressing_style": "path"},
        )

        def client(service: str, region: str) -> Any:
            return session.client(service, region_name=region, endpoint_url=endpoint, config=config)

        self.ec2 = {region: client("ec2", region) for region in REGIONS}
        self.s3 = {region: client("s3", region) for region in REGIONS}
        self.iam = client("iam", REGIONS[0])
        self.cloudtrail = client("cloudtrail", REGIONS[0])


# --------------------------------------------------------------------------------------
# The estate


@dataclasses.dataclass(frozen=True)
class Counts:
    groups: int
    buckets: int
    policies: int
    roles: int


def counts_for(scale: int) -> Counts:
    """S groups, S/4 buckets, S/4 policies, S/10 roles; at tiny scales enough for 20 changes."""
    return Counts(
        groups=max(scale, 12),
        buckets=max(scale // 4, 6),
        policies=max(scale // 4, 3),
        roles=max(scale // 10, 4),
    )


@dataclasses.dataclass
class Group:
    region: str
    vpc: str
    group_id: str
    name: str
    permissions: list[dict[str, Any]]  # as authorized (one IpPermission per rule)


@dataclasses.dataclass
class Estate:
    groups: list[Group]
    hubs: set[str]  # groups other groups reference: never deleted
    buckets: list[tuple[str, str]]  # (name, region)
    policies: list[str]  # ARNs
    roles: list[tuple[str, str]]  # (name, ARN)
    requests: int = 0


def pmap(fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=SEED_WORKERS) as pool:
        return list(pool.map(fn, items))


def trust_policy(principal: dict[str, str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
    )


def iam_document(index: int, actions: Sequence[str]) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": f"Bench{index}",
                    "Effect": "Allow",
                    "Action": list(actions),
                    "Resource": f"arn:aws:s3:::bench-data-{index % 50}/*",
                }
            ],
        }
    )


def bucket_policy(name: str, public: bool = False) -> str:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    if public:
        statements.append(
            {
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{name}/*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def rule_permissions(index: int, count: int, hub: str | None) -> list[dict[str, Any]]:
    """`count` distinct ingress rules: mostly CIDRs, every fourth a reference to the VPC's hub."""
    rules: list[dict[str, Any]] = []
    for j in range(count):
        port = 2000 + j * 100 + index % 100
        if j % 4 == 3 and hub is not None:
            peer: dict[str, Any] = {"UserIdGroupPairs": [{"GroupId": hub}]}
        else:
            peer = {"IpRanges": [{"CidrIp": f"10.{j}.{index % 256}.0/24"}]}
        rules.append({"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **peer})
    return rules


def seed(aws: Aws, scale: int) -> Estate:
    counts = counts_for(scale)
    requests = 0

    vpcs: list[tuple[str, str]] = []
    for region in REGIONS:
        for _ in range(VPCS_PER_REGION):
            cidr = f"10.{100 + len(vpcs)}.0.0/16"
            vpcs.append((region, aws.ec2[region].create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]))
            requests += 1

    # Groups: created first (one call each), then their rules (one call each).
    def create_group(index: int) -> Group:
        region, vpc = vpcs[index % len(vpcs)]
        name = f"svc-{index:05d}"
        response = aws.ec2[region].create_security_group(
            GroupName=name,
            Description=f"service {index}",
            VpcId=vpc,
            TagSpecifications=[
                {
                    "ResourceType": "security-group",
                    "Tags": [{"Key": "team", "Value": f"team-{index % 7}"}],
                }
            ],
        )
        return Group(region, vpc, str(response["GroupId"]), name, [])

    # moto looks each new group's name up in its VPC's table while other threads add to
    # that table (a 500, "dictionary changed size", at S=10,000): one thread per VPC makes
    # that VPC's groups in turn, and the list keeps the order of the indexes
    def create_vpc_groups(first: int) -> list[Group]:
        return [create_group(index) for index in range(first, counts.groups, len(vpcs))]

    groups: list[Group] = [None] * counts.groups  # type: ignore[list-item]
    for first, made in enumerate(pmap(create_vpc_groups, range(len(vpcs)))):
        for turn, group in enumerate(made):
            groups[first + turn * len(vpcs)] = group
    requests += len(groups)
    hub_of: dict[str, str] = {}
    for group in groups:  # the first group of each VPC is its hub
        hub_of.setdefault(group.vpc, group.group_id)

    def authorize(index: int) -> None:
        group = groups[index]
        hub = hub_of[group.vpc]
        group.permissions = rule_permissions(
            index, 1 + index % 8, None if hub == group.group_id else hub
        )
        aws.ec2[group.region].authorize_security_group_ingress(
            GroupId=group.group_id, IpPermissions=group.permissions
        )

    pmap(authorize, range(len(groups)))
    requests += len(groups)

    # Buckets: create, policy, public access block, encryption.
    def create_bucket(index: int) -> tuple[str, str]:
        region = REGIONS[index % len(REGIONS)]
        name = f"setpoint-bench-{index:05d}"
        s3 = aws.s3[region]
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_bucket_policy(Bucket=name, Policy=bucket_policy(name))
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        rule: dict[str, Any] = (
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
            if index % 2 == 0
            else {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"},
                "BucketKeyEnabled": True,
            }
        )
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [rule]})
        return name, region

    buckets = pmap(create_bucket, range(counts.buckets))
    requests += 4 * len(buckets)

    # The account's trail (Setpoint's guard kind reports a region no trail covers): one
    # multi-region trail, logging to the first bucket, so the estate has no extra bucket.
    aws.cloudtrail.create_trail(
        Name="setpoint-bench-trail", S3BucketName=buckets[0][0], IsMultiRegionTrail=True
    )
    aws.cloudtrail.start_logging(Name="setpoint-bench-trail")
    requests += 2

    def create_policy(index: int) -> str:
        actions = ["s3:GetObject", "s3:ListBucket"][: 1 + index % 2]
        response = aws.iam.create_policy(
            PolicyName=f"bench-policy-{index:05d}",
            PolicyDocument=iam_document(index, actions),
            Description=f"bench policy {index}",
        )
        return str(response["Policy"]["Arn"])

    policies = pmap(create_policy, range(counts.policies))
    requests += len(policies)

    def create_role(index: int) -> tuple[str, str]:
        name = f"bench-role-{index:05d}"
        arn = aws.iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=trust_policy({"Service": "ec2.amazonaws.com"})
        )["Role"]["Arn"]
        aws.iam.put_role_policy(
            RoleName=name,
            PolicyName="inline-read",
            PolicyDocument=iam_document(index, ["s3:GetObject"]),
        )
        for k in range(1 + index % 2):
            aws.iam.attach_role_policy(
                RoleName=name, PolicyArn=policies[(index * 3 + k) % len(policies)]
            )
        return name, str(arn)

    # one after another: moto's role table is read while other threads add to it (a 500 at
    # S=10,000, as for groups); S/10 roles, so seeding stays about as fast
    roles = [create_role(index) for index in range(counts.roles)]
    requests += sum(3 + i % 2 for i in range(len(roles)))
    return Estate(groups, set(hub_of.values()), buckets, policies, roles, requests)


# --------------------------------------------------------------------------------------
# Twenty out-of-band changes


@dataclasses.dataclass(frozen=True)
class Change:
    kind: str
    resource_id: str
    what: str
    name: str | None = None  # a deleted group's spec names it by name (import writes no id)

    def reported_by(self, finding: dict[str, Any]) -> bool:
        if finding.get("status") == "in_sync" or finding.get("kind") != self.kind:
            return False
        if str(finding.get("id")) == self.resource_id:
            return True
        return self.name is not None and not finding.get("id") and finding.get("name") == self.name


def spread(
    items: Sequence[Any], count: int, avoid: Callable[[Any], bool] = lambda _: False
) -> list[Any]:
    """`count` distinct items spread over the sequence (deterministic), skipping `avoid`."""
    usable = [item for item in items if not avoid(item)]
    if len(usable) < count:
        raise ValueError(f"need {count} resources, have {len(usable)}")
    step = len(usable) / count
    return [usable[int(i * step)] for i in range(count)]


def apply_changes(aws: Aws, estate: Estate) -> list[Change]:
    """8 security-group, 6 bucket and 6 IAM changes, each to a different resource."""
    changes: list[Change] = []
    # Groups with at least two rules, not referenced by others (deletable, revocable).
    candidates = spread(
        estate.groups, 7, avoid=lambda g: g.group_id in estate.hubs or len(g.permissions) < 2
    )
    opened, revoked, egress, deleted = candidates[:3], candidates[3:5], candidates[5], candidates[6]
    for group in opened:
        aws.ec2[group.region].authorize_security_group_ingress(
            GroupId=group.group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                }
            ],
        )
        changes.append(Change("security_group", group.group_id, "tcp/22 opened to 0.0.0.0/0"))
    for group in revoked:
        aws.ec2[group.region].revoke_security_group_ingress(
            GroupId=group.group_id, IpPermissions=[group.permissions[0]]
        )
        changes.append(Change("security_group", group.group_id, "ingress rule removed"))
    aws.ec2[egress.region].authorize_security_group_egress(
        GroupId=egress.group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 25,
                "ToPort": 25,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    changes.append(Change("security_group", egress.group_id, "egress tcp/25 added"))
    aws.ec2[deleted.region].delete_security_group(GroupId=deleted.group_id)
    changes.append(Change("security_group", deleted.group_id, "group deleted", deleted.name))
    newcomer = aws.ec2[deleted.region].create_security_group(
        GroupName="made-by-hand", Description="not in any spec", VpcId=deleted.vpc
    )["GroupId"]
    changes.append(Change("security_group", str(newcomer), "group created by hand"))

    b = spread(estate.buckets, 6)
    (public1, _), (public2, _), (pab, _), (enc, _), (nopolicy, _), (noblock, _) = b
    s3 = {name: aws.s3[region] for name, region in b}
    for name in (public1, public2):
        s3[name].put_bucket_policy(Bucket=name, Policy=bucket_policy(name, public=True))
        changes.append(Change("s3_bucket", name, "policy: public read added"))
    s3[pab].put_public_access_block(
        Bucket=pab,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": False,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    changes.append(Change("s3_bucket", pab, "public access block turned off"))
    s3[enc].delete_bucket_encryption(Bucket=enc)
    changes.append(Change("s3_bucket", enc, "default encryption removed"))
    s3[nopolicy].delete_bucket_policy(Bucket=nopolicy)
    changes.append(Change("s3_bucket", nopolicy, "bucket policy deleted"))
    s3[noblock].delete_public_access_block(Bucket=noblock)
    changes.append(Change("s3_bucket", noblock, "public access block deleted"))

    for arn in spread(estate.policies, 2):
        aws.iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=iam_document(0, ["s3:*"]), SetAsDefault=True
        )
        changes.append(Change("iam_policy", arn, "new default version: s3:*"))
    (trust, trust_arn), (attach, attach_arn), (inline, inline_arn), (detach, detach_arn) = spread(
        estate.roles, 4
    )
    aws.iam.update_assume_role_policy(
        RoleName=trust, PolicyDocument=trust_policy({"AWS": "arn:aws:iam::999999999999:root"})
    )
    changes.append(Change("iam_role", trust_arn, "trusts another account"))
    attached = {
        p["PolicyArn"]
        for p in aws.iam.list_attached_role_policies(RoleName=attach)["AttachedPolicies"]
    }
    extra = next(arn for arn in estate.policies if arn not in attached)
    aws.iam.attach_role_policy(RoleName=attach, PolicyArn=extra)
    changes.append(Change("iam_role", attach_arn, "another policy attached"))
    aws.iam.put_role_policy(
        RoleName=inline, PolicyName="added-by-hand", PolicyDocument=iam_document(1, ["iam:*"])
    )
    changes.append(Change("iam_role", inline_arn, "inline policy added"))
    first = aws.iam.list_attached_role_policies(RoleName=detach)["AttachedPolicies"][0]
    aws.iam.detach_role_policy(RoleName=detach, PolicyArn=first["PolicyArn"])
    changes.append(Change("iam_role", detach_arn, "attached policy detached"))
    assert len(changes) == CHANGES, len(changes)
    return changes
