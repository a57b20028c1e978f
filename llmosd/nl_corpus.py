"""A generated corpus of admin phrasings for the NL label model (nl_train.py).

Each label of `nl.LABELS` has templates written for this project; slots are
filled from made-up unit, job, user, package and host names with a fixed
seed, and wrapped in politeness and punctuation variants. Every generated
text is checked against the slot readers (`check`), so a template word that
the readers would take for a name is caught here, not in use. The shared
command cases and the project's own test phrasings are never read.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

Check = Callable[[str, str, str | None], bool]  # (text, label, target named by the template)


def _alts(text: str) -> list[str]:
    return [t.strip() for t in text.split("|")]


SERVICES = """
nginx vllm triton slurmd redis postgresql jupyterhub prometheus grafana ollama sshd docker
containerd tgi-server ray-head model-gateway dcgm-exporter node-exporter mlflow minio etcd haproxy
chronyd rsyslog kubelet embedder api-v2 webui sglang llm-router cron munge nvidia-persistenced
fabricmanager
""".split()  # noqa: SIM905
USERS = """
alice bob carol dave erin frank grace heidi ivan judy oscar peggy trent victor wendy mchen priya
kumar sato lopez
""".split()  # noqa: SIM905
PACKAGES = """
openssl curl nvidia-driver-550 cuda-toolkit-12-4 linux-image-generic openssh-server python3 libc6
docker-ce systemd sudo git zlib1g libssl3 tzdata bash
""".split()  # noqa: SIM905
PATHS = """
/var/cache/apt /tmp /var/log/journal /var/tmp /scratch/tmp /home/alice/.cache/pip
/var/lib/docker/tmp /data/cache/huggingface /var/crash /var/cache /srv/scratch
""".split()  # noqa: SIM905
HOSTS = """
gpu-07 node12 dgx-a01 gpu-b3 worker-5
""".split()  # noqa: SIM905
NUMBER_WORDS = """
zero one two three four five six seven
""".split()  # noqa: SIM905
SPANS = _alts(
    "until tomorrow | until monday | till friday | until next week | for 2 days | for the next 3 "
    "hours | for an hour | for 30 minutes | until 18:00 | until 6pm | for the next two days | till "
    "sunday | until wednesday | for a week | for 12 hours "
)


# Slots: {s} service, {g} gpu, {j} job, {p} pid, {path}, {pkg}, {u} user, {h} host, {w} watts, {t} span.
# Alternatives are separated by "|".
T: dict[str, list[str]] = {
    "restart": _alts(
        "restart {s} | restart the {s} service | bounce {s} | give {s} a restart | {s} needs a restart | "
        "restart {s} please | can you restart {s} | kick {s} | reload the {s} daemon | cycle {s} | {s} is "
        "stuck, restart it | do a restart of {s} | restart the {s} unit | restart {s}.service | please "
        "bounce the {s} service | relaunch {s} | restart job {j}"
    ),
    "start": _alts(
        "start {s} | start the {s} service | bring {s} up | launch {s} | fire up {s} | get {s} running | "
        "turn on the {s} service | spin up {s} | start {s}.service | {s} is down, start it | start job "
        "{j} on gpus {g} and {g2} | run job {j} on gpu {g} | place job {j} on gpu {g}"
    ),
    "stop": _alts(
        "stop {s} | stop the {s} service | shut down {s} | turn off {s} | bring {s} down | disable the "
        "{s} daemon for now | halt {s} | stop job {j} | cancel job {j} | abort job {j} | terminate job "
        "{j} | stop process {p} | end job {j} | shut the {s} service off | stop {s}.service"
    ),
    "rollback": _alts(
        "roll back {s} | rollback {s} | revert {s} | revert {s} to the previous release | downgrade {s} "
        "to the last version | undo the {s} upgrade | {s} is broken after the update, roll it back | go "
        "back to the old {s} release | roll the {s} service back | put the previous version of {s} back"
    ),
    "requeue": _alts(
        "requeue {j} | requeue job {j} | put job {j} back in the queue | resubmit job {j} | retry job {j} "
        "| send {j} back to the queue | reschedule job {j} | rerun {j} | queue job {j} again"
    ),
    "kill": _alts(
        "kill process {p} | kill pid {p} | kill {p} | send a kill signal to pid {p} | terminate process "
        "{p} | kill the process with pid {p} | get rid of process {p} | shoot down pid {p} | kill job {j} "
        "| force kill process {p} | end process {p} | the process {p} is an orphan, kill it"
    ),
    "drain": _alts(
        "drain gpu {g} | drain GPU {g} | cordon gpu {g} | take gpu {g} out of service | stop scheduling "
        "on gpu {g} | no new jobs on gpu {g} | mark gpu {g} as drained | pull gpu {g} from the pool | gpu "
        "{g} is flaky, drain it | don't put any more work on GPU {g} | drain card {g} | remove gpu {gw} "
        "from rotation"
    ),
    "undrain": _alts(
        "undrain gpu {g} | uncordon gpu {g} | return gpu {g} to service | gpu {g} is fine now, undrain it "
        "| let gpu {g} take work again | bring gpu {g} back | put GPU {g} back in the pool | re-enable "
        "gpu {g} | allow jobs on gpu {g} again | add gpu {gw} back to the rotation"
    ),
    "reset": _alts(
        "reset gpu {g} | reset GPU {g} | do a gpu reset on gpu {g} | power cycle gpu {g} | reinitialize "
        "gpu {g} | gpu {g} is wedged, reset it | run a reset on card {g} | reset the gpu number {g}"
    ),
    "power": _alts(
        "cap gpu {g} at {w} watts | set the power limit of gpu {g} to {w}W | limit gpu {g} to {w} W | "
        "lower gpu {g} power to {w} watts | set gpu {g} power cap to {w} | gpu {g} should draw at most "
        "{w} watts | power limit gpu {g} {w}w | raise the power limit on GPU {g} to {w} watts | throttle "
        "gpu {g} to {w}W"
    ),
    "cleanup": _alts(
        "clean up {path} | clean {path} | free some space in {path} | purge {path} | clear out {path} | "
        "tidy up {path} | empty the cache in {path} | delete the junk in {path} | wipe the temp files in "
        "{path} | the disk is full, clean {path} | reclaim space under {path}"
    ),
    "upgrade": _alts(
        "apply the updates | install all pending updates | upgrade everything | apply the {pkg} update | "
        "upgrade {pkg} | install the {pkg} patch | patch the machine | apply security updates | update "
        "{pkg} now | go ahead with the pending upgrades | install the available updates | run the updates "
        "| apply pending patches"
    ),
    "defer": _alts(
        "defer the {pkg} update {t} | postpone updates {t} | hold the {pkg} upgrade {t} | delay the "
        "updates {t} | don't apply the {pkg} update yet | skip the updates {t} | wait with the {pkg} "
        "patch {t} | put off the {pkg} update {t} | hold off on all upgrades {t} | defer all pending "
        "updates | postpone the {pkg} upgrade"
    ),
    "reboot": _alts(
        "reboot | reboot the server | restart the machine | reboot the host | reboot this node | do a "
        "reboot | reboot {h} | the box needs a reboot | restart the whole system | power cycle the "
        "machine | schedule a reboot | reboot now | reboot the gpu server"
    ),
    "notify": _alts(
        "tell {u} that {msg} | notify {u} that {msg} | let {u} know that {msg} | message {u}: {msg} | "
        "notify the admins that {msg} | ping {u} that {msg} | inform {u} that {msg}"
    ),
    "status": _alts(
        "status | show status | how is the machine | give me a status report | what is going on | health "
        "check | overview please | how are things on the server | what mode are you in | summary of the "
        "system | is everything ok | daemon status | what's the current state | status please | status? | "
        "quick status | current status | the status | status report | host status | server status"
    ),
    "gpus": _alts(
        "show the gpus | list gpus | gpu status | how are the gpus | what's on gpu {g} | show gpu {g} | "
        "which gpus are drained | is gpu {g} busy | how hot are the gpus | gpu utilization | what is "
        "running on GPU {g} | show me the state of gpu {g} | any gpu errors | is gpu {g} drained"
    ),
    "jobs": _alts(
        "show jobs | list the jobs | what jobs are running | show the queue | which jobs are queued | "
        "jobs of {u} | what is {u} running | show {u}'s jobs | list jobs for {u} | status of job {j} | "
        "show job {j} | how many jobs are waiting | what jobs does {u} have | is job {j} still running"
    ),
    "services": _alts(
        "show services | list the services | service status | which services failed | is {s} running | "
        "status of {s} | how is the {s} service | is {s} up | show me {s} | any failed units | are all "
        "services healthy | what state is {s} in"
    ),
    "updates": _alts(
        "show updates | list pending updates | are there updates | what updates are available | any "
        "security patches pending | which packages need upgrading | is there a {pkg} update | pending "
        "upgrades? | what needs patching"
    ),
    "audit": _alts(
        "show the audit log | audit | list recent actions | what did you do today | show the history | "
        "recent decisions | show me the log of actions | audit trail | what changes were made recently | "
        "show audit entries for gpu {g} | history of {s} | list everything you did"
    ),
    "explain": _alts(
        "why did you restart {s} | why was gpu {g} drained | why is gpu {g} drained | why did {s} get "
        "restarted | explain why job {j} was requeued | why did you kill process {p} | why was {s} rolled "
        "back | what made you stop job {j} | why did the {pkg} update get deferred | why did you reset "
        "gpu {g} yesterday | reason for draining gpu {g} | why did you clean {path} | explain the restart "
        "of {s} | why was {s} stopped last night | what caused the {s} rollback | what happened to {s} | "
        "what happened to gpu {g} | what did you do to {s} and why | who stopped job {j}"
    ),
    "observe": _alts(
        "switch to observe mode | observe only | stop acting automatically | don't change anything {t} | "
        "hands off {t} | only watch, don't act | pause all automation | dry run mode {t} | stop making "
        "changes | just monitor {t} | no automatic actions {t} | observe mode {t} | freeze automation {t} "
        "| stop doing things on your own"
    ),
    "supervised": _alts(
        "switch to supervised mode | ask me before any change | require approval for every action {t} | "
        "supervised mode {t} | check with me before acting | don't act without my approval {t} | every "
        "change needs my ok {t} | ask for permission first {t} | get approval before each change | wait "
        "for my approval on everything {t}"
    ),
    "autonomous": _alts(
        "switch to autonomous mode | go autonomous | resume automation | back to automatic mode | you can "
        "act on your own | take over again | full auto | re-enable automatic actions | act without asking "
        "{t} | autonomous mode {t} | go back to normal operation | resume autonomous mode"
    ),
    "unknown": _alts(
        "write a poem about {s} | tell me a story | what's the capital of france | how are you | good "
        "morning | thanks | who are you | what is 2 plus 2 | translate hello to german | edit "
        "{path}/config.yaml | open /etc/{s}/{s}.conf and change the port | fix the typo in /etc/hosts | "
        "change the {s} config to use port 8080 | add a line to /etc/fstab | modify the crontab | create "
        "a user account for {u} | delete the user {u} | give {u} sudo rights | add {u} to the docker "
        "group | open port 443 in the firewall | change the hostname to {h} | mount the nfs share | "
        "format /dev/sdb | write a python script that lists files | set up a cron job for backups | "
        "install htop | compile the kernel module | ssh into {h} | run ls -la in /root | cat /etc/passwd "
        "| rm -rf {path} | sudo systemctl restart {s} | apt-get install vim | chmod 777 {path} | git pull "
        "the latest code | summarize this article | what's the weather tomorrow | recommend a good gpu "
        "for gaming | how do I quit vim | send an email to {u} | buy more gpus | update the README | what "
        "is the meaning of life | lol | test | asdf | help me with my homework | update the {s} config to "
        "enable gzip | update the {s} configuration file | change the {s} settings | set {s} to listen on "
        "port 9000 | edit the {s} unit file | update my ssh key | update the docs | tell me about {s}"
    ),
}
# Imperatives get requests' openings, questions get questions' openings.
POLITE = [
    "",
    "",
    "",
    "please ",
    "can you ",
    "could you ",
    "hey, ",
    "i need you to ",
    "go ahead and ",
    "llmosd, ",
]
ASKING = ["", "", "", "hey, ", "llmosd, ", "quick question: "]
AFTER = ["", "", "", " please", " now", " asap", " thanks", "?", ".", "!"]
QUESTIONS = {"status", "gpus", "jobs", "services", "updates", "audit", "explain", "unknown"}
MESSAGES = _alts(
    "their job is idle | gpu {g} is being drained | the node reboots tonight | disk is almost full | "
    "maintenance starts at 6pm"
)


def fill(template: str, rng: random.Random) -> tuple[str, str | None]:
    """The template with its slots filled, and the target its first slot names (None if it has none)."""
    g = rng.randrange(8)
    job = rng.choice(["j-{}", "job-{}", "run-{}"]).format(rng.randrange(1, 999))
    slots = {
        "s": rng.choice(SERVICES), "g": str(g), "g2": str((g + 1) % 8), "j": job,
        "gw": rng.choice([str(g), NUMBER_WORDS[g]]), "p": str(rng.randrange(300, 99999)),
        "path": rng.choice(PATHS), "pkg": rng.choice(PACKAGES), "u": rng.choice(USERS),
        "h": rng.choice(HOSTS), "w": str(rng.randrange(150, 701, 25)), "t": rng.choice([*SPANS, "", ""]),
        "msg": rng.choice(MESSAGES).replace("{g}", str(g)),
    }  # fmt: skip
    text = " ".join(template.format(**slots).split())
    first = _FIRST_SLOT.search(template)
    if first is None:
        return text, None
    name = first.group(1)
    value = slots["g" if name == "gw" else name]
    return text, {
        "s": f"{value}.service",
        "g": f"gpu:{value}",
        "gw": f"gpu:{value}",
        "p": f"pid:{value}",
    }.get(name, value)


_FIRST_SLOT = re.compile(r"\{(s|gw|g|j|p|path|pkg|u|h)\}")


def vary(text: str, label: str, rng: random.Random, shout: bool = True) -> str:
    text = rng.choice(ASKING if label in QUESTIONS else POLITE) + text
    text += rng.choice(["", "", "?"]) if label in QUESTIONS else rng.choice(AFTER)
    r = rng.random()
    if r < 0.08 and shout:  # names and paths keep their case
        return text.upper()
    return text[:1].upper() + text[1:] if r < 0.5 else text


def normal(text: str) -> str:
    """Case and punctuation do not make two phrasings different."""
    return re.sub(r"\W+", " ", text.lower()).strip()


def corpus(
    per_label: int = 120, seed: int = 1, check: Check | None = None, avoid: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """(text, label) pairs: `per_label` per label, twice that for unknown; deduplicated, seeded order.
    A phrasing whose `normal` form is in `avoid` (an evaluation set's texts) is never produced."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    seen: set[str] = set(avoid)
    for label, templates in T.items():
        want, got, tries = per_label * (2 if label == "unknown" else 1), 0, 0
        while got < want and tries < want * 20:
            tries += 1
            text, target = fill(rng.choice(templates), rng)
            text = vary(text, label, rng, shout=target is None)
            key = normal(text)
            if key in seen or (check is not None and not check(text, label, target)):
                continue
            seen.add(key)
            out.append((text, label))
            got += 1
    rng.shuffle(out)
    return out
