#!lua
-- Apply one SKU's share of a batch, atomically: the rules of domain/ledger.py, in Redis.
-- Validates every argument before the first write (Redis does not roll a script back).
--
-- KEYS[1] ledger hash   fields v (version) and <node>|oh |rs |ib (on_hand, reserved,
--                       inbound; planning adds |ar armed and |ss safety stock)
-- KEYS[2] seen zset     event_id -> applied at (us); trimmed to the retention window
-- KEYS[3] offsets hash  "<topic>|<partition>" -> last applied offset of this SKU there
-- KEYS[4] counts hash   <node>|cu, <node>|ci: the latest count's occurred_us and event_id
-- KEYS[5] demand hash   <node>|<day>: units demanded at the node that UTC day
-- KEYS[6..] the deltas zsets, order lines and supplies the effects name by index
-- ARGV: now_us, retention_us, demand_days, with_demand (0|1), a MessagePack array of
--   events (below), and the caller's cached version and marks version of this SKU (-1 -1
--   when it has none). Events are each [event_id, "<topic>|<partition>", offset, effects],
--   each effect
--   [kind, node_id, key_index, a, b, c] with kind
--     D delta  (a = occurred_us, b = qty)        C count  (a = occurred_us, b = counted_qty)
--     L line   (a = placed, b = picked, c = 1 if cancelled)
--     S supply (a = expected, b = received)
--     Q demand (a = UTC day number, b = units)
-- Returns {version, outcomes, went_negative, nodes, demand, kind, marks_version}: outcomes
-- has one letter per event (a applied, d duplicate event_id, r redelivered offset). When
-- the stock changed or an offset was redelivered, the reply carries the SKU's snapshot, and
-- with with_demand demand is node_id, day, units per bucket (else empty). kind says how:
--   'f' full: nodes has six entries a node: node_id, on_hand, reserved, inbound,
--       armed (1, 0, or -1 unset), safety_stock (-1 unset);
--   'p' patch: the ledger was at the caller's cached versions (field v, and mv, which the
--       caller raises with each write of planning marks), so nodes has only the nodes this
--       call wrote, four entries each: node_id, on_hand, reserved, inbound;
--   ''  no snapshot (nothing changed, nothing redelivered).

local ledger, seen, offsets, counts, demands = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

local function fail(msg)
  return redis.error_reply('stockline apply: ' .. msg)
end

local function int(s)
  local n = tonumber(s)
  if n == nil or n ~= math.floor(n) then return nil end
  return n
end

local KINDS = {D = true, C = true, L = true, S = true, Q = true}

local function parse_effect(x)
  if type(x) ~= 'table' then return nil end
  local fx = {kind = x[1], node = x[2], key = KEYS[int(x[3]) or 0], a = int(x[4]), b = int(x[5]),
              c = int(x[6])}
  if not (KINDS[fx.kind] and type(fx.node) == 'string' and fx.key and fx.a and fx.b and fx.c) then
    return nil
  end
  return fx
end

local function parse_event(x)
  if type(x) ~= 'table' or type(x[1]) ~= 'string' or type(x[2]) ~= 'string' or not int(x[3])
     or type(x[4]) ~= 'table' then
    return nil
  end
  local ev = {id = x[1], tp = x[2], offset = int(x[3]), effects = {}}
  for f, raw in ipairs(x[4]) do
    ev.effects[f] = parse_effect(raw)
    if not ev.effects[f] then return nil end
  end
  return ev
end

-- Parse and validate everything first.
local now, retention, demand_days = int(ARGV[1]), int(ARGV[2]), int(ARGV[3])
local with_demand = ARGV[4] == '1'
local known_version, known_marks = int(ARGV[6]), int(ARGV[7])
if not (now and retention and demand_days and known_version and known_marks) then
  return fail('bad header')
end
local ok, batch = pcall(cmsgpack.unpack, ARGV[5] or '')
if not ok or type(batch) ~= 'table' then return fail('bad payload') end
local events = {}
for e, raw in ipairs(batch) do
  events[e] = parse_event(raw)
  if not events[e] then return fail('bad event ' .. e) end
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
  local v = redis.call('HMGET', ledger, node .. '|oh', node .. '|rs', node .. '|ib')
  s = {exists = v[1] ~= false, oh = tonumber(v[1]) or 0, rs = tonumber(v[2]) or 0,
       ib = tonumber(v[3]) or 0}
  s.oh0, s.rs0, s.ib0 = s.oh, s.rs, s.ib
  nodes[node] = s
  return s
end

