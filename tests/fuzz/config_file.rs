//! Fuzz target for the configuration file and `PAPERHUB__*` variables,
//! through the public loader (`Config::from_layers`): any TOML never panics,
//! and when one known key is given a bad value, the error names that key,
//! so the operator knows what to fix.

use std::time::Duration;

use paperhub::config::Config;
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

/// Every `(section, key)` the configuration has, read from its defaults so
/// new keys are fuzzed without editing this file.
fn known_keys() -> Vec<(String, String)> {
    let table = match toml::Table::try_from(Config::default()) {
        Ok(t) => t,
        Err(e) => panic!("the default config does not serialise: {e}"),
    };
    let mut keys = Vec::new();
    for (section, value) in table {
        if let toml::Value::Table(inner) = value {
            for key in inner.keys() {
                keys.push((section.clone(), key.clone()));
            }
        }
    }
    assert!(keys.len() > 20, "too few config keys found: {keys:?}");
    keys
}

/// A TOML value of any type, weighted towards the edges.
fn toml_value() -> impl Strategy<Value = String> {
    let string = prop_oneof![
        Just(String::new()),
        Just("x".to_owned()),
        Just("a@b.c".to_owned()),
        Just("https://example.org".to_owned()),
        Just("127.0.0.1:8080".to_owned()),
        Just("Europe/Berlin".to_owned()),
        Just("Mon".to_owned()),
        Just("20:00".to_owned()),
        Just("cs.LG".to_owned()),
        Just("smtp".to_owned()),
        "\\PC{0,30}",
    ];
    prop_oneof![
        string.clone().prop_map(|s| format!("{s:?}")),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(1),
            Just(3),
            Just(65_536),
            Just(i64::MAX),
            Just(i64::MIN),
            Just(u32::MAX as i64 + 1),
            any::<i64>()
        ]
        .prop_map(|n| n.to_string()),
        prop_oneof![Just("1.5"), Just("nan"), Just("inf"), Just("-0.0")].prop_map(str::to_owned),
        any::<bool>().prop_map(|b| b.to_string()),
        proptest::collection::vec(string, 0..3).prop_map(|v| format!(
            "[{}]",
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("{ a = 1 }".to_owned()),
    ]
}

#[test]
fn fuzz_config_file() {
    let keys = known_keys();
    let n = keys.len();
    let strategy = (
        proptest::collection::vec((0..n, toml_value()), 1..4),
        prop_oneof![
            4 => Just(String::new()),
            1 => "[a-z_]{1,12} = [0-9]{1,3}",
            1 => "\\PC{0,40}",
            1 => Just("[web\n".to_owned()),
            1 => Just("[[web]]\naddr = 1".to_owned()),
        ],
        proptest::option::of((0..n, toml_value())),
    );
    fuzz_for(target("config_file"), strategy, |(sets, extra, env)| {
        let mut text = String::new();
        for (i, value) in &sets {
            let (section, key) = &keys[*i];
            text.push_str(&format!("[{section}]\n{key} = {value}\n"));
        }
        text.push_str(&extra);
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(i, v)| {
                let (section, key) = &keys[*i];
                (
                    format!(
                        "PAPERHUB__{}__{}",
                        section.to_uppercase(),
                        key.to_uppercase()
                    ),
                    v.trim_matches('"').to_owned(),
                )
            })
            .collect();
        let _ = Config::from_layers(Some(&text), &env);

        // One key, one value, valid TOML: an error must name the key.
        let (i, value) = &sets[0];
        let (section, key) = &keys[*i];
        let single = format!("[{section}]\n{key} = {value}\n");
        if let Err(e) = Config::from_layers(Some(&single), &[]) {
            let message = format!("{e:#}");
            prop_assert!(
                message.contains(key.as_str()),
                "the error for {}.{} = {} does not name the key: {}",
                section,
                key,
                value,
                message
            );
        }
        Ok(())
    });
}
