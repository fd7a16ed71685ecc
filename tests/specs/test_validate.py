"""Each kind of bad spec is reported with the right file, line and field."""

from __future__ import annotations

import pytest

from chalicelib.errors import SpecError, SpecSetError
from chalicelib.specs.loading import load_documents
from chalicelib.specs.parse import parse_file

HEADER = "kind: security_group\nname: web\n"


def errors_of(text: str, name: str = "policies/web.yaml") -> list[SpecError]:
    return list(parse_file(name, text).errors)


def only_error(text: str) -> SpecError:
    errors = errors_of(text)
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


def rule(body: str) -> str:
    """A spec whose second ingress rule (line 7 on) is `body`."""
    first = "  - proto: tcp\n    ports: 443\n    cidr: 0.0.0.0/0\n"
    return HEADER + "ingress:\n" + first + body


def test_valid_spec_has_no_errors():
    assert errors_of(rule("  - proto: tcp\n    ports: 22\n    group: bastion\n")) == []


def test_wrong_type():
    error = only_error(HEADER + "description: Web\ningress: yes\n")
    assert (error.file, error.line, error.field) == ("policies/web.yaml", 4, "ingress")
    assert "must be a list" in error.message


def test_account_as_number_asks_for_quotes():
    error = only_error(HEADER + "account: 123456789012\n")
    assert (error.line, error.field) == (3, "account")
    assert 'quote it: "123456789012"' in error.message


def test_boolean_tag_value_explains_yaml():
    error = only_error(HEADER + "tags:\n  team: platform\n  public: no\n")
    assert (error.line, error.field) == (5, "tags.public")
    assert "boolean" in error.message and '"no"' in error.message


def test_unknown_key_with_typo_suggests_the_field():
    error = only_error(rule("  - proto: tcp\n    prots: 22\n    cidr: 10.0.0.0/8\n"))
    assert (error.line, error.field) == (8, "ingress[1].prots")
    assert "did you mean 'ports'" in error.message


def test_unknown_top_level_key():
    error = only_error(HEADER + "ingres:\n  - proto: tcp\n    cidr: 10.0.0.0/8\n")
    assert (error.line, error.field) == (3, "ingres")
    assert "did you mean 'ingress'" in error.message


def test_bad_cidr():
    error = only_error(rule("  - proto: tcp\n    ports: 22\n    cidr: 10.0.0.300/8\n"))
    assert (error.line, error.field) == (9, "ingress[1].cidr")
    assert "not a valid IPv4 CIDR" in error.message


def test_ipv6_under_cidr_points_at_the_list_item():
    error = only_error(
        rule("  - proto: tcp\n    ports: 22\n    cidr:\n      - 10.0.0.0/8\n      - ::/0\n")
    )
    assert (error.line, error.field) == (11, "ingress[1].cidr[1]")
    assert "cidr6" in error.message


def test_ipv4_under_cidr6():
    error = only_error(rule("  - proto: tcp\n    cidr6: 10.0.0.0/8\n"))
    assert error.field == "ingress[1].cidr6" and "write it under cidr" in error.message


@pytest.mark.parametrize("ports", ["70000", '"70000"', "[22, 70000]"])
def test_ports_out_of_range(ports: str):
    error = only_error(rule(f"  - proto: tcp\n    ports: {ports}\n    cidr: 10.0.0.0/8\n"))
    assert error.line == 8
    assert error.field is not None and error.field.startswith("ingress[1].ports")
    assert "range" in error.message


def test_reversed_port_range():
    error = only_error(rule('  - proto: tcp\n    ports: "22-10"\n    cidr: 10.0.0.0/8\n'))
    assert (error.line, error.field) == (8, "ingress[1].ports")
    assert "start is after end" in error.message


def test_sexagesimal_port_is_caught():
    error = only_error(rule("  - proto: tcp\n    ports: 22:22\n    cidr: 10.0.0.0/8\n"))
    assert (error.line, error.field) == (8, "ingress[1].ports")
    assert "base-60" in error.message