-- The node's latest count, read once and only by the effects that need it.
local function load_count(s, node)
  if s.count_loaded then return end
  local c = redis.call('HMGET', counts, node .. '|cu', node .. '|ci')
  s.cu, s.ci, s.count_loaded = tonumber(c[1]), c[2] or nil, true
end

local function delta(s, fx, id)
  load_count(s, fx.node)
  if s.cu and fx.a <= s.cu then return end -- already inside the latest count
  s.oh = s.oh + fx.b
  redis.call('ZADD', fx.key, fmt(fx.a), fmt(fx.b) .. '|' .. id)
  redis.call('ZREMRANGEBYSCORE', fx.key, '-inf', '(' .. fmt(cutoff))
end

local function count(s, fx, id)
  load_count(s, fx.node)
  if s.cu and (fx.a < s.cu or (fx.a == s.cu and not bytes_greater(id, s.ci))) then return end
  local later = redis.call('ZRANGEBYSCORE', fx.key, '(' .. fmt(fx.a), '+inf')
  local sum = 0
  for _, member in ipairs(later) do sum = sum + tonumber(string.match(member, '^(-?%d+)|')) end
  redis.call('ZREMRANGEBYSCORE', fx.key, '-inf', fmt(fx.a))
  s.cu, s.ci, s.oh, s.recounted = fx.a, id, fx.b + sum, true
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
  local prefix = fx.node .. '|'
  if redis.call('HINCRBY', demands, prefix .. fmt(fx.a), fx.b) == fx.b then
    local gone = {}
    for day = fx.a - demand_days - 7, fx.a - demand_days do table.insert(gone, prefix .. fmt(day)) end
    redis.call('HDEL', demands, unpack(gone))
  end
end

local function reserved(placed, picked, cancelled)
  if cancelled then return 0 end
  return math.max(0, placed - picked)
end

local function inbound(expected, received)
  return math.max(0, expected - received)
end

local head = redis.call('HMGET', ledger, 'v', 'mv')
local version0, marks0 = tonumber(head[1]) or 0, tonumber(head[2]) or 0
local patchable = known_version >= 0 and known_version == version0 and known_marks == marks0

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
  redis.call('HSET', ledger, node .. '|oh', fmt(s.oh), node .. '|rs', fmt(s.rs), node .. '|ib', fmt(s.ib))
  if s.recounted then redis.call('HSET', counts, node .. '|cu', fmt(s.cu), node .. '|ci', s.ci) end
  if not s.exists or s.oh ~= s.oh0 or s.rs ~= s.rs0 or s.ib ~= s.ib0 then changed = true end
  if s.oh < 0 and s.oh0 >= 0 then went_negative = went_negative + 1 end
end

local version = version0
if changed then version = redis.call('HINCRBY', ledger, 'v', 1) end

local function demand_buckets()
  local demand = {}
  if with_demand then
    local days = redis.call('HGETALL', demands)
    for k = 1, #days, 2 do
      local dnode, day = string.match(days[k], '^(.+)|(%d+)$')
      table.insert(demand, dnode); table.insert(demand, tonumber(day))
      table.insert(demand, tonumber(days[k + 1]))
    end
  end
  return demand
end

-- The nodes this call wrote: the caller's cached snapshot plus these is the snapshot.
local function patch()
  local out = {}
  for node, s in pairs(nodes) do
    for _, value in ipairs({node, s.oh, s.rs, s.ib}) do table.insert(out, value) end
  end
  return out
end

-- The snapshot, read back in the script so the caller gets plain integers.
local function snapshot()
  local flat, nodes, order = redis.call('HGETALL', ledger), {}, {}
  for k = 1, #flat, 2 do
    local field = flat[k]
    if string.byte(field, -3) == 124 then -- '<node>|<kind>'; plain sub is cheaper than match
      local node = string.sub(field, 1, -4)
      local n = nodes[node]
      if not n then n = {}; nodes[node] = n; order[#order + 1] = node end
      n[string.sub(field, -2)] = tonumber(flat[k + 1])
    end
  end
  local out = {}
  for _, node in ipairs(order) do
    local n = nodes[node]
    if n.oh or n.rs or n.ib then
      for _, value in ipairs({node, n.oh or 0, n.rs or 0, n.ib or 0, n.ar or -1, n.ss or -1}) do
        table.insert(out, value)
      end
    end
  end
  return out
end

local kind, nodes_out, demand_out = '', {}, {}
if changed or redelivered then
  if patchable then kind, nodes_out = 'p', patch() else kind, nodes_out = 'f', snapshot() end
  demand_out = demand_buckets()
end
return {version, table.concat(outcomes), went_negative, nodes_out, demand_out, kind, marks0}
