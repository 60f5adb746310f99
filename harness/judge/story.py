"""One story per origin: who could read a target's answer, and how. Pure functions.

Every view of a run -- the findings, the header-only comparison, the outcome matrix,
the per-target policy line -- asks the same question of each (target, origin): could
page JavaScript on that origin read the response, with what credentials, and does that
read count as a vulnerability? :func:`stories` answers it once, from the witnessed
facts of the probes (outcome, ``cookie_sent``, ``victim_data``, ``authorization_sent``)
and the server's own headers, so the views cannot disagree.

A read **counts** (``Standing.FINDING``) when an attacker origin read a credentialed
answer, or an anonymous one the server did not declare public. Reads that do not count
say why: the answer was public (``Access-Control-Allow-Origin: *`` without credentials),
only the user's token unlocked it (browsers never attach a token by themselves), or an
http origin read an http target (no downgrade: a network attacker reads the http API
itself) -- unless the server trusts every origin, when that read is one more instance
of ``any-origin-read``.
"""

from __future__ import annotations

import enum
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from harness.judge import exploit
from harness.judge.rules import rule_for_class
from harness.model.cors import strict_allow_origin
from harness.model.results import (
    CookiePolicy,
    Credentials,
    Engine,
    Evidence,
    Observation,
    Outcome,
    Role,
)

ANY_ORIGIN = "any-origin-read"
HTTP_ORIGIN = "http-origin-trusted"

JoinKey = tuple[str, str, str, Credentials]
T = TypeVar("T")


def sorted_records(items: Iterable[T], key: Callable[[T], tuple[str, ...]]) -> list[T]:
    """``items`` sorted by ``key``, then by ``repr`` among records with equal keys.

    The same as sorting by ``(*key(r), repr(r))``, so input order never matters, but
    repr() is computed only where keys tie (merged runs): for every record it would
    build a kilobyte string each, 200 MB at once for a 100-endpoint run.
    """
    ordered = sorted(items, key=key)
    out: list[T] = []
    for _, group in itertools.groupby(ordered, key=key):
        same = list(group)
        out.extend(sorted(same, key=repr) if len(same) > 1 else same)
    return out


class Standing(str, enum.Enum):
    """What an origin's reads amount to, once for every view."""

    FINDING = "finding"
    """An attacker origin read the answer; a vulnerability finding reports it."""
    PUBLIC = "public"
    """Readable only without credentials, and the server declared the answer public (``*``)."""
    TOKEN = "token"  # noqa: S105 - a name, not a secret
    """Readable only with the user's token, which browsers never attach by themselves."""
    HTTP_TARGET = "http-target"
    """An http origin read an http target: no downgrade, and no other origin class read it."""
    LEGITIMATE = "legitimate"
    """The application's own origin (it should read)."""
    NOT_READ = "not-read"
    """No probe from this origin could read: blocked, not producible, or an error."""


class Read(str, enum.Enum):
    """How one probe (or the best of several) read the answer, as witnessed."""

    VICTIM = "victim"
    """A credentialed 2xx read that carried the session and got the victim's data."""
    CREDENTIALED = "credentialed"
    """A credentialed 2xx read; the cookie did not go, the answer was anonymous, or unknown."""
    ANONYMOUS = "anonymous"
    """A read without credentials (or a non-2xx credentialed answer)."""
    PUBLIC = "public"
    """An anonymous read of an answer the server declared public (``*``)."""
    TOKEN = "token"  # noqa: S105 - a name, not a secret
    """A read that carried the user's token."""
    NONE = "none"
    """Not readable."""


_READ_ORDER = (Read.VICTIM, Read.CREDENTIALED, Read.ANONYMOUS, Read.PUBLIC, Read.TOKEN, Read.NONE)
_OUTCOME_ORDER = (Outcome.READABLE, Outcome.ERROR, Outcome.BLOCKED, Outcome.NOT_PRODUCIBLE)
_ENGINE_ORDER = {e: i for i, e in enumerate(Engine)}
_POLICY_ORDER = {p: i for i, p in enumerate(CookiePolicy)}


