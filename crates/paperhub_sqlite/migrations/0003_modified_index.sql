-- Search indexes catch up on what changed since their last commit.
CREATE INDEX papers_modified_at ON papers (modified_at, id);
