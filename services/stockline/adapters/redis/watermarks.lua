#!lua
-- Raise per-partition applied watermarks; never lower one (a late writer cannot undo progress).
-- KEYS[1] watermarks hash; ARGV: field, offset, field, offset, ...
for i = 1, #ARGV, 2 do
  local current = tonumber(redis.call('HGET', KEYS[1], ARGV[i])) or -1
  if tonumber(ARGV[i + 1]) > current then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
