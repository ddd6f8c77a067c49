-- Several UNNESTs and lambdas: for each bounce, every destination of the message and
-- whether it is the bounced one; and what the message's recipient lists hold.
SELECT mail.messageid AS message_id, dest,
       dest = lower(r.emailaddress) AS bounced,
       cardinality(mail.destination) AS destinations,
       filter(mail.destination, x -> x LIKE '%.org') AS org_addresses,
       transform(bounce.bouncedrecipients, b -> upper(split_part(b.emailaddress, '@', 2))) AS bounced_domains,
       any_match(mail.destination, x -> x = 'dave@example.org') AS has_dave
FROM seslogs
CROSS JOIN UNNEST(mail.destination) AS t(dest)
CROSS JOIN UNNEST(bounce.bouncedrecipients) AS b(r)
WHERE event_type = 'Bounce' AND day = '2024/11/05'
ORDER BY dest
-- expect:
-- message_id,dest,bounced,destinations,org_addresses,bounced_domains,has_dave
-- 0100019a-news-000000,Bob@Example.com,false,3,"[""dave@example.org""]","[""EXAMPLE.NET""]",true
-- 0100019a-news-000000,carol@example.net,true,3,"[""dave@example.org""]","[""EXAMPLE.NET""]",true
-- 0100019a-news-000000,dave@example.org,false,3,"[""dave@example.org""]","[""EXAMPLE.NET""]",true