class EvidenceIndex:
    """The server's exchanges, found for a probe: its own, the same request's, or the
    origin's."""

    def __init__(self, evidence: Iterable[Evidence]):
        self.by_join: dict[JoinKey, Evidence] = {}
        self.by_key: dict[str, Evidence] = {}
        self.by_origin: dict[tuple[str, str], Evidence] = {}
        for e in sorted_records(evidence, lambda e: (e.target, e.key)):
            self.by_join.setdefault((e.target, e.origin, e.shape, e.credentials), e)
            self.by_key.setdefault(e.key, e)
            if e.actual is not None:
                self.by_origin.setdefault((e.target, e.origin), e)

    def evidence_for(self, o: Observation) -> Evidence | None:
        """This probe's own exchanges, else the evidence for the same request, else any
        for the same target and origin."""
        if o.evidence is not None and o.evidence in self.by_key:
            return self.by_key[o.evidence]
        exact = self.by_join.get((o.target, o.origin, o.shape, o.credentials))
        if exact is not None:
            return exact
        return self.by_origin.get((o.target, o.origin))

    def public(self, o: Observation) -> bool:
        """The server answered this request ``Access-Control-Allow-Origin: *``."""
        ev = self.evidence_for(o)
        if ev is None:
            return False
        exchange = ev.actual if ev.actual is not None else ev.preflight
        return exchange is not None and strict_allow_origin(exchange) == "*"


def probe_read(o: Observation, public: bool) -> Read:
    """How this probe read the answer (``public``: the server answered ``*``)."""
    if o.outcome is not Outcome.READABLE:
        return Read.NONE
    if o.authorization_sent is True:
        return Read.TOKEN
    if o.credentials is Credentials.INCLUDE and o.status is not None and 200 <= o.status < 300:
        return Read.VICTIM if exploit.stole(o) else Read.CREDENTIALED
    return Read.PUBLIC if public else Read.ANONYMOUS


@dataclass(frozen=True)
class EngineFacts:
    """One engine and cookie profile of one origin: what its probes achieved."""

    engine: Engine
    cookie_policy: CookiePolicy
    outcome: Outcome
    """The most telling outcome: any read, else an error, else a block."""
    read: Read
    """The most telling read (:data:`Read.NONE` when nothing was readable)."""
    credentials: tuple[Credentials, ...] = ()
    """Credentials modes that were readable."""
    statuses: tuple[int, ...] = ()
    """HTTP statuses the page read."""
    reason: str | None = None
    """The engine's own block reason (its console text), or the error, when not readable."""
    withheld: str = ""
    """For a credentialed read that was not the victim's data: why, in words."""
    probes: int = 0


@dataclass(frozen=True)
class CountedRead:
    """A probe whose read counts toward a vulnerability finding."""

    probe: str
    rule: str
    """The finding it belongs to (after folding into ``any-origin-read``)."""
    class_rule: str
    """The rule the origin's class fires on its own."""
    level: int
    """:mod:`harness.judge.exploit`'s level of the read."""


@dataclass(frozen=True)
class OriginStory:
    """Everything every view says about one (target, origin)."""

    target: str
    origin: str
    role: Role
    classes: tuple[str, ...]
    standing: Standing
    facts: tuple[EngineFacts, ...]
    """Per engine and cookie profile, in canonical order."""
    counted: tuple[CountedRead, ...] = ()

    @property
    def rules(self) -> tuple[str, ...]:
        """The findings this origin's reads belong to."""
        return tuple(sorted({c.rule for c in self.counted}))

    @property
    def read(self) -> Read:
        """The most telling read over every engine and profile."""
        return _best_read(f.read for f in self.facts)

    @property
    def readable(self) -> bool:
        """Some probe from this origin could read the answer."""
        return self.read is not Read.NONE

    def engines_with(self, *outcomes: Outcome) -> tuple[Engine, ...]:
        """Engines in which some profile ended with one of these outcomes."""
        return _engines(f.engine for f in self.facts if f.outcome in outcomes)


def _best_read(reads: Iterable[Read]) -> Read:
    got = set(reads)
    return next((r for r in _READ_ORDER if r in got), Read.NONE)


def _engines(items: Iterable[Engine]) -> tuple[Engine, ...]:
    return tuple(sorted(set(items), key=_ENGINE_ORDER.__getitem__))


def stories(
    observations: Sequence[Observation],
    evidence: Sequence[Evidence] | EvidenceIndex = (),
) -> dict[tuple[str, str], OriginStory]:
    """The story of every (target, origin) probed, sorted by target and origin.

    The same observations and evidence, in any order, give the same stories.
    """
    index = evidence if isinstance(evidence, EvidenceIndex) else EvidenceIndex(evidence)
    by_target: dict[str, dict[str, list[Observation]]] = defaultdict(lambda: defaultdict(list))
    for o in sorted_records(observations, lambda o: (o.target, o.origin, o.id)):
        by_target[o.target][o.origin].append(o)
    out: dict[tuple[str, str], OriginStory] = {}
    for target in sorted(by_target):
        out.update(_target_stories(target, by_target[target], index))
    return out


