#!lua
-- Apply one SKU's share of a batch, atomically: the rules of domain/ledger.py, in Redis.
-- Validates every argument before the first write (Redis does not roll a script back).
--
-- KEYS[1] ledger hash   fields v (version) and <node>|oh |rs |ib |cu |ci
--                       (on_hand, reserved, inbound, latest count's occurred_us and event_id)
-- KEYS[2] seen zset     event_id -> applied at (us); trimmed to the retention window
-- KEYS[3] offsets hash  "<topic>|<partition>" -> last applied offset of this SKU there
-- KEYS[4..] the deltas zsets, order lines and supplies the effects name by index
-- ARGV: now_us, retention_us, demand_days, n_events, then per event:
--   event_id, "<topic>|<partition>", offset, n_effects, and n_effects x 6 fields:
--   kind, node_id, key_index, a, b, c with kind
--     D delta  (a = occurred_us, b = qty)        C count  (a = occurred_us, b = counted_qty)
--     L line   (a = placed, b = picked, c = 1 if cancelled)
--     S supply (a = expected, b = received)
--     Q demand (a = UTC day number, b = units; kept in the ledger hash as <node>|d|<day>)
-- Returns {version, outcomes, went_negative, snapshot}: outcomes has one letter per event
-- (a applied, d duplicate event_id, r redelivered offset); snapshot is HGETALL of the ledger
-- when the stock changed or an offset was redelivered, else empty.

local ledger, seen, offsets = KEYS[1], KEYS[2], KEYS[3]

local function fail(msg)
  return redis.error_reply('stockline apply: ' .. msg)
end

local function int(s)
  local n = tonumber(s)
  if n == nil or n ~= math.floor(n) then return nil end
  return n
end

-- Parse and validate everything first.
local now, retention, demand_days, n_events = int(ARGV[1]), int(ARGV[2]), int(ARGV[3]), int(ARGV[4])
if not (now and retention and demand_days and n_events) then return fail('bad header') end
local events, i = {}, 5
for e = 1, n_events do
  local ev = {id = ARGV[i], tp = ARGV[i + 1], offset = int(ARGV[i + 2]), effects = {}}
  local n_effects = int(ARGV[i + 3])
  if not (ev.id and ev.tp and ev.offset and n_effects) then return fail('bad event ' .. e) end
  i = i + 4
  for f = 1, n_effects do
    local fx = {kind = ARGV[i], node = ARGV[i + 1], key = KEYS[int(ARGV[i + 2]) or 0],
                a_raw = ARGV[i + 3], a = int(ARGV[i + 3]), b = int(ARGV[i + 4]), c = int(ARGV[i + 5])}
    if not (fx.node and fx.key and fx.a and fx.b and fx.c) then return fail('bad effect ' .. e) end
    if not (fx.kind == 'D' or fx.kind == 'C' or fx.kind == 'L' or fx.kind == 'S' or fx.kind == 'Q') then
      return fail('bad effect kind ' .. tostring(fx.kind))
    end
    ev.effects[f] = fx
    i = i + 6
  end
  events[e] = ev
end

local function fmt(n) return string.format('%d', n) end
local cutoff = now - retention
local retention_s = math.max(1, math.ceil(retention / 1000000))

-- Byte order, as Python compares str; Lua's < follows the server's collation locale.
local function bytes_greater(x, y)
  local n = math.min(#x, #y)
  for k = 1, n do
    local bx, by = string.byte(x, k), string.byte(y, k)
    if bx ~= by then return bx > by end
  end
  return #x > #y
end

local nodes = {}
local function node_state(node)
  local s = nodes[node]
  if s then return s end
  local v = redis.call('HMGET', ledger, node .. '|oh', node .. '|rs', node .. '|ib',
                       node .. '|cu', node .. '|ci')
  s = {exists = v[1] ~= false, oh = tonumber(v[1]) or 0, rs = tonumber(v[2]) or 0,
       ib = tonumber(v[3]) or 0, cu = tonumber(v[4]), ci = v[5] or nil}
  s.oh0, s.rs0, s.ib0 = s.oh, s.rs, s.ib
  nodes[node] = s
  return s
end

local function delta(s, fx, id)
  if s.cu and fx.a <= s.cu then return end -- already inside the latest count
  s.oh = s.oh + fx.b
  redis.call('ZADD', fx.key, fx.a_raw, fmt(fx.b) .. '|' .. id)
  redis.call('ZREMRANGEBYSCORE', fx.key, '-inf', '(' .. fmt(cutoff))
end

local function count(s, fx, id)
  if s.cu and (fx.a < s.cu or (fx.a == s.cu and not bytes_greater(id, s.ci))) then return end
  local later = redis.call('ZRANGEBYSCORE', fx.key, '(' .. fx.a_raw, '+inf')
  local sum = 0
  for _, member in ipairs(later) do sum = sum + tonumber(string.match(member, '^(-?%d+)|')) end
  redis.call('ZREMRANGEBYSCORE', fx.key, '-inf', fx.a_raw)
  s.cu, s.ci, s.oh = fx.a, id, fx.b + sum
end

-- An order line or a supply: two running sums and a flag; kept while it holds stock.
local function tally(key, a, b, c, open)
  local v = redis.call('HMGET', key, 'a', 'b', 'c')
  local old = open(tonumber(v[1]) or 0, tonumber(v[2]) or 0, v[3] == '1')
  local na, nb, nc = (tonumber(v[1]) or 0) + a, (tonumber(v[2]) or 0) + b, v[3] == '1' or c == 1
  redis.call('HSET', key, 'a', fmt(na), 'b', fmt(nb), 'c', nc and '1' or '0')
  local new = open(na, nb, nc)
  if new == 0 then redis.call('EXPIRE', key, retention_s) else redis.call('PERSIST', key) end
  return new - old
end

-- A day's demand; a new day's field also drops the week of days that just left the horizon.
local function demand(fx)
  local prefix = fx.node .. '|d|'
  if redis.call('HINCRBY', ledger, prefix .. fx.a_raw, fx.b) == fx.b then
    for day = fx.a - demand_days - 7, fx.a - demand_days do
      redis.call('HDEL', ledger, prefix .. fmt(day))
    end
  end
end

local function reserved(placed, picked, cancelled)
  if cancelled then return 0 end
  return math.max(0, placed - picked)
end

local function inbound(expected, received)
  return math.max(0, expected - received)
end

redis.call('ZREMRANGEBYSCORE', seen, '-inf', '(' .. fmt(cutoff))
local tp_offsets, outcomes, redelivered = {}, {}, false
for e, ev in ipairs(events) do
  if tp_offsets[ev.tp] == nil then
    tp_offsets[ev.tp] = tonumber(redis.call('HGET', offsets, ev.tp)) or -1
  end
  if ev.offset <= tp_offsets[ev.tp] then
    outcomes[e], redelivered = 'r', true
  else
    tp_offsets[ev.tp] = ev.offset
    if redis.call('ZSCORE', seen, ev.id) then
      outcomes[e] = 'd'
    else
      outcomes[e] = 'a'
      redis.call('ZADD', seen, fmt(now), ev.id)
      for _, fx in ipairs(ev.effects) do
        local s = node_state(fx.node)
        if fx.kind == 'D' then delta(s, fx, ev.id)
        elseif fx.kind == 'C' then count(s, fx, ev.id)
        elseif fx.kind == 'L' then s.rs = s.rs + tally(fx.key, fx.a, fx.b, fx.c, reserved)
        elseif fx.kind == 'Q' then demand(fx)
        else s.ib = s.ib + tally(fx.key, fx.a, fx.b, fx.c, inbound) end
      end
    end
  end
end

for tp, offset in pairs(tp_offsets) do
  if offset >= 0 then redis.call('HSET', offsets, tp, fmt(offset)) end
end

local changed, went_negative = false, 0
for node, s in pairs(nodes) do
  local fields = {ledger, node .. '|oh', fmt(s.oh), node .. '|rs', fmt(s.rs), node .. '|ib', fmt(s.ib)}
  if s.cu then
    table.insert(fields, node .. '|cu'); table.insert(fields, fmt(s.cu))
    table.insert(fields, node .. '|ci'); table.insert(fields, s.ci)
  end
  redis.call('HSET', unpack(fields))
  if not s.exists or s.oh ~= s.oh0 or s.rs ~= s.rs0 or s.ib ~= s.ib0 then changed = true end
  if s.oh < 0 and s.oh0 >= 0 then went_negative = went_negative + 1 end
end

local version
if changed then
  version = redis.call('HINCRBY', ledger, 'v', 1)
else
  version = tonumber(redis.call('HGET', ledger, 'v')) or 0
end
local snapshot = {}
if changed or redelivered then snapshot = redis.call('HGETALL', ledger) end
return {version, table.concat(outcomes), went_negative, snapshot}
