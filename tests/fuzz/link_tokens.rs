//! Fuzz targets for the signed link tokens mails carry
//! (`Secrets::issue_token` / `Secrets::check_token`): whatever string comes
//! back in a link, checking it never panics, a token made for one purpose,
//! subject or time is never accepted for another, and an edited token is
//! refused unless the edit leaves what was signed unchanged.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use paperhub::secrets::{Secrets, TokenError};
use proptest::prelude::*;

use crate::harness::{Target, fuzz_for};

fn target(name: &'static str) -> Target {
    Target {
        name,
        source: file!(),
        time_limit: Some(Duration::from_secs(1)),
        trace: false,
    }
}

fn time(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Strings shaped like tokens (`subject.expiry.hex`) and not.
fn token_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_-]{0,20}\\.[+-]?[0-9]{0,20}\\.[0-9a-fA-F]{0,70}",
        "[a-z0-9_.+-]{0,40}",
        "\\PC{0,80}",
        ".{0,300}",
    ]
}

#[test]
fn fuzz_token_check_any_string() {
    let secrets = Secrets::from_key([7; 32]);
    fuzz_for(
        target("token_check_any_string"),
        (token_like(), any::<i64>()),
        |(token, now)| {
            // A string nobody signed is never accepted.
            prop_assert!(secrets.check_token("confirm", &token, time(now)).is_err());
            Ok(())
        },
    );
}

/// One edit to a token: replace, insert or delete a character.
fn edit() -> impl Strategy<Value = (usize, u8, char)> {
    (
        any::<usize>(),
        any::<u8>(),
        prop_oneof![
            3 => proptest::sample::select(&['0', '1', 'a', 'f', 'F', '.', '-', '_', '+', ' ', 'x'][..]),
            1 => any::<char>(),
        ],
    )
}

#[test]
fn fuzz_token_round_trip_and_tampering() {
    let strategy = (
        any::<[u8; 32]>(),
        "[a-zA-Z0-9_-]{1,40}",
        prop_oneof![Just("confirm"), Just("unsubscribe"), Just("manage")],
        -4_000_000_000i64..4_000_000_000,
        1i64..10_000_000,
        proptest::collection::vec(edit(), 1..3),
    );
    fuzz_for(
        target("token_round_trip_and_tampering"),
        strategy,
        |(key, subject, purpose, issued, valid_for, edits)| {
            let secrets = Secrets::from_key(key);
            let expires = time(issued + valid_for);
            let token = secrets
                .issue_token(purpose, &subject, expires)
                .map_err(|e| TestCaseError::fail(format!("valid subject refused: {e}")))?;
            let now = time(issued);
            prop_assert_eq!(
                secrets.check_token(purpose, &token, now),
                Ok(subject.clone())
            );
            prop_assert_eq!(
                secrets.check_token(purpose, &token, expires),
                Err(TokenError::Expired)
            );
            let other = if purpose == "confirm" {
                "unsubscribe"
            } else {
                "confirm"
            };
            prop_assert!(secrets.check_token(other, &token, now).is_err());
            let mut other_key = key;
            other_key[0] ^= 1;
            prop_assert!(
                Secrets::from_key(other_key)
                    .check_token(purpose, &token, now)
                    .is_err()
            );

            let mut chars: Vec<char> = token.chars().collect();
            for &(at, op, c) in &edits {
                let at = at % (chars.len() + 1);
                match op % 3 {
                    0 if at < chars.len() => chars[at] = c,
                    1 if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ => chars.insert(at, c),
                }
            }
            let edited: String = chars.into_iter().collect();
            // Edits that change nothing signed (surrounding whitespace, or
            // the same expiry written differently) may pass; nothing else.
            if let Ok(accepted) = secrets.check_token(purpose, &edited, now) {
                prop_assert_eq!(&accepted, &subject, "edited token {:?} accepted", edited);
                prop_assert_eq!(
                    secrets.check_token(purpose, &edited, expires),
                    Err(TokenError::Expired),
                    "edited token {:?} outlives the original",
                    edited
                );
            }
            Ok(())
        },
    );
}
