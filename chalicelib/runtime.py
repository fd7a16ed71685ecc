"""The composition root: the collaborators a handler needs, built once per process.

The Lambda builds a `Runtime` from its environment on first use (warm invocations reuse
it: clients, cached specs, the chat URL). The CLI builds one from its flags. Tests build
one by hand with moto-backed clients. The code below (delivery, re-checks, the outbox,
spec changes, the sweep) never sees a `Runtime`: it takes the narrow collaborators of
`ports.py`, which the methods here hand out (`delivery()`, `spec_change_context()`,
`sweep_service()`). Nothing under chalicelib/ imports this module but the entry points
(app.py, handlers.py, cli/).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.alerting import Delivery, utc_now
from chalicelib.aws import (
    DEFAULT_ROLE_NAME,
    AllowedAccounts,
    ClientCache,
    RoleSessions,
    default_region,
)
from chalicelib.errors import ConfigError
from chalicelib.iac_principals import IacPrincipals, iac_from_env
from chalicelib.kinds.pipelines import build_pipeline
from chalicelib.model import Actor, Finding, ResourceRef
from chalicelib.noise.model import ENV_IGNORE
from chalicelib.notify.delivery import ConsoleNotifier, SsmWebhookNotifier, notifier_for
from chalicelib.notify.quiet import QuietSettings, quiet_from_env
from chalicelib.pipeline import Pipeline, evaluate_with_specs
from chalicelib.ports import (
    Clock,
    Notifier,
    Outbox,
    RecheckQueue,
    Sleep,
    SpecProvider,
    StateStore,
)
from chalicelib.spec_change import SpecChangeContext
from chalicelib.state import MemoryStateStore, parse_state_uri

if TYPE_CHECKING:
    from chalicelib.revert.apply import Reverter
    from chalicelib.sweep.runs import SweepRunStore
    from chalicelib.sweep.settings import SweepSettings
    from chalicelib.sweep.worker import SweepService

# the names callers knew the ports by (cli/explain types its notifiers so)
PostsAlerts = Notifier
AlertOutbox = Outbox

ENV_SPECS = "SETPOINT_SPECS"
ENV_SPECS_VERIFY_KEY = "SETPOINT_SPECS_VERIFY_KEY"  # KMS key s3:// specs must be signed with
ENV_CHAT_URL = "SETPOINT_CHAT_URL"
ENV_CHAT_URL_PARAM = "SETPOINT_CHAT_URL_PARAM"
ENV_CHAT_FORMAT = "SETPOINT_CHAT_FORMAT"
ENV_REGIONS = "SETPOINT_REGIONS"
ENV_STATE = "SETPOINT_STATE"  # dynamodb://TABLE or memory://
ENV_NOTIFIERS = "SETPOINT_NOTIFIERS"  # JSON: several notifiers, with routes
ENV_REMINDER_HOURS = "SETPOINT_REMINDER_HOURS"
ENV_ROLE_NAME = "SETPOINT_ROLE_NAME"
ENV_EXTERNAL_ID = "SETPOINT_EXTERNAL_ID"
ENV_ACCOUNTS = "SETPOINT_ACCOUNTS"


def spec_provider(
    location: str | Sequence[str],
    clients: ClientCache,
    verify_key: str | None = None,
    ignore: str | None = None,
) -> SpecProvider:
    """Specs from every source named (`sources.provider`): directories, `s3://` bundles
    (re-read only when ETags change), `terraform:` states and `ansible:` playbooks.

    With `verify_key`, every s3:// spec object must be signed by that KMS key. `ignore`
    (SETPOINT_IGNORE) adds ignore rules to the s3:// specs.
    """
    from chalicelib.sources.provider import sources_provider
    from chalicelib.specs.loading import env_ignore_rules

    return sources_provider(location, clients, verify_key, env_ignore_rules(ignore))


def regions_from(value: str | None) -> list[str]:
    regions = [r.strip() for r in (value or "").split(",") if r.strip()]
    if [r.lower() for r in regions] == ["enabled"]:
        return [default_region()]  # the sweep reads "enabled" itself, per account
    return regions or [default_region()]


@dataclass
class Runtime:
    clients: ClientCache
    pipeline: Pipeline
    specs: SpecProvider
    notifiers: Sequence[Notifier] = field(default_factory=list)
    regions: Sequence[str] = ()
    account: str | None = None
    # alert state: one alert per drift, followed to its end (memory:// keeps it per process)
    state: StateStore = field(default_factory=MemoryStateStore)
    reminder: timedelta | None = None
    clock: Clock = utc_now
    # an alert no notifier heard waits here (SQS in the Lambda); None: the event fails instead
    outbox: Outbox | None = None
    # delayed second reads against eventual consistency; None: conclude from the first read
    recheck: RecheckQueue | None = None
    recheck_delay_seconds: int = 90
    # SETPOINT_IAC_PRINCIPALS: their calls wait (with a re-check queue) for a state write
    iac: IacPrincipals | None = None
    # events forwarded from member accounts are re-read there, through this role
    role_name: str = DEFAULT_ROLE_NAME
    external_id: str | None = None
    # SETPOINT_ACCOUNTS (ids or "organization"): no role is assumed in any other account
    accounts: list[str] | str | None = None
    # alert storms: coalescing and the storm cap (SETPOINT_COALESCE_SECONDS, _STORM_LIMIT)
    quiet: QuietSettings | None = None
    # opt-in revert (`chalicelib/revert`): None never reverts (check); the event functions
    # and the sweep hand it to the revert function, which runs it in process
    reverter: Reverter | None = None
    _sessions: RoleSessions | None = field(default=None, repr=False)
    _pipelines: dict[str, Pipeline] = field(default_factory=dict, repr=False)

    def account_id(self) -> str:
        if self.account is None:
            self.account = self.clients.account_id()
        return self.account

    def evaluate(self, refs: Sequence[ResourceRef], actor: Actor | None) -> list[Finding]:
        """Read and compare `refs`, each in its own account (events forwarded from member
        accounts are read there, not in ours)."""
        grouped: dict[str | None, list[ResourceRef]] = {}
        for ref in refs:
            grouped.setdefault(ref.account, []).append(ref)
        findings: list[Finding] = []
        # an s3:// bundle with its index: the event parses only the specs it looks up
        specs: SpecProvider = getattr(self.specs, "for_event", self.specs)
        for account, group in grouped.items():
            pipeline = self.pipeline_for(account)
            findings += evaluate_with_specs(
                pipeline, specs, tuple(group), actor, today=self.clock().date()
            )
        return findings

    def pipeline_for(self, account: str | None) -> Pipeline:
        """The pipeline reading `account`: our own clients, or the read-only role assumed
        there (a refused role surfaces as `unknown` at the first read, with the reason)."""
        if not account or account == self.account_id():
            return self.pipeline
        if account not in self._pipelines:
            if self._sessions is None:
                self._sessions = RoleSessions.for_caller(
                    self.clients,
                    role_name=self.role_name,
                    external_id=self.external_id,
                    own_account=self.account_id(),
                    allowed=self._allowed_accounts(),
                )
            self._pipelines[account] = build_pipeline(self._sessions.clients_for(account))
        return self._pipelines[account]

    def _allowed_accounts(self) -> AllowedAccounts | None:
        from chalicelib.sweep.accounts import resolve_accounts

        setting = self.accounts
        if setting is None:
            return None

        def organizations() -> Any:
            return self.clients.client("organizations")

        return AllowedAccounts(lambda: resolve_accounts(setting, self.account_id, organizations))

    def delivery(self) -> Delivery:
        """What `deliver` needs, as configured now (tests swap notifiers between calls)."""
        return Delivery(
            self.state,
            tuple(self.notifiers),
            self.clock,
            self.outbox,
            self.reminder,
            quiet=self.quiet,
            recheck=self.recheck,
        )

    def spec_change_context(self, location: str | None = None) -> SpecChangeContext:
        """What the spec-change handler reads and delivers with; `location` is where the
        specs are configured when the provider cannot say (a directory)."""
        return SpecChangeContext(
            delivery=self.delivery(),
            pipeline=self.pipeline,
            specs=self.specs,
            account_id=self.account_id,
            regions=tuple(self.regions),
            s3=lambda: self.clients.client("s3"),
            location=location if location is not None else os.environ.get(ENV_SPECS, ""),
        )


_sweep: tuple[int, SweepService] | None = None


def sweep_service(
    runtime: Runtime,
    settings: SweepSettings | None = None,
    *,
    runs: SweepRunStore | None = None,
) -> SweepService:
    """The sweep's collaborators from this runtime; kept while the runtime is the same
    object and no settings are given (a warm container reuses its role sessions)."""
    # the sweep modules load on the first sweep, not on every cold start
    from chalicelib.notify import outbox
    from chalicelib.sweep.settings import settings_from_env
    from chalicelib.sweep.worker import build_sweep_service

    global _sweep
    if settings is None and runs is None and _sweep is not None and _sweep[0] == id(runtime):
        return _sweep[1]
    service = build_sweep_service(
        clients=runtime.clients,
        pipeline=runtime.pipeline,
        delivery=runtime.delivery(),
        specs=runtime.specs,
        regions=runtime.regions,
        settings=settings or settings_from_env(default_regions=runtime.regions),
        account=runtime.account,
        runs=runs,
        failed_deliveries=outbox,
        reverter=runtime.reverter,
    )
    runtime.account = runtime.account or service.account_id()
    _sweep = (id(runtime), service)
    return service


def notifiers_from_env(env: Mapping[str, str], *, sleep: Sleep = time.sleep) -> list[Notifier]:
    """Chat from SSM (the deployed way), a plain URL (dev, demo), else the log only.

    `sleep` is how HTTP notifiers wait between attempts.
    """
    fmt = env.get(ENV_CHAT_FORMAT, "slack")
    if env.get(ENV_NOTIFIERS):
        from chalicelib.notify.config import notifier_from_json  # its parsing: off cold start

        return [notifier_from_json(env[ENV_NOTIFIERS], sleep=sleep)]
    if env.get(ENV_CHAT_URL_PARAM):
        return [SsmWebhookNotifier(env[ENV_CHAT_URL_PARAM], fmt, sleep=sleep)]
    if env.get(ENV_CHAT_URL):
        return [notifier_for(env[ENV_CHAT_URL], fmt, sleep=sleep)]
    return [ConsoleNotifier(sys.stdout)]


def runtime_from_env(
    env: Mapping[str, str] | None = None,
    session: Any | None = None,
    *,
    sleep: Sleep = time.sleep,
    clock: Clock = utc_now,
) -> Runtime:
    """The Lambda's runtime. `sleep` and `clock` are how it waits (between delivery
    attempts) and tells the time: real ones unless a test hands in its own."""
    env = os.environ if env is None else env
    location = env.get(ENV_SPECS)
    if not location:
        raise ConfigError(f"{ENV_SPECS} is not set (s3://bucket/prefix or a directory)")
    # loaded when the runtime is built, not by `import app` (the cold start stays short)
    from chalicelib.notify.outbox import outbox_from_env
    from chalicelib.recheck import ENV_RECHECK_DELAY_SECONDS, delay_from, recheck_from_env
    from chalicelib.sweep.accounts import parse_accounts

    clients = ClientCache(session)
    runtime = Runtime(
        clients=clients,
        pipeline=build_pipeline(clients),
        specs=spec_provider(
            location,
            clients,
            env.get(ENV_SPECS_VERIFY_KEY, "").strip() or None,
            env.get(ENV_IGNORE),
        ),
        notifiers=notifiers_from_env(env, sleep=sleep),
        regions=regions_from(env.get(ENV_REGIONS)),
        state=state_store(env.get(ENV_STATE) or "memory://", clients),
        reminder=reminder_from(env.get(ENV_REMINDER_HOURS)),
        clock=clock,
        outbox=outbox_from_env(env, clients, clock=clock),
        recheck=recheck_from_env(env, clients),
        recheck_delay_seconds=delay_from(env.get(ENV_RECHECK_DELAY_SECONDS)),
        iac=iac_from_env(env),
        role_name=env.get(ENV_ROLE_NAME, "").strip() or DEFAULT_ROLE_NAME,
        external_id=env.get(ENV_EXTERNAL_ID, "").strip() or None,
        accounts=parse_accounts(env.get(ENV_ACCOUNTS)),
        quiet=quiet_from_env(env),
    )
    runtime.reverter = reverter_from_env(env, runtime)
    return runtime


def reverter_from_env(env: Mapping[str, str], runtime: Runtime) -> Reverter:
    """The revert step of the Lambda: handed to the function SETPOINT_REVERT_FUNCTION
    names when set (the event functions), else run here with this role's clients."""
    from chalicelib.revert.hand_off import ENV_REVERT_FUNCTION, LambdaHandOff
    from chalicelib.revert.settings import revert_settings_from_env

    function = (env.get(ENV_REVERT_FUNCTION) or "").strip()
    clients = runtime.clients
    hand_off = LambdaHandOff(lambda: clients.client("lambda"), function) if function else None
    return build_reverter(runtime, revert_settings_from_env(env), apply=True, hand_off=hand_off)


