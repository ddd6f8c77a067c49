-- name: domains
-- description: Per recipient domain: sends, deliveries, hard and soft bounces, complaints, bounce and complaint rates (as SES computes them), and the median delivery time.
-- window: 7d
WITH events AS (
    SELECT DISTINCT eventtype, mail.messageid AS message_id, event_time,
           array_to_string(recipients, ',') AS addresses, recipients,
           bounce.bouncetype AS bounce_type, bounce.bouncesubtype AS bounce_subtype,
           delivery.processingtimemillis AS delivery_ms
    FROM seslogs
    WHERE day BETWEEN $day_from AND $day_to AND event_time >= $from AND event_time < $to
),
per_recipient AS (
    SELECT eventtype, bounce_type, bounce_subtype, delivery_ms, unnest(recipients) AS address
    FROM events
),
per_domain AS (
    SELECT split_part(address, '@', 2) AS domain,
           sum(CASE WHEN eventtype = 'Send' THEN 1 ELSE 0 END) AS sends,
           sum(CASE WHEN eventtype = 'Delivery' THEN 1 ELSE 0 END) AS deliveries,
           sum(CASE WHEN eventtype = 'Bounce' AND bounce_type = 'Permanent' THEN 1 ELSE 0 END) AS hard_bounces,
           sum(CASE WHEN eventtype = 'Bounce' AND bounce_type <> 'Permanent' THEN 1 ELSE 0 END) AS soft_bounces,
           sum(CASE WHEN eventtype = 'Bounce' AND bounce_type = 'Permanent'
                     AND bounce_subtype <> 'OnAccountSuppressionList' THEN 1 ELSE 0 END) AS counted_bounces,
           sum(CASE WHEN eventtype = 'Complaint' THEN 1 ELSE 0 END) AS complaints,
           CAST(median(CASE WHEN eventtype = 'Delivery' THEN delivery_ms END) AS BIGINT) AS median_delivery_ms
    FROM per_recipient
    GROUP BY 1
)
SELECT domain, sends, deliveries, hard_bounces, soft_bounces, complaints,
       round(100.0 * counted_bounces / nullif(sends, 0), 2) AS bounce_rate_pct,
       round(100.0 * complaints / nullif(sends, 0), 3) AS complaint_rate_pct,
       median_delivery_ms
FROM per_domain
ORDER BY sends DESC, domain
