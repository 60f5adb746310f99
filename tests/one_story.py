"""Cross-checks of report.html's three views of an origin: matrix, comparison, findings.

Imported by the tests (pytest puts tests/ on sys.path). :func:`cross_check` parses the
rendered page with the standard library only and compares what each view says about
every (target, origin) with the others and with report.json's probes, so a report that
shows a read in the matrix and calls it unconfirmed in the comparison fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base"})

UNREAD_CLAIMS = re.compile(r"no engine confirmed|blocked in every engine|never readable")
"""What a view must never say about an origin whose page could read the response."""

NOT_A_FINDING = frozenset({"public", "token", "http-target"})
"""Standings of an origin that read the response without a vulnerability finding."""


@dataclass
class Node:
    """One element of the parsed page."""

    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            yield from c.walk()

    def find_all(self, tag: str, **attrs: str | None) -> list[Node]:
        """Descendants with this tag whose attributes equal ``attrs`` (None: present)."""
        out = []
        for n in self.walk():
            if n is self or n.tag != tag:
                continue
            ok = True
            for k, v in attrs.items():
                name = k.rstrip("_").replace("_", "-")
                if name not in n.attrs or (v is not None and n.attrs[name] != v):
                    ok = False
            if ok:
                out.append(n)
        return out

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def all_text(self) -> str:
        return " ".join(" ".join(n.text) for n in self.walk()).strip()

    def cells(self) -> list[Node]:
        return [c for c in self.children if c.tag in ("td", "th")]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.stack[-1].text.append(data.strip())


def parse(page: str) -> Node:
    """The page as a tree of :class:`Node`."""
    b = _Builder()
    b.feed(page)
    b.close()
    return b.root


def _origins(cell: Node) -> list[str]:
    """The origins listed in a table cell (one ``<div>`` each), without ``via ...``."""
    return [" ".join(d.text).split(" via ", 1)[0].strip() for d in cell.find_all("div") if d.text]


@dataclass
class Views:
    """What each view of the page says, per (target, origin)."""

    matrix_read: set[tuple[str, str]] = field(default_factory=set)
    matrix_standing: dict[tuple[str, str], str] = field(default_factory=dict)
    matrix_links: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    comparison_text: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    comparison_standing: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    comparison_kinds: set[tuple[str, str, str]] = field(default_factory=set)
    finding_origins: dict[str, tuple[str, str, set[str]]] = field(default_factory=dict)
    """anchor -> (target, category, origins)."""
    overview: dict[str, dict[str, str]] = field(default_factory=dict)


def views(page: str) -> Views:
    """Read the matrix, comparison, findings and overview of a rendered report."""
    dom = parse(page)
    v = Views()
    for table in dom.find_all("table", data_testid="matrix"):
        target = table.attrs["data-target"]
        for tr in table.find_all("tr", data_role=None):
            cells = tr.cells()
            if not cells:
                continue
            keys = [(target, o) for o in _origins(cells[0])]
            read = any("data-attacker-read" in c.attrs for c in cells)
            for key in keys:
                if read:
                    v.matrix_read.add(key)
                if "data-standing" in tr.attrs:
                    v.matrix_standing[key] = tr.attrs["data-standing"]
                links = {a.attrs.get("href", "")[1:] for a in tr.find_all("a")}
                v.matrix_links.setdefault(key, set()).update(links)
    for body in dom.find_all("tbody", data_target=None):
        if not body.find_all("tr", data_disagree=None):
            continue
        target = body.attrs["data-target"]
        for tr in body.find_all("tr", data_disagree=None):
            cells = tr.cells()
            browsers = cells[3].all_text() if len(cells) > 3 else ""
            for o in _origins(cells[1]):
                key = (target, o)
                v.comparison_text.setdefault(key, []).append(browsers)
                if "data-standing" in tr.attrs:
                    v.comparison_standing.setdefault(key, set()).add(tr.attrs["data-standing"])
                if tr.attrs.get("data-disagree") == "true":
                    v.comparison_kinds.add((target, o, tr.attrs.get("data-kind", "")))
    for art in dom.find_all("article", data_testid="finding"):
        target = ""
        origins: set[str] = set()
        for dl in art.find_all("dl"):
            items = dl.children
            for i, item in enumerate(items):
                if item.tag != "dt" or i + 1 >= len(items):
                    continue
                label, dd = " ".join(item.text), items[i + 1]
                if label == "Target":
                    target = dd.all_text()
                elif label == "Origins":
                    origins = set(_origins(dd)) or {dd.all_text()}
        category = art.attrs.get("data-category", "")
        v.finding_origins[art.attrs["id"]] = (target, category, origins)
    for tr in dom.find_all("tr", data_target=None):
        if "data-readers" in tr.attrs:
            v.overview[tr.attrs["data-target"]] = tr.attrs
    return v


def cross_check(data: Mapping[str, Any], page: str) -> None:
    """Assert that the matrix, the comparison and the findings tell one story per origin."""
    v = views(page)
    readers = {
        (str(p["target"]), str(p["origin"]))
        for p in data["probes"]
        if p["role"] == "attacker" and p["outcome"] == "readable"
    }
    in_findings = {
        (str(f["target"]), str(o))
        for f in data["findings"]
        if f.get("category") == "vulnerability"
        for o in f["origins"]
    }
    assert readers, "the run has no attacker read: nothing to cross-check"
    # The matrix shows exactly the reads the probes measured.
    assert v.matrix_read == readers, (
        sorted(v.matrix_read - readers),
        sorted(readers - v.matrix_read),
    )
    # A finding names only origins the matrix shows reading.
    assert in_findings <= readers, sorted(in_findings - readers)
    # The comparison never calls a read origin unread.
    for key in sorted(readers):
        for text in v.comparison_text.get(key, []):
            assert not UNREAD_CLAIMS.search(text), (key, text)
    # Every read is either in a finding or says, in the matrix and the comparison, why not.
    for key in sorted(readers):
        standing = v.matrix_standing.get(key)
        assert standing is not None, f"matrix row of {key} states no standing"
        if key in in_findings:
            assert standing == "finding", (key, standing)
        else:
            assert standing in NOT_A_FINDING, (key, standing)
        compared = v.comparison_standing.get(key)
        if compared is not None:
            assert compared == {standing}, (key, compared, standing)
    for key, standing in v.matrix_standing.items():
        assert (standing == "finding") == (key in in_findings), (key, standing)
    for key, standings in v.comparison_standing.items():
        assert ("finding" in standings) == (key in in_findings), (key, standings)
    # The matrix links each finding origin to a finding that lists it.
    html_findings = v.finding_origins
    for key in sorted(in_findings):
        links = v.matrix_links.get(key, set())
        assert any(
            html_findings.get(a, ("", "", set()))[0] == key[0] and key[1] in html_findings[a][2]
            for a in links
        ), (key, links)
    # The findings section lists the same origins as report.json.
    shown = {
        (t, o)
        for t, cat, origins in html_findings.values()
        if cat == "vulnerability"
        for o in origins
    }
    assert shown == in_findings, (sorted(shown ^ in_findings))[:10]
    # The overview counts what the matrix shows.
    for target, attrs in v.overview.items():
        mine = {o for t, o in readers if t == target}
        counted = {o for t, o in in_findings if t == target}
        assert int(attrs["data-readers"]) == len(mine), (target, attrs, sorted(mine))
        assert int(attrs["data-in-findings"]) == len(counted), (target, attrs, sorted(counted))
    # The comparison's disagreements are report.json's, row for row.
    stored = {
        (str(d["target"]), o, str(d["kind"]))
        for d in data.get("disagreements") or []
        for o in str(d.get("origin") or "").split(", ")
    }
    assert v.comparison_kinds == stored, (
        sorted(stored - v.comparison_kinds)[:10],
        sorted(v.comparison_kinds - stored)[:10],
    )
