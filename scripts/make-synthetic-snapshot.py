#!/usr/bin/env python3
"""Generate a synthetic arXiv snapshot (Kaggle/Cornell JSON-lines format) for benchmarks.

Usage: make-synthetic-snapshot.py LISTINGS_DIR OUT_FILE [N]

Takes the real papers of the daily-listing corpus (shared/data/arxiv/daily-arxiv-listings/data)
and writes N (default 1,000,000) snapshot records with the 14 fields of
arxiv-metadata-oai-snapshot.json. Titles, abstracts, authors and comments are real; ids are
renumbered so every record is a distinct paper (YYMM.NNNNN from 1501 onwards); versions,
dates and authors_parsed are derived deterministically. The output is the same every run.
"""

import glob
import json
import os
import sys
from datetime import datetime, timedelta, timezone


def load_papers(listings_dir):
    seen = {}
    for path in sorted(glob.glob(os.path.join(listings_dir, "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                record = json.loads(line)
                seen.setdefault(record["id"], record)
    return list(seen.values())


def months():
    for year in range(15, 100):
        for month in range(1, 13):
            yield f"{year:02d}{month:02d}", year, month


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    listings_dir, out_path = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    papers = load_papers(listings_dir)
    if not papers:
        sys.exit(f"no listing records found in {listings_dir}")
    per_month = 99_999
    month_iter = months()
    written = 0
    with open(out_path, "w", encoding="utf-8") as out:
        while written < n:
            yymm, year, month = next(month_iter)
            base_date = datetime(2000 + year, month, 1, 12, 0, 0, tzinfo=timezone.utc)
            for number in range(1, min(per_month, n - written) + 1):
                src = papers[written % len(papers)]
                authors = [a for a in src.get("authors") or [] if a.strip()]
                parsed = []
                for a in authors:
                    parts = a.split()
                    parsed.append([parts[-1], " ".join(parts[:-1]), ""])
                categories = [c for c in src.get("categories") or [] if " " not in c]
                created = base_date + timedelta(minutes=number)
                versions = [{"version": "v1", "created": created.strftime("%a, %-d %b %Y %H:%M:%S GMT")}]
                if number % 3 == 0:
                    v2 = created + timedelta(days=20)
                    versions.append({"version": "v2", "created": v2.strftime("%a, %-d %b %Y %H:%M:%S GMT")})
                record = {
                    "id": f"{yymm}.{number:05d}",
                    "submitter": authors[0] if authors else None,
                    "authors": ", ".join(authors),
                    "title": src["title"],
                    "comments": src.get("comment"),
                    "journal-ref": None,
                    "doi": None,
                    "report-no": None,
                    "categories": " ".join(categories) or "cs.LG",
                    "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
                    "abstract": src.get("summary") or "",
                    "versions": versions,
                    "update_date": (created + timedelta(days=30)).strftime("%Y-%m-%d"),
                    "authors_parsed": parsed,
                }
                out.write(json.dumps(record, separators=(",", ":")))
                out.write("\n")
                written += 1
    print(f"wrote {written} records to {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
