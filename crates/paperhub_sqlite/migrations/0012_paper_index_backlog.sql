-- Papers whose author and title index rows (paper_authors, paper_titles) are
-- not written yet. While an import run is open, new papers are appended here
-- instead of inserting their index rows one by one in random key order; the
-- run's end writes them all in one sorted pass (authors::flush_backlog). A
-- backlog left by an import that crashed is flushed by the next import, or at
-- an open once that run is an hour old (authors::flush_abandoned_backlog).
CREATE TABLE paper_index_backlog (arxiv_id TEXT NOT NULL);
