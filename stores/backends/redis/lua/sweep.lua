-- The conversations whose key has expired (record_exp) by now, as their
-- indexes last saw it: Python indexes each again (gone, or written since).
-- ARGV[1]: the index namespace; ARGV[2]: at most this many.
return redis.call('ZRANGE', ARGV[1] .. 'expiring', '-inf', now_ms(), 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
