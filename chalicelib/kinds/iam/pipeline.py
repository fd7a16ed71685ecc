"""The IAM pipeline: one `KindPipeline` for customer-managed policies, roles, users, groups.

The four kinds share one pipeline because they share one sweep read: a single paginated
GetAccountAuthorizationDetails per account. IAM is global, so sweeps ignore the regions
they are given and every finding says "global". Resources AWS owns are never reported as
unmanaged: AWS managed policies are not listed at all, and service-linked roles (path
/aws-service-role/) are skipped unless a spec names them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from chalicelib.aws import ClientCache
from chalicelib.errors import ReadError
from chalicelib.kinds.iam.collector import IamCollector
from chalicelib.kinds.iam.compare import evaluate_iam
from chalicelib.kinds.iam.model import (
    IAM_KINDS,
    SERVICE_LINKED_PATH,
    IamIdentityState,
    IamSpec,
    IamState,
    parse_arn,
    partition_of,
    spec_arn,
)
from chalicelib.kinds.iam.spec import in_account, match_iam
from chalicelib.kinds.iam.writer import iam_filename, render_iam_spec
from chalicelib.model import GLOBAL_REGION, Finding, Kind, ResourceRef
from chalicelib.pipeline import SweepResult, unknown_finding
from chalicelib.specs.catalog import SpecCatalog

if TYPE_CHECKING:  # an exporter is handed its sink; specs/ imports the registry
    from chalicelib.specs.sink import SpecSink


def aws_owned(state: IamState) -> bool:
    """Resources AWS creates and owns: no spec is expected for them."""
    return isinstance(state, IamIdentityState) and state.service_linked


def _arn_name(arn: str | None) -> str | None:
    parsed = parse_arn(arn or "")
    return parsed.name if parsed else None


def _specs(catalog: SpecCatalog, kind: Kind) -> list[IamSpec]:
    return list(catalog.specs_of(kind.value))


class IamPipeline:
    kinds: tuple[Kind, ...] = IAM_KINDS

    def __init__(self, collector: IamCollector) -> None:
        self.collector = collector

    def _named_by(self, ref: ResourceRef, specs: Iterable[IamSpec]) -> list[IamSpec]:
        """Specs a reference to a resource that is gone (or unreadable) may have meant."""
        name = ref.name or _arn_name(ref.id)
        return [s for s in specs if s.name == name and in_account(s, ref.account)]

    def locate_spec(self, spec: Any, refs: Sequence[ResourceRef]) -> list[ResourceRef]:
        return list(refs)  # a spec names its resource exactly

    def evaluate_ref(self, ref: ResourceRef, catalog: SpecCatalog) -> list[Finding]:
        specs = _specs(catalog.about(ref.kind, (ref.name, _arn_name(ref.id))), ref.kind)
        try:
            state = self.collector.read(ref)
        except ReadError as exc:
            named = self._named_by(ref, specs)
            if not named:
                return [unknown_finding(ref, str(exc))]
            first = named[0]
            if first.account or ref.account:  # the id the sweep gives it, from the spec
                ref = self._ref_for(first, ref.kind, ref.account or "", partition_of(ref.id))
            return [unknown_finding(ref, str(exc), str(first.source))]
        if state is not None:
            spec = match_iam(_specs(catalog.about(ref.kind, (state.name,)), ref.kind), state)
            if spec is None and aws_owned(state):
                return []
            return [evaluate_iam(spec, state)]
        return [evaluate_iam(spec, None, ref=ref) for spec in self._named_by(ref, specs)]

    def sweep(
        self,
        catalog: SpecCatalog,
        account: str,
        regions: Sequence[str],
        kinds: frozenset[Kind] = frozenset(IAM_KINDS),
    ) -> SweepResult:
        result = SweepResult()
        wanted = [kind for kind in self.kinds if kind in kinds]
        if not wanted:
            return result
        try:
            listing = self.collector.list_account(wanted)
        except ReadError as exc:
            for kind in wanted:
                everything = ResourceRef(kind, account, GLOBAL_REGION, name="(all)")
                result.findings.append(unknown_finding(everything, str(exc)))
                for spec in _specs(catalog, kind):
                    if in_account(spec, account):
                        ref = self._ref_for(spec, kind, account, partition_of())
                        result.findings.append(unknown_finding(ref, str(exc), str(spec.source)))
            return result
        partition = partition_of(*(state.arn for k in wanted for state in listing.states(k)))
        for kind in wanted:
            specs = [s for s in _specs(catalog, kind) if in_account(s, account)]
            matched: set[int] = set()
            for item in listing.unreadable_of(kind):
                named = [s for s in specs if s.name == item.name and in_account(s, item.account)]
                for spec in named:
                    matched.add(id(spec))
                if not named and item.path.startswith(SERVICE_LINKED_PATH):
                    continue  # AWS's own role, as for readable ones
                ref = ResourceRef(kind, item.account or account, GLOBAL_REGION, item.arn, item.name)
                result.findings.append(
                    unknown_finding(ref, item.reason, str(named[0].source) if named else None)
                )
            for state in listing.states(kind):
                governing = match_iam(specs, state)
                if governing is not None:
                    matched.add(id(governing))
                elif aws_owned(state):
                    continue
                result.findings.append(evaluate_iam(governing, state))
            for spec in specs:
                if id(spec) not in matched:
                    ref = self._ref_for(spec, kind, account, partition)
                    result.findings.append(evaluate_iam(spec, None, ref=ref))
        return result

    @staticmethod
    def _ref_for(spec: IamSpec, kind: Kind, account: str, partition: str) -> ResourceRef:
        """The ref of a spec's resource that was not read: its id built from the spec."""
        arn = spec_arn(spec, account, partition)
        return ResourceRef(kind, spec.account or account, GLOBAL_REGION, id=arn, name=spec.name)


def import_iam(
    collector: IamCollector, out: SpecSink, kinds: Iterable[Kind], quiet: bool = False
) -> int:
    """Write `out/iam/<kind>/<name>.yaml` for every IAM resource a spec could govern.

    Service-linked roles and AWS managed policies are left out, as the sweep leaves them.
    """
    wanted = [kind for kind in IAM_KINDS if kind in set(kinds)]
    listing = collector.list_account(wanted)
    written = 0
    for kind in wanted:
        states = [state for state in listing.states(kind) if not aws_owned(state)]
        folder = out.root / "iam" / kind.value
        for item in listing.unreadable_of(kind):
            print(f"skipped {item.arn}: {item.reason}", file=sys.stderr)
        for state in states:
            target = folder / iam_filename(state)
            text = render_iam_spec(state, schema_ref=out.schema_ref(target))
            written += out.write(kind, state.arn, target, text, state.name)
        if not quiet:
            print(f"global: {len(states)} {kind.value} spec(s) → {folder}")
    return written


def export_iam(
    clients: ClientCache, regions: list[str], out: SpecSink, kinds: frozenset[Kind]
) -> int:
    """The `setpoint import` exporter for the four IAM kinds (regions do not apply)."""
    return import_iam(IamCollector(lambda: clients.client("iam")), out, kinds)
