//! The test-data generator: SES event records shaped exactly as SES publishes them, filed
//! into a Firehose tree as Firehose would (arrival-time folders, gzip, object names).
//! Used by the test suite (exact scenarios, every kind of damaged input), by `testdata/`
//! (the shipped sample is this module's output, checked by a test), and by `bench/`
//! (volume). Deterministic: the same call writes the same bytes.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

/// One message as SES saw it at send time.
#[derive(Debug, Clone)]
pub struct Mail {
    pub message_id: String,
    pub sent: DateTime<Utc>,
    pub source: String,
    pub destination: Vec<String>,
    pub subject: String,
    /// Custom tags besides SES's own.
    pub tags: Vec<(String, String)>,
}

/// One event record and when Firehose received it (which decides its folder).
#[derive(Debug, Clone)]
pub struct Event {
    pub event_type: &'static str,
    pub record: Value,
    pub arrival: DateTime<Utc>,
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("valid RFC 3339 time in the generator")
        .with_timezone(&Utc)
}

impl Mail {
    pub fn new(message_id: &str, sent: &str, destination: &[&str], subject: &str) -> Self {
        Mail {
            message_id: message_id.to_string(),
            sent: at(sent),
            source: "Example Shop <no-reply@shop.example.com>".to_string(),
            destination: destination.iter().map(|s| s.to_string()).collect(),
            subject: subject.to_string(),
            tags: vec![("campaign".into(), "reset".into())],
        }
    }

    fn mail_object(&self, event_type: &str) -> Value {
        let mut tags = serde_json::Map::new();
        tags.insert("ses:configuration-set".into(), json!(["ses-logs"]));
        tags.insert("ses:source-ip".into(), json!(["192.0.2.10"]));
        tags.insert("ses:from-domain".into(), json!(["shop.example.com"]));
        tags.insert("ses:caller-identity".into(), json!(["mailer"]));
        if event_type == "Delivery" {
            tags.insert("ses:outgoing-ip".into(), json!(["54.240.8.1"]));
        }
        for (k, v) in &self.tags {
            tags.insert(k.clone(), json!([v]));
        }
        let to = self.destination.join(", ");
        json!({
            "timestamp": ts(self.sent),
            "source": self.source,
            "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/shop.example.com",
            "sendingAccountId": "123456789012",
            "messageId": self.message_id,
            "destination": self.destination,
            "headersTruncated": false,
            "headers": [
                {"name": "From", "value": self.source},
                {"name": "Reply-To", "value": "support@shop.example.com"},
                {"name": "To", "value": to},
                {"name": "Subject", "value": self.subject},
                {"name": "MIME-Version", "value": "1.0"},
                {"name": "Content-Type", "value": "multipart/alternative; boundary=\"----=_Part_1\""}
            ],
            "commonHeaders": {
                "from": [self.source],
                "replyTo": ["support@shop.example.com"],
                "to": self.destination,
                "messageId": self.message_id,
                "subject": self.subject
            },
            "tags": tags
        })
    }

    fn event(
        &self,
        event_type: &'static str,
        key: &str,
        detail: Value,
        arrival: DateTime<Utc>,
    ) -> Event {
        let mut record = json!({"eventType": event_type, "mail": self.mail_object(event_type)});
        record[key] = detail;
        Event {
            event_type,
            record,
            arrival,
        }
    }

    pub fn send(&self) -> Event {
        self.event("Send", "send", json!({}), self.sent + Duration::seconds(5))
    }

    pub fn delivery(&self, recipients: &[&str], when: &str) -> Event {
        let t = at(when);
        self.event(
            "Delivery",
            "delivery",
            json!({
                "timestamp": ts(t),
                "processingTimeMillis": (t - self.sent).num_milliseconds(),
                "recipients": recipients,
                "smtpResponse": "250 2.0.0 OK  1730801702 d9443c01a7336-2"
                ,"reportingMTA": "a8-30.smtp-out.amazonses.com",
                "remoteMtaIp": "198.51.100.7"
            }),
            t + Duration::seconds(30),
        )
    }

