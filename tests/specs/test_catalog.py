"""Loading directories, refusing duplicate specs, and matching live groups to specs."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.errors import ConfigError, SpecError, SpecSetError
from chalicelib.kinds.security_group import SECURITY_GROUP
from chalicelib.kinds.security_group.model import Rule, SecurityGroupState
from chalicelib.kinds.security_group.spec import (
    match_security_group,
    security_groups_in_scope,
    unmatched_security_groups,
)
from chalicelib.specs.catalog import SpecCatalog
from chalicelib.specs.loading import load_directory, load_documents

REPO = Path(__file__).resolve().parents[2]


def state(
    group_id: str = "sg-0aaa",
    name: str = "web",
    vpc_id: str | None = "vpc-01",
    region: str = "eu-west-1",
    account: str = "111111111111",
) -> SecurityGroupState:
    return SecurityGroupState(group_id, name, vpc_id, "d", account, region, frozenset())


def sg(name: str, extra: str = "") -> str:
    return f"kind: security_group\nname: {name}\n{extra}"


def test_example_policies_load(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(REPO)
    catalog = load_directory("policies")
    names = {s.name: s for s in catalog.specs_of(SECURITY_GROUP)}
    assert set(names) == {"web", "bastion", "database"}
    sg_files = tuple(f for f in catalog.files if f.startswith("policies/security_groups/"))
    assert sg_files == (
        "policies/security_groups/bastion.yaml",
        "policies/security_groups/database.yaml",
        "policies/security_groups/web.yaml",
    )
    web, database = names["web"], names["database"]
    assert str(web.source) == "policies/security_groups/web.yaml:3"
    assert web.egress is None and database.egress == frozenset()
    assert Rule("ingress", "tcp", 5432, 5432, "group", "app") in database.ingress
    assert any(r.peer_type == "cidr6" for r in database.ingress)
    assert database.tags == {"team": "data", "backup": "daily"}


def test_directory_is_recursive_sorted_and_named_as_typed(tmp_path: Path):
    root = tmp_path / "specs"
    (root / "b").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "b" / "z.yml").write_text(sg("z"))
    (root / "a.yaml").write_text(sg("a") + "---\n" + sg("a2"))
    (root / "notes.txt").write_text("not a spec")
    (root / ".git" / "x.yaml").write_text("kind: [")
    catalog = load_directory(f"{root}/")
    assert catalog.files == (f"{root}/a.yaml", f"{root}/b/z.yml")
    assert [(s.name, s.source.line) for s in catalog.specs_of(SECURITY_GROUP)] == [
        ("a", 1),
        ("a2", 4),
        ("z", 1),
    ]


def test_single_file_and_missing_directory(tmp_path: Path):
    path = tmp_path / "web.yaml"
    path.write_text(sg("web"))
    assert load_directory(path).specs_of(SECURITY_GROUP)[0].name == "web"
    with pytest.raises(ConfigError):
        load_directory(tmp_path / "nope")


def test_omitted_fields_stay_unpinned():
    spec = load_documents([("a.yaml", sg("web"))]).specs_of(SECURITY_GROUP)[0]
    assert (spec.egress, spec.tags, spec.description) == (None, None, None)
    assert spec.ingress == frozenset()
    assert spec.vpc_id is spec.region is spec.account is None


def test_rule_lines_and_descriptions():
    text = sg(
        "web",
        "ingress:\n"
        "  - proto: tcp\n    ports: [80, 443]\n    cidr: 0.0.0.0/0\n    description: web\n"
        "  - proto: 6\n    cidr:\n      - 10.0.0.0/8\n      - 192.168.1.7/24\n",
    )
    spec = load_documents([("a.yaml", text)]).specs_of(SECURITY_GROUP)[0]
    lines = {key[2:6]: line for key, line in spec.rule_lines.items()}
    assert lines == {
        (80, 80, "cidr", "0.0.0.0/0"): 5,
        (443, 443, "cidr", "0.0.0.0/0"): 5,
        (0, 65535, "cidr", "10.0.0.0/8"): 10,
        (0, 65535, "cidr", "192.168.1.0/24"): 11,
    }
    assert {r.description for r in spec.ingress} == {"web", None}
    assert all(r.direction == "ingress" for r in spec.ingress)


def test_same_group_id_twice_names_both_files():
    with pytest.raises(SpecSetError) as caught:
        load_documents(
            [
                ("p/a.yaml", "kind: security_group\ngroup_id: sg-0abc\n"),
                ("p/b.yaml", "# x\nkind: security_group\ngroup_id: sg-0abc\n"),
            ]
        )
    (error,) = caught.value.errors
    assert (error.file, error.line, error.field) == ("p/b.yaml", 2, "group_id")
    assert "p/a.yaml:1" in error.message


@pytest.mark.parametrize(
    ("first", "second", "conflict"),
    [
        ("", "", True),
        ("region: eu-west-1\n", "", True),
        ("region: eu-west-1\n", "region: us-east-1\n", False),
        ("vpc_id: vpc-01\n", "vpc_id: vpc-02\n", False),
        ("vpc_id: vpc-01\n", "region: us-east-1\n", True),
        ('account: "111111111111"\n', 'account: "222222222222"\nregion: eu-west-1\n', False),
    ],
)
def test_overlapping_name_scopes(first: str, second: str, conflict: bool):
    items = [("p/a.yaml", sg("web", first)), ("p/b.yaml", sg("web", second))]
    if not conflict:
        assert len(load_documents(items).specs_of(SECURITY_GROUP)) == 2
        return
    with pytest.raises(SpecSetError) as caught:
        load_documents(items)
    (error,) = caught.value.errors
    assert error.file == "p/b.yaml" and "p/a.yaml:1" in error.message


def test_an_id_spec_and_a_name_spec_on_one_group_name_both():
    # before, the id spec won silently and the name spec was reported "missing"
    catalog = load_documents(
        [
            ("by-id.yaml", "kind: security_group\ngroup_id: sg-0aaa\n"),
            ("by-name.yaml", sg("web")),
        ]
    )
    with pytest.raises(SpecError, match=r"by-id.yaml:1 \(by id\) and by-name.yaml:1 \(by name\)"):
        match_security_group(catalog, state())
    other = match_security_group(catalog, state(group_id="sg-0bbb"))
    assert other is not None and other.source.file == "by-name.yaml"


def test_match_by_name_and_vpc():
    catalog = load_documents(
        [("a.yaml", sg("web", "vpc_id: vpc-01\n")), ("b.yaml", sg("web", "vpc_id: vpc-02\n"))]
    )
    match = match_security_group(catalog, state(vpc_id="vpc-02"))
    assert match is not None and match.source.file == "b.yaml"
    assert match_security_group(catalog, state(vpc_id="vpc-03")) is None
    assert match_security_group(catalog, state(vpc_id=None)) is None
    assert match_security_group(catalog, state(name="api")) is None


def test_match_by_name_with_region_and_account_scope():
    catalog = load_documents(
        [
            ("eu.yaml", sg("web", "region: eu-west-1\n")),
            ("us.yaml", sg("web", 'region: us-east-1\naccount: "222222222222"\n')),
        ]
    )
    eu = match_security_group(catalog, state(region="eu-west-1"))
    assert eu is not None and eu.source.file == "eu.yaml"
    assert match_security_group(catalog, state(region="us-east-1")) is None
    us = match_security_group(catalog, state(region="us-east-1", account="222222222222"))
    assert us is not None and us.source.file == "us.yaml"


def test_several_matches_raise():
    (spec,) = load_documents([("a.yaml", sg("web", "region: eu-west-1\n"))]).specs_of(
        SECURITY_GROUP
    )
    # Bypass the load-time duplicate check to prove matching does not pick one silently.
    catalog = SpecCatalog(by_kind={SECURITY_GROUP: (spec, spec)})
    with pytest.raises(SpecError, match="governed by 2 specs"):
        match_security_group(catalog, state())


def test_scope_and_unmatched_for_the_sweep():
    catalog = load_documents(
        [
            ("any.yaml", sg("web")),
            ("eu.yaml", sg("db", "region: eu-west-1\n")),
            ("us.yaml", sg("cache", "region: us-east-1\n")),
            ("other.yaml", sg("api", 'account: "999999999999"\n')),
        ]
    )
    in_scope = security_groups_in_scope(catalog, "111111111111", ["eu-west-1"])
    assert sorted(s.name or "" for s in in_scope) == ["db", "web"]
    missing = unmatched_security_groups(catalog, [state(name="web")], "111111111111", ["eu-west-1"])
    assert [s.name for s in missing] == ["db"]
