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
    a able abort aborted about accelerator across act acting action actions active add after afternoon
    again ago ahead all allow allowed almost already alright also always am among an and another any anybody
    anymore anyone anything applied apply applying approval approvals approve are around as asap ask asked
    asking at audit auto automatic automatically automation autonomous autonomy available away back bad be
    been before being between boss both bounce bounced box bring brings broken brought buddy build builds
    busy but by cache caches came can cancel canceled cancelled cant cap capped card cards cause caused
    causes certain change changed changes check cheers clean cleaned cleaning cleanup clear cluster come
    comes cordon could crash crashed crashing current currently cycle cycled cycling d daemon day days dead
    dear decision decisions defer deferred deferring delay delayed delete device devices did didnt different
    disable disk disks display do does doesnt doing done dont down downgrade drain drained draining draw
    drawing dry during each earlier eight either else empty enable end ended ending ends entire entries
    entry error errors evening ever every everybody everyone everything explain failed failing far few file
    files fine finish finished finishes finishing fire first five flaky fleet folks for force forced forcing
    four free freeze friday from frozen full fully gave get gets getting give gives giving go goes going
    gone good got gpu gpus guys h had halt hands hang hanging happen happened happening happens has have
    having he health healthy heat hello her here hers hey hi him his history hold host hot hour hours how
    hrs hung i idle if immediately in inactive inform install installed instead into is isnt issue issues it
    its job jobs junk just keep keeps kept kick kill killed killing kindly know last later latest launch
    least leave leaves left less let lets like limit limits list listing lists llmosd load log logging logs
    long look looking looks love lower m machine made make makes manual manually many mate max maximum may
    maybe me memory message might min mine minimum mins minute minutes mode modes monday monitor monitoring
    more morning most much must my need needed needs neither never new next night nine no nobody node none
    normal normally not nothing notify now observe observing of off offline often ok okay old on one ones
    online only onto operation operations or orphan orphaned other our ours out outage outstanding over
    overall overview own package packages past patch patched patches patching pause paused pending per perhaps
    permission pid place placed please pls pool pools postpone postponed power powered powering previous
    prior probably problem problems proc process processes purge put puts putting question queue queued
    quick quickly quite rack raise rather really reason reasons reboot rebooted rebooting recent recently
    record records reduce reinitialize relaunch release releases reload remove report requeue requeued
    requeueing rerun reschedule reset resets resetting restart restarted restarting resubmit resume resumed
    retry return revert reverted right roll rollback rolled rolling rotation run running runs said same
    saturday say schedule scheduled scheduling security see seen send sending sent server service services
    set seven several shall she shoot should show showing shown shows shut shutdown signal signals since six
    skip so some somebody someone something soon sorry space start started starting state status still stop
    stopped stopping stuck summary sunday supervise supervised sure system take takes taking task tasks team
    tell temp temperature temporary ten terminate terminated than thank thanks that thats the their theirs
    them then there these they this those three throttle through thursday thx tidy til till to today told
    tomorrow tonight too took trail tuesday turn two unable uncordon under undo undrain undrained unhealthy
    unit units until up update updated updates upgrade upgraded upgrades us usage utilization version
    versions very via view w wait waiting want wanted wants was watch watching watt watts we wedge wedged
    wednesday week weeks went were what whats when where which who whole whom whose why will wipe with
    within without wont would wrong yes yesterday yet yo you your yours zero zombie
    spin
    """.split()  # noqa: SIM905
)

_WORD = re.compile(r"(?<![\w/.:@-])([A-Za-z0-9_][A-Za-z0-9_.:@-]*[A-Za-z0-9_]|[A-Za-z0-9_])(?![\w/])")
_UNIT = re.compile(r"\b([A-Za-z0-9_][A-Za-z0-9:_.@-]*\.(?:service|socket|timer|target|mount|path))\b")
_GPU = re.compile(rf"\b(?:gpus?|cards?|devices?)\s*(?:#|no\.?\s*|number\s*|index\s*|:)?\s*{_NUM}\b", re.I)
_PID = re.compile(r"\b(?:pid|process(?:\s+id)?|proc|kill)\s*(?:#|no\.?|number|:)?\s*(\d+)\b", re.I)
_JOB_AFTER = re.compile(r"\bjob\s*(?:#|id|:)?\s*([A-Za-z0-9][A-Za-z0-9_.:-]*)", re.I)
_JOB_LIKE = re.compile(r"(?<![\w.-])([a-z]{1,8}-\d{1,10})(?![\w.-])", re.I)
_PATH = re.compile(r"(?<![\w.~-])(/[^\s'\"`,;]*)")
_WATTS = re.compile(r"\b(\d{2,4}(?:\.\d+)?)\s*(?:w|watts?)\b", re.I)
_TO_NUMBER = re.compile(r"\b(?:to|at|of)\s+(\d{2,4})\b")
_SHELL = re.compile(
    r"^\s*(?:sudo|rm|mv|cp|chmod|chown|dd|mkfs|curl|wget|bash|sh|echo|cat|vi|vim|nano|sed|apt|apt-get)\s"
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


def gpus_named(text: str) -> set[int]:
    """Every GPU the text names, however: "gpu 3 and gpu 2", "gpus 2 and 3", "card two"."""
    named = {n for m in _GPU.finditer(text) if (n := number(m.group(1))) is not None}
    return named | set(gpu_list(text))


def gpu_list(text: str) -> list[int]:
    """All GPU numbers after "gpu(s)": "on gpus 0, 1 and 3" -> [0, 1, 3]."""
    m = re.search(r"\bgpus?\s*((?:(?:\d+|,|and|&|\s)+))", text, re.I)
    return [int(n) for n in re.findall(r"\d+", m.group(1))] if m else []


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


_NEAR_UNIT = re.compile(r"\b([\w.@-]+)\s+(?:service|unit|daemon)\b|\b(?:service|unit)\s+([\w.@-]+)", re.I)


def unit(text: str) -> str | None:
    """A systemd unit: as written if it has a suffix, else a free name + `.service`: the one next to
    "service"/"unit", or the only one. Two free names and no such hint is ambiguous: None."""
    m = _UNIT.search(text)
    if m:
        return m.group(1)
    free = list(
        dict.fromkeys(n.lower() for n in names(text) if not n.lower().startswith(("gpu", "pid", "j-")))
    )
    near = [(m.group(1) or m.group(2)).lower() for m in _NEAR_UNIT.finditer(text)]
    named = [n for n in near if n in free] or (free if len(free) == 1 else [])
    return f"{named[0]}.service" if named else None


def _free(text: str) -> list[str]:
    return list(dict.fromkeys(n.lower() for n in names(text) if "/" not in n))


def packages(text: str) -> list[str]:
    """Package names in the text; one command applies to one package (or to `all`)."""
    return _free(text)


def package(text: str) -> str | None:
    free = packages(text)
    return free[0] if len(free) == 1 else None


def mentions_jobs(text: str) -> bool:
    return bool(re.search(r"\bjobs?\b", text, re.I))


def host(text: str) -> str:
    """A host named in the text, or "" (this host: the daemon fills it in)."""
    free = [n.lower() for n in names(text) if "." in n or "-" in n or any(c.isdigit() for c in n)]
    return free[0] if free else ""


def user(text: str) -> str | None:
    m = re.search(r"\b([a-z_][a-z0-9_-]{0,31})'s\b", text, re.I) or re.search(
        r"\b(?:of|for|by|does|from|user|owned by|belonging to|has)\s+([a-z_][a-z0-9_-]{0,31})\b", text, re.I
    )
    if m and m.group(1).lower() not in COMMON:
        return m.group(1).lower()
    return None


_RECIPIENT = re.compile(r"\b(?:tell|notify|message|ping|inform|alert|warn)\s+(?:the\s+)?([a-z_][\w-]*)", re.I)
_LET_KNOW = re.compile(r"\blet\s+(?:the\s+)?([a-z_][\w-]*)\s+know\b", re.I)
_ADMINS = {"admin", "admins", "administrator", "administrators", "sysadmin", "sysadmins", "oncall", "ops"}


def recipient(text: str) -> str | None:
    """Whom to notify: a user named after tell/notify/message, or `admin`. "Me" names no one the
    daemon knows (the requester is not necessarily an admin), so it is no recipient."""
    m = _RECIPIENT.search(text) or _LET_KNOW.search(text)
    if not m:
        return None
    who = m.group(1).lower()
    if who in _ADMINS:
        return "admin"
    return None if who in COMMON else who


def message(text: str) -> str:
    m = re.search(r"\b(?:that|saying|to say)\b\s*(.+)$|:\s*(.+)$", text, re.I)
    return (m.group(1) or m.group(2)).strip() if m else text.strip()


# A mode change is the one change with no slot to find in the text, so the words must name the mode
# itself: else the model's label alone would switch the daemon on any text it half-recognises
# ("banana helicopter purple" read as `observe`).
_MODE_CUES = {
    "observe": re.compile(
        r"\b(?:observ\w*|watch\w*|monitor\w*|hands[- ]?off|dry[- ]?run|freeze|pause|read[- ]only|manual\w*"
        r"|stop (?:acting|making|doing|changing|touching)|(?:don'?t|do not|never) (?:change|act|touch|do)"
        r"|no (?:automatic|auto|more|changes?|actions?))\b",
        re.I,
    ),
    "supervised": re.compile(
        r"\b(?:supervis\w*|approv\w*|permission|ask (?:me|first|before)|check with me|confirm\w*|my ok"
        r"|sign[- ]?off)\b",
        re.I,
    ),
    "autonomous": re.compile(
        r"\b(?:autonom\w*|automatic\w*|automation|auto|on (?:your|its) own|resume|take over|without asking"
        r"|normal operation|unsupervised)\b",
        re.I,
    ),
}


def names_mode(mode: str, text: str) -> bool:
    """Whether `text` has words for `mode` (observe, supervised, autonomous)."""
    return bool(_MODE_CUES[mode].search(text))


def explain_target(text: str) -> str | None:
    """What a "why ..." question is about, named as the audit log names targets."""
    g = gpu(text)
    if g is not None:
        return f"gpu:{g}"
    p = pid(text)
    if p is not None:
        return f"pid:{p}"
    j = job(text)
    if j is not None:
        return j
    where = path(text)
    if where is not None:
        return where
    if re.search(r"\b(?:update|updates|upgrade|upgraded|package|patch)\b", text, re.I):
        return package(text)
    return unit(text)


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
    """The start of a look-back named in `text` ("last night", "yesterday", "in the last 3 hours",
    "in the past hour", "since 2 hours ago")."""
    # "the last hour" is one hour back, as "the last 1 hour" would be
    low = re.sub(r"\b(last|past)\s+(minute|hour|day|week)\b", r"\1 1 \2", text.lower())
    m = re.search(rf"\b(?:in|over|during)\s+the\s+(?:last|past)\s+{_SPAN}", low) or re.search(
        rf"\b{_SPAN}\s+ago\b", low
    )
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