def test_proto_all_with_ports():
    error = only_error(rule("  - proto: all\n    ports: 22\n    cidr: 10.0.0.0/8\n"))
    assert (error.line, error.field) == (8, "ingress[1].ports")
    assert "proto all has no ports" in error.message


def test_unknown_proto():
    error = only_error(rule("  - proto: tpc\n    cidr: 10.0.0.0/8\n"))
    assert (error.line, error.field) == (7, "ingress[1].proto")


def test_ports_and_from_port_are_exclusive():
    error = only_error(
        rule("  - proto: tcp\n    ports: 22\n    from_port: 22\n    cidr: 10.0.0.0/8\n")
    )
    assert (error.line, error.field) == (8, "ingress[1].ports")
    assert "not both" in error.message


def test_icmp_uses_type_and_code():
    error = only_error(rule("  - proto: icmp\n    ports: 8\n    cidr: 10.0.0.0/8\n"))
    assert error.field == "ingress[1].ports" and "from_port" in error.message


def test_two_peers_in_one_rule():
    error = only_error(
        rule("  - proto: tcp\n    ports: 22\n    cidr: 10.0.0.0/8\n    group: bastion\n")
    )
    assert (error.line, error.field) == (7, "ingress[1]")
    assert "exactly one peer" in error.message and "cidr, group" in error.message


def test_no_peer():
    error = only_error(rule("  - proto: tcp\n    ports: 22\n"))
    assert (error.line, error.field) == (7, "ingress[1]")
    assert "found none" in error.message


def test_missing_name_and_group_id():
    error = only_error("kind: security_group\ndescription: web\n")
    assert (error.line, error.field) == (1, None)
    assert "group_id or name" in error.message


def test_bad_group_id_pattern():
    error = only_error("kind: security_group\ngroup_id: sg-XYZ\n")
    assert (error.line, error.field) == (2, "group_id")
    assert "sg-0123abcd" in error.message


def test_missing_kind_and_unknown_kind():
    assert only_error("name: web\n").field == "kind"
    error = only_error("kind: securitygroup\nname: web\n")
    assert "did you mean 'security_group'" in error.message


def test_aws_tags_are_rejected():
    error = only_error(HEADER + "tags:\n  aws:cloudformation:stack-name: x\n")
    assert (error.line, error.field) == (4, "tags.aws:cloudformation:stack-name")


def test_duplicate_rule_is_reported():
    error = only_error(rule("  - proto: tcp\n    ports: 443\n    cidr: 0.0.0.0/0\n"))
    assert error.line == 7 and "same rule as ingress[0] (line 4)" in error.message


def test_duplicate_yaml_key():
    error = only_error(HEADER + "description: a\ndescription: b\n")
    assert (error.line, error.field) == (4, "description")
    assert "duplicate" in error.message


def test_bad_yaml_indentation():
    error = only_error(HEADER + "ingress:\n  - proto: tcp\n     ports: 22\n")
    assert (error.file, error.line) == ("policies/web.yaml", 5)
    assert "invalid YAML" in error.message


def test_arbitrary_tags_are_refused():
    error = only_error(HEADER + "description: !!python/object/apply:os.system ['true']\n")
    assert error.line == 3 and "invalid YAML" in error.message


def test_document_line_in_multi_document_file():
    text = HEADER + "---\n" + "kind: security_group\nname: db\ningress:\n  - proto: udp\n"
    error = only_error(text)
    assert (error.line, error.field) == (7, "ingress[0]")


def test_independent_mistakes_in_one_file_are_all_reported():
    text = (
        HEADER
        + "account: 1234\n"
        + "ingress:\n"
        + "  - proto: tcp\n    ports: 70000\n    cidr: 10.0.0.0/8\n"
        + "  - proto: all\n    ports: 1\n    cidr: 10.0.0.0/8\n"
    )
    fields = [e.field for e in errors_of(text)]
    assert fields == ["account", "ingress[0].ports", "ingress[1].ports"]


