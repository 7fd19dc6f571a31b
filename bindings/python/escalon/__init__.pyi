"""Type stubs for the `escalon` extension module (see bindings/python/module.cpp)."""

from __future__ import annotations

import datetime
import os
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, TypeVar, Union

__version__: str

Value = Union[None, bool, int, float, str, datetime.datetime, datetime.date, datetime.timedelta, list, dict]
Paths = Union[str, os.PathLike, Iterable[Union[str, os.PathLike]]]
_F = TypeVar("_F", bound=Callable[..., Any])

class Error(Exception):
    """Base of every Escalon error."""
    message: str
    file: Optional[str]
    line: Optional[int]
    column: Optional[int]

class FlowError(Error):
    """A flow file is invalid; `diagnostics` lists every problem, file/line/column name the first error."""
    diagnostics: list[Diagnostic]

class ExprError(Error): ...
class DataError(Error): ...
class EvalError(Error): ...
class EventError(Error):
    """A call the engine refused; `code` says why (the same before and after a restart)."""
    code: str  # 'unknown_flow', 'unknown_case', 'duplicate_id', 'closed', 'incident', 'not_handled',
               # 'guard_refused', 'bad_data', 'wrong_state', 'bad_request', 'key_reused', 'not_permitted'
    reason: str  # guard_refused: the flow's `reason:` for the refusing transitions ('' when none)
class CaseError(EventError):
    """A case id the engine does not know (code 'unknown_case')."""
class PermissionError(EventError):
    """The caller's roles do not allow the call (code 'not_permitted'; docs/security.md)."""
class StoreError(Error): ...
class ConflictError(StoreError): ...
class PermanentDeliveryError(Error):
    """Raised by a listener for a failure retrying cannot fix: the notification is dead-lettered at once."""
class SqlError(Error):
    """A statement of the sql action failed; the message names the connection."""

class SqlConnections:
    """The databases the `sql` action may use, by name (docs/sql.md)."""
    def __init__(self) -> None: ...
    def add_sqlite(self, name: str, path: Union[str, os.PathLike], writable: bool = False) -> None: ...
    def add_postgres(self, name: str, url: str, writable: bool = False) -> None: ...
    def names(self) -> list[str]: ...
    def run(self, name: str, query: str, params: Optional[Sequence[Value]] = None,
            max_rows: int = 1) -> list[dict[str, Value]]: ...

class Diagnostic:
    """One problem in a flow file."""
    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def column(self) -> int: ...
    @property
    def severity(self) -> str:
        """'error' or 'warning'."""
    @property
    def message(self) -> str: ...

def validate(paths: Paths, strict: bool = False) -> list[Diagnostic]:
    """Checks flow files and folders; an empty list means they are valid."""

def verify_journal(store: str) -> dict[str, Any]:
    """Checks every case's hash chain: {'ok', 'cases', 'records', 'unchained', 'problems', 'digest'}."""

class ManualClock:
    """A clock the script moves. A naive datetime is taken as UTC."""
    def __init__(self, start: Union[datetime.datetime, str]) -> None: ...
    def now(self) -> datetime.datetime: ...
    def advance(self, delta: datetime.timedelta) -> None: ...
    def set(self, when: datetime.datetime) -> None: ...

