"""An `ansible:` source next to Setpoint specs: one catalog, a resource in both is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.errors import SpecSetError
from chalicelib.sources.ansible.provider import ansible_provider, find_playbooks
from chalicelib.sources.combined import merge_catalogs
from chalicelib.specs.loading import load_directory


def test_a_group_in_a_playbook_and_a_spec_names_both_places(tmp_path: Path) -> None:
    book = tmp_path / "ansible"
    book.mkdir()
    (book / "site.yml").write_text(
        "- hosts: localhost\n  tasks:\n"
        "    - ec2_group: {name: web, description: web, region: eu-west-1}\n",
        encoding="utf-8",
    )
    specs = tmp_path / "policies"
    specs.mkdir()
    (specs / "web.yaml").write_text(
        "kind: security_group\nname: web\nregion: eu-west-1\n", encoding="utf-8"
    )
    with pytest.raises(SpecSetError) as caught:
        merge_catalogs([ansible_provider(str(book))(), load_directory(specs)])
    text = str(caught.value)
    assert f"{book}/site.yml:3" in text and f"{specs}/web.yaml:" in text


def test_playbooks_are_found_and_role_folders_are_not_playbooks(tmp_path: Path) -> None:
    (tmp_path / "roles" / "r" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "r" / "tasks" / "main.yml").write_text("- hosts: x\n", encoding="utf-8")
    (tmp_path / "site.yml").write_text("- hosts: all\n  tasks: []\n", encoding="utf-8")
    (tmp_path / "inventory.yml").write_text("all: {hosts: {a: {}}}\n", encoding="utf-8")
    assert find_playbooks(tmp_path) == [tmp_path / "site.yml"]


def test_validate_lists_unresolved_and_absent_resources_under_their_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalicelib.cli.main import main

    book = tmp_path / "site.yml"
    book.write_text(
        "- hosts: localhost\n  tasks:\n"
        "    - iam_role:\n        name: app\n"
        '        assume_role_policy_document: {"Version": "2012-10-17", "Statement": []}\n'
        "    - iam_policy:\n        iam_type: role\n        iam_name: app\n"
        '        policy_name: p\n        policy_json: "{{ nothing }}"\n'
        "    - s3_bucket: {name: old-logs, state: absent}\n",
        encoding="utf-8",
    )
    assert main(["validate", "--specs", f"ansible:{book}"]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"ansible:{book}: 1 resource(s) valid (1 iam_role), 1 unresolved, 1 must not exist",
        f"  unresolved: iam_role app ({book}:6): {book}:10: policy_json: cannot resolve"
        " '{{ nothing }}': 'nothing' is undefined",
        f"  must not exist: s3_bucket old-logs ({book}:11): s3_bucket with state: absent",
    ]
    assert captured.err.splitlines()[-1] == "1 spec error(s)"