def _target_stories(
    target: str, by_origin: Mapping[str, Sequence[Observation]], index: EvidenceIndex
) -> dict[tuple[str, str], OriginStory]:
    https_target = urlsplit(target).scheme == "https"
    reads: dict[str, list[tuple[Observation, Read, int | None]]] = {}
    for origin, obs in by_origin.items():
        reads[origin] = []
        for o in obs:
            public = index.public(o)
            reads[origin].append((o, probe_read(o, public), exploit.read_level(o, public)))

    def class_rule(o: Observation) -> str:
        return rule_for_class(o.origin_class)

    def downgrade_free(o: Observation) -> bool:
        # An http origin reading an http target is no downgrade on its own.
        return class_rule(o) == HTTP_ORIGIN and not https_target

    counted_rules = {
        class_rule(o)
        for items in reads.values()
        for o, _, level in items
        if level is not None and not downgrade_free(o)
    }
    # A server that trusts every origin trusts its http ones too: one finding explains all.
    fold = ANY_ORIGIN in counted_rules
    out: dict[tuple[str, str], OriginStory] = {}
    for origin in sorted(by_origin):
        items = reads[origin]
        counted = tuple(
            CountedRead(o.id, ANY_ORIGIN if fold else class_rule(o), class_rule(o), level)
            for o, _, level in items
            if level is not None and (fold or not downgrade_free(o))
        )
        out[(target, origin)] = OriginStory(
            target=target,
            origin=origin,
            role=_role(items),
            classes=tuple(sorted({o.origin_class for o, _, _ in items})),
            standing=_standing(
                items,
                counted,
                downgrade=any(level is not None and downgrade_free(o) for o, _, level in items),
            ),
            facts=_facts(items),
            counted=counted,
        )
    return out


def _role(items: Sequence[tuple[Observation, Read, int | None]]) -> Role:
    roles = {o.role for o, _, _ in items}
    return Role.LEGITIMATE if Role.LEGITIMATE in roles else Role.ATTACKER


def _standing(
    items: Sequence[tuple[Observation, Read, int | None]],
    counted: Sequence[CountedRead],
    *,
    downgrade: bool,
) -> Standing:
    if _role(items) is Role.LEGITIMATE:
        return Standing.LEGITIMATE
    if counted:
        return Standing.FINDING
    if downgrade:
        return Standing.HTTP_TARGET
    got = {r for _, r, _ in items}
    if Read.PUBLIC in got:
        return Standing.PUBLIC
    if Read.TOKEN in got:
        return Standing.TOKEN
    return Standing.NOT_READ


def _facts(items: Sequence[tuple[Observation, Read, int | None]]) -> tuple[EngineFacts, ...]:
    groups: dict[tuple[Engine, CookiePolicy], list[tuple[Observation, Read]]] = {}
    for o, r, _ in items:
        groups.setdefault((o.engine, o.cookie_policy), []).append((o, r))
    out = []
    for (engine, policy), group in sorted(
        groups.items(), key=lambda kv: (_ENGINE_ORDER[kv[0][0]], _POLICY_ORDER[kv[0][1]])
    ):
        outcomes = {o.outcome for o, _ in group}
        outcome = next((x for x in _OUTCOME_ORDER if x in outcomes), group[0][0].outcome)
        readable = [(o, r) for o, r in group if r is not Read.NONE]
        reasons = [o.block_reason or o.error for o, _ in group if o.outcome is outcome]
        withheld = _withheld([o for o, r in readable if r is Read.CREDENTIALED])
        out.append(
            EngineFacts(
                engine=engine,
                cookie_policy=policy,
                outcome=outcome,
                read=_best_read(r for _, r in readable),
                credentials=tuple(
                    c for c in Credentials if any(o.credentials is c for o, _ in readable)
                ),
                statuses=tuple(sorted({o.status for o, _ in readable if o.status is not None})),
                reason=None if readable else next((r for r in reasons if r), None),
                withheld=withheld,
                probes=len(group),
            )
        )
    return tuple(out)


