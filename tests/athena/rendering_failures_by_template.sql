-- Rendering failures by template, with the variable the error names.
SELECT failure.templatename AS template,
       count(*) AS failures,
       arbitrary(regexp_extract(failure.errormessage, 'Attribute ''?([A-Za-z_]+)', 1)) AS missing,
       arbitrary(mail.destination) AS recipients
FROM seslogs
WHERE event_type = 'Rendering Failure'
GROUP BY failure.templatename
ORDER BY template
-- expect:
-- template,failures,missing,recipients
-- WelcomeTemplate,1,name,"[""grace@example.com""]"
