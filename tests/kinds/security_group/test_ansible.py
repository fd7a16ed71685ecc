"""ec2_security_group / ec2_group playbooks as specs, round trip on moto."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.cli.main import main
from chalicelib.errors import SpecSetError
from chalicelib.sources.ansible.provider import load_ansible

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ansible"
EAST = "us-east-1"
# the guard kind is left out: these estates have no trail (that is guard drift)
CHECK = ["check", "--region", EAST, "--kinds", "security_group", "--specs"]


def playbook(tmp_path: Path, vpc: str) -> Path:
    root = tmp_path / "jenkins"
    shutil.copytree(FIXTURES / "jenkins", root)
    (root / "group_vars" / "all.yml").write_text(
        f"vpc_id: {vpc}\noffice_cidr: 203.0.113.0/24\n", encoding="utf-8"
    )
    return root


def build_account(ec2: Any) -> dict[str, str]:
    """What the seed playbook made: an ELB group open to the office, jenkins behind it."""
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    for group in ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]:
        # AWS makes each VPC's default group accept its own members; moto does not
        ec2.authorize_security_group_ingress(
            GroupId=group["GroupId"],
            IpPermissions=[
                {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group["GroupId"]}]}
            ],
        )
    elb = ec2.create_security_group(GroupName="jenkins-elb", Description="jenkins elb", VpcId=vpc)
    jenkins = ec2.create_security_group(GroupName="jenkins", Description="jenkins", VpcId=vpc)
    ec2.authorize_security_group_ingress(
        GroupId=elb["GroupId"], IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="203.0.113.0/24"
    )
    ec2.authorize_security_group_ingress(
        GroupId=jenkins["GroupId"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": elb["GroupId"]}],
            }
        ],
    )
    return {"vpc": vpc, "elb": elb["GroupId"], "jenkins": jenkins["GroupId"]}


@pytest.fixture
def east(aws: None) -> Any:
    return boto3.client("ec2", region_name=EAST)


def test_the_seed_playbook_describes_the_account(
    east: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = build_account(east)
    root = playbook(tmp_path, ids["vpc"])
    code = main([*CHECK, f"ansible:{root}", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["findings"]
    assert report["summary"]["in_sync"] == report["summary"]["checked"] == 4  # 2 + 2 defaults


def test_an_out_of_band_rule_is_drift_at_the_task(
    east: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = build_account(east)
    root = playbook(tmp_path, ids["vpc"])
    east.authorize_security_group_ingress(
        GroupId=ids["jenkins"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    code = main([*CHECK, f"ansible:{root}", "--format", "json"])
    assert code == 1
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert finding["id"] == ids["jenkins"] and finding["status"] == "drifted"
    assert finding["spec"] == f"{root}/site.yml"
    assert finding["spec_line"] == 20  # the `- name: jenkins security group` task
    (change,) = finding["changes"]
    assert change["summary"] == "ingress tcp/22 from 0.0.0.0/0 — not in spec"


def test_a_changed_peer_from_the_registered_group_is_drift(
    east: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = build_account(east)
    root = playbook(tmp_path, ids["vpc"])
    east.revoke_security_group_ingress(
        GroupId=ids["jenkins"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": ids["elb"]}],
            }
        ],
    )
    code = main([*CHECK, f"ansible:{root}", "--format", "json"])
    assert code == 1
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert finding["name"] == "jenkins"
    assert [c["op"] for c in finding["changes"]] == ["remove"]


def write(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "site.yml").write_text(text, encoding="utf-8")
    return root


PLAY = "- hosts: localhost\n  tasks:\n"


def test_a_registered_result_of_another_module_leaves_the_group_unresolved(
    tmp_path: Path,
) -> None:
    root = write(
        tmp_path / "pb",
        PLAY + "    - amazon.aws.ec2_vpc_net: {name: main, cidr_block: 10.0.0.0/16}\n"
        "      register: vpc\n"
        "    - ec2_group:\n"
        "        name: web\n"
        "        description: web\n"
        '        vpc_id: "{{ vpc.vpc.id }}"\n',
    )
    catalog = load_ansible(str(root))
    assert catalog.specs_of("security_group") == ()  # never compared with a guess
    (unresolved,) = catalog.undeclared
    assert (unresolved.why, unresolved.kind, unresolved.name) == (
        "unresolved",
        "security_group",
        "web",
    )
    assert unresolved.reason.startswith(f"{root}/site.yml:8: vpc_id: cannot resolve")
    assert "'{{ vpc.vpc.id }}'" in unresolved.reason and f"{root}/site.yml:3" in unresolved.reason


def test_purge_rules_false_is_refused(tmp_path: Path) -> None:
    root = write(
        tmp_path / "pb",
        PLAY + "    - ec2_group: {name: web, description: web, purge_rules: false}\n",
    )
    with pytest.raises(SpecSetError, match="purge_rules: false keeps rules"):
        load_ansible(str(root))


def test_state_absent_cancels_the_group_and_rules_split_per_peer(tmp_path: Path) -> None:
    root = write(
        tmp_path / "pb",
        PLAY + "    - ec2_group: {name: old, description: old}\n"
        "    - ec2_group: {name: old, state: absent}\n"
        "    - ec2_group:\n"
        "        name: web\n"
        "        description: web\n"
        "        rules:\n"
        "          - {proto: tcp, ports: [80, 443], cidr_ip: 0.0.0.0/0, cidr_ipv6: '::/0',"
        " rule_desc: public}\n"
        "          - {proto: icmp, icmp_type: 8, icmp_code: -1, ip_prefix: pl-0abc}\n",
    )
    (spec,) = load_ansible(str(root)).by_kind["security_group"]
    assert spec.name == "web"
    assert {(r.peer, r.from_port, r.description) for r in spec.ingress} == {
        ("0.0.0.0/0", 80, "public"),
        ("0.0.0.0/0", 443, "public"),
        ("::/0", 80, "public"),
        ("::/0", 443, "public"),
        ("pl-0abc", 8, None),
    }
    assert spec.egress is None  # rules_egress omitted: the AWS default


def test_a_group_the_playbook_deletes_must_not_exist(
    east: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`state: absent`: drifted while the group exists, naming the task; in sync once gone."""
    ids = build_account(east)
    root = playbook(tmp_path, ids["vpc"])
    book_path = root / "site.yml"
    task_line = len(book_path.read_text(encoding="utf-8").splitlines()) + 2
    with book_path.open("a", encoding="utf-8") as book:
        book.write(
            "\n    - name: retire jenkins\n"
            "      ec2_group: {name: jenkins, vpc_id: '{{ vpc_id }}', region: us-east-1,"
            " state: absent}\n"
        )
    code = main([*CHECK, f"ansible:{root}", "--format", "json"])
    assert code == 1
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert (finding["name"], finding["id"], finding["status"]) == (
        "jenkins",
        ids["jenkins"],
        "drifted",
    )
    assert (finding["spec"], finding["spec_line"]) == (str(book_path), task_line)
    (change,) = finding["changes"]
    assert "must not" in change["summary"] and "state: absent" in change["summary"]

    east.delete_security_group(GroupId=ids["jenkins"])
    code = main([*CHECK, f"ansible:{root}", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert (code, report["findings"]) == (0, [])
    assert report["summary"]["in_sync"] == report["summary"]["checked"]


def test_an_unresolvable_expression_makes_its_group_unknown_and_the_rest_is_compared(
    east: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = build_account(east)
    root = playbook(tmp_path, ids["vpc"])
    book = root / "site.yml"
    text = book.read_text(encoding="utf-8")
    book.write_text(
        text.replace("description: jenkins\n", 'description: "{{ jenkins_descr }}"\n'),
        encoding="utf-8",
    )
    line = 1 + text.splitlines().index("        description: jenkins")
    code = main([*CHECK, f"ansible:{root}", "--format", "json"])
    (finding,) = json.loads(capsys.readouterr().out)["findings"]
    assert code == 2  # something could not be compared, and nothing drifted
    assert (finding["id"], finding["status"]) == (ids["jenkins"], "unknown")
    assert (
        f"{book}:{line}: description: cannot resolve '{{{{ jenkins_descr }}}}'"
        in (finding["reason"])
    )
    assert "'jenkins_descr' is undefined" in finding["reason"]

    # the other groups are compared as usual: a hand change on the ELB group is drift
    east.authorize_security_group_ingress(
        GroupId=ids["elb"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="0.0.0.0/0"
    )
    code = main([*CHECK, f"ansible:{root}", "--format", "json"])
    statuses = {f["name"]: f["status"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert (code, statuses) == (1, {"jenkins": "unknown", "jenkins-elb": "drifted"})


def test_a_group_that_refers_to_an_unresolved_task_is_unknown_too(
    east: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """jenkins' rule names the ELB group's registered result; with the ELB task unresolved,
    neither group is compared (the rule's peer would be a guess), the default groups are."""
    ids = build_account(east)
    root = playbook(tmp_path, ids["vpc"])
    book = root / "site.yml"
    text = book.read_text(encoding="utf-8")
    book.write_text(text.replace("{{ office_cidr }}", "{{ ofice_cidr }}"), encoding="utf-8")
    code = main([*CHECK, f"ansible:{root}", "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert code == 2
    assert {f["name"]: f["status"] for f in findings} == {
        "jenkins-elb": "unknown",
        "jenkins": "unknown",
    }
    reasons = {f["name"]: f["reason"] for f in findings}
    assert "'{{ ofice_cidr }}'" in reasons["jenkins-elb"]
    assert "'{{ sg_jenkins_elb.group_id }}'" in reasons["jenkins"]


def test_validate_lists_what_a_playbook_could_not_resolve(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = playbook(tmp_path, "vpc-0abc")
    book = root / "site.yml"
    text = book.read_text(encoding="utf-8")
    book.write_text(
        text.replace("description: jenkins\n", 'description: "{{ jenkins_descr }}"\n'),
        encoding="utf-8",
    )
    assert main(["validate", "--specs", f"ansible:{root}"]) == 2  # an error, as before
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert out[0] == f"ansible:{root}: 2 resource(s) valid (2 security_group), 1 unresolved"
    assert out[1].startswith(f"  unresolved: security_group jenkins ({book}:")
    assert "cannot resolve '{{ jenkins_descr }}'" in out[1]
    (error, count) = captured.err.splitlines()
    assert error.startswith(f"error: {book}:") and "jenkins_descr" in error
    assert count == "1 spec error(s)"


def test_a_mistyped_rule_argument_is_an_error_at_its_line(tmp_path: Path) -> None:
    root = write(
        tmp_path / "pb",
        PLAY + "    - ec2_group:\n        name: web\n        description: web\n"
        "        rules:\n          - proto: tcp\n            cidr_ipp: 10.0.0.0/8\n",
    )
    with pytest.raises(SpecSetError) as caught:
        load_ansible(str(root))
    (error,) = caught.value.errors
    assert (error.line, error.field) == (8, "rules[0].cidr_ipp")
    assert "unknown rule argument 'cidr_ipp'" in error.message
