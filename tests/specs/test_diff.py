"""Which specs a push changed, and which resources to re-read because of it."""

from __future__ import annotations

from chalicelib.kinds.iam import IAM_ROLE
from chalicelib.kinds.s3_bucket import S3_BUCKET
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.model import GLOBAL_REGION, ResourceRef
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.diff import diff_catalogs, spec_refs
from chalicelib.specs.loading import load_documents

ACCOUNT = "123456789012"
REGIONS = ["eu-west-1", "us-east-1"]

WEB = """kind: security_group
name: web
region: eu-west-1
description: Public web
ingress:
  - proto: tcp
    ports: 443
    cidr: 0.0.0.0/0
"""
WEB_WITH_SSH = (
    WEB
    + """  - proto: tcp
    ports: 22
    cidr: 10.0.0.0/8
"""
)
BY_ID = """kind: security_group
group_id: sg-0123456789abcdef0
ingress: []
"""
BUCKET = """kind: s3_bucket
name: audit-logs
region: eu-west-1
"""
ROLE = """kind: iam_role
name: app-server
trust_policy:
  Version: "2012-10-17"
  Statement:
    - Effect: Allow
      Principal: {Service: ec2.amazonaws.com}
      Action: sts:AssumeRole
"""


def catalog(**files: str) -> SpecCatalog:
    return load_documents((f"policies/{name}.yaml", text) for name, text in files.items())


def test_same_specs_differ_in_nothing():
    assert not diff_catalogs(catalog(web=WEB, logs=BUCKET), catalog(web=WEB, logs=BUCKET))


def test_a_moved_or_reformatted_file_is_no_change():
    moved = "# moved into a folder; comments and blank lines added\n\n" + WEB_WITH_SSH
    old = catalog(web=WEB_WITH_SSH)
    new = load_documents([("policies/security_groups/web.yaml", moved)])

    assert (new.specs_of(SECURITY_GROUP)[0].source.line or 0) > (
        old.specs_of(SECURITY_GROUP)[0].source.line or 0
    )
    assert not diff_catalogs(old, new)


def test_a_changed_rule_names_the_group_once():
    diff = diff_catalogs(catalog(web=WEB_WITH_SSH, logs=BUCKET), catalog(web=WEB, logs=BUCKET))

    assert [(c.kind, c.action) for c in diff.changes] == [("security_group", "changed")]
    assert diff.refs(ACCOUNT, REGIONS) == [
        ResourceRef(SECURITY_GROUP, ACCOUNT, "eu-west-1", None, "web", None)
    ]


def test_added_and_removed_specs_of_every_kind():
    diff = diff_catalogs(catalog(web=WEB, logs=BUCKET), catalog(web=WEB, role=ROLE))

    assert sorted((c.kind, c.action) for c in diff.changes) == [
        ("iam_role", "added"),
        ("s3_bucket", "removed"),
    ]
    refs = diff.refs(ACCOUNT, REGIONS)
    assert ResourceRef(S3_BUCKET, ACCOUNT, "eu-west-1", "audit-logs", "audit-logs") in refs
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/app-server"
    assert ResourceRef(IAM_ROLE, ACCOUNT, GLOBAL_REGION, role_arn, "app-server") in refs


def test_a_spec_that_changes_identity_re_reads_both_resources():
    renamed = WEB.replace("name: web", "name: web-v2")
    diff = diff_catalogs(catalog(web=WEB), catalog(web=renamed))

    assert sorted(c.action for c in diff.changes) == ["added", "removed"]
    assert {r.name for r in diff.refs(ACCOUNT, REGIONS)} == {"web", "web-v2"}


def test_a_spec_without_region_may_mean_any_configured_region():
    (spec,) = catalog(group=BY_ID).specs_of(SECURITY_GROUP)
    refs = spec_refs("security_group", spec, ACCOUNT, REGIONS)

    assert [(r.region, r.id) for r in refs] == [
        ("eu-west-1", "sg-0123456789abcdef0"),
        ("us-east-1", "sg-0123456789abcdef0"),
    ]


def test_a_spec_for_another_account_keeps_its_account():
    other = ROLE + 'account: "210987654321"\n'
    (spec,) = catalog(role=other).specs_of("iam_role")
    (ref,) = spec_refs("iam_role", spec, ACCOUNT, ["cn-north-1"])

    assert ref.account == "210987654321"
    assert ref.id == "arn:aws-cn:iam::210987654321:role/app-server"
