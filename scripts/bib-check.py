"""Reads an exported bibliography with an independent parser and checks it.

Usage: bib-check.py FILE FORMAT EXPECTED_JSON, where FORMAT is bib, ris or
json, and EXPECTED_JSON lists {"arxiv", "title", "note"} per paper. BibTeX
is read with bibtexparser, RIS with rispy, CSL-JSON with the json module.
Every expected paper must be there with its title and note (compared on
their words: the formats escape differently). Prints "ok N" or fails.
"""
import json
import re
import sys


def words(s):
    return re.findall(r"[0-9a-z]+", (s or "").lower())


def main():
    path, fmt, expected = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    text = open(path, encoding="utf-8").read()
    found = {}
    if fmt == "bib":
        import bibtexparser
        from bibtexparser.bparser import BibTexParser

        db = bibtexparser.loads(text, parser=BibTexParser(common_strings=True))
        for e in db.entries:
            assert e.get("archiveprefix", "").lower() == "arxiv", e
            found[e["eprint"]] = (e.get("title"), e.get("note"), e.get("author"))
    elif fmt == "ris":
        import rispy

        for e in rispy.loads(text):
            an = e.get("accession_number", "")
            assert an.startswith("arXiv:"), e
            found[an[len("arXiv:"):]] = (e.get("title"), "\n".join(e.get("notes", [])), e.get("authors"))
    elif fmt == "json":
        for e in json.loads(text):
            assert e["type"] and e["id"], e
            found[e["number"][len("arXiv:"):]] = (e.get("title"), e.get("note"), e.get("author"))
    else:
        raise SystemExit(f"unknown format {fmt}")
    assert len(found) == len(expected), f"{len(found)} entries, expected {len(expected)}: {sorted(found)}"
    for want in expected:
        got = found.get(want["arxiv"])
        assert got, f"{want['arxiv']} missing from {sorted(found)}"
        title, note, authors = got
        assert words(title) == words(want["title"]), (title, want["title"])
        assert words(note) == words(want.get("note")), (note, want.get("note"))
        assert authors, f"{want['arxiv']} has no authors"
    print(f"ok {len(found)}")


main()
