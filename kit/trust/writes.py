"""Guarded device writes: allow-list, bounds, rate limit, operator confirmation, audit.

A write to a device happens only when all of these hold:

1. an installed deployment (KV ``KIT_DEPLOYMENTS``) declares it — a record's ``writes`` list
   of :class:`WriteRule` (asset, point, bounds or allowed values, rate limit);
2. an operator requested it and then confirmed it (two steps: ``writes.request`` returns a
   request id, ``writes.confirm`` executes it; ``kit write`` asks "really?" in between);
3. a running adapter instance for the asset can write (``can_write``) — its ``write(point,
   value)`` encodes with the same codec it reads with.

Every attempt — refused, requested, executed, failed — is an audit record (kit.trust.audit).
The same two steps are served on ``kit.cmd.<asset>`` (request/reply, JSON
``{"action": "request"|"confirm", …}``) for tools that speak the bus contract directly.
"""

from __future__ import annotations

import contextvars
import logging
import math
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from nats.js.errors import NoKeysError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kit import subjects
from kit.aio import wait_for
from kit.api.envelope import OkReply, encode_reply
from kit.backoff import Backoff
from kit.bus import KV_DEPLOYMENTS
from kit.errors import KitError
from kit.trust.audit import Category, audit
from kit.trust.secrets import site_key, unseal

log = logging.getLogger(__name__)

CONFIRM_WINDOW_S = 120.0


class WriteRefused(KitError):
    """A write request or confirmation was refused (the reason says why)."""

    exit_code = 3


class WriteRule(BaseModel):
    """One write a recipe allows (lives in the deployment record's ``writes`` list)."""

    model_config = ConfigDict(extra="forbid")

    asset: str
    """Asset path ``site/area/line/asset``."""
    point: str
    """Semantic point name the adapter writes (allow-list entry)."""
    min: float | None = None
    max: float | None = None
    values: list[float | int | bool | str] | None = None
    """Allowed discrete values (e.g. [0, 1]); instead of or in addition to min/max."""
    max_per_minute: int = Field(6, ge=1, le=600)
    """Rate limit for this point (executed writes in any 60 s)."""
    component: str | None = None
    """Adapter instance to use (default: the one running for the asset that can write)."""

    def check_value(self, value: Any) -> str | None:
        """Why ``value`` is outside this rule, or None if it is allowed."""
        if self.values is not None and value not in self.values:
            return f"value {value!r} is not one of the allowed values {self.values}"
        if self.min is not None or self.max is not None:
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                return f"value {value!r} is not a finite number"
            if self.min is not None and value < self.min:
                return f"value {value} is below the minimum {self.min}"
            if self.max is not None and value > self.max:
                return f"value {value} is above the maximum {self.max}"
        if self.values is None and self.min is None and self.max is None:
            return "the rule declares neither bounds nor allowed values; unbounded writes are not allowed"
        return None


@dataclass
class Pending:
    """A requested write awaiting confirmation."""

    id: str
    rule: WriteRule
    deployment: str
    value: Any
    who: str
    created: float


#: The operator name the caller *claims* (``who`` in the body): kept in the audit record's
#: data as ``operator``; the record's ``source`` is the authenticated NATS user (item 12).
_OPERATOR: contextvars.ContextVar[str] = contextvars.ContextVar("kit_write_operator", default="")


def _identify(identity: str, body: dict[str, Any]) -> str:
    """Remember the claimed operator name; return the authenticated user as the audit source."""
    _OPERATOR.set(str(body.get("who") or "unknown"))
    return identity


