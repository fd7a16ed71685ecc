"""One CloudTrail record, type-checked once at the edge so the rest of the pipeline can trust it.

Records reach us in three wrappings: raw (as `setpoint explain` reads a file or a `Records[]`
item), inside an EventBridge envelope (`detail`, as the Lambda receives it), and as a whole
CloudTrail log file (`{"Records": [...]}`). `parse_payload` accepts all three and raises
`EventError`, naming the offending field, for anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from chalicelib.errors import EventError
from chalicelib.events.encodable import encodable
from chalicelib.events.fields import ci_get, described

EVENTBRIDGE_DETAIL_TYPE = "AWS API Call via CloudTrail"

# Top-level fields whose type we check up front; everything else is read forgivingly.
_STRING_FIELDS = (
    "eventSource",
    "eventID",
    "eventTime",
    "awsRegion",
    "errorCode",
    "userAgent",
    "sourceIPAddress",
)
_OBJECT_FIELDS = ("requestParameters", "responseElements", "userIdentity")
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class CloudTrailRecord:
    """A read-only view of one CloudTrail record with typed accessors.

    `envelope_account` / `envelope_region` come from an EventBridge envelope and are used
    only when the record itself does not say.
    """

    raw: Mapping[str, Any]
    envelope_account: str | None = None
    envelope_region: str | None = None
    # where the record came from, for error messages ("Records[3]", "detail")
    origin: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.raw, Mapping):
            raise EventError(f"{self._where()}a CloudTrail record must be a JSON object")
        # lone surrogates replaced here, once: nothing downstream can fail to encode it
        object.__setattr__(self, "raw", MappingProxyType(dict(encodable(self.raw))))
        self._check()

    def _where(self) -> str:
        return f"{self.origin}: " if self.origin else ""

    def _fail(self, message: str) -> EventError:
        event_id = self.raw.get("eventID")
        return EventError(self._where() + message, event_id if isinstance(event_id, str) else None)

    def _check(self) -> None:
        name = self.raw.get("eventName")
        if "eventName" not in self.raw:
            raise self._fail("eventName is missing: this is not a CloudTrail record")
        if not isinstance(name, str) or not name:
            got = "an empty string" if isinstance(name, str) else described(name)
            raise self._fail(f"eventName must be a non-empty string, got {got}")
        for key in _STRING_FIELDS:
            value = self.raw.get(key)
            if value is not None and not isinstance(value, str):
                raise self._fail(f"{key} must be a string, got {described(value)}")
        for key in _OBJECT_FIELDS:
            value = self.raw.get(key)
            if value is not None and not isinstance(value, Mapping):
                raise self._fail(f"{key} must be an object or null, got {described(value)}")
        account = self.raw.get("recipientAccountId")
        if account is not None and not _is_account(account):
            raise self._fail(f"recipientAccountId must be a string, got {described(account)}")
        if account is not None and str(account) and _account_id(account) is None:
            raise self._fail(f"recipientAccountId must be a 12-digit account id, got {account!r}")
        read_only = self.raw.get("readOnly")
        if read_only is not None and _read_only(read_only) is None:
            raise self._fail(f'readOnly must be true, false, "true" or "false", got {read_only!r}')

    # -- what happened -------------------------------------------------------------------

    @property
    def event_name(self) -> str:
        return str(self.raw["eventName"])

    @property
    def event_source(self) -> str | None:
        return self._str("eventSource")

    @property
    def event_id(self) -> str | None:
        return self._str("eventID")

    @property
    def event_time(self) -> str | None:
        return self._str("eventTime")

    @property
    def aws_region(self) -> str | None:
        return self._str("awsRegion") or self.envelope_region

    @property
    def account(self) -> str | None:
        """The account the call was made in: recipient, else caller's, else the envelope's."""
        for value in (
            self.raw.get("recipientAccountId"),
            ci_get(self.user_identity, "accountId"),
        ):
            account = _account_id(value)
            if account is not None:
                return account
        return self.envelope_account

    @property
    def error_code(self) -> str | None:
        """The error code, or None: an empty string means the call succeeded."""
        return self._str("errorCode")

    @property
    def read_only(self) -> bool:
        """Whether the call only read; records that do not say are treated as writes."""
        return bool(_read_only(self.raw.get("readOnly")))

    @property
    def request_parameters(self) -> Mapping[str, Any]:
        return self._object("requestParameters")

    @property
    def response_elements(self) -> Mapping[str, Any]:
        return self._object("responseElements")

    # -- who did it ----------------------------------------------------------------------

    @property
    def user_identity(self) -> Mapping[str, Any]:
        """The caller; read its keys with `fields.ci_get`, some pipelines lower-case them."""
        return self._object("userIdentity")

    @property
    def user_agent(self) -> str | None:
        return self._str("userAgent")

    @property
    def source_ip(self) -> str | None:
        return self._str("sourceIPAddress")

    def _str(self, key: str) -> str | None:
        value = self.raw.get(key)
        return value if isinstance(value, str) and value else None

    def _object(self, key: str) -> Mapping[str, Any]:
        value = self.raw.get(key)
        return value if isinstance(value, Mapping) else _EMPTY


def _is_account(value: object) -> bool:
    # Account ids are strings; some exporters write them as numbers. Booleans are not ids.
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _account_id(value: object) -> str | None:
    """A 12-digit account id, or None: a number loses its leading zeros, so they are put back.

    Anything else (a caller's `accountId` of "anonymous", a mangled export) must not become
    the account of an ARN or a role to assume.
    """
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12:
        return f"{value:012d}"
    if isinstance(value, str) and len(value) == 12 and value.isascii() and value.isdigit():
        return value
    return None


def _read_only(value: object) -> bool | None:
    """readOnly as a bool (False when missing), or None when the value is not understood."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def parse_payload(payload: object) -> list[CloudTrailRecord]:
    """The CloudTrail records in a raw record, an EventBridge envelope or a log file."""
    if not isinstance(payload, Mapping):
        raise EventError(
            "expected a JSON object (a CloudTrail record, an EventBridge envelope or "
            f'{{"Records": [...]}}), got {described(payload)}'
        )
    payload = dict(encodable(payload))  # the envelope's fields too (region, account)
    if "eventName" in payload:
        return [CloudTrailRecord(payload)]
    if "detail" in payload:
        return [_from_envelope(payload)]
    if "Records" in payload:
        return _from_log_file(payload["Records"])
    raise EventError(
        "not a CloudTrail record: expected eventName (a record), detail (an EventBridge "
        "envelope) or Records (a CloudTrail log file)"
    )


def _from_envelope(envelope: Mapping[str, Any]) -> CloudTrailRecord:
    detail = envelope["detail"]
    detail_type = envelope.get("detail-type")
    kind = f" (detail-type {detail_type!r})" if isinstance(detail_type, str) else ""
    if not isinstance(detail, Mapping):
        raise EventError(
            f"EventBridge envelope{kind}: detail must be an object holding a CloudTrail "
            f"record, got {described(detail)}"
        )
    if "eventName" not in detail:
        raise EventError(
            f"EventBridge envelope{kind} holds no CloudTrail record: detail.eventName is missing"
        )
    account = envelope.get("account")
    if account is not None and not _is_account(account):
        raise EventError(
            f"EventBridge envelope: account must be a string, got {described(account)}"
        )
    if account is not None and str(account) and _account_id(account) is None:
        raise EventError(
            f"EventBridge envelope: account must be a 12-digit account id, got {account!r}"
        )
    region = envelope.get("region")
    if region is not None and not isinstance(region, str):
        raise EventError(f"EventBridge envelope: region must be a string, got {described(region)}")
    return CloudTrailRecord(
        detail,
        envelope_account=_account_id(account) if account is not None else None,
        envelope_region=region or None,
        origin="detail",
    )


def _from_log_file(records: object) -> list[CloudTrailRecord]:
    if not isinstance(records, list):
        raise EventError(f"Records must be an array of records, got {described(records)}")
    return [CloudTrailRecord(item, origin=f"Records[{i}]") for i, item in enumerate(records)]