class ActionContext:
    @property
    def case_id(self) -> str: ...
    @property
    def engine(self) -> Engine:
        """The engine that called the handler; calls on it join the calling unit of work."""
    @property
    def step(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def key(self) -> str: ...
    @property
    def inputs(self) -> dict[str, Any]: ...
    @property
    def data(self) -> dict[str, Any]: ...
    def set(self, name: str, value: Value) -> None: ...

class Notification:
    @property
    def at(self) -> datetime.datetime: ...
    case_id: str
    flow: str
    step: str
    to: list[str]
    message: str
    reason: str
    """'escalation', 'sla-warning', 'sla-breached', 'on_enter', 'on_exit'."""
    level: int
    repeat: int
    subject: str
    key: str
    """'<case>/<record seq>': the same on every delivery attempt and after a restart."""

class Deadline:
    step: str
    stage: str  # the stage whose deadline this is ('': the step's own)
    started: datetime.datetime
    due: datetime.datetime
    overdue: bool
    level: int

class Sla:
    name: str
    state: str
    """'running', 'paused', 'met' or 'breached'."""
    elapsed: datetime.timedelta
    remaining: datetime.timedelta
    due: Optional[datetime.datetime]
    warned: bool
    level: int

class Case:
    id: str
    flow: str
    version: int
    status: str
    """'active', 'completed', 'cancelled' or 'incident'."""
    steps: list[str]
    step: Optional[str]
    role: str
    assignee: str
    priority: str
    data: dict[str, Any]
    started: datetime.datetime
    entered: datetime.datetime
    deadlines: list[Deadline]
    slas: list[Sla]
    outcome: str
    incident: str
    parent: str
    children: list[str]
    overdue: bool
    level: int

class Record:
    seq: int
    at: datetime.datetime
    case_id: str
    type: str
    """'started', 'entered', 'left', 'event', 'rejected', 'data-changed', 'escalated', ..."""
    step: str
    event: str
    actor: str
    channel: str
    target: str
    level: int
    repeat: int
    due: Optional[datetime.datetime]
    old_value: Any
    new_value: Any
    data: Any
    message: str
    def to_json(self) -> str: ...

class Flow:
    id: str
    version: int
    title: str
    file: str
    hash: str
    steps: list[str]

class Engine:
    """Runs cases of loaded flows on a store ('memory:' or 'sqlite:PATH[?sync=normal]')."""
    store: str
    def __init__(self, store: str = "memory:", clock: Optional[ManualClock] = None, group_commit: bool = False,
                 keep_journal: bool = True, require_handlers: bool = False, delivery_attempts: int = 8,
                 delivery_first_retry: float = 30.0, authorization: str = "automatic",
                 access: Mapping[str, Sequence[str]] = ...,
                 retention: Optional[datetime.timedelta] = None) -> None: ...
    def load(self, paths: Paths) -> None: ...
    @staticmethod
    def validate(paths: Paths, strict: bool = False) -> list[Diagnostic]: ...
    def flows(self) -> list[Flow]: ...
    def recover(self) -> int:
        """Loads stored open cases; without it the first changing call does. 0 once recovered."""
    def missing_handlers(self) -> list[Diagnostic]:
        """Every `call:` of a loaded flow with no registered handler (warnings at the calling place)."""
    def start(self, flow: str, data: Optional[Mapping[str, Value]] = None, *, id: Optional[str] = None,
              actor: Optional[str] = None, channel: Optional[str] = None, version: int = 0,
              key: Optional[str] = None, roles: Optional[Sequence[str]] = None) -> str: ...
    def send(self, case_id: str, event: str, payload: Optional[Mapping[str, Value]] = None, *,
             actor: Optional[str] = None, channel: Optional[str] = None, key: Optional[str] = None, roles: Optional[Sequence[str]] = None) -> None: ...
    def update(self, case_id: str, changes: Mapping[str, Value], *, actor: Optional[str] = None,
               channel: Optional[str] = None, key: Optional[str] = None, roles: Optional[Sequence[str]] = None) -> None: ...
    def cancel(self, case_id: str, reason: str = "", *, actor: Optional[str] = None, channel: Optional[str] = None, key: Optional[str] = None, roles: Optional[Sequence[str]] = None) -> None: ...
    def erase(self, case_id: str, reason: str, *, actor: Optional[str] = None, channel: Optional[str] = None,
              roles: Optional[Sequence[str]] = None) -> None:
        """Erases a closed case's personal data for good (docs/security.md)."""
    def apply_retention(self) -> list[str]:
        """Erases every closed case past its retention; returns their ids."""
    def reschedule(self, case_id: str, due: datetime.datetime, *, actor: Optional[str] = None,
                   channel: Optional[str] = None, key: Optional[str] = None, roles: Optional[Sequence[str]] = None) -> None: ...
    def retry(self, case_id: str, *, actor: Optional[str] = None, channel: Optional[str] = None, key: Optional[str] = None, roles: Optional[Sequence[str]] = None) -> None: ...
    def resolve(self, case_id: str, data: Optional[Mapping[str, Value]] = None, to_step: Optional[str] = None, *,
                actor: Optional[str] = None, channel: Optional[str] = None, key: Optional[str] = None, roles: Optional[Sequence[str]] = None) -> None: ...
    def migrate(self, flow: str, to: int = 0, *, from_version: int = 0, steps: Mapping[str, str] = ...,
                cases: Sequence[str] = ..., actor: Optional[str] = None, channel: Optional[str] = None,
                roles: Optional[Sequence[str]] = None) -> int: ...
    def run_due(self) -> int: ...
    def next_due(self) -> Optional[datetime.datetime]: ...
    def start_runner(self, max_sleep: Optional[datetime.timedelta] = None) -> None: ...
    def stop_runner(self) -> None: ...
    def get(self, case_id: str) -> Case: ...
    def query(self, *, flow: Optional[str] = None, step: Optional[str] = None, role: Optional[str] = None,
              assignee: Optional[str] = None, status: Optional[str] = "active", overdue: Optional[bool] = None,
              min_level: int = 0, limit: int = 0) -> list[Case]: ...
    def history(self, case_id: str) -> list[Record]: ...
    def journal_jsonl(self, case_id: str = "", *, personal: bool = False, actor: Optional[str] = None,
                      roles: Optional[Sequence[str]] = None) -> str: ...
    def case_count(self) -> int: ...
    def report(self, at: Optional[datetime.datetime] = None) -> dict[str, Any]: ...
    def report_text(self, at: Optional[datetime.datetime] = None) -> str: ...
    def on_action(self, name: str, handler: Callable[[ActionContext], Optional[Mapping[str, Value]]]) -> None: ...
    def action(self, name: str) -> Callable[[_F], _F]: ...
    def on_notify(self, listener: _F, channel: str = "host") -> _F: ...
    def outbox(self) -> list[dict[str, Any]]: ...
    def add_mail_channel(self, name: str, url: str, sender: str, directory: Union[str, os.PathLike, Mapping[str, Any]],
                         username: str = "", password: str = "", require_tls: bool = False,
                         timeout: float = 10.0) -> None: ...
    def add_webhook_channel(self, name: str, url: str, headers: Mapping[str, str] = ..., timeout: float = 10.0) -> None: ...
    def redeliver(self, key: str, channel: str = "") -> int: ...
    def add_sql_action(self, connections: SqlConnections, name: str = "sql") -> None: ...
