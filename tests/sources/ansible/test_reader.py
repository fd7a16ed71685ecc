"""The playbook reader: variable precedence, filters, lookups, includes, errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from chalicelib.errors import ConfigError, SpecError
from chalicelib.sources.ansible.model import AnsibleTask, Registered, TaskIdentity
from chalicelib.sources.ansible.provider import read_source
from chalicelib.sources.ansible.templating import RegisteredResult, Scope, Templar, Unresolved
from chalicelib.sources.declared import Declared

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ansible"
MODULES = frozenset({"ec2_group", "ec2_security_group"})


class _Mapped:
    modules = MODULES

    def declare(self, tasks: Sequence[AnsibleTask]) -> list[Declared | SpecError]:
        return []

    def identify(self, task: AnsibleTask) -> TaskIdentity:
        return TaskIdentity("security_group", None)


def tasks_of(target: str) -> tuple[list[AnsibleTask], list[str]]:
    """The tasks read, and every error: the source's, then the unresolved tasks'."""
    reader, _ = read_source(target, [_Mapped()])
    unresolved = [str(e) for _, problems in reader.unresolved for e in problems]
    return reader.tasks, [str(e) for e in reader.errors] + unresolved


def test_layered_directory_follows_ansible_precedence() -> None:
    root = str(FIXTURES / "layered")
    tasks, errors = tasks_of(root)
    assert errors == []
    by_name = {t.args["name"]: t for t in tasks}
    assert list(by_name) == ["from-param", "prod-web", "included"]  # roles, tasks, always
    role = by_name["from-param"]  # role params beat role defaults
    # group_vars/all beats role defaults; role vars are seen
    assert role.args["description"] == "group_all role_default role_vars"
    assert role.args["rules"] == [{"proto": "tcp", "ports": [443], "cidr_ip": "10.0.0.0/8"}]
    assert role.file == f"{root}/roles/web/tasks/main.yml" and role.line == 1
    assert role.line_of(("rules", 0, "ports")) == 7
    block = by_name["prod-web"]  # block vars beat play vars; vars_files beat play vars
    assert block.args["description"] == "block group_all host vars_file"
    assert block.args["rules"] == []
    assert block.file == f"{root}/site.yml" and block.line == 15
    assert by_name["included"].args["description"] == "from a file"
    assert by_name["included"].module == "ec2_security_group"  # the FQCN's short name


def test_a_single_playbook_file_is_a_source(tmp_path: Path) -> None:
    book = tmp_path / "one.yml"
    book.write_text(
        "- hosts: all\n  vars: {n: web}\n  tasks:\n"
        "    - name: short form\n      ec2_group: name={{ n }} description='a b'\n",
        encoding="utf-8",
    )
    tasks, errors = tasks_of(str(book))
    assert errors == []
    (task,) = tasks
    assert task.args == {"name": "web", "description": "a b"} and task.line == 4


def test_an_undefined_variable_names_file_line_and_expression(tmp_path: Path) -> None:
    book = tmp_path / "site.yml"
    book.write_text(
        "- hosts: localhost\n  tasks:\n    - ec2_group:\n        name: web\n"
        '        vpc_id: "{{ vpc_idd }}"\n',
        encoding="utf-8",
    )
    tasks, errors = tasks_of(str(book))
    assert tasks == []
    assert errors == [
        f"{book}:5: vpc_id: cannot resolve '{{{{ vpc_idd }}}}': 'vpc_idd' is undefined"
    ]


def test_a_when_that_cannot_be_decided_is_an_error(tmp_path: Path) -> None:
    book = tmp_path / "site.yml"
    book.write_text(
        "- hosts: localhost\n  tasks:\n    - ec2_group: {name: web}\n"
        "      when: ansible_facts.os_family == 'Debian'\n",
        encoding="utf-8",
    )
    _, errors = tasks_of(str(book))
    assert len(errors) == 1 and errors[0].startswith(f"{book}:4: when: cannot tell whether")


def test_registered_results_stay_references() -> None:
    templar = Templar()
    task = AnsibleTask("site.yml", 3, "ec2_group", {"name": "elb"})
    scope = Scope([{}], {"sg": RegisteredResult("sg", task, "site.yml:3")}, [])
    value = templar.render("{{ sg.group_id }}", scope)
    assert value == Registered("sg", ("group_id",), "{{ sg.group_id }}", task, "site.yml:3")
    with pytest.raises(Unresolved, match="cannot be part of a longer text"):
        templar.render("id-{{ sg.group_id }}", scope)


def test_filters_and_omit() -> None:
    templar = Templar()
    scope = Scope([{"doc": {"a": 1}, "text": '{"b": [2]}'}], {}, [])
    assert templar.render("{{ doc | to_json }}", scope) == '{"a": 1}'
    assert templar.render("{{ (text | from_json).b }}", scope) == [2]
    assert templar.render("{{ missing | default('x') }}", scope) == "x"
    assert templar.render({"k": "{{ missing | default(omit) }}", "j": 1}, scope) == {"j": 1}
    with pytest.raises(Unresolved, match="lookup\\('env'\\) reads the machine"):
        templar.render("{{ lookup('env', 'HOME') }}", scope)


def test_the_sandbox_refuses_python_internals() -> None:
    scope = Scope([{"s": "x"}], {}, [])
    with pytest.raises(Unresolved):
        Templar().render("{{ s.__class__.__mro__ }}", scope)


def test_variables_that_refer_to_each_other_in_a_cycle_are_an_error() -> None:
    scope = Scope([{"a": "{{ b }}", "b": "{{ a }}"}], {}, [])
    with pytest.raises(Unresolved, match="cycle"):
        Templar().render("{{ a }}", scope)


def test_a_missing_source_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such playbook"):
        read_source(str(tmp_path / "nope"), [_Mapped()])
    with pytest.raises(ConfigError, match="no playbooks or roles"):
        read_source(str(tmp_path), [_Mapped()])


def test_loops_include_role_and_imported_playbooks_read_once(tmp_path: Path) -> None:
    (tmp_path / "roles" / "edge" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "edge" / "tasks" / "main.yml").write_text(
        "- ec2_group: {name: '{{ edge_name }}', description: edge}\n", encoding="utf-8"
    )
    (tmp_path / "site.yml").write_text("- import_playbook: groups.yml\n", encoding="utf-8")
    (tmp_path / "groups.yml").write_text(
        "- hosts: localhost\n  tasks:\n"
        "    - ec2_group: {name: '{{ g }}', description: '{{ g }}'}\n"
        "      loop: [a, b]\n      loop_control: {loop_var: g}\n"
        "    - include_role: {name: edge}\n      vars: {edge_name: lb}\n",
        encoding="utf-8",
    )
    tasks, errors = tasks_of(str(tmp_path))
    assert errors == []
    assert [(t.args["name"], t.file, t.line) for t in tasks] == [
        ("a", f"{tmp_path}/groups.yml", 3),
        ("b", f"{tmp_path}/groups.yml", 3),
        ("lb", f"{tmp_path}/roles/edge/tasks/main.yml", 1),
    ]


def test_vault_values_and_files_are_errors_not_guesses(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text(
        "vpc: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n", encoding="utf-8"
    )
    (tmp_path / "site.yml").write_text(
        "- hosts: localhost\n  tasks:\n    - ec2_group: {name: web, vpc_id: '{{ vpc }}'}\n",
        encoding="utf-8",
    )
    tasks, errors = tasks_of(str(tmp_path))
    assert tasks == []
    assert errors == [
        f"{tmp_path}/site.yml:3: vpc_id: cannot resolve '{{{{ vpc }}}}': variable vpc: "
        "the value is encrypted with ansible-vault"
    ]