def test_errors_from_several_files_are_all_reported():
    with pytest.raises(SpecSetError) as caught:
        load_documents(
            [
                ("policies/a.yaml", HEADER + "ingress: 3\n"),
                ("policies/b.yaml", "kind: security_group\nname: b\nvpc_id: vpc-XX\n"),
                ("policies/c.yaml", "kind: security_group\nname: c\n"),
                ("policies/d.yaml", "kind: [\n"),
            ]
        )
    where = [(e.file, e.line) for e in caught.value.errors]
    assert where == [("policies/a.yaml", 3), ("policies/b.yaml", 3), ("policies/d.yaml", 2)]
    assert "policies/b.yaml:3: vpc_id:" in str(caught.value)


def test_anchors_and_merge_keys_work():
    text = (
        "kind: security_group\nname: web\n"
        "ingress:\n"
        "  - &ssh {proto: tcp, ports: 22, cidr: 10.0.0.0/8}\n"
        "  - <<: *ssh\n    cidr: 192.168.0.0/16\n"
        "egress:\n  - *ssh\n"
    )
    parsed = parse_file("a.yaml", text)
    assert parsed.errors == ()
    spec = parsed.specs[0].spec
    assert {r.peer for r in spec.ingress} == {"10.0.0.0/8", "192.168.0.0/16"}
    assert spec.egress is not None and len(spec.egress) == 1


def test_error_inside_merged_rule_points_at_the_written_field():
    text = (
        "kind: security_group\nname: web\n"
        "x-base: &base {proto: tcp, ports: 22}\n"
        "ingress:\n"
        "  - <<: *base\n    cidr: 10.0.0.300/8\n"
    )
    assert [(e.line, e.field) for e in errors_of(text)] == [(6, "ingress[0].cidr")]
    assert [(e.line, e.field) for e in errors_of(text.replace("x-base", "base"))] == [
        (3, "base"),
        (6, "ingress[0].cidr"),
    ]


def test_recursive_alias_is_an_error_not_a_hang():
    error = only_error("kind: security_group\nname: web\ningress: &a [*a]\n")
    assert error.line == 3 and "alias" in error.message


def test_boolean_key_is_reported_once():
    error = only_error(HEADER + "on: push\n")
    assert error.line == 3 and "quote it" in error.message


def test_a_rule_with_two_mistakes_reports_both() -> None:
    text = (
        "kind: security_group\nname: web\ningress:\n"
        "  - proto: tpc\n    ports: 22\n    cidr: 10.0.0.300/8\n"
    )
    errors = parse_file("web.yaml", text).errors
    assert [(e.line, e.field) for e in errors] == [(4, "ingress[0].proto"), (6, "ingress[0].cidr")]


@pytest.mark.parametrize(
    ("mistake", "field"),
    [
        ("    ports: 70000\n", "ingress[0].ports"),  # schema: out of range
        ("    prots: 22\n", "ingress[0].prots"),  # schema: unknown field
        ("    ports: 22\n    description: 5\n", "ingress[0].description"),  # schema: type
    ],
)
def test_a_schema_error_in_a_rule_does_not_hide_its_peer_error(mistake: str, field: str) -> None:
    """Two peers and a schema mistake in one rule: validate names both, not one per run."""
    text = (
        "kind: security_group\nname: web\ningress:\n  - proto: tcp\n"
        + mistake
        + "    cidr: 10.0.0.0/8\n    group: sg-0123456789abcdef0\n"
    )
    errors = parse_file("web.yaml", text).errors
    assert sorted(e.field or "" for e in errors) == sorted([field, "ingress[0]"])
    (peer,) = [e for e in errors if e.field == "ingress[0]"]
    assert "exactly one peer" in peer.message and "cidr, group" in peer.message


def test_a_schema_error_in_a_rule_does_not_hide_a_wrong_protocol_or_cidr() -> None:
    text = (
        "kind: security_group\nname: web\ningress:\n"
        "  - proto: tpc\n    ports: 70000\n    cidr: 10.0.0.300/8\n"
    )
    errors = parse_file("web.yaml", text).errors
    assert [(e.line, e.field) for e in errors] == [
        (4, "ingress[0].proto"),
        (5, "ingress[0].ports"),
        (6, "ingress[0].cidr"),
    ]
