-- "Did alice get the password-reset mail?": every event of her messages, in order.
SELECT event_type,
       date_format(from_iso8601_timestamp(mail.timestamp), '%Y-%m-%d %H:%i:%s') AS sent,
       mail.commonheaders.subject AS subject,
       element_at(mail.commonheaders."from", 1) AS sender,
       coalesce(delivery.smtpresponse, '') AS smtp
FROM seslogs
WHERE contains(mail.destination, 'alice@example.com')
  AND day BETWEEN '2024/11/01' AND '2024/11/30'
ORDER BY event_type
-- expect:
-- event_type,sent,subject,sender,smtp
-- Click,2024-11-05 10:15:00,Reset your password,Example Shop <no-reply@shop.example.com>,
-- Delivery,2024-11-05 10:15:00,Reset your password,Example Shop <no-reply@shop.example.com>,250 2.0.0 OK  1730801702 d9443c01a7336-2
-- Delivery,2024-11-05 10:15:00,Reset your password,Example Shop <no-reply@shop.example.com>,250 2.0.0 OK  1730801702 d9443c01a7336-2
-- Open,2024-11-05 10:15:00,Reset your password,Example Shop <no-reply@shop.example.com>,
-- Send,2024-11-05 10:15:00,Reset your password,Example Shop <no-reply@shop.example.com>,
