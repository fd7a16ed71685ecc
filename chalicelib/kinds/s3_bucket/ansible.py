"""Ansible's `s3_bucket` module as bucket specs.

An argument the task leaves out is not managed by Ansible, and the spec leaves it out
too, so Setpoint's safe default applies (no policy, all four public access flags on,
some default encryption). What the task writes carries over with the module's own
defaults: a `public_access` flag left out is off (the module's default is false).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from chalicelib.errors import SpecError
from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.sources.ansible.model import (
    AnsibleTask,
    ArgPath,
    TaskIdentity,
    final_tasks,
    find_registered,
    text_arg,
)
from chalicelib.sources.declared import Declared

MODULES = frozenset({"s3_bucket"})
FLAGS = (
    "block_public_acls",
    "ignore_public_acls",
    "block_public_policy",
    "restrict_public_buckets",
)
REGION_KEYS = ("region", "aws_region", "ec2_region")
# canned ACL -> the grants S3 adds beyond the owner's FULL_CONTROL
CANNED: dict[str, list[dict[str, str]]] = {
    "private": [],
    "public-read": [{"group": "AllUsers", "permission": "READ"}],
    "public-read-write": [
        {"group": "AllUsers", "permission": "READ"},
        {"group": "AllUsers", "permission": "WRITE"},
    ],
    "authenticated-read": [{"group": "AuthenticatedUsers", "permission": "READ"}],
}


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "true", "on", "1")
    return bool(value)


def declare_bucket(task: AnsibleTask) -> Declared | list[SpecError]:
    args = task.args
    errors: list[SpecError] = []
    lines: dict[ArgPath, int] = {(): task.line}
    doc: dict[str, Any] = {"kind": S3_BUCKET, "name": args.get("name")}
    lines[("name",)] = task.line_of(("name",))
    region_key = next((k for k in REGION_KEYS if args.get(k) is not None), None)
    if region_key:
        doc["region"] = args[region_key]
        lines[("region",)] = task.line_of((region_key,))
    policy = args.get("policy")
    if policy is not None and policy != "":
        doc["policy"] = policy
        lines[("policy",)] = task.line_of(("policy",))
    if _flag(args.get("delete_public_access", False)):
        doc["public_access_block"] = dict.fromkeys(FLAGS, False)
        lines[("public_access_block",)] = task.line_of(("delete_public_access",))
    elif isinstance(args.get("public_access"), Mapping):
        given = args["public_access"]
        doc["public_access_block"] = {flag: _flag(given.get(flag, False)) for flag in FLAGS}
        lines[("public_access_block",)] = task.line_of(("public_access",))
    encryption = args.get("encryption")
    if encryption is not None:
        block: dict[str, Any] = {"sse": str(encryption)}
        if encryption == "aws:kms" and args.get("encryption_key_id"):
            block["kms_key_id"] = args["encryption_key_id"]
        if args.get("bucket_key_enabled") is not None and encryption != "none":
            block["bucket_key"] = _flag(args["bucket_key_enabled"])
        doc["encryption"] = block
        lines[("encryption",)] = task.line_of(("encryption",))
    if args.get("versioning") is not None and _flag(args["versioning"]):
        # versioning: false is met by a bucket never versioned and by a suspended one
        doc["versioning"] = {"status": "Enabled"}
        lines[("versioning",)] = task.line_of(("versioning",))
    if args.get("object_ownership") is not None and not _flag(
        args.get("delete_object_ownership", False)
    ):
        doc["object_ownership"] = args["object_ownership"]
        lines[("object_ownership",)] = task.line_of(("object_ownership",))
    acl = args.get("acl")
    if acl is not None:
        if str(acl) not in CANNED:
            known = ", ".join(CANNED)
            errors.append(task.error(("acl",), f"canned ACL {acl!r} is not read (one of: {known})"))
        else:
            doc["grants"] = CANNED[str(acl)]
            lines[("grants",)] = task.line_of(("acl",))
    if args.get("tags") is not None and args.get("purge_tags", True) is not False:
        doc["tags"] = {str(k): str(v) for k, v in dict(args["tags"]).items()}
        lines[("tags",)] = task.line_of(("tags",))
    for path, ref in find_registered(doc):
        errors.append(task.error(path, ref.unresolved("known only when Ansible runs")))
    if errors:
        return errors
    return Declared(doc, origin=task.file, line=task.line, lines=lines)


class S3BucketAnsible:
    """The family's `AnsibleMapping`."""

    modules = MODULES

    def identify(self, task: AnsibleTask) -> TaskIdentity:
        return TaskIdentity(S3_BUCKET, text_arg(task.args, "name"))

    def declare(self, tasks: Sequence[AnsibleTask]) -> Iterable[Declared | SpecError]:
        for task in final_tasks(tasks, lambda t: str(t.args.get("name"))):
            result = declare_bucket(task)
            if isinstance(result, Declared):
                yield result
            else:
                yield from result


def mapping() -> S3BucketAnsible:
    return S3BucketAnsible()
