//! Opening a PostgreSQL database: nodes starting together migrate once, and
//! a database from a newer or different build is refused.

use paperhub_postgres::testing::{FreshDb, server_url, with_database};
use paperhub_postgres::{PgStore, SCHEMA_VERSION};
use postgres::{Client, NoTls};

#[test]
fn nodes_starting_together_migrate_an_empty_database_once() {
    let Some(url) = server_url() else { return };
    let name = format!("t_migrate_{}", std::process::id());
    let mut admin = Client::connect(&url, NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let db_url = with_database(&url, &name);
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let db_url = db_url.clone();
            std::thread::spawn(move || PgStore::open(&db_url, 1).map(drop))
        })
        .collect();
    for open in opens {
        open.join().unwrap().unwrap();
    }
    let mut c = Client::connect(&db_url, NoTls).unwrap();
    let applied: i64 = c
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, i64::from(SCHEMA_VERSION));
    drop(c);
    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .unwrap();
}

#[test]
fn a_newer_or_altered_schema_is_refused() {
    let Some(url) = server_url() else { return };
    let db = FreshDb::new(&url);
    let mut c = Client::connect(&db.url, NoTls).unwrap();
    c.execute(
        "INSERT INTO schema_migrations (version, sha256) VALUES (99, 'x')",
        &[],
    )
    .unwrap();
    let err = PgStore::open(&db.url, 1).err().unwrap().to_string();
    assert!(err.contains("newer than this build"), "{err}");
    c.batch_execute(
        "DELETE FROM schema_migrations WHERE version = 99; \
         UPDATE schema_migrations SET sha256 = 'edited' WHERE version = 1",
    )
    .unwrap();
    let err = PgStore::open(&db.url, 1).err().unwrap().to_string();
    assert!(err.contains("migration 1 failed"), "{err}");
}

/// Migration 3 indexes the papers stored before it by their authors.
#[test]
fn the_author_index_is_filled_for_papers_stored_before_it() {
    use paperhub_domain::{Author, Paper};
    use paperhub_store::{AuthorStore, CatalogStore};
    let Some(url) = server_url() else { return };
    let db = FreshDb::new(&url);
    let mut p = Paper::new("2511.00001".parse().unwrap(), "T".into(), "A".into());
    p.authors = vec![
        Author::from_display_name("Ada Lovelace"),
        Author::from_display_name("Alan Turing"),
    ];
    p.finalize();
    db.open(1).upsert_papers(&[p], chrono::Utc::now()).unwrap();
    // Back to schema 2, as a database from the previous build.
    let mut c = Client::connect(&db.url, NoTls).unwrap();
    c.batch_execute(
        "DROP TABLE paper_authors; DROP TABLE author_follows; \
         ALTER TABLE subscribers DROP COLUMN user_id; \
         ALTER TABLE users DROP COLUMN notify_comments; \
         DELETE FROM schema_migrations WHERE version = 3",
    )
    .unwrap();
    let store = db.open(1);
    let found = store.author_papers("alan turing", 0, 10, false).unwrap();
    assert_eq!(found.total, 1);
    assert_eq!(found.ids[0].base(), "2511.00001");
}
