-- name: check
-- description: Bounce and complaint rates over the window against thresholds (SES reviews an account at 5% and 0.1%); status OVER when a rate crosses its threshold.
-- window: 7d
-- param: max_bounce_rate number = 0.05 -- the highest acceptable bounce rate, as a fraction
-- param: max_complaint_rate number = 0.001 -- the highest acceptable complaint rate, as a fraction
WITH events AS (
    SELECT DISTINCT eventtype, mail.messageid AS message_id, event_time,
           array_to_string(recipients, ',') AS addresses, cardinality(recipients) AS n,
           bounce.bouncetype AS bounce_type, bounce.bouncesubtype AS bounce_subtype
    FROM seslogs
    WHERE day BETWEEN $day_from AND $day_to AND event_time >= $from AND event_time < $to
),
totals AS (
    SELECT coalesce(sum(CASE WHEN eventtype = 'Send' THEN n END), 0) AS sends,
           coalesce(sum(CASE WHEN eventtype = 'Bounce' AND bounce_type = 'Permanent'
                              AND bounce_subtype <> 'OnAccountSuppressionList' THEN n END), 0) AS bounces,
           coalesce(sum(CASE WHEN eventtype = 'Complaint' THEN n END), 0) AS complaints
    FROM events
),
rates AS (
    SELECT sends, bounces, complaints,
           coalesce(CAST(bounces AS DOUBLE) / nullif(sends, 0), 0.0) AS bounce_rate,
           coalesce(CAST(complaints AS DOUBLE) / nullif(sends, 0), 0.0) AS complaint_rate
    FROM totals
)
-- One row per metric from the one scan: `rates` is used once (a CTE used twice, as in a
-- UNION ALL, is planned and read twice).
SELECT metric,
       round(100 * CASE metric WHEN 'bounce_rate' THEN bounce_rate ELSE complaint_rate END, 3) AS rate_pct,
       round(100 * CASE metric WHEN 'bounce_rate' THEN $max_bounce_rate ELSE $max_complaint_rate END, 3) AS threshold_pct,
       CASE metric WHEN 'bounce_rate' THEN bounces ELSE complaints END AS events,
       sends,
       CASE WHEN CASE metric WHEN 'bounce_rate' THEN bounce_rate > $max_bounce_rate
                             ELSE complaint_rate > $max_complaint_rate END
            THEN 'OVER' ELSE 'ok' END AS status
FROM rates CROSS JOIN (VALUES ('bounce_rate'), ('complaint_rate')) AS m(metric)
ORDER BY metric
