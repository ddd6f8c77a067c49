//! SES's older feedback notifications, read as events. Accounts that (also) archive what SES
//! sends to an SNS topic have records of another shape: `notificationType` (`Bounce`,
//! `Complaint`, `Delivery`) where events have `eventType`, often still inside the SNS
//! envelope (`{"Type":"Notification", "Message":"<the record as a JSON string>", ...}`).
//! The rest (`mail`, `bounce`, `complaint`, `delivery`) has the same names and shapes as in
//! event publishing, so a notification becomes an event by renaming one key.
//!
//! Only records the decoder found without an `eventType` come here: event records never
//! pay for it. The rewrite keeps every value's JSON text as it is (`RawValue`), so numbers
//! reach the decoder's exactness checks unchanged.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

/// Which of SES's two formats a record came in: the `record_format` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Event publishing (`eventType`), directly or through SNS.
    Event,
    /// A feedback notification (`notificationType`).
    Notification,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Event => "event",
            Format::Notification => "notification",
        }
    }
}

/// What the decoder reports for a record that is none of what seslog reads.
pub const NEITHER: &str =
    "not an SES record (neither eventType nor notificationType, nor an SNS notification)";

/// The notification types that are about sending, and so have an event of the same name.
const SENDING: [&str; 3] = ["Bounce", "Complaint", "Delivery"];

type Members = BTreeMap<String, Box<RawValue>>;

/// The record as an event record (`eventType` first, the other members as they were), and
/// its format; or why it is not one of SES's records.
pub fn as_event(record: &[u8]) -> Result<(Vec<u8>, Format), String> {
    let members: Members = serde_json::from_slice(record).map_err(|_| NEITHER.to_string())?;
    match text_of(&members, "Type") {
        Some(kind) if members.contains_key("Message") => unwrap_sns(&kind, &members),
        _ => rename(members),
    }
}

/// The record an SNS envelope carries.
fn unwrap_sns(kind: &str, envelope: &Members) -> Result<(Vec<u8>, Format), String> {
    if kind != "Notification" {
        return Err(format!(
            "an SNS `{kind}` message, not a notification SES sent"
        ));
    }
    // The Message is the record as a JSON string; an archiver may have stored it parsed.
    let raw = envelope["Message"].get();
    let message: String = match serde_json::from_str(raw) {
        Ok(text) => text,
        Err(_) if raw.starts_with('{') => raw.to_string(),
        Err(_) => return Err("an SNS notification whose Message is not text".to_string()),
    };
    let members: Members = serde_json::from_str(&message)
        .map_err(|_| "an SNS notification whose Message is not an SES record".to_string())?;
    if members.contains_key("eventType") {
        return Ok((message.into_bytes(), Format::Event));
    }
    rename(members)
}

/// `notificationType` -> `eventType`, for the types that have an event.
fn rename(mut members: Members) -> Result<(Vec<u8>, Format), String> {
    let Some(kind) = members.remove("notificationType") else {
        return Err(NEITHER.to_string());
    };
    let name: Option<String> = serde_json::from_str(kind.get()).ok();
    match name.as_deref() {
        Some(name) if SENDING.contains(&name) => {}
        Some(name) => {
            return Err(format!(
                "an SES `{name}` notification, which has no event (seslog reads Bounce, \
                 Complaint and Delivery notifications)"
            ));
        }
        None => return Err("notificationType is not text".to_string()),
    }
    let mut out = Vec::with_capacity(kind.get().len() + 64);
    out.extend_from_slice(b"{\"eventType\":");
    out.extend_from_slice(kind.get().as_bytes());
    for (key, value) in &members {
        out.push(b',');
        serde_json::to_writer(&mut out, key).expect("a string serialises");
        out.push(b':');
        out.extend_from_slice(value.get().as_bytes());
    }
    out.push(b'}');
    Ok((out, Format::Notification))
}

fn text_of(members: &Members, key: &str) -> Option<String> {
    serde_json::from_str(members.get(key)?.get()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(record: &str) -> (serde_json::Value, Format) {
        let (bytes, format) = as_event(record.as_bytes()).unwrap();
        (serde_json::from_slice(&bytes).unwrap(), format)
    }

    #[test]
    fn a_notification_becomes_its_event() {
        let (v, format) = event(
            r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent"},"mail":{"messageId":"m","x":1.50}}"#,
        );
        assert_eq!(format, Format::Notification);
        assert_eq!(v["eventType"], "Bounce");
        assert_eq!(v["bounce"]["bounceType"], "Permanent");
        assert!(v.get("notificationType").is_none());
        // Values keep their text.
        let (bytes, _) = as_event(br#"{"notificationType":"Delivery","n":1.50}"#).unwrap();
        assert!(String::from_utf8(bytes).unwrap().contains(":1.50"));
    }

    #[test]
    fn the_sns_envelope_is_opened() {
        let inner = r#"{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"a@x.com"}]},"mail":{"messageId":"m"}}"#;
        let envelope = serde_json::json!({
            "Type": "Notification", "MessageId": "s", "TopicArn": "arn:aws:sns:x",
            "Message": inner, "Timestamp": "2024-11-05T10:00:00.000Z",
        });
        let (v, format) = event(&envelope.to_string());
        assert_eq!(format, Format::Notification);
        assert_eq!(v["eventType"], "Complaint");
        assert_eq!(
            v["complaint"]["complainedRecipients"][0]["emailAddress"],
            "a@x.com"
        );
        // Event publishing through SNS is an event.
        let envelope = serde_json::json!({
            "Type": "Notification", "Message": r#"{"eventType":"Send","mail":{}}"#,
        });
        assert_eq!(event(&envelope.to_string()).1, Format::Event);
    }

    #[test]
    fn what_is_neither_says_why() {
        for (record, why) in [
            (r#"{"a":1}"#, NEITHER),
            ("[1]", NEITHER),
            (
                r#"{"notificationType":"Received","receipt":{}}"#,
                "`Received`",
            ),
            (
                r#"{"Type":"SubscriptionConfirmation","Message":"x"}"#,
                "`SubscriptionConfirmation`",
            ),
            (
                r#"{"Type":"Notification","Message":"hello"}"#,
                "not an SES record",
            ),
            (r#"{"Type":"Notification","Message":"{\"a\":1}"}"#, NEITHER),
            (r#"{"notificationType":5}"#, "not text"),
        ] {
            let got = as_event(record.as_bytes()).unwrap_err();
            assert!(got.contains(why), "{record}: {got}");
        }
    }
}
