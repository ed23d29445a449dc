-- Returns the newest pending value of a key ("seq|payload"), or false once
-- it has been finished (applied or dead-lettered), and the seq of the
-- write last finished for the key (false once its marker expired).
-- KEYS[1] latest, KEYS[2] the key's finished marker; ARGV[1] key
return {redis.call('HGET', KEYS[1], ARGV[1]), redis.call('GET', KEYS[2])}
