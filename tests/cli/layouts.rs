//! Other Firehose layouts (`--layout`): extra partition keys, Hive-style folders.

use super::table::{ATHENA_BOUNCES, PER_TYPE_AND_DAY, per_type_and_day};
use super::util::{Workdir, row};

/// The scenario filed under another layout; `key(event_type, arrival, seq, message_id)`.
fn scenario_in_layout(
    key: impl Fn(&str, chrono::DateTime<chrono::Utc>, u64, &str) -> String,
) -> Workdir {
    let w = Workdir::empty();
    let events = seslog_gen::scenario_events();
    // One object per event, so each can go to its own sender's folder.
    let objects: Vec<seslog_gen::Object> = events
        .iter()
        .enumerate()
        .map(|(i, e)| seslog_gen::Object {
            key: key(
                e.event_type,
                e.arrival,
                i as u64,
                e.record["mail"]["messageId"].as_str().unwrap(),
            ),
            bytes: seslog_gen::gzip(format!("{}\n", e.record).as_bytes()),
        })
        .collect();
    seslog_gen::write_tree(w.path(), &objects).unwrap();
    w
}

#[test]
fn blog_layout_adds_sender_identity_and_hour() {
    let w = scenario_in_layout(|t, arrival, seq, id| {
        let sender = if id.contains("july") {
            "other.example.com"
        } else {
            "shop.example.com"
        };
        format!(
            "partitioned/{sender}/{t}/{}/obj-{seq}.gz",
            arrival.format("%Y/%m/%d/%H")
        )
    });
    let layout = "partitioned/!{partitionKeyFromQuery:SenderIdentity}/!{partitionKeyFromQuery:EventType}/!{timestamp:yyyy/MM/dd/HH}/";
    let out = w
        .seslog(&[
            "--layout",
            layout,
            "--stats",
            "sql",
            "SELECT sender_identity, event_type, day, hour, count(*) FROM seslogs WHERE event_type = 'Bounce' AND day = '2024/11/07' GROUP BY 1, 2, 3, 4 ORDER BY 4",
        ])
        .ok();
    assert_eq!(
        out.rows(),
        vec![row(&[
            "shop.example.com",
            "Bounce",
            "2024/11/07",
            "09",
            "2"
        ])]
    );
    // partitioned/ (1), then per sender the day folder's hours (2), then the one hour found.
    assert_eq!(out.stat("list_requests"), 4);
    assert_eq!(out.stat("objects_read"), 2);

    let out = w
        .seslog(&[
            "--layout",
            layout,
            "sql",
            "SELECT sender_identity, count(*) FROM seslogs GROUP BY 1 ORDER BY 1",
        ])
        .ok();
    assert_eq!(
        out.rows(),
        vec![
            row(&["other.example.com", "2"]),
            row(&["shop.example.com", "24"])
        ]
    );
}

#[test]
fn hive_style_layout_gives_the_same_table() {
    let w = scenario_in_layout(|t, arrival, seq, _| {
        format!(
            "ses/event={t}/dt={}/obj-{seq}.gz",
            arrival.format("%Y-%m-%d")
        )
    });
    let layout = "ses/event=!{partitionKeyFromQuery:EventType}/dt=!{timestamp:yyyy}-!{timestamp:MM}-!{timestamp:dd}/";
    let out = w
        .seslog(&["--layout", layout, "sql", PER_TYPE_AND_DAY])
        .ok();
    // The same rows as the default layout, but for the duplicate delivery (not in this tree).
    let mut expected = per_type_and_day();
    let dup = expected
        .iter_mut()
        .find(|r| r[0] == "Delivery" && r[1] == "2024/11/05")
        .unwrap();
    dup[2] = "2".into();
    assert_eq!(out.rows(), expected);
    let out = w
        .seslog(&["--layout", layout, "--stats", "sql", ATHENA_BOUNCES])
        .ok();
    assert_eq!(out.rows().len(), 3);
    assert_eq!(out.stat("list_requests"), 30);
}
