"""Ansible playbooks and roles as a desired-state source, read without running Ansible."""