def _withheld(creds: Sequence[Observation]) -> str:
    """Why credentialed reads were not the victim's data: unknown first, as it is not a no."""
    if any(o.cookie_sent is None for o in creds):
        return "whether the session cookie went is unknown"
    unknown = [o for o in creds if o.cookie_sent and o.victim_data is None]
    if unknown:
        why = unknown[0].victim_note
        return "whose data it was cannot be told" + (f" ({why})" if why else "")
    if any(o.cookie_sent and o.victim_data is False for o in creds):
        return "the session went, but the answer was the anonymous one"
    if creds:
        notes = sorted({o.cookie_note for o in creds if o.cookie_note})
        return "the session cookie was not sent" + (f" ({notes[0]})" if notes else "")
    return ""


# --------------------------------------------------------------------------- in words

_READ_WORDS = {
    Read.VICTIM: "read the victim's data with the session cookie",
    Read.CREDENTIALED: "readable with credentials",
    Read.ANONYMOUS: "read only an anonymous answer",
    Read.PUBLIC: "read only the public answer",
    Read.TOKEN: "readable only with the user's token",
}

_NOT_A_FINDING = {
    Standing.PUBLIC: "the server declared the answer public (Access-Control-Allow-Origin: *) "
    "and it was read without credentials",
    Standing.TOKEN: "only the user's token unlocked it, and browsers never attach a token "
    "by themselves",
    Standing.HTTP_TARGET: "an http origin reading an http target is no downgrade (a network "
    "attacker can read the http API itself)",
}


def standing_reason(standing: Standing) -> str:
    """Why a read with this standing is no vulnerability finding ("" when it is one)."""
    return _NOT_A_FINDING.get(standing, "")


def engine_phrase(f: EngineFacts) -> str:
    """What one engine and profile achieved, in words (no engine name)."""
    if f.read is not Read.NONE:
        text = _READ_WORDS[f.read]
        if f.read is Read.ANONYMOUS and f.statuses:
            text += f" (HTTP {', '.join(str(x) for x in f.statuses)})"
        return f"{text}, but {f.withheld}" if f.withheld else text
    if f.outcome is Outcome.BLOCKED:
        return "blocked"
    if f.outcome is Outcome.NOT_PRODUCIBLE:
        return "origin not producible"
    if f.outcome is Outcome.ERROR:
        return "probe error"
    return str(f.outcome.value)


def says(story: OriginStory) -> str:
    """What the browsers did for this origin, each distinct phrase once with its engines.

    ``read the victim's data with the session cookie in Chromium; blocked in Firefox``.
    Profiles are named only where they differ within an engine. Why a read is no
    finding is :func:`standing_reason`'s to say.
    """
    by_phrase: dict[str, list[str]] = {}
    for f in story.facts:
        same_engine = [g for g in story.facts if g.engine is f.engine]
        split = len({engine_phrase(g) for g in same_engine}) > 1
        where = f.engine.value + (f" ({f.cookie_policy.value} cookies)" if split else "")
        label = _label(where)
        by_phrase.setdefault(engine_phrase(f), [])
        if label not in by_phrase[engine_phrase(f)]:
            by_phrase[engine_phrase(f)].append(label)
    parts = [f"{phrase} in {_join(where)}" for phrase, where in by_phrase.items()]
    if not parts:
        return "not probed"
    return "; ".join(parts)


def first_reason(story: OriginStory) -> str | None:
    """The first engine block reason (or error) among this origin's unread profiles."""
    return next((f.reason for f in story.facts if f.reason), None)


_LABELS = {"chromium": "Chromium", "firefox": "Firefox", "webkit": "WebKit"}


def _label(where: str) -> str:
    head, _, rest = where.partition(" ")
    return _LABELS.get(head, head) + (f" {rest}" if rest else "")


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------------------------- the policy


def _host(origin: str) -> str:
    return urlsplit(origin).hostname or origin


def _class_phrases(legit_host: str, site: str) -> dict[str, str]:
    """What a read by each attacker class says the server trusts."""
    return {
        "unrelated": "every origin (it reflects whatever Origin arrives)",
        "custom": "the custom attacker origins",
        "sibling-subdomain": f"every *.{site}",
        "deeper-subdomain": f"subdomains of {legit_host}",
        "scheme-downgrade": "over http too",
        "other-port": f"any port of {legit_host}",
        "localhost": "localhost",
        "post-domain": f"{legit_host} followed by any domain (a prefix match)",
        "pre-domain": f"any name ending in {site} (a suffix match without a dot)",
        "unescaped-dot": f"{legit_host} with any character for a dot (an unescaped regex dot)",
        "substring": f"names containing part of {legit_host} (a substring match)",
        "user-content": "user-content hosts",
        "special-char": f"{legit_host} followed by special characters (a parser mismatch)",
        "null": "null",
    }


