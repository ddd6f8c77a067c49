//! What might be wrong with a question, said on stderr as a note: a `day` written the
//! way people write dates rather than the way the folders are named, an event type that is
//! none of SES's ten, and, when a report finds nothing, the window it looked in. An empty
//! answer must not read as "nothing happened" when the question could not match.

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, LogicalPlan, expr::InList};
use seslog_engine::ddl::EVENT_TYPES;
use seslog_engine::report::window::TimeWindow;
use seslog_engine::table::listing::{column_name, literal_str};

/// Notes on the literals a plan compares `day`, `event_type` or `eventtype` with.
pub fn for_plan(plan: &LogicalPlan) -> Vec<String> {
    let mut found: Vec<(String, String)> = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            e.apply(|e| {
                compared(e, &mut found);
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    let mut notes: Vec<String> = Vec::new();
    for (column, value) in found {
        let note = match column.as_str() {
            "day" => day_note(&value),
            _ => event_type_note(&column, &value),
        };
        if let Some(note) = note
            && !notes.contains(&note)
        {
            notes.push(note);
        }
    }
    notes
}

/// The note for a report that found nothing: where it looked.
pub fn for_empty_report(window: &TimeWindow, default_days: Option<i64>) -> String {
    let shown = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let span = match default_days {
        Some(days) => format!(
            "the report's default {days} days; --from, --to or --since choose another window"
        ),
        None => "event time".to_string(),
    };
    format!(
        "no rows: the report looked at events from {} up to {} ({span})",
        shown(&window.from),
        shown(&window.to)
    )
}

/// `column <op> 'text'`, `column IN ('a', 'b')`, `column BETWEEN 'a' AND 'b'`.
fn compared(e: &Expr, found: &mut Vec<(String, String)>) {
    let mut note = |column: &Expr, values: &[&Expr]| {
        if let Some(name) = watched(column) {
            for v in values {
                if let Some(text) = literal_str(v) {
                    found.push((name.clone(), text));
                }
            }
        }
    };
    match e {
        Expr::BinaryExpr(BinaryExpr { left, right, .. }) => {
            note(left, &[right]);
            note(right, &[left]);
        }
        Expr::InList(InList { expr, list, .. }) => note(expr, &list.iter().collect::<Vec<_>>()),
        Expr::Between(Between {
            expr, low, high, ..
        }) => note(expr, &[low, high]),
        _ => {}
    }
}

/// The column's name, when it is one whose values are known.
fn watched(e: &Expr) -> Option<String> {
    column_name(e)
        .filter(|name| ["day", "event_type", "eventtype"].contains(name))
        .map(str::to_string)
}

/// `day` is `yyyy/MM/dd`, as the folders are.
fn day_note(value: &str) -> Option<String> {
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = value.split(['-', '.']).collect();
    let date = match parts.as_slice() {
        [y, m, d]
            if y.len() == 4 && m.len() == 2 && d.len() == 2 && parts.iter().all(|p| digits(p)) =>
        {
            format!("{y}/{m}/{d}")
        }
        [ymd] if ymd.len() == 8 && digits(ymd) => {
            format!("{}/{}/{}", &ymd[..4], &ymd[4..6], &ymd[6..])
        }
        _ => return None,
    };
    Some(format!(
        "`day` is written '{date}', as the folders are named: '{value}' matches no day"
    ))
}

/// An event type that is none of the ten, with the one it was probably meant to be.
fn event_type_note(column: &str, value: &str) -> Option<String> {
    if EVENT_TYPES.contains(&value) {
        return None;
    }
    let plain = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let given = plain(value);
    let close = EVENT_TYPES.iter().find(|t| {
        let t = plain(t);
        t == given
            || t == given.trim_end_matches('s')
            || (given.len() >= 4 && t.starts_with(&given))
    });
    Some(match close {
        Some(t) => format!("`{column}` '{value}' matches no event: did you mean '{t}'?"),
        None => format!(
            "`{column}` '{value}' matches no event: SES's types are {}",
            EVENT_TYPES
                .iter()
                .map(|t| format!("'{t}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_in_another_form_is_named_with_the_right_one() {
        for given in ["2024-11-05", "20241105", "2024.11.05"] {
            assert_eq!(
                day_note(given).unwrap(),
                format!(
                    "`day` is written '2024/11/05', as the folders are named: '{given}' matches no day"
                )
            );
        }
        assert_eq!(day_note("2024/11/05"), None);
        assert_eq!(day_note("2024/11"), None);
    }

    #[test]
    fn an_unknown_event_type_gets_the_likely_one() {
        let near = |v: &str| event_type_note("event_type", v).unwrap();
        assert!(near("bounce").ends_with("did you mean 'Bounce'?"));
        assert!(near("Bounces").ends_with("did you mean 'Bounce'?"));
        assert!(near("rendering_failure").ends_with("did you mean 'Rendering Failure'?"));
        assert!(near("delivery_delay").ends_with("did you mean 'DeliveryDelay'?"));
        assert!(near("RenderingFailure").ends_with("did you mean 'Rendering Failure'?"));
        assert!(near("Unsubscribe").contains("SES's types are 'Send', 'Delivery'"));
        assert_eq!(event_type_note("eventtype", "Complaint"), None);
    }
}