    pub fn bounce(
        &self,
        recipient: &str,
        bounce_type: &str,
        sub_type: &str,
        when: &str,
        arrival: &str,
    ) -> Event {
        let t = at(when);
        self.event(
            "Bounce",
            "bounce",
            json!({
                "feedbackId": format!("0100019-bounce-{}", self.message_id),
                "bounceType": bounce_type,
                "bounceSubType": sub_type,
                "bouncedRecipients": [{
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": if bounce_type == "Permanent" { "5.1.1" } else { "4.2.2" },
                    "diagnosticCode": if bounce_type == "Permanent" {
                        "smtp; 550 5.1.1 user unknown"
                    } else {
                        "smtp; 452 4.2.2 mailbox full"
                    }
                }],
                "timestamp": ts(t),
                "reportingMTA": "dns; a8-30.smtp-out.amazonses.com"
            }),
            at(arrival),
        )
    }

    pub fn complaint(&self, recipient: &str, when: &str, arrival: &str) -> Event {
        let t = at(when);
        self.event(
            "Complaint",
            "complaint",
            json!({
                "feedbackId": format!("0100019-complaint-{}", self.message_id),
                "complaintSubType": null,
                "complainedRecipients": [{"emailAddress": recipient}],
                "timestamp": ts(t),
                "userAgent": "Yahoo!-Mail-Feedback/2.0",
                "complaintFeedbackType": "abuse",
                "arrivalDate": ts(t - Duration::seconds(2))
            }),
            at(arrival),
        )
    }

    pub fn reject(&self, reason: &str) -> Event {
        self.event(
            "Reject",
            "reject",
            json!({"reason": reason}),
            self.sent + Duration::seconds(6),
        )
    }

    pub fn open(&self, when: &str) -> Event {
        let t = at(when);
        self.event(
            "Open",
            "open",
            json!({"ipAddress": "203.0.113.5", "timestamp": ts(t), "userAgent": "Mozilla/5.0 (iPhone)"}),
            t + Duration::seconds(40),
        )
    }

    pub fn click(&self, when: &str, link: &str) -> Event {
        let t = at(when);
        self.event(
            "Click",
            "click",
            json!({
                "ipAddress": "203.0.113.5",
                "timestamp": ts(t),
                "userAgent": "Mozilla/5.0 (iPhone)",
                "link": link,
                "linkTags": {"samplekey0": ["samplevalue0"]}
            }),
            t + Duration::seconds(40),
        )
    }

    pub fn rendering_failure(&self, template: &str) -> Event {
        self.event(
            "Rendering Failure",
            "failure",
            json!({"templateName": template, "errorMessage": "Attribute 'name' is not present in the rendering data."}),
            self.sent + Duration::seconds(3),
        )
    }

    pub fn delay(&self, recipient: &str, when: &str) -> Event {
        let t = at(when);
        self.event(
            "DeliveryDelay",
            "deliveryDelay",
            json!({
                "timestamp": ts(t),
                "delayType": "TransientCommunicationFailure",
                "expirationTime": ts(t + Duration::hours(12)),
                "delayedRecipients": [{
                    "emailAddress": recipient,
                    "status": "4.4.1",
                    "diagnosticCode": "smtp; 421 4.4.1 Unable to connect to remote host"
                }],
                "reportingMTA": "a8-30.smtp-out.amazonses.com"
            }),
            t + Duration::seconds(50),
        )
    }

    pub fn subscription(&self, when: &str) -> Event {
        let t = at(when);
        self.event(
            "Subscription",
            "subscription",
            json!({
                "contactList": "Newsletter",
                "timestamp": ts(t),
                "source": "UnsubscribeHeader",
                "newTopicPreferences": {
                    "unsubscribeAll": true,
                    "topicSubscriptionStatus": [{"topicName": "weekly", "subscriptionStatus": "OptOut"}]
                },
                "oldTopicPreferences": {
                    "unsubscribeAll": false,
                    "topicSubscriptionStatus": [{"topicName": "weekly", "subscriptionStatus": "OptIn"}]
                }
            }),
            t + Duration::seconds(30),
        )
    }
}

