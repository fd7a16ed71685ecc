"""Where desired state comes from: Setpoint specs, Terraform state, Ansible playbooks.

Every source ends as the same `SpecCatalog`: Terraform and Ansible resources are translated
into Setpoint spec documents (`Declared`) and go through the same schema and builders as a
YAML spec, so one validation and one comparison serve all three.
"""
