"""Region names are checked against botocore's endpoint data, before any call."""

from __future__ import annotations

import botocore.session
import pytest

from chalicelib.cli import regions
from chalicelib.errors import ConfigError


@pytest.fixture(autouse=True)
def fresh() -> None:
    regions.known_regions.cache_clear()


def test_every_partition_is_known() -> None:
    known = regions.known_regions()
    assert {"us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"} <= known


def test_the_same_regions_as_a_session_lists_for_ec2() -> None:
    session = botocore.session.get_session()
    listed = {
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("ec2", partition_name=partition)
    }
    assert regions.known_regions() == listed


def test_checking_a_region_loads_no_service_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """EC2's model is megabytes of JSON: a check loads it for its clients, not to spell-check."""

    def refuse(self: object, service_name: str, api_version: str | None = None) -> None:
        raise AssertionError(f"loaded the {service_name} service model")

    monkeypatch.setattr(botocore.session.Session, "get_service_data", refuse)
    assert regions.check_regions(["eu-west-1"]) == ["eu-west-1"]
    with pytest.raises(ConfigError, match="did you mean eu-west-1"):
        regions.check_regions(["eu-wst-1"])