@dataclass
class WriteGuard:
    """Checks, confirms, executes and audits device writes for one runtime."""

    runtime: Any
    pending: dict[str, Pending] = field(default_factory=dict)
    history: dict[tuple[str, str], deque[float]] = field(
        default_factory=lambda: defaultdict(lambda: deque(maxlen=600))
    )
    clock: Any = time.monotonic

    @property
    def site(self) -> str:
        site: str = self.runtime.settings.site
        return site

    async def rules(self) -> list[tuple[str, WriteRule]]:
        """Every write rule of every installed deployment, with the deployment id."""
        kv = await self.runtime.bus.kv(KV_DEPLOYMENTS)
        key_ = site_key(self.runtime.settings.data_dir)  # records are encrypted at rest
        out: list[tuple[str, WriteRule]] = []
        keys: list[str] = []
        retry = Backoff(0.2, 1.0)  # the kit's one backoff (kit.backoff): a retry schedule
        while True:
            try:
                keys = await kv.keys()
                break
            except NoKeysError:  # an empty bucket: no deployment, no write allowed
                return out
            except Exception as exc:  # a timeout on a loaded bus: the rules exist, read again
                log.warning("write rules not readable (%s); try %d of 3", exc, retry.failures + 1)
                if retry.failures >= 2:
                    return out  # still unreadable: refused as "not allowed", which it then is
                await retry.wait()
        for key in keys:
            try:
                entry = await kv.get(key)
                record = unseal(entry.value, key_) if entry and entry.value else {}
            except Exception:  # unreadable or undecryptable: allows nothing
                continue
            recipe = record.get("recipe") if isinstance(record, dict) else None
            raw = (
                (record.get("writes") if isinstance(record, dict) else None)
                or (recipe.get("writes") if isinstance(recipe, dict) else None)
                or []
            )
            for r in raw if isinstance(raw, list) else []:
                try:
                    out.append((key, WriteRule.model_validate(r)))
                except ValidationError:
                    continue  # a malformed rule allows nothing
        return out

    async def _audit(
        self,
        asset: str | None,
        who: str,
        type: str,
        result: str,
        message: str,
        category: Category = "control_system",
        **data: Any,
    ) -> None:
        await audit(
            self.runtime.bus,
            site=self.site,
            asset=asset,
            source=who,
            category=category,
            type=type,
            result=result,
            message=message,
            severity="medium" if result in ("refused", "failure") else "info",
            data={"operator": _OPERATOR.get(), **data},
        )

    async def _refuse(
        self,
        asset: str | None,
        point: str | None,
        value: Any,
        who: str,
        reason: str,
        type: str = "write_refused",
    ) -> WriteRefused:
        await self._audit(
            asset, who, type, "refused", reason, category="access_control", point=point, value=value
        )
        return WriteRefused(f"write refused: {reason}")

    async def request(self, body: dict[str, Any], identity: str = "admin") -> dict[str, Any]:
        """Step 1: check a write against the deployments' rules; return a request id to confirm.

        ``identity`` is the authenticated caller (from the subject the server let it publish
        on, kit.trust.plugin); the body's ``who`` is only recorded as the claimed operator.
        """
        body = body or {}
        asset, point, value = body.get("asset"), body.get("point"), body.get("value")
        who = _identify(identity, body)
        try:
            norm = str(subjects.AssetPath.parse(str(asset)))
        except ValueError:
            raise await self._refuse(
                None, point, value, who, f"asset {asset!r} is not a path site/area/line/asset"
            ) from None
        candidates = [
            (d, r) for d, r in await self.rules() if _same_asset(r.asset, norm) and r.point == point
        ]
        if not candidates:
            raise await self._refuse(
                norm,
                point,
                value,
                who,
                f"no installed recipe declares a write of {point!r} on {norm} (allow-list)",
            )
        dep, rule = candidates[0]
        reason = rule.check_value(value)
        if reason:
            raise await self._refuse(norm, point, value, who, reason)
        if self._rate_exceeded(norm, rule):
            raise await self._refuse(
                norm,
                point,
                value,
                who,
                f"rate limit: at most {rule.max_per_minute} write(s) of {point} per minute",
            )
        self._expire()
        p = Pending(uuid.uuid4().hex, rule, dep, value, who, self.clock())
        self.pending[p.id] = p
        await self._audit(
            norm,
            who,
            "write_requested",
            "accepted",
            f"{point}={value!r} awaiting confirmation",
            point=point,
            value=value,
            request_id=p.id,
            deployment=dep,
        )
        return {
            "request_id": p.id,
            "asset": norm,
            "point": point,
            "value": value,
            "deployment": dep,
            "bounds": {"min": rule.min, "max": rule.max, "values": rule.values},
            "expires_in_s": CONFIRM_WINDOW_S,
        }

    async def confirm(self, body: dict[str, Any], identity: str = "admin") -> dict[str, Any]:
        """Step 2: execute a requested write after the operator confirmed it (``identity``: see request)."""
        body = body or {}
        rid, who = str(body.get("request_id")), _identify(identity, body)
        self._expire()
        p = self.pending.pop(rid, None)
        if p is None:
            raise await self._refuse(
                None,
                None,
                None,
                who,
                f"no pending write request {rid!r} (expired or unknown)",
                type="write_confirm_refused",
            )
        asset = str(subjects.AssetPath.parse(p.rule.asset))
        if self._rate_exceeded(
            asset, p.rule
        ):  # re-checked: many requests may be confirmed together
            raise await self._refuse(
                asset, p.rule.point, p.value, who, "rate limit reached before confirmation"
            )
        inst = self._adapter(asset, p.rule)
        if inst is None:
            raise await self._refuse(
                asset,
                p.rule.point,
                p.value,
                who,
                f"no running adapter for {asset} can write (can_write, write() and "
                "device_writes: true in its plugin's manifest)",
            )
        # The accepted record is stored before the device is touched (audit failure = no write).
        await self._audit(
            asset,
            who,
            "write_confirmed",
            "accepted",
            f"{p.rule.point}={p.value!r} via {inst.name}",
            point=p.rule.point,
            value=p.value,
            request_id=rid,
            component=inst.name,
            requested_by=p.who,
        )
        self.history[(asset, p.rule.point)].append(self.clock())
        try:
            await wait_for(inst.component.write(p.rule.point, p.value), 10.0)
        except Exception as exc:
            await self._audit(
                asset,
                who,
                "write_failed",
                "failure",
                f"{type(exc).__name__}: {exc}",
                point=p.rule.point,
                value=p.value,
                request_id=rid,
                component=inst.name,
            )
            raise WriteRefused(f"write failed on {inst.name}: {exc}") from None
        await self._audit(
            asset,
            who,
            "write_executed",
            "success",
            f"{p.rule.point}={p.value!r}",
            point=p.rule.point,
            value=p.value,
            request_id=rid,
            component=inst.name,
        )
        return {
            "request_id": rid,
            "executed": True,
            "component": inst.name,
            "asset": asset,
            "point": p.rule.point,
            "value": p.value,
        }

    def _rate_exceeded(self, asset: str, rule: WriteRule) -> bool:
        now = self.clock()
        recent = [t for t in self.history[(asset, rule.point)] if now - t < 60.0]
        return len(recent) >= rule.max_per_minute

    def _expire(self) -> None:
        now = self.clock()
        for k in [k for k, p in self.pending.items() if now - p.created > CONFIRM_WINDOW_S]:
            del self.pending[k]

    def _adapter(self, asset: str, rule: WriteRule) -> Any:
        for inst in self.runtime.supervisor.instances.values():
            if rule.component and inst.name != rule.component:
                continue
            if inst.asset is None or not _same_asset(inst.asset, asset):
                continue
            comp = inst.component
            if (
                comp is not None
                and getattr(inst.cls, "can_write", False)
                and callable(getattr(comp, "write", None))
                and self._declares_writes(inst.type)
            ):
                return inst
        return None

    def _declares_writes(self, type_name: str) -> bool:
        """Only plugins whose manifest declares ``device_writes: true`` may be used to write."""
        from kit.trust.permissions import plugin_manifest

        try:
            reg = self.runtime.host.component(type_name)
        except KitError:
            return False
        man = plugin_manifest(self.runtime.host, reg.plugin)
        return bool(man is not None and man.device_writes)

    async def serve_cmd(self) -> Any:
        """Serve ``kit.cmd.>`` request/reply on the runtime's connection."""

        async def on_msg(msg: Any) -> None:
            from kit.api import writes as writes_api
            from kit.api.envelope import (
                error_from_exception,
                error_reply,
                problems_from_validation,
            )

            def _invalid(message: str, problems: Any = None) -> Any:
                return error_reply(
                    message, code=2, kind="invalid_request", problems=problems, endpoint="kit.cmd"
                )

            try:
                asset = str(subjects.path_from_subject(msg.subject))
                try:
                    raw = orjson.loads(msg.data) if msg.data and msg.data.strip() else {}
                    cmd = writes_api.CmdRequest.model_validate(raw)
                except orjson.JSONDecodeError as exc:
                    reply = _invalid(f"bad request: not valid JSON: {exc}")
                except ValidationError as exc:
                    problems = problems_from_validation(exc, writes_api.CmdRequest)
                    reply = _invalid(
                        "bad request: " + "; ".join(p.text() for p in problems), problems
                    )
                else:
                    # The subject names the asset (permissions are granted per subject): a body
                    # naming another asset is refused, never used.
                    body = cmd.model_dump()
                    who = _identify("admin", body)  # kit.cmd.> is the admin's (busauth)
                    if cmd.asset is not None and not _same_asset(cmd.asset, asset):
                        raise await self._refuse(
                            asset,
                            cmd.point,
                            cmd.value,
                            who,
                            f"the body names asset {cmd.asset!r} but the subject is {asset}; "
                            "send the command on that asset's subject",
                        )
                    body["asset"] = asset
                    if cmd.action == "request":
                        result = await self.request(body)
                    else:
                        pending = self.pending.get(str(cmd.request_id))
                        if pending is not None and not _same_asset(pending.rule.asset, asset):
                            raise await self._refuse(
                                asset,
                                pending.rule.point,
                                pending.value,
                                who,
                                f"write request {cmd.request_id!r} is for another asset",
                                type="write_confirm_refused",
                            )
                        result = await self.confirm(body)
                    reply = OkReply(result=result)
            except Exception as exc:  # KitError or a bug: answer, keep serving
                reply = error_from_exception(exc, "kit.cmd")
            if msg.reply:
                await msg.respond(encode_reply(reply))

        return await self.runtime.bus.nc.subscribe(f"{subjects.CMD_PREFIX}.>", cb=on_msg)


def _same_asset(a: str, b: str) -> bool:
    try:
        return subjects.AssetPath.parse(a) == subjects.AssetPath.parse(b)
    except ValueError:
        return False
