-- `paperhub stats` counts papers by category list and by month. Without
-- these covering indexes both counts read the whole papers table (7.5 GB at
-- 2.7 million papers: 11.6 s from a cold cache); with them they read two
-- small indexes. The month expression must stay identical to the one in
-- catalog.rs's stats query, or SQLite will not use the index.
CREATE INDEX papers_categories ON papers (categories);
CREATE INDEX papers_month ON papers (substr(COALESCE(submitted, announced), 1, 7));
