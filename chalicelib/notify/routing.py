"""Several notifiers at once, chosen per alert by resource kind, status, alert kind or tag.

Every route whose conditions all hold gets the alert; when none holds, the defaults get
it, so nothing falls through the cracks because no route matched. A notifier named by
two matching routes posts once.

One notifier failing never stops the others: all are tried, then a `RoutedDeliveryError`
lists the failures and carries the refs that did get through (and the notifiers that
failed, so an outbox can retry just those without double-posting the rest).

Tags come from the finding (`Finding.tags`, the resource's tags as read live), or from
`tags_of`, a function from a finding to its resource's tags (or a mapping from resource
id to tags) that overrides them. A resource without the tag a route asks for (untagged,
missing, or not read) matches no such route and goes where the other conditions send it,
except for follow-ups of an alert that route posted: a tag route keeps its threads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from chalicelib.errors import DeliveryError
from chalicelib.model import Finding
from chalicelib.notify.alert import Alert, MessageRef
from chalicelib.notify.alert_message import new_alert
from chalicelib.notify.delivery import AlertNotifier
from chalicelib.sweep.digest import Digest

TagsOf = Callable[[Finding], Mapping[str, str]]


@dataclass(frozen=True)
class Route:
    """Where alerts that meet every given condition go; an empty condition always holds.

    `kinds` are resource kinds (`security_group`), `statuses` finding statuses
    (`unmanaged`), `alert_kinds` alert kinds (`back_to_normal`), `tags` tags that must
    all hold, each to one value (`{"team": "web"}`) or any of several
    (`{"team": frozenset({"web", "edge"})}`).
    """

    notifiers: Sequence[AlertNotifier]
    kinds: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()
    alert_kinds: frozenset[str] = frozenset()
    tags: Mapping[str, str | frozenset[str]] = field(default_factory=dict)

    def matches(self, alert: Alert, tags: Mapping[str, str] | None) -> bool:
        finding = alert.finding
        if self.kinds and str(finding.kind) not in self.kinds:
            return False
        if self.statuses and str(finding.status) not in self.statuses:
            return False
        if self.alert_kinds and str(alert.kind) not in self.alert_kinds:
            return False
        if self.tags:
            if self.posted_thread(alert):
                return True  # the drift's follow-ups go where its alert went
            if tags is None:
                return False
            return all(_tag_holds(tags.get(key), want) for key, want in self.tags.items())
        return True

    def posted_thread(self, alert: Alert) -> bool:
        """One of this route's notifiers posted the alert this one follows up, so its tags
        held then: a retag, or a sweep that reads no tags, does not lose the thread."""
        return any(_posted(n, ref) for n in self.notifiers for ref in alert.thread)


def _posted(notifier: AlertNotifier, ref: MessageRef) -> bool:
    owns = getattr(notifier, "owns", None)
    return ref.notifier == notifier.name or (callable(owns) and bool(owns(ref)))


def _tag_holds(value: str | None, want: str | frozenset[str]) -> bool:
    if value is None:
        return False
    return value == want if isinstance(want, str) else value in want


@dataclass(frozen=True)
class Failure:
    """One notifier that could not deliver, and why."""

    notifier: AlertNotifier
    error: Exception

    @property
    def name(self) -> str:
        return self.notifier.name


class RoutedDeliveryError(DeliveryError):
    """Some notifiers failed; `refs` are the messages that did get through."""

    def __init__(
        self, failures: Sequence[Failure], refs: Sequence[MessageRef], attempted: int
    ) -> None:
        self.failures = tuple(failures)
        self.refs = tuple(refs)
        total = self.attempted = max(attempted, len(self.failures))
        reasons = "; ".join(f"{f.name}: {f.error}" for f in self.failures)
        statuses = {getattr(f.error, "status", None) for f in self.failures}
        super().__init__(
            f"{len(self.failures)} of {total} notifiers failed: {reasons}",
            status=statuses.pop() if len(statuses) == 1 else None,
        )


class RoutedNotifier:
    """Fans each alert out to the notifiers its routes choose.

    `post_alert(alert)` returns the refs of every message posted (store them as the alert's
    thread); `send(finding)` keeps the older API working, routed as a new alert.
    """

    name = "routed"

    def __init__(
        self,
        routes: Sequence[Route],
        default: Sequence[AlertNotifier] = (),
        *,
        tags_of: TagsOf | Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.routes = tuple(routes)
        self.default = tuple(default)
        self._tags_of = tags_of

    def __repr__(self) -> str:
        return f"RoutedNotifier(routes={len(self.routes)}, default={list(self.default)!r})"

    def tags(self, finding: Finding) -> Mapping[str, str] | None:
        if self._tags_of is None:
            return finding.tag_map
        if callable(self._tags_of):
            return self._tags_of(finding)
        return self._tags_of.get(finding.id or "")

    def targets(self, alert: Alert) -> list[AlertNotifier]:
        """The notifiers for this alert, each once, in route order."""
        tags = self.tags(alert.finding)
        chosen: list[AlertNotifier] = []
        for route in self.routes:
            if route.matches(alert, tags):
                chosen += route.notifiers
        return _unique(chosen or self.default)

    def post_alert(self, alert: Alert) -> tuple[MessageRef, ...]:
        refs: list[MessageRef] = []
        failures: list[Failure] = []
        targets = self.targets(alert)
        for notifier in targets:
            try:
                ref = notifier.post_alert(alert)
            except Exception as error:  # one broken notifier must not silence the rest
                failures.append(Failure(notifier, error))
                continue
            if ref is not None:
                refs.append(ref)
        if failures:
            raise RoutedDeliveryError(failures, refs, len(targets))
        return tuple(refs)

    def send(self, finding: Finding) -> None:
        self.post_alert(new_alert(finding))

    def digest_targets(self) -> list[AlertNotifier]:
        """Who hears a digest: the defaults, or (without any) every routed notifier."""
        return _unique(self.default or [n for route in self.routes for n in route.notifiers])

    def post_digest(self, digest: Digest) -> None:
        """Each digest target once; RoutedDeliveryError names the ones that failed."""
        failures: list[Failure] = []
        targets = self.digest_targets()
        for notifier in targets:
            try:
                notifier.post_digest(digest)
            except Exception as error:  # one broken notifier must not silence the rest
                failures.append(Failure(notifier, error))
        if failures:
            raise RoutedDeliveryError(failures, (), len(targets))


def _unique(notifiers: Iterable[AlertNotifier]) -> list[AlertNotifier]:
    seen: set[int] = set()
    out = []
    for notifier in notifiers:
        if id(notifier) not in seen:
            seen.add(id(notifier))
            out.append(notifier)
    return out
