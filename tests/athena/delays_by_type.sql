-- Delivery delays by type, with each delayed recipient's position in the list.
SELECT deliverydelay.delaytype AS delay_type,
       d.emailaddress AS address,
       n AS position,
       d.status AS status,
       date_diff('minute', from_iso8601_timestamp(mail.timestamp), from_iso8601_timestamp(deliverydelay.timestamp)) AS minutes_after_send,
       from_iso8601_timestamp(deliverydelay.expirationtime) - from_iso8601_timestamp(deliverydelay.timestamp) > parse_duration('1h') AS expires_after_an_hour
FROM seslogs
CROSS JOIN UNNEST(deliverydelay.delayedrecipients) WITH ORDINALITY AS t(d, n)
WHERE event_type = 'DeliveryDelay'
ORDER BY delay_type, position
-- expect:
-- delay_type,address,position,status,minutes_after_send,expires_after_an_hour
-- TransientCommunicationFailure,o'brien@example.com,1,4.4.1,10,true
