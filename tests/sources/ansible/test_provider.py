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
