"""Setpoint's own sight: the CloudTrail trails and EventBridge rules its events depend on.

The kind itself (`GUARD`) is named by the core (`chalicelib.model`): the spec bundle and
the sweep report their own failures as guard findings too. This folder adds the parts of
the estate that can blind Setpoint: a trail that stops logging, and Setpoint's own rules.
"""

from chalicelib.model import GUARD

CLOUDTRAIL_SOURCE = "cloudtrail.amazonaws.com"
EVENTS_SOURCE = "events.amazonaws.com"
# Setpoint's EventBridge rules are created by the stack `setpoint-<stage>`; CloudFormation
# names them `<stack>-<logical id>-<suffix>`, so the stack name is their prefix.
RULE_PREFIX = "setpoint-"
# What a guard finding without a spec departs from: the built-in desired state.
BUILT_IN = "built-in guard default"

__all__ = ["BUILT_IN", "CLOUDTRAIL_SOURCE", "EVENTS_SOURCE", "GUARD", "RULE_PREFIX"]