def build_reverter(
    runtime: Runtime,
    settings: Any = None,
    *,
    apply: bool,
    hand_off: Any = None,
) -> Reverter:
    """A revert step over this runtime's specs, state, clients and IaC principals;
    `apply` False only plans (`explain` without `--apply-reverts`)."""
    from chalicelib.revert.apply import Reverter
    from chalicelib.revert.budget import RevertBudget
    from chalicelib.revert.executor import RevertExecutor
    from chalicelib.revert.settings import RevertSettings
    from chalicelib.state.rows import rows_for

    settings = settings or RevertSettings()
    return Reverter(
        settings,
        runtime.specs,
        executor=RevertExecutor(runtime.clients) if apply else None,
        budget=RevertBudget(rows_for(runtime.state), settings.limit, runtime.clock),
        iac=runtime.iac,
        hand_off=hand_off,
        own_account=runtime.account_id,
    )


def state_store(uri: str, clients: ClientCache) -> StateStore:
    """`dynamodb://TABLE[?region=R]` as deployed; `memory://` keeps state for one process."""
    location = parse_state_uri(uri)
    if location.backend == "memory":
        return location.open()
    return location.open(clients.client("dynamodb", location.region))


def reminder_from(value: str | None) -> timedelta | None:
    """Hours between reminders of open drift; unset or 0 means never remind."""
    if not value:
        return None
    try:
        hours = float(value)
    except ValueError:
        raise ConfigError(f"{ENV_REMINDER_HOURS}={value!r} is not a number of hours") from None
    return timedelta(hours=hours) if hours > 0 else None
