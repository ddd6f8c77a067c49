-- name: summary
-- description: Per UTC day of event time: sends, deliveries, hard and soft bounces, complaints, rejects, delays, opens, clicks, and the bounce and complaint rates as SES computes them (per recipient; OnAccountSuppressionList bounces do not count).
-- window: 7d
-- narrow: day, sends, hard_bounces, bounce_rate_pct, complaint_rate_pct
WITH events AS (
    -- Firehose delivers at least once: a record stored twice counts once.
    SELECT DISTINCT eventtype, mail.messageid AS message_id, event_time,
           array_to_string(recipients, ',') AS addresses, cardinality(recipients) AS n,
           bounce.bouncetype AS bounce_type, bounce.bouncesubtype AS bounce_subtype
    FROM seslogs
    WHERE day BETWEEN $day_from AND $day_to AND event_time >= $from AND event_time < $to
),
per_day AS (
    SELECT to_char(event_time, '%Y-%m-%d') AS day,
           sum(CASE WHEN eventtype = 'Send' THEN n ELSE 0 END) AS sends,
           sum(CASE WHEN eventtype = 'Delivery' THEN n ELSE 0 END) AS deliveries,
           sum(CASE WHEN eventtype = 'Bounce' AND bounce_type = 'Permanent' THEN n ELSE 0 END) AS hard_bounces,
           sum(CASE WHEN eventtype = 'Bounce' AND bounce_type <> 'Permanent' THEN n ELSE 0 END) AS soft_bounces,
           sum(CASE WHEN eventtype = 'Bounce' AND bounce_type = 'Permanent'
                     AND bounce_subtype <> 'OnAccountSuppressionList' THEN n ELSE 0 END) AS counted_bounces,
           sum(CASE WHEN eventtype = 'Complaint' THEN n ELSE 0 END) AS complaints,
           sum(CASE WHEN eventtype = 'Reject' THEN 1 ELSE 0 END) AS rejects,
           sum(CASE WHEN eventtype = 'DeliveryDelay' THEN n ELSE 0 END) AS delays,
           sum(CASE WHEN eventtype = 'Open' THEN 1 ELSE 0 END) AS opens,
           sum(CASE WHEN eventtype = 'Click' THEN 1 ELSE 0 END) AS clicks
    FROM events
    GROUP BY 1
)
SELECT day, sends, deliveries, hard_bounces, soft_bounces, complaints, rejects, delays, opens, clicks,
       round(100.0 * counted_bounces / nullif(sends, 0), 2) AS bounce_rate_pct,
       round(100.0 * complaints / nullif(sends, 0), 3) AS complaint_rate_pct
FROM per_day
ORDER BY day