/// The types SES also sends as feedback notifications (`notificationType`) through SNS.
pub const NOTIFIED: [&str; 3] = ["Bounce", "Complaint", "Delivery"];

/// The event as event publishing writes it when the configuration set adds no tags: what
/// a notification of the same event tells, in the event format.
pub fn without_tags(event: &Event) -> Event {
    let mut e = event.clone();
    if let Some(mail) = e.record["mail"].as_object_mut() {
        mail.remove("tags");
    }
    e
}

/// The same event as SES's feedback notification: `notificationType` for `eventType`, no
/// tags, and the two `mail` fields only notifications carry. `None` for the types SES
/// sends no notification of.
pub fn notification(event: &Event) -> Option<Event> {
    if !NOTIFIED.contains(&event.event_type) {
        return None;
    }
    let mut record = without_tags(event).record;
    let fields = record.as_object_mut().expect("records are objects");
    let kind = fields
        .remove("eventType")
        .expect("records have an eventType");
    fields.insert("notificationType".into(), kind);
    let mail = fields["mail"].as_object_mut().expect("records have a mail");
    mail.insert("sourceIp".into(), json!("192.0.2.10"));
    mail.insert(
        "callerIdentity".into(),
        json!("arn:aws:iam::123456789012:user/shop"),
    );
    Some(Event {
        record,
        ..event.clone()
    })
}

/// The record inside the SNS envelope an SNS-to-storage archiver keeps: `Message` holds
/// the record as a JSON string.
pub fn sns_envelope(event: &Event) -> Event {
    let message = event.record.to_string();
    let record = json!({
        "Type": "Notification",
        "MessageId": format!("sns-{}", event.record["mail"]["messageId"].as_str().unwrap_or("")),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-feedback",
        "Message": message,
        "Timestamp": ts(event.arrival),
        "SignatureVersion": "1",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
    });
    Event {
        record,
        ..event.clone()
    }
}

/// The document Firehose writes under its error prefix for a record it could not deliver:
/// the record itself base64 in `rawData` (with the newline SES ends it with).
pub fn error_record(event: &Event, code: &str, message: &str, attempts: i64) -> Value {
    let raw = format!("{}\n", event.record);
    error_record_of(&raw, event.arrival, code, message, attempts)
}

/// As `error_record`, for any bytes Firehose received (a record it could not parse).
pub fn error_record_of(
    raw: &str,
    arrival: DateTime<Utc>,
    code: &str,
    message: &str,
    attempts: i64,
) -> Value {
    use base64::Engine as _;
    let arrival = arrival.timestamp_millis();
    json!({
        "attemptsMade": attempts,
        "arrivalTimestamp": arrival,
        "errorCode": code,
        "errorMessage": message,
        "attemptEndingTimestamp": arrival + 60_000 * attempts,
        "rawData": base64::engine::general_purpose::STANDARD.encode(raw)
    })
}

/// An object under Firehose's default error prefix
/// (`errorLog/!{firehose:error-output-type}/dt=yyyy-MM-dd/`).
pub fn error_key(output_type: &str, arrival: DateTime<Utc>, seq: u64) -> String {
    format!(
        "errorLog/{output_type}/dt={}/ses-logs-123456789012-us-east-1-1-{}-{:08x}-1b2c-4d5e-8f90-{:012x}.gz",
        arrival.format("%Y-%m-%d"),
        arrival.format("%Y-%m-%d-%H-%M-%S"),
        seq,
        seq
    )
}

