-- Quoted reserved words, tag columns and time zones as Athena writes them.
SELECT mail.commonheaders."from" AS "from",
       mail.commonheaders."to" AS "to",
       mail.tags.ses_source_ip AS source_ip,
       mail.tags.campaign AS campaign,
       date_format(from_iso8601_timestamp(mail.timestamp) AT TIME ZONE 'Asia/Tokyo', '%Y-%m-%d %H:%i') AS tokyo,
       date_add('day', 30, date(from_iso8601_timestamp(mail.timestamp))) AS follow_up
FROM seslogs
WHERE event_type = 'Send' AND day = '2024/11/06'
ORDER BY mail.timestamp
-- expect:
-- from,to,source_ip,campaign,tokyo,follow_up
-- "[""Example Shop <no-reply@shop.example.com>""]","[""o'brien@example.com""]",192.0.2.10,reset,2024-11-06 18:00,2024-12-06
-- "[""Example Shop <no-reply@shop.example.com>""]","[""frank@example.com""]",192.0.2.10,reset,2024-11-06 19:00,2024-12-06
