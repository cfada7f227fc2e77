//! Discussions: comments, one level of replies, edits, deletes, hiding.

use chrono::Duration;

use super::Harness;
use super::fixtures::{id, now, seed};
use crate::{Comment, CommentId, Commented, NewComment};

fn added(c: Commented) -> Comment {
    match c {
        Commented::Added(c) => c,
        other => panic!("not added: {other:?}"),
    }
}

/// Comments and replies thread under their paper; replies to replies,
/// foreign or missing parents and unknown papers are refused.
pub fn discussions_thread_one_level_deep(h: &dyn Harness) {
    let s = h.store();
    seed(s.as_ref());
    let ada = s.create_user("ada", None, "h", now()).unwrap().id;
    let bob = s.create_user("bob", None, "h", now()).unwrap().id;
    let paper = id("2511.00001");
    let say = |author, parent, body: &str| {
        s.add_comment(
            &NewComment {
                paper: &paper,
                author,
                parent,
                body,
            },
            now(),
        )
        .unwrap()
    };
    let first = added(say(ada, None, "**Nice** result."));
    assert_eq!(first.author_name.as_deref(), Some("ada"));
    assert_eq!(
        (first.body.as_str(), first.parent),
        ("**Nice** result.", None)
    );
    let second = added(say(bob, None, "A question."));
    let reply = added(say(bob, Some(first.id), "Agreed."));
    assert_eq!(reply.parent, Some(first.id));
    assert_eq!(say(ada, Some(reply.id), "Deeper?"), Commented::ReplyToReply);
    assert_eq!(
        say(ada, Some(CommentId(first.id.0 + 999)), "?"),
        Commented::NoSuchParent
    );
    let other = id("2511.00002");
    let elsewhere = added(
        s.add_comment(
            &NewComment {
                paper: &other,
                author: ada,
                parent: None,
                body: "Elsewhere.",
            },
            now(),
        )
        .unwrap(),
    );
    assert_eq!(
        say(ada, Some(elsewhere.id), "Cross"),
        Commented::NoSuchParent
    );
    assert_eq!(
        s.add_comment(
            &NewComment {
                paper: &id("2511.09999"),
                author: ada,
                parent: None,
                body: "x",
            },
            now(),
        )
        .unwrap(),
        Commented::NoSuchPaper
    );
    // Threads in order, each followed by its replies; seen from any node.
    let thread: Vec<CommentId> = h
        .second_node()
        .comments(&paper, false)
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(thread, [first.id, reply.id, second.id]);
    let counts = s
        .comment_counts(&[paper.clone(), other.clone(), id("2511.00003")])
        .unwrap();
    assert_eq!(counts.get("2511.00001"), Some(&3));
    assert_eq!(counts.get("2511.00002"), Some(&1));
    assert_eq!(counts.get("2511.00003"), None);
    assert_eq!(s.user_comments(bob, 10).unwrap().len(), 2);
    assert_eq!(
        s.comments_since(ada, now() - Duration::minutes(1)).unwrap(),
        2
    );
}

/// Authors edit and delete their own comments only; curators hide any;
/// each change moves the community version and the counts.
pub fn discussions_edit_delete_and_hide(h: &dyn Harness) {
    let s = h.store();
    seed(s.as_ref());
    let ada = s.create_user("ada", None, "h", now()).unwrap().id;
    let bob = s.create_user("bob", None, "h", now()).unwrap().id;
    let paper = id("2511.00003");
    let post = |author, body: &str| {
        added(
            s.add_comment(
                &NewComment {
                    paper: &paper,
                    author,
                    parent: None,
                    body,
                },
                now(),
            )
            .unwrap(),
        )
    };
    let mine = post(ada, "Frist");
    let theirs = post(bob, "Spam link");
    let version = s.community_version().unwrap();
    assert!(
        !s.edit_comment(mine.id, bob, "hijacked", now()).unwrap(),
        "not bob's"
    );
    assert!(s.edit_comment(mine.id, ada, "First", now()).unwrap());
    let edited = s.comment(mine.id).unwrap().unwrap();
    assert_eq!(edited.body, "First");
    assert!(edited.edited_at.is_some());
    assert!(s.community_version().unwrap() > version);
    assert!(s.set_comment_hidden(theirs.id, true).unwrap());
    assert_eq!(
        s.comments(&paper, false).unwrap().len(),
        1,
        "hidden from visitors"
    );
    assert_eq!(
        s.comments(&paper, true).unwrap().len(),
        2,
        "shown to curators"
    );
    assert_eq!(
        s.comment_counts(std::slice::from_ref(&paper))
            .unwrap()
            .get("2511.00003"),
        Some(&1)
    );
    assert!(!s.delete_comment(mine.id, bob, now()).unwrap(), "not bob's");
    assert!(s.delete_comment(mine.id, ada, now()).unwrap());
    let gone = s.comment(mine.id).unwrap().unwrap();
    assert!(gone.deleted && gone.body.is_empty());
    assert!(
        !s.edit_comment(mine.id, ada, "back", now()).unwrap(),
        "deleted stays deleted"
    );
    assert!(s.comment_counts(&[paper]).unwrap().is_empty());
    assert!(s.user_comments(ada, 10).unwrap().is_empty());
    assert!(
        !s.set_comment_hidden(CommentId(mine.id.0 + 999), true)
            .unwrap()
    );
}

/// The submitter hears of comments only when they asked and have an
/// address.
pub fn discussions_submitter_opts_in_to_mail(h: &dyn Harness) {
    let s = h.store();
    seed(s.as_ref());
    let ada = s.create_user("ada", None, "h", now()).unwrap().id;
    let bob = s
        .create_user("bob", Some("bob@example.org"), "h", now())
        .unwrap()
        .id;
    let (p1, p2) = (id("2511.00001"), id("2511.00002"));
    for (user, paper) in [(ada, &p1), (bob, &p2)] {
        s.submit(
            &crate::SubmitRequest {
                user,
                id: paper,
                quota: None,
            },
            now(),
        )
        .unwrap();
    }
    assert!(!s.comment_notifications(bob).unwrap());
    assert_eq!(s.submitter_to_notify(&p2).unwrap(), None);
    assert!(s.set_comment_notifications(bob, true).unwrap());
    assert!(s.set_comment_notifications(ada, true).unwrap());
    assert!(s.comment_notifications(bob).unwrap());
    assert_eq!(
        s.submitter_to_notify(&p2).unwrap().map(|u| u.username),
        Some("bob".to_owned())
    );
    assert_eq!(
        s.submitter_to_notify(&p1).unwrap(),
        None,
        "ada has no address"
    );
    assert_eq!(s.submitter_to_notify(&id("2511.00003")).unwrap(), None);
    assert!(s.set_comment_notifications(bob, false).unwrap());
    assert_eq!(s.submitter_to_notify(&p2).unwrap(), None);
}