/// An object of a Firehose tree: its key and its bytes as stored.
#[derive(Debug, Clone)]
pub struct Object {
    pub key: String,
    pub bytes: Vec<u8>,
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// Firehose's object name for a buffer whose oldest record arrived at `arrival`.
pub fn object_key(event_type: &str, arrival: DateTime<Utc>, seq: u64) -> String {
    format!(
        "partitioned/{event_type}/{}/ses-logs-123456789012-us-east-1-1-{}-{:08x}-1b2c-4d5e-8f90-{:012x}.gz",
        arrival.format("%Y/%m/%d"),
        arrival.format("%Y-%m-%d-%H-%M-%S"),
        seq,
        seq
    )
}

/// Files events as Firehose does: by event type and a buffer window of `buffer_seconds`,
/// each object under the arrival day of its oldest record, one record per line, gzipped.
pub fn firehose_objects(events: &[Event], buffer_seconds: i64) -> Vec<Object> {
    firehose_objects_keyed(events, buffer_seconds, object_key)
}

/// As `firehose_objects`, with another layout: `key(event_type, arrival, seq)` names each object.
pub fn firehose_objects_keyed(
    events: &[Event],
    buffer_seconds: i64,
    key: impl Fn(&str, DateTime<Utc>, u64) -> String,
) -> Vec<Object> {
    let mut buffers: BTreeMap<(&str, i64), Vec<&Event>> = BTreeMap::new();
    for e in events {
        buffers
            .entry((
                e.event_type,
                e.arrival.timestamp().div_euclid(buffer_seconds),
            ))
            .or_default()
            .push(e);
    }
    let mut objects = Vec::new();
    for (seq, ((event_type, _), mut group)) in buffers.into_iter().enumerate() {
        group.sort_by_key(|e| e.arrival);
        let mut text = String::new();
        for e in &group {
            text.push_str(&e.record.to_string());
            text.push('\n');
        }
        objects.push(Object {
            key: key(event_type, group[0].arrival, seq as u64 + 1),
            bytes: gzip(text.as_bytes()),
        });
    }
    objects
}

pub fn write_tree(root: &Path, objects: &[Object]) -> std::io::Result<()> {
    for o in objects {
        let path = root.join(&o.key);
        std::fs::create_dir_all(path.parent().expect("keys have folders"))?;
        std::fs::write(path, &o.bytes)?;
    }
    Ok(())
}

/// The scenario: every event type, and the cases that make answers wrong when handled
/// carelessly. The shipped `testdata/ses-logs` is exactly this.
pub fn scenario_events() -> Vec<Event> {
    let mut events = Vec::new();

    // A password reset that arrived, was opened and clicked.
    let reset = Mail::new(
        "0100019a-reset-alice-000000",
        "2024-11-05T10:15:00.000Z",
        &["alice@example.com"],
        "Reset your password",
    );
    events.extend([
        reset.send(),
        reset.delivery(&["alice@example.com"], "2024-11-05T10:15:02.500Z"),
        reset.open("2024-11-05T10:20:00.000Z"),
        reset.click(
            "2024-11-05T10:21:00.000Z",
            "https://shop.example.com/reset?token=abc",
        ),
    ]);

    // Three recipients, one bounced: the Delivery event is about the other two. One of
    // them complains the next day.
    let news = Mail::new(
        "0100019a-news-000000",
        "2024-11-05T12:00:00.000Z",
        &["Bob@Example.com", "carol@example.net", "dave@example.org"],
        "Weekly news: 20% off",
    );
    events.extend([
        news.send(),
        news.delivery(
            &["Bob@Example.com", "dave@example.org"],
            "2024-11-05T12:00:03.000Z",
        ),
        news.bounce(
            "carol@example.net",
            "Permanent",
            "General",
            "2024-11-05T12:00:04.000Z",
            "2024-11-05T12:01:00.000Z",
        ),
        news.complaint(
            "dave@example.org",
            "2024-11-06T08:00:00.000Z",
            "2024-11-06T08:05:00.000Z",
        ),
    ]);

    // An address with a quote, delayed and then delivered; a Japanese subject.
    let obrien = Mail::new(
        "0100019a-obrien-000000",
        "2024-11-06T09:00:00.000Z",
        &["o'brien@example.com"],
        "パスワードの再設定",
    );
    events.extend([
        obrien.send(),
        obrien.delay("o'brien@example.com", "2024-11-06T09:10:00.000Z"),
        obrien.delivery(&["o'brien@example.com"], "2024-11-06T09:40:00.000Z"),
    ]);

    // Rejected for a virus.
    let virus = Mail::new(
        "0100019a-virus-000000",
        "2024-11-06T10:00:00.000Z",
        &["frank@example.com"],
        "Invoice",
    );
    events.extend([virus.send(), virus.reject("Bad content")]);

    // A template that failed to render.
    let tmpl = Mail::new(
        "0100019a-tmpl-000000",
        "2024-11-06T11:00:00.000Z",
        &["grace@example.com"],
        "",
    );
    events.push(tmpl.rendering_failure("WelcomeTemplate"));

    // Unsubscribed from the newsletter.
    let unsub = Mail::new(
        "0100019a-unsub-000000",
        "2024-11-07T07:00:00.000Z",
        &["heidi@example.com"],
        "Weekly news",
    );
    events.extend([unsub.send(), unsub.subscription("2024-11-07T08:00:00.000Z")]);

    // A soft bounce (mailbox full), and a suppressed address (not counted by SES's rate).
    let full = Mail::new(
        "0100019a-full-000000",
        "2024-11-07T09:00:00.000Z",
        &["ivan@example.com"],
        "Your order",
    );
    events.extend([
        full.send(),
        full.bounce(
            "ivan@example.com",
            "Transient",
            "MailboxFull",
            "2024-11-07T09:00:05.000Z",
            "2024-11-07T09:01:00.000Z",
        ),
    ]);
    let supp = Mail::new(
        "0100019a-supp-000000",
        "2024-11-07T09:30:00.000Z",
        &["judy@example.com"],
        "Your order",
    );
    events.extend([
        supp.send(),
        supp.bounce(
            "judy@example.com",
            "Permanent",
            "OnAccountSuppressionList",
            "2024-11-07T09:30:01.000Z",
            "2024-11-07T09:31:00.000Z",
        ),
    ]);

    // Midnight: a November bounce filed under December 1st, and one filed under October 31st.
    let late = Mail::new(
        "0100019a-late-000000",
        "2024-11-30T23:59:50.000Z",
        &["mallory@example.com"],
        "Last call",
    );
    events.extend([
        late.send(),
        late.bounce(
            "mallory@example.com",
            "Permanent",
            "NoEmail",
            "2024-11-30T23:59:58.000Z",
            "2024-12-01T00:00:20.000Z",
        ),
    ]);
    let early = Mail::new(
        "0100019a-early-000000",
        "2024-10-31T23:59:59.000Z",
        &["niaj@example.com"],
        "First call",
    );
    let mut early_send = early.send();
    early_send.arrival = at("2024-10-31T23:59:59.900Z");
    events.extend([
        early_send,
        early.bounce(
            "niaj@example.com",
            "Permanent",
            "General",
            "2024-11-01T00:00:03.000Z",
            "2024-10-31T23:59:59.950Z",
        ),
    ]);

    // July: what Athena's sample query (`day = '2024/07/08'`) looks at.
    let july = Mail::new(
        "0100019a-july-000000",
        "2024-07-08T15:00:00.000Z",
        &["olivia@example.com", "peggy@example.com"],
        "Summer sale",
    );
    events.extend([
        july.send(),
        july.delivery(
            &["olivia@example.com", "peggy@example.com"],
            "2024-07-08T15:00:02.000Z",
        ),
    ]);
    events
}

/// The scenario as Firehose stores it (5-minute buffers), plus one duplicated delivery:
/// Firehose delivers at least once, so the reset mail's Delivery record is stored twice.
pub fn scenario_objects() -> Vec<Object> {
    let events = scenario_events();
    let mut objects = firehose_objects(&events, 300);
    let duplicate = events
        .iter()
        .find(|e| e.event_type == "Delivery")
        .expect("scenario has a delivery");
    objects.push(Object {
        key: object_key("Delivery", duplicate.arrival + Duration::seconds(1), 999),
        bytes: gzip(format!("{}\n", duplicate.record).as_bytes()),
    });
    objects.extend(scenario_error_objects());
    objects
}

/// What Firehose could not deliver in the scenario, under its error prefix: the two
/// records of a receipt the stream's transform failed on, and a record cut short that
/// the partitioning query could not read.
fn scenario_error_objects() -> Vec<Object> {
    let receipt = Mail::new(
        "0100019a-lost-000000",
        "2024-11-06T12:00:00.000Z",
        &["kim@example.com"],
        "Your receipt",
    );
    let lambda = [
        receipt.send(),
        receipt.delivery(&["kim@example.com"], "2024-11-06T12:00:03.000Z"),
    ]
    .iter()
    .map(|e| {
        error_record(
            e,
            "Lambda.FunctionError",
            "The Lambda function was successfully invoked but it returned an error result.",
            4,
        )
        .to_string()
            + "\n"
    })
    .collect::<String>();
    let cut_at = at("2024-11-07T06:30:00.000Z");
    let cut = error_record_of(
        "{\"eventType\":\"Open\",\"mail\":{\"timestamp\":\"2024-11-07T06:2",
        cut_at,
        "DynamicPartitioning.MetadataExtractionFailed",
        "Non JSON record provided",
        1,
    );
    vec![
        Object {
            key: error_key("processing-failed", at("2024-11-06T12:05:00.000Z"), 1),
            bytes: gzip(lambda.as_bytes()),
        },
        Object {
            key: error_key("processing-failed", cut_at, 2),
            bytes: gzip(format!("{cut}\n").as_bytes()),
        },
    ]
}

/// Objects that break careless readers, each beside the scenario in the same tree. The
/// returned notes say what each should do to a scan (tests assert them).
pub fn damaged_objects() -> Vec<Object> {
    let m = Mail::new(
        "0100019b-quirk-000000",
        "2024-11-08T10:00:00.000Z",
        &["quirk@example.com"],
        "Braces }{ in the subject",
    );
    let rec = |e: &Event| e.record.to_string();
    let send = m.send();
    let delivery = m.delivery(&["quirk@example.com"], "2024-11-08T10:00:01.000Z");
    let open = m.open("2024-11-08T10:05:00.000Z");
    let click = m.click("2024-11-08T10:06:00.000Z", "https://shop.example.com/}{");
    let day = "2024/11/08";
    let key = |t: &str, name: &str| format!("partitioned/{t}/{day}/{name}");
    vec![
        // 2 records, back to back with nothing between `}` and `{`; the subject holds `}{`.
        Object { key: key("Send", "back-to-back.gz"), bytes: gzip(format!("{}{}", rec(&send), rec(&send).replace("quirk-000000", "quirk-000001")).as_bytes()) },
        // CRLF and blank lines, not compressed although named .gz.
        Object { key: key("Delivery", "crlf-plain.gz"), bytes: format!("\r\n{}\r\n\r\n", rec(&delivery)).into_bytes() },
        // A malformed record between two good ones: 2 rows, 1 skipped at line 2.
        Object {
            key: key("Open", "malformed-middle.gz"),
            bytes: gzip(format!("{}\n{{\"eventType\":\"Open\",\"mail\":{{\"messageId\": oops}}}}\n{}\n", rec(&open), rec(&open)).as_bytes()),
        },
        // A gzip object cut short: the records before the cut are kept.
        Object {
            key: key("Click", "truncated.gz"),
            bytes: {
                let text = format!("{}\n", rec(&click)).repeat(40);
                let gz = gzip(text.as_bytes());
                gz[..gz.len() * 3 / 4].to_vec()
            },
        },
        // An empty object.
        Object { key: key("Reject", "empty.gz"), bytes: Vec::new() },
        // A stray README inside the layout: not event data.
        Object { key: key("Bounce", "README.txt"), bytes: b"These are SES logs. Do not delete.\n".to_vec() },
        // A JSON object that is not an SES event.
        Object { key: key("Complaint", "not-ses.gz"), bytes: gzip(b"{\"hello\":\"world\"}\n") },
        // Firehose's error output and a file outside the layout: never part of seslogs.
        Object {
            key: "errorLog/processing-failed/dt=2024-11-08/err-1.gz".into(),
            bytes: gzip(format!("{{\"attemptsMade\":1,\"arrivalTimestamp\":1731060000000,\"errorCode\":\"Lambda.X\",\"errorMessage\":\"x\",\"rawData\":\"e30=\"}}\n{}\n", rec(&send)).as_bytes()),
        },
        Object { key: "partitioned/Send/2024/11/notes.gz".into(), bytes: gzip(format!("{}\n", rec(&send)).as_bytes()) },
        Object { key: "partitioned/Send/2024/11/xx/odd-day.gz".into(), bytes: gzip(format!("{}\n", rec(&send)).as_bytes()) },
    ]
}

/// A small deterministic PRNG (splitmix64): reproducible volume without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Realistic volume for benchmarks: `mails_per_day` messages a day for `days` days from
/// `first_day`, with deliveries, bounces, complaints, opens, clicks and delays at typical
/// rates. Written straight to `root`; returns the number of records.
pub fn write_volume(
    root: &Path,
    first_day: NaiveDate,
    days: u32,
    mails_per_day: u32,
    seed: u64,
) -> std::io::Result<u64> {
    let mut rng = Rng::new(seed);
    let domains = [
        "example.com",
        "example.net",
        "example.org",
        "mail.example.jp",
        "corp.example.co.uk",
    ];
    let subjects = [
        "Your order has shipped",
        "Reset your password",
        "Weekly news: 20% off",
        "ご注文ありがとうございます",
        "Your invoice",
    ];
    let mut total = 0u64;
    for d in 0..days {
        let day = first_day + Duration::days(d as i64);
        let start = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"));
        let mut events = Vec::with_capacity(mails_per_day as usize * 3);
        for i in 0..mails_per_day {
            let sent = start + Duration::milliseconds((rng.unit() * 86_400_000.0) as i64);
            let recipient = format!(
                "user{}@{}",
                rng.below(200_000),
                domains[rng.below(domains.len() as u64) as usize]
            );
            let mut mail = Mail::new(
                &format!(
                    "0100019c{:08x}-{:08x}-{:04x}-000000",
                    d,
                    i,
                    rng.below(65536)
                ),
                &ts(sent),
                &[recipient.as_str()],
                subjects[rng.below(subjects.len() as u64) as usize],
            );
            mail.tags = vec![("campaign".into(), format!("c{}", rng.below(20)))];
            let later = |ms: i64| ts(sent + Duration::milliseconds(ms));
            events.push(mail.send());
            let roll = rng.unit();
            if roll < 0.005 {
                events.push(mail.reject("Bad content"));
                continue;
            }
            if roll < 0.035 {
                let permanent = rng.unit() < 0.7;
                let when = later(2_000 + rng.below(60_000) as i64);
                let arrival = later(62_000 + rng.below(120_000) as i64);
                events.push(if permanent {
                    mail.bounce(&recipient, "Permanent", "General", &when, &arrival)
                } else {
                    mail.bounce(&recipient, "Transient", "MailboxFull", &when, &arrival)
                });
                continue;
            }
            if rng.unit() < 0.01 {
                events.push(mail.delay(&recipient, &later(600_000)));
            }
            events.push(mail.delivery(
                &[recipient.as_str()],
                &later(1_000 + rng.below(5_000) as i64),
            ));
            if rng.unit() < 0.25 {
                events.push(mail.open(&later(60_000 + rng.below(3_600_000) as i64)));
                if rng.unit() < 0.25 {
                    events.push(mail.click(&later(3_700_000), "https://shop.example.com/p/1"));
                }
            }
            if rng.unit() < 0.001 {
                let when = later(86_400_000);
                events.push(mail.complaint(&recipient, &when, &later(86_460_000)));
            }
        }
        total += events.len() as u64;
        let objects = firehose_objects(&events, 300);
        write_tree(root, &objects)?;
    }
    Ok(total)
}