_CLASS_ORDER = (
    "unrelated",
    "sibling-subdomain",
    "deeper-subdomain",
    "other-port",
    "post-domain",
    "pre-domain",
    "unescaped-dot",
    "substring",
    "special-char",
    "user-content",
    "localhost",
    "custom",
    "scheme-downgrade",
    "null",
)


def policy_line(told: Sequence[OriginStory], legit: Sequence[str] = ()) -> str:
    """The policy one target really implements, inferred from which origin classes read.

    ``trusts every *.example.com, over http too, and null; the victim's cookie travels
    only same-site in a default browser``. ``told`` are the target's stories, ``legit``
    the legitimate origins (they name the hosts a phrase is about).
    """
    attackers = [s for s in told if s.role is Role.ATTACKER]
    if not told:
        return "not probed"
    host = _host(legit[0]) if legit else "the app's host"
    site = _site(host)
    phrases = _class_phrases(host, site)
    trusted = [s for s in attackers if s.readable and s.standing is not Standing.PUBLIC]
    classes = {c for s in trusted for c in s.classes}
    if "sibling-subdomain" in classes:
        classes.discard("deeper-subdomain")  # every *.site includes the app's subdomains
    if "unrelated" in classes:
        named = [phrases["unrelated"]]
    else:
        named = [phrases[c] for c in _CLASS_ORDER if c in classes]
        # A class outside the catalogue (a user's own origins file) is named as given.
        named += sorted(f"the {c} origins" for c in classes - set(_CLASS_ORDER))
    legit_s = [s for s in told if s.role is Role.LEGITIMATE]
    n = len(attackers)
    parts = []
    if named:
        parts.append("trusts " + _and(named))
    elif any(s.standing is Standing.PUBLIC for s in attackers):
        parts.append("answers every origin '*' without credentials (a public answer)")
    elif any(s.readable for s in legit_s):
        parts.append(f"trusts only the app's own origin (none of {n} attacker origin(s) read)")
    elif attackers:
        parts.append(f"trusts none of the {n} attacker origin(s) tried")
    # Only a measured block counts: a legitimate probe that errored has no verdict.
    if any(f.outcome is Outcome.BLOCKED for s in legit_s for f in s.facts):
        parts.append("blocks the app's own origin in some requests")
    cookies = _cookie_phrase(trusted)
    if cookies:
        parts.append(cookies)
    return "; ".join(parts) if parts else "not probed"


def _site(host: str) -> str:
    from scenarios.site import registrable_domain

    return registrable_domain(host) or host


def _and(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b, and c``; "over http too" never leads."""
    items = list(items)
    if items and items[0] == "over http too":
        items[0] = "the app's origin over http too"
    if len(items) <= 1:
        return "".join(items)
    if items[-1] == "over http too":
        return ", ".join(items)
    if len(items) == 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _cookie_phrase(trusted: Sequence[OriginStory]) -> str:
    """How far the victim's session travelled with the reads, per engine, default browser."""
    by_engine: dict[Engine, tuple[str, str]] = {}
    for engine in _engines(f.engine for s in trusted for f in s.facts):
        default = [
            (s, f)
            for s in trusted
            for f in s.facts
            if f.engine is engine and f.cookie_policy is CookiePolicy.DEFAULT
        ]
        victims = [s for s, f in default if f.read is Read.VICTIM]
        if any(not exploit.is_same_site(s.origin, s.target) for s in victims):
            by_engine[engine] = ("travels", "cross-site")
        elif victims:
            by_engine[engine] = ("travels", "only same-site")
        elif any(f.read is Read.CREDENTIALED for _, f in default):
            by_engine[engine] = ("", "credentialed reads bring no victim's data")
        elif default:
            by_engine[engine] = ("", "only anonymous reads")
    if not by_engine:
        return ""
    groups: dict[tuple[str, str], list[str]] = {}
    for engine, phrase in by_engine.items():
        groups.setdefault(phrase, []).append(_LABELS[engine.value])
    if len(groups) == 1:
        ((verb, what),) = groups
        return ("the victim's cookie travels " if verb else "") + what + " in a default browser"
    travels = [f"{what} in {_join(e)}" for (verb, what), e in groups.items() if verb]
    others = [f"{what} in {_join(e)}" for (verb, what), e in groups.items() if not verb]
    parts = (["the victim's cookie travels " + " and ".join(travels)] if travels else []) + others
    return "; ".join(parts) + " (default browsers)"
