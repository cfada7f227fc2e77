#!/usr/bin/env python3
"""Every paper call of Hugging Face's own client, huggingface_hub.HfApi,
against a live Paperhub, with the contents checked, not only the status.

Usage: hf-client-check.py BASE_URL FACTS_JSON

FACTS_JSON names what the calling test set up: {"day": "2025-03-21",
"week": "2025-W12", "month": "2025-03", "voted": {"id", "title"},
"submitted": {"id"}, "submitter": "ada", "missing": "2503.99999"}.
Prints "ok <n> checks" and exits 0, or raises with what differed.
"""

import json
import sys

from huggingface_hub import HfApi
from huggingface_hub.utils import HfHubHTTPError


def main():
    base, facts = sys.argv[1], json.loads(sys.argv[2])
    api = HfApi(endpoint=base, token=False)
    checks = 0

    def check(cond, what):
        nonlocal checks
        if not cond:
            raise AssertionError(what)
        checks += 1

    voted, submitted = facts["voted"], facts["submitted"]

    # The latest day, by default: the submission is on it, with its submitter.
    latest = list(api.list_daily_papers())
    ids = [p.id for p in latest]
    check(len(ids) == len(set(ids)) and ids, f"distinct papers on the latest day: {ids[:5]}")
    check(submitted["id"] in ids, f"{submitted['id']} on the latest list")
    sub = next(p for p in latest if p.id == submitted["id"])
    check(sub.submitted_by is not None and sub.submitted_by.username == facts["submitter"],
          f"submitted by {facts['submitter']}: {sub.submitted_by}")
    check(sub.submitted_at is not None, "submittedOnDailyAt")
    check(all(p.title and p.summary and p.authors for p in latest), "titles, summaries, authors")

    # One day, paged: two pages of five, disjoint, in one order.
    day = facts["day"]
    page0 = [p.id for p in api.list_daily_papers(date=day, limit=5, p=0)]
    page1 = [p.id for p in api.list_daily_papers(date=day, limit=5, p=1)]
    check(len(page0) == 5 and len(page1) == 5, f"pages of five: {page0} {page1}")
    check(not set(page0) & set(page1), "pages do not overlap")
    whole = [p.id for p in api.list_daily_papers(date=day, limit=10)]
    check(whole == page0 + page1, "two pages are the first ten")

    # Upvotes after the vote, and trending order: the community's paper
    # first, then the voted one before every paper nobody voted for.
    trending = list(api.list_daily_papers(date=day, sort="trending", limit=100))
    by_id = {p.id: p for p in trending}
    check(by_id[voted["id"]].upvotes == 1, f"upvotes after one vote: {by_id[voted['id']].upvotes}")
    order = [p.id for p in trending]
    check(order[0] == submitted["id"], f"the submission leads: {order[:3]}")
    check(order.index(voted["id"]) == 1, f"the voted paper next: {order[:3]}")

    # Week and month lists hold the day's papers and more: page through.
    def every(**period):
        ids, page = [], 0
        while True:
            got = [p.id for p in api.list_daily_papers(limit=100, p=page, **period)]
            if not got:
                return ids
            ids += got
            page += 1

    week, month = every(week=facts["week"]), every(month=facts["month"])
    days = every(date=day)
    check(len(week) == len(set(week)), "no paper twice across a week's pages")
    check(set(days) < set(week), f"the day is in its week: {len(days)} of {len(week)}")
    check(set(week) <= set(month) and voted["id"] in month, f"the week is in its month: {len(month)}")

    # The submitter's papers.
    mine = [p.id for p in api.list_daily_papers(submitter=facts["submitter"], date=day)]
    check(mine == [submitted["id"]], f"submitter filter: {mine}")

    # One paper.
    info = api.paper_info(voted["id"])
    check(info.id == voted["id"] and info.title == voted["title"], f"paper_info: {info.id} {info.title}")
    check(info.upvotes == 1 and info.published_at is not None, "upvotes and date")
    check(info.authors and all(a.name for a in info.authors), "authors")
    linked = api.paper_info(facts["linked"]["id"])
    check(linked.project_page == facts["linked"]["project_page"], f"projectPage: {linked.project_page}")
    check(linked.github_repo == facts["linked"]["github_repo"], f"githubRepo: {linked.github_repo}")
    try:
        api.paper_info(facts["missing"])
        check(False, "a paper the hub lacks is a 404")
    except HfHubHTTPError as e:
        check(e.response.status_code == 404, f"404, not {e.response.status_code}")
        check("error" in e.response.json(), "errors are {'error': ...}")

    # Search: the voted paper's title finds it.
    hits = [p.id for p in api.list_papers(query=voted["title"], limit=5)]
    check(voted["id"] in hits, f"search hits: {hits}")

    # The page as markdown.
    md = api.read_paper(voted["id"])
    check(md.startswith(f"# {voted['title']}"), md[:100])
    check("## Abstract" in md and f"arxiv.org/abs/{voted['id']}" in md, "abstract and links")
    check("**Upvotes:** 1" in md and "## Discussion" in md, "upvotes and discussion")

    print(f"ok {checks} checks")


if __name__ == "__main__":
    main()
