"""Deterministic readers for the slots of an admin command: GPU numbers, PIDs,
job ids, unit, package, user and host names, paths, watts and times.

The model only chooses what kind of command a text is (nl.py); everything a
command acts on is read here, from the text itself, or not at all: a slot
that is not in the text is None, never a guess.

Times follow CONTRACT §4: a bare weekday is 00:00 of the next such day in the
zone of `now`, "tomorrow" is 00:00 of the next day, "for 2 days" and "for the
next 3 hours" count from `now`.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBERS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1, "an": 1, "a couple of": 2, "a few": 3,
}  # fmt: skip
_UNITS = {"min": 60, "minute": 60, "m": 60, "hr": 3600, "hour": 3600, "h": 3600, "day": 86400, "d": 86400,
          "week": 604800, "w": 604800}  # fmt: skip
_NUM = r"(\d+|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|an?|a couple of|a few)"
_SPAN = rf"{_NUM}\s*(mins?|minutes?|m|hrs?|hours?|h|days?|d|weeks?|w)\b"

# Words that name what to do, or fill a sentence, and so are never a unit, package, host or user name.
COMMON = frozenset(
    """
    a an the this that these those my our your its their me us you it i we he she they them him her
    please pls kindly now right away immediately asap just again back up down off on in out into onto
    over under to at for of from with without by about all any every each some everything anything
    something nothing can could would will should must shall may might do does did done doing is are was
    were be been being am have has had having get gets got let lets make go going want need needs like ok
    okay hey hi so then also too and or but not no yes what whats which who whom whose why how when where
    there here is isnt dont doesnt didnt wont cant as if else than very really quite fully restart
    restarted restarting reboot rebooted start started starting stop stopped stopping kill killed
    terminate terminated roll rolled rollback revert reverted undo downgrade bounce bounced reload cycle
    rerun requeue requeued resubmit reschedule retry drain drained draining undrain undrained cordon
    uncordon reset resets reinitialize power cap capped limit limits set lower raise reduce throttle
    clean cleaned cleanup clear purge free delete empty wipe tidy apply applied install installed upgrade
    upgraded update updated patch defer deferred postpone postponed delay delayed hold skip pause paused
    notify tell message inform show list display give check see status explain put take bring return
    remove add enable disable run running runs launch relaunch kick shut shutdown halt service services
    unit units daemon server process processes proc pid job jobs task tasks gpu gpus card cards device
    devices accelerator machine host box node system package packages updates upgrades patches security
    pending available outstanding queue queued rotation watts watt w until till til tomorrow today
    tonight night last next week weeks day days hour hours minute minutes min mins hrs h m d later soon
    morning evening afternoon yesterday since ago monday tuesday wednesday thursday friday saturday
    sunday failed failing broken dead idle busy stuck hung active inactive finished waiting healthy ok
    doing doing going happening currently whole entire previous prior old earlier version release one two
    three four five six seven eight nine ten zero
    """.split()  # noqa: SIM905
)

_WORD = re.compile(r"(?<![\w/.:@-])([A-Za-z0-9_][A-Za-z0-9_.:@-]*[A-Za-z0-9_]|[A-Za-z0-9_])(?![\w/])")
_UNIT = re.compile(r"\b([A-Za-z0-9_][A-Za-z0-9:_.@-]*\.(?:service|socket|timer|target|mount|path))\b")
_GPU = re.compile(rf"\b(?:gpus?|cards?|devices?)\s*(?:#|no\.?\s*|number\s*|index\s*|:)?\s*{_NUM}\b", re.I)
_PID = re.compile(r"\b(?:pid|process(?:\s+id)?|proc)\s*(?:#|no\.?|number|:)?\s*(\d+)\b", re.I)
_JOB_AFTER = re.compile(r"\bjob\s*(?:#|id|:)?\s*([A-Za-z0-9][A-Za-z0-9_.:-]*)", re.I)
_JOB_LIKE = re.compile(r"\b([a-z]{1,8}-\d{1,10})\b", re.I)
_PATH = re.compile(r"(?<![\w.~-])(/[^\s'\"`,;]*)")
_WATTS = re.compile(r"\b(\d{2,4}(?:\.\d+)?)\s*(?:w|watts?)\b", re.I)
_TO_NUMBER = re.compile(r"\b(?:to|at|of)\s+(\d{2,4})\b")
_SHELL = re.compile(
    r"(?:^|\s)(?:sudo|rm|mv|cp|chmod|chown|dd|mkfs|curl|wget|bash|sh|echo|cat|vi|vim|nano|sed)\s"
    r"|(?:^|\s)--?[a-zA-Z][\w-]*(?:\s|$)|[|;&`$<>]|\*",
    re.I,
)


def words(text: str) -> list[str]:
    return [m.group(1) for m in _WORD.finditer(text)]


def number(token: str) -> int | None:
    token = token.lower()
    if token.isdigit():
        return int(token)
    return _NUMBERS.get(token) if token not in ("a", "an") else None


def looks_like_shell(text: str) -> bool:
    """Shell syntax (flags, pipes, redirections, globs, a command binary): not ours to run."""
    return bool(_SHELL.search(text))


def gpu(text: str) -> int | None:
    for m in _GPU.finditer(text):
        n = number(m.group(1))
        if n is not None:
            return n
    return None


def pid(text: str) -> int | None:
    m = _PID.search(text) or re.search(r"\bpid:(\d+)\b", text)
    return int(m.group(1)) if m else None


def job(text: str) -> str | None:
    for m in _JOB_AFTER.finditer(text):
        token = m.group(1).rstrip(".:-")
        if token.lower() not in COMMON and any(c.isdigit() for c in token):
            return token
    like = _JOB_LIKE.search(text)
    return like.group(1) if like and not like.group(1).lower().startswith(("gpu", "pid")) else None


def path(text: str) -> str | None:
    m = _PATH.search(text)
    return m.group(1).rstrip(".?!") if m else None


def watts(text: str, gpu_index: int | None) -> float | None:
    m = _WATTS.search(text)
    if m:
        return float(m.group(1))
    for m in _TO_NUMBER.finditer(text):
        if int(m.group(1)) != gpu_index:
            return float(m.group(1))
    return None


def names(text: str) -> list[str]:
    """Words that are not command vocabulary, numbers or times: candidate unit/package/host/user names."""
    text = re.sub(r"n['’]t\b", "nt", text)
    text = re.sub(r"['’](?:s|re|ll|ve|d|m)\b", "", text)
    out = []
    for w in words(_drop_times(text)):
        low = w.lower()
        if low in COMMON or low.isdigit() or re.fullmatch(r"\d+[a-z]{1,2}", low):
            continue
        out.append(w)
    return out


def unit(text: str) -> str | None:
    """A systemd unit: as written if it has a suffix, else the first free name + `.service`."""
    m = _UNIT.search(text)
    if m:
        return m.group(1)
    free = [n for n in names(text) if not n.lower().startswith(("gpu", "pid", "j-"))]
    return f"{free[0]}.service" if free else None


def package(text: str) -> str | None:
    free = [n.lower() for n in names(text) if "/" not in n]
    return free[0] if free else None


def host(text: str) -> str:
    """A host named in the text, or "" (this host: the daemon fills it in)."""
    free = [n for n in names(text) if "." in n or "-" in n or any(c.isdigit() for c in n)]
    return free[0] if free else ""


def user(text: str) -> str | None:
    m = re.search(r"\b([a-z_][a-z0-9_-]{0,31})'s\b", text, re.I) or re.search(
        r"\b(?:of|for|by|does|from|user|owned by|belonging to|has)\s+([a-z_][a-z0-9_-]{0,31})\b", text, re.I
    )
    if m and m.group(1).lower() not in COMMON:
        return m.group(1)
    return None


def target_of(text: str) -> str:
    """An explain/query target as the audit log names it: gpu:N, pid:N, a job id, a path or a unit."""
    t = text.strip()
    if re.fullmatch(r"(gpu|pid):\d+", t) or _UNIT.fullmatch(t) or t.startswith("/"):
        return t
    if (g := gpu(t)) is not None:
        return f"gpu:{g}"
    if (p := pid(t)) is not None:
        return f"pid:{p}"
    if (j := job(t)) is not None:
        return j
    return unit(t) or t


# ---------------------------------------------------------------- times


def _drop_times(text: str) -> str:
    text = re.sub(rf"\bfor\s+(?:the\s+)?(?:next\s+)?{_SPAN}", " ", text, flags=re.I)
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?(?:Z|[+-]\d{2}:?\d{2})?", " ", text)
    return re.sub(r"\b\d{1,2}(?::\d{2})?\s*(?:am|pm)\b|\b\d{1,2}:\d{2}\b", " ", text, flags=re.I)


def until(text: str, now: datetime) -> datetime | None:
    """The end of a time span named in `text` ("until monday", "for 3 hours"), or None."""
    low = text.lower()
    m = re.search(rf"\bfor\s+(?:the\s+)?(?:next\s+)?{_SPAN}", low)
    if m:
        return _after(m, now)
    for m in re.finditer(r"\b(?:until|till|til|through|before)\s+(.+)$", low):
        t = read_time(m.group(1), now)
        if t is not None:
            return t
    if "tomorrow" in low.split():
        return _midnight(now, 1)
    return None


def read_time(text: str, now: datetime) -> datetime | None:
    """A point in time from words (tomorrow, monday, next week, 18:00, 6pm, 3h, in 2 days) or ISO."""
    low = text.strip().lower().rstrip(".!?")
    try:
        t = datetime.fromisoformat(low.upper().replace("Z", "+00:00"))
        return t if t.tzinfo else t.replace(tzinfo=now.tzinfo)
    except ValueError:
        pass
    parts = low.replace("the ", "").split() or [""]
    if parts[0] == "next" and len(parts) > 1:
        parts = parts[1:]  # "next monday" is the coming monday, like a bare "monday"
    if parts[0] in ("tomorrow", "tmrw", "tonight", "midnight"):
        return _midnight(now, 1)
    if parts[0] in WEEKDAYS or parts[0] == "week":
        day = 0 if parts[0] == "week" else WEEKDAYS.index(parts[0])
        return _midnight(now, (day - now.weekday() - 1) % 7 + 1)
    m = re.match(rf"(?:in\s+)?{_SPAN}", low)
    if m:
        return _after(m, now)
    m = re.match(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b", low)
    if m and (m.group(2) or m.group(3)):
        hour = int(m.group(1)) % 12 + (12 if m.group(3) == "pm" else 0) if m.group(3) else int(m.group(1))
        if hour > 23 or int(m.group(2) or 0) > 59:
            return None
        t = datetime.combine(now.date(), time(hour, int(m.group(2) or 0)), now.tzinfo)
        return t if t > now else t + timedelta(days=1)
    return None


def since(text: str, now: datetime) -> datetime | None:
    """The start of a look-back named in `text` ("last night", "yesterday", "in the last 3 hours")."""
    low = text.lower()
    m = re.search(rf"\b(?:in|over|during)\s+the\s+(?:last|past)\s+{_SPAN}", low)
    if m:
        return now - (_after(m, now) - now)
    if re.search(r"\b(?:yesterday|last night)\b", low):
        return _midnight(now, -1)
    if re.search(r"\b(?:today|this morning)\b", low):
        return _midnight(now, 0)
    m = re.search(r"\bsince\s+(" + "|".join(WEEKDAYS) + r")\b", low)
    if m:
        back = (now.weekday() - WEEKDAYS.index(m.group(1))) % 7
        return _midnight(now, -back)
    return None


def _after(m: re.Match[str], now: datetime) -> datetime:
    n = _NUMBERS.get(m.group(1), 1) if not m.group(1).isdigit() else int(m.group(1))
    unit = m.group(2)[:-1] if len(m.group(2)) > 1 and m.group(2).endswith("s") else m.group(2)
    return now + timedelta(seconds=n * _UNITS[unit])


def _midnight(now: datetime, days: int) -> datetime:
    return datetime.combine(now.date() + timedelta(days=days), time(0), now.tzinfo)
