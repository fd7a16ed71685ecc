"""Terraform state (format 4) as a desired-state source; each family maps its own types."""
