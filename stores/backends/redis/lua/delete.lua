-- Delete a conversation and its indexes.
-- KEYS[1]: the conversation's key. ARGV[1]: the index namespace; ARGV[2]: the sender id.
drop_indexes(ARGV[1], ARGV[2])
return redis.call('DEL', KEYS[1])
