-- Field access after a subscript or a call, and tags as Athena's DDL types them
-- (array(varchar)): element 1 is the value, past the end is null.
SELECT mail.messageid AS id,
       bounce.bouncedRecipients[1].diagnosticCode AS diagnostic,
       element_at(bounce.bouncedrecipients, 1).emailaddress AS address,
       mail.headers[2].name AS second_header,
       element_at(mail.headers, 2).value AS reply_to,
       mail.tags.ses_source_ip[1] AS source_ip,
       element_at(mail.tags.ses_from_domain, 1) AS from_domain,
       element_at(mail.tags.ses_from_domain, 2) AS no_second,
       mail.tags['ses_from_domain'][1] AS bracketed
FROM seslogs
WHERE event_type = 'Bounce' AND day >= '2024/11/01'
  AND bounce.bouncedrecipients[1].status LIKE '5.%'
ORDER BY id
-- expect:
-- id,diagnostic,address,second_header,reply_to,source_ip,from_domain,no_second,bracketed
-- 0100019a-late-000000,smtp; 550 5.1.1 user unknown,mallory@example.com,Reply-To,support@shop.example.com,192.0.2.10,shop.example.com,,shop.example.com
-- 0100019a-news-000000,smtp; 550 5.1.1 user unknown,carol@example.net,Reply-To,support@shop.example.com,192.0.2.10,shop.example.com,,shop.example.com
-- 0100019a-supp-000000,smtp; 550 5.1.1 user unknown,judy@example.com,Reply-To,support@shop.example.com,192.0.2.10,shop.example.com,,shop.example.com
