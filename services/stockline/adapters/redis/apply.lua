#!lua
-- Apply one ledger shard's share of a batch: several SKUs, each atomically, with the rules
-- of domain/ledger.py (the fold), domain/batch.py (redelivered offsets, crossings below
-- zero, moved nodes, the version) and domain/retention.py (what is forgotten when); each
-- mirrored rule names its domain function. Validates every argument before the first write
-- (Redis does not roll a script back). Every key is named in KEYS and carries the shard's
-- hash tag (one slot).
--
-- KEYS[1] seen zset     "<sku>|<event_id>" -> applied at (us); trimmed to the retention window
-- KEYS[2] offsets hash  "<topic>|<partition>" -> last offset applied to this shard from there
-- KEYS[3] holds zset    "<sku>|<node>|<reservation_id>" -> expires_at (us): the shard's open
--           holds (holding units), for the expiry sweep
-- KEYS[4..] per SKU its ledger hash and demand hash, and the deltas zsets, order lines
--           and supplies the effects name by index. Ledger hash fields: v (version); t the
--           totals "<network>|<channel>=<atp>,..." (sums of the nodes' published ATP, kept
--           as they change); per node one field "<node>|" packed as
--           "on_hand|reserved|held|inbound|atp|buffer|count_us|trim_day|channels|count_id"
--           (atp the ATP last published, buffer the buffer it was computed with, channels
--           comma-separated: those its ATP is counted in, count_us and count_id the latest
--           count, trim_day the UTC day its deltas were last trimmed; empty when unknown);
--           planning adds <node>|rd review day, |cv covered, |gv given, |ss safety stock.
--           Lines, supplies and holds are strings "<a>|<b>|<c>", expiring once they hold
--           nothing.
-- ARGV: now_us, retention_us, demand_days, flags ('f': reply each changed SKU's full
--   snapshot, for planning; 'd': and its demand buckets; 'a': reply every node an applied
--   event touched, changed or not, and the totals: a replay after Redis lost writes;
--   'p': pre-apply events the reservation API decided: no offsets, nothing published (the
--   version, totals and each node's published ATP stay), terms may be empty; 'h': a hold
--   decision, 'p' for one SKU with one event whose effects are one H per candidate node in
--   order: only the first whose ATP covers its placed units is applied),
--   and the SKUs as one flat MessagePack array (nested arrays cost a table each to unpack):
--   [sku count, then per SKU: sku, ledger_index, demand_index, node count, then per node
--   the events touch: node_id, buffer, its channels joined by ','; event count, then per
--   event: event_id, "<topic>|<partition>", offset, occurred_us, effect count, then per
--   effect: kind, node_id, key_index, a, b, c] with kind
--     D delta  (a = occurred_us, b = qty)        C count  (a = occurred_us, b = counted_qty)
--     L line   (a = placed, b = picked, c = 1 if cancelled)
--     S supply (a = expected, b = received)
--     Q demand (a = UTC day number, b = units)
--     H hold   (a = placed, b = expires_us, c = 1 if ended; then its reservation_id)
-- Returns one MessagePack array (packed here: Redis turns a Lua table into a reply at a cost
-- per entry), per SKU {version, outcomes, went_negative, rows, totals, full, demand, latest}:
-- latest the latest occurred_us of any event applied to the SKU; outcomes
-- one letter per event (a applied, d duplicate event_id, r redelivered offset); rows eight
-- entries per node that changed (or that a redelivered event touches): node_id, new (1 when
-- no event had touched it), atp, on_hand, reserved, held, inbound, buffer; totals
-- {'n', network, channel, atp, ...} when they changed (or on redelivery), else empty; with
-- 'f' and a change, full has nine entries per node (node_id, on_hand, reserved, held,
-- inbound, then rd, cv, gv, ss, each -1 unset) and with 'd' demand node, day, units.
-- With 'h' two more entries: the node held at ('' when refused; on a duplicate, the
-- candidate that holds for the reservation, if any) and each candidate's ATP before.
-- A duplicate event's nodes count as touched: a node whose values differ
-- from what was last published (a pre-applied decision) is published then.

local seen, offsets, holds = KEYS[1], KEYS[2], KEYS[3]

-- The library functions the hot path calls, as locals (a global is a table lookup each time).
local type, tonumber, ipairs, pairs, unpack = type, tonumber, ipairs, pairs, unpack
local floor, max = math.floor, math.max
local format, match, gmatch, byte = string.format, string.match, string.gmatch, string.byte
local call = redis.call

local function fail(msg)
  return redis.error_reply('stockline apply: ' .. msg)
end

local function int(s)
  local n = tonumber(s)
  if n == nil or n ~= floor(n) then return nil end
  return n
end

local KINDS = {D = true, C = true, L = true, S = true, Q = true, H = true}

-- Parse and validate everything first.
local now, retention, demand_days = int(ARGV[1]), int(ARGV[2]), int(ARGV[3])
local flags = ARGV[4] or ''
if not (now and retention and demand_days) then return fail('bad header') end
local with_full, with_demand = string.find(flags, 'f', 1, true), string.find(flags, 'd', 1, true)
local republish = string.find(flags, 'a', 1, true)
local decide = string.find(flags, 'h', 1, true)
local pre = decide or string.find(flags, 'p', 1, true)

-- x == x - x % 1 holds for an integer, not for a fraction or a numeric string, and raises
-- for anything else but a number or a string (parse runs in a pcall, before any write).

-- The payload is one flat array read with a cursor (see the header); each effect becomes
-- {kind, node_id, key, a, b, c[, reservation_id]}, its key index replaced by the key name.
-- Returns the SKUs, or nil and what is wrong.
local function parse(a)
  local n_skus, i, skus = a[1], 2, {}
  if n_skus ~= n_skus - n_skus % 1 then return nil, 'payload' end
  if decide and n_skus ~= 1 then return nil, 'hold: a decision is one SKU' end
  for k = 1, n_skus do
    local name, li, di, n_terms = a[i], a[i + 1], a[i + 2], a[i + 3]
    i = i + 4
    local ok = type(name) == 'string' and li == li - li % 1 and di == di - di % 1
      and li > 3 and di > 3 and KEYS[li] and KEYS[di] and n_terms == n_terms - n_terms % 1
    if not ok then return nil, 'sku ' .. k end
    local terms, nodes = {}, {}
    for _ = 1, n_terms do
      local node, buffer, served = a[i], a[i + 1], a[i + 2]
      i = i + 3
      ok = type(node) == 'string' and buffer == buffer - buffer % 1 and buffer >= 0
        and type(served) == 'string'
      if not ok then return nil, 'sku ' .. k end
      terms[node], nodes[node] = {buffer = buffer, served = served}, true
    end
    local n_events, events = a[i], {}
    i = i + 1
    ok = n_events == n_events - n_events % 1 and not (decide and n_events ~= 1)
    if not ok then return nil, 'sku ' .. k end
    for e = 1, n_events do
      local id, tp, offset, occurred, n_fx = a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4]
      i = i + 5
      ok = type(id) == 'string' and type(tp) == 'string' and offset == offset - offset % 1
        and occurred == occurred - occurred % 1 and n_fx == n_fx - n_fx % 1
      if not ok then return nil, 'sku ' .. k end
      local effects = {}
      for f = 1, n_fx do
        local kind, node, at, x, y, z = a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4], a[i + 5]
        local fx = {kind, node, at == at - at % 1 and at > 3 and KEYS[at], x, y, z}
        i = i + 6
        if kind == 'H' then fx[7] = a[i]; i = i + 1 end
        ok = KINDS[kind] and type(node) == 'string' and fx[3] and x == x - x % 1
          and y == y - y % 1 and z == z - z % 1 and (kind ~= 'H' or type(fx[7]) == 'string')
          and (pre or terms[node]) and not (decide and kind ~= 'H')
        if not ok then return nil, 'sku ' .. k end
        effects[f], nodes[node] = fx, true
      end
      events[e] = {id = id, tp = tp, offset = offset, occurred = occurred, effects = effects}
    end
    skus[k] = {sku = name, ledger = KEYS[li], demand = KEYS[di], terms = terms, events = events,
               nodes = nodes}
  end
  if i ~= #a + 1 then return nil, 'payload' end
  return skus
end

local ok, batch = pcall(cmsgpack.unpack, ARGV[5] or '')
if not ok or type(batch) ~= 'table' then return fail('bad payload') end
local parsed, skus, wrong = pcall(parse, batch) -- a value of the wrong type raises
if not parsed then return fail('bad payload') end
if not skus then return fail('bad ' .. wrong) end

local function fmt(n) return format('%d', n) end
local cutoff = now - retention
local today = floor(now / 86400000000)
local retention_s = max(1, math.ceil(retention / 1000000)) -- Retention.expiry_s

-- Byte order, as Python compares str; Lua's < follows the server's collation locale.
local function bytes_greater(x, y)
  local n = math.min(#x, #y)
  for k = 1, n do
    local bx, by = byte(x, k), byte(y, k)
    if bx ~= by then return bx > by end
  end
  return #x > #y
end

-- Up to 1,000 arguments a command: Lua's unpack has a limit.
local function chunked(command, key, items, per)
  if #items <= 1000 * per then -- the usual case: one command, no copy
    local reply = call(command, key, unpack(items))
    return type(reply) == 'table' and reply or {}
  end
  local out = {}
  for start = 1, #items, 1000 * per do
    local part = {}
    for k = start, math.min(#items, start + 1000 * per - 1) do part[#part + 1] = items[k] end
    local reply = call(command, key, unpack(part))
    if type(reply) == 'table' then
      for _, v in ipairs(reply) do out[#out + 1] = v end
    end
  end
  return out
end

-- What the shard already has: applied event ids of this call's events, offsets per partition.
-- Ids applied before the window are forgotten first (Retention.remembers_event).
call('ZREMRANGEBYSCORE', seen, '-inf', '(' .. fmt(cutoff))
local members, tps, tp_list = {}, {}, {}
for _, sku in ipairs(skus) do
  for _, ev in ipairs(sku.events) do
    ev.member = sku.sku .. '|' .. ev.id
    members[#members + 1] = ev.member
    if not (pre or tps[ev.tp]) then tps[ev.tp] = true; tp_list[#tp_list + 1] = ev.tp end
  end
end
local applied_before = {}
if #members > 0 then
  local scores = chunked('ZMSCORE', seen, members, 1)
  for k, member in ipairs(members) do
    if scores[k] then applied_before[member] = true end
  end
end
local tp_offsets = {}
if #tp_list > 0 then
  local stored = call('HMGET', offsets, unpack(tp_list))
  for k, tp in ipairs(tp_list) do tp_offsets[tp] = tonumber(stored[k]) or -1 end
end
local tp_start = {}
for tp, offset in pairs(tp_offsets) do tp_start[tp] = offset end

local PACKED = '^(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)|(-?%d*)|(-?%d*)|(-?%d*)|(-?%d*)|([^|]*)|(.*)$'

-- Every node this SKU's events touch, read in one HMGET with the version and the totals.
local function load_nodes(sku)
  local fields, order = {'v', 't', 'e'}, {}
  for node, _ in pairs(sku.nodes) do order[#order + 1] = node; fields[#fields + 1] = node .. '|' end
  local v = chunked('HMGET', sku.ledger, fields, 1)
  local nodes = {}
  for k, node in ipairs(order) do
    local s
    local packed = v[k + 3]
    -- every field named in the constructor: a table that grows later is rebuilt
    if packed then
      local oh, rs, hd, ib, at, bf, cu, td, ch, ci = match(packed, PACKED)
      oh, rs, hd, ib = tonumber(oh), tonumber(rs), tonumber(hd), tonumber(ib)
      s = {exists = true, oh = oh, rs = rs, hd = hd, ib = ib, oh0 = oh, rs0 = rs, hd0 = hd,
           ib0 = ib, at = tonumber(at), bf = tonumber(bf), cu = tonumber(cu),
           td = tonumber(td) or -1, ch = ch, ci = ci ~= '' and ci or false, touched = false,
           dirty = false}
    else -- a node new to the SKU has no deltas to trim yet
      s = {exists = false, oh = 0, rs = 0, hd = 0, ib = 0, oh0 = 0, rs0 = 0, hd0 = 0, ib0 = 0,
           at = false, bf = false, cu = false, td = today, ch = '', ci = false,
           touched = false, dirty = false}
    end
    nodes[node] = s
  end
  return tonumber(v[1]) or 0, nodes, v[2], tonumber(v[3]) or 0
end

local function delta(s, fx, id)
  local occurred, qty, key = fx[4], fx[5], fx[3]
  if s.cu and occurred <= s.cu then return end -- already inside the latest count
  s.oh = s.oh + qty
  call('ZADD', key, fmt(occurred), fmt(qty) .. '|' .. id)
  -- NodeLedger.trim_deltas: once a day, deltas older than the window (Retention.trims_deltas,
  -- Retention.keeps_delta): no accepted count can precede them
  if s.td < today then
    call('ZREMRANGEBYSCORE', key, '-inf', '(' .. fmt(cutoff))
    s.td, s.dirty = today, true
  end
end

local function count(s, fx, id)
  local occurred, counted, key = fx[4], fx[5], fx[3]
  if s.cu and (occurred < s.cu or (occurred == s.cu and not bytes_greater(id, s.ci))) then
    return
  end
  local later = call('ZRANGEBYSCORE', key, '(' .. fmt(occurred), '+inf')
  local sum = 0
  for _, member in ipairs(later) do sum = sum + tonumber(match(member, '^(-?%d+)|')) end
  call('ZREMRANGEBYSCORE', key, '-inf', fmt(occurred))
  s.cu, s.ci, s.oh, s.dirty = occurred, id, counted + sum, true
end

-- An order line or a supply: two running sums and a flag; expires once it holds nothing
-- (Retention.keeps_entry: the key's expiry is what is left of the window since this write).
local function tally(key, a, b, c, open)
  local v = call('GET', key)
  local oa, ob, oc = 0, 0, false
  if v then
    local x, y, z = match(v, '^(-?%d+)|(-?%d+)|(%d)$')
    oa, ob, oc = tonumber(x), tonumber(y), z == '1'
  end
  local na, nb, nc = oa + a, ob + b, oc or c == 1
  local new = open(na, nb, nc)
  local text = fmt(na) .. '|' .. fmt(nb) .. '|' .. (nc and '1' or '0')
  if new == 0 then call('SET', key, text, 'EX', retention_s)
  else call('SET', key, text) end -- a SET without EX also clears an earlier expiry
  return new - open(oa, ob, oc)
end

-- A day's demand; a new day's field also drops the week of days that just left the horizon
-- (a node without a ledger field has no days to drop: only the worker's apply writes demand,
-- and it writes the node's field with it).
local function demand(key, fx, s)
  local prefix, day, units = fx[2] .. '|', fx[4], fx[5]
  if call('HINCRBY', key, prefix .. fmt(day), fmt(units)) == units and s.exists then
    local gone = {}
    for old = day - demand_days - 7, day - demand_days do gone[#gone + 1] = prefix .. fmt(old) end
    call('HDEL', key, unpack(gone))
  end
end

-- A hold: the placed sum, the latest expiry named, and whether it ended (released or
-- committed: final). Listed in the shard's holds zset while it holds units; expires once
-- it holds nothing, like a line (Retention.keeps_entry).
local function held(placed, ended)
  if ended then return 0 end
  return placed
end

local function hold(s, sku, fx)
  local key = fx[3]
  local v = call('GET', key)
  local op, oe, oend = 0, 0, false
  if v then
    local x, y, z = match(v, '^(-?%d+)|(-?%d+)|(%d)$')
    op, oe, oend = tonumber(x), tonumber(y), z == '1'
  end
  local np, ne, nend = op + fx[4], max(oe, fx[5]), oend or fx[6] == 1
  local new = held(np, nend)
  local text = fmt(np) .. '|' .. fmt(ne) .. '|' .. (nend and '1' or '0')
  local member = sku .. '|' .. fx[2] .. '|' .. fx[7]
  if new == 0 then
    call('SET', key, text, 'EX', retention_s)
    call('ZREM', holds, member)
  else
    call('SET', key, text)
    call('ZADD', holds, fmt(ne), member)
  end
  s.hd = s.hd + new - held(op, oend)
end

local function reserved(placed, picked, cancelled)
  if cancelled then return 0 end
  return max(0, placed - picked)
end

local function inbound(expected, received)
  return max(0, expected - received)
end

local function apply_event(sku, nodes, ev)
  for _, fx in ipairs(ev.effects) do
    local kind, s = fx[1], nodes[fx[2]]
    s.touched = true
    if kind == 'D' then delta(s, fx, ev.id)
    elseif kind == 'C' then count(s, fx, ev.id)
    elseif kind == 'L' then s.rs = s.rs + tally(fx[3], fx[4], fx[5], fx[6], reserved)
    elseif kind == 'Q' then demand(sku.demand, fx, s)
    elseif kind == 'H' then hold(s, sku.sku, fx)
    else s.ib = s.ib + tally(fx[3], fx[4], fx[5], fx[6], inbound) end
  end
end

-- The events in order: an offset the shard had applied before this call (or that came
-- twice in it), or an applied event_id, changes nothing.
local new_members, in_call = {}, {}

local function node_atp(s)
  if not s.exists then return 0 end
  return max(0, s.oh - s.rs - s.hd - (s.bf or 0))
end

-- A hold decision: the first candidate whose ATP (with the buffer last published) covers
-- the placed units keeps its effect; the others are dropped. Returns the node and every
-- candidate's ATP.
local function decide_hold(ev, nodes)
  local atps, chosen = {}, nil
  for k, fx in ipairs(ev.effects) do
    atps[k] = node_atp(nodes[fx[2]])
    if not chosen and atps[k] >= fx[4] then chosen = fx end
  end
  ev.effects = {chosen}
  return chosen and chosen[2] or '', atps
end

-- On a duplicate decision: the candidate whose hold of the reservation holds units.
local function holding(ev)
  for _, fx in ipairs(ev.effects) do
    local v = call('GET', fx[3])
    if v then
      local placed, ended = match(v, '^(-?%d+)|%-?%d+|(%d)$')
      if tonumber(placed) > 0 and ended == '0' then return fx[2] end
    end
  end
  return ''
end

local function apply_events(sku, nodes, latest)
  local outcomes, again, decided = {}, {}, nil
  for e, ev in ipairs(sku.events) do
    local at = ev.tp .. '#' .. fmt(ev.offset)
    if not pre and (ev.offset <= tp_start[ev.tp] or in_call[at]) then -- batch.redelivered
      outcomes[e] = 'r'
      for _, fx in ipairs(ev.effects) do again[fx[2]] = true end
    else
      if not pre then
        in_call[at] = true
        if ev.offset > tp_offsets[ev.tp] then tp_offsets[ev.tp] = ev.offset end
      end
      if applied_before[ev.member] then
        outcomes[e] = 'd'
        if decide then decided = {holding(ev), {}} end
        for _, fx in ipairs(ev.effects) do nodes[fx[2]].touched = true end
      else
        local refused = false
        if decide then
          local node, atps = decide_hold(ev, nodes)
          decided, refused = {node, atps}, node == ''
        end
        outcomes[e] = 'a'
        if not refused then -- a refused decision changes nothing, nor is it remembered
          applied_before[ev.member] = true
          new_members[#new_members + 1] = fmt(now)
          new_members[#new_members + 1] = ev.member
          if ev.occurred > latest then latest = ev.occurred end
          apply_event(sku, nodes, ev)
        end
      end
    end
  end
  return table.concat(outcomes), again, latest, decided
end

-- The totals move by each node's ATP change, on the channels it serves (a node whose
-- channels changed leaves its old ones and joins the new ones). A channel, once some
-- node served it, keeps its place.
local function split(text)
  local out = {}
  for channel in gmatch(text or '', '[^,]+') do out[#out + 1] = channel end
  return out
end

local function read_totals(packed)
  local t, order = {}, {}
  if not packed then return nil, order end
  local network, rest = match(packed, '^(-?%d+)|(.*)$')
  t.n = tonumber(network)
  for channel, units in gmatch(rest, '([^,=]+)=(-?%d+)') do
    t[channel] = tonumber(units); order[#order + 1] = channel
  end
  return t, order
end

-- (the new packed totals or nil when unchanged, the reply's flat totals or {})
local function update_totals(packed, moves, redelivered)
  if #moves == 0 and not redelivered then return nil, {} end
  local t, order = read_totals(packed)
  local changed = t == nil
  t = t or {n = 0}
  local before = {}
  for k, v in pairs(t) do before[k] = v end
  local function add(channel, by)
    if t[channel] == nil then t[channel] = 0; order[#order + 1] = channel end
    t[channel] = t[channel] + by
  end
  for _, m in ipairs(moves) do
    t.n = t.n + m.atp - m.old_atp
    for _, channel in ipairs(m.old_channels) do add(channel, -m.old_atp) end
    for _, channel in ipairs(m.channels) do add(channel, m.atp) end
  end
  for k, v in pairs(t) do changed = changed or before[k] ~= v end
  if not (changed or redelivered) then return nil, {} end
  table.sort(order)
  local out, text = {'n', t.n}, {}
  for _, channel in ipairs(order) do
    out[#out + 1] = channel; out[#out + 1] = t[channel]
    text[#text + 1] = channel .. '=' .. fmt(t[channel])
  end
  if not changed then return nil, out end
  return fmt(t.n) .. '|' .. table.concat(text, ','), out
end

-- The SKU's full snapshot, read back for planning.
local function full_snapshot(ledger)
  local flat, nodes, order = call('HGETALL', ledger), {}, {}
  local function node_of(name)
    local n = nodes[name]
    if not n then n = {}; nodes[name] = n; order[#order + 1] = name end
    return n
  end
  for k = 1, #flat, 2 do
    local field, value = flat[k], flat[k + 1]
    if field ~= 'v' and field ~= 't' and field ~= 'e' then
      local name, mark = match(field, '^(.+)|(%a*)$')
      if mark == '' then node_of(name).packed = value
      elseif name then node_of(name)[mark] = tonumber(value) end
    end
  end
  local out = {}
  for _, name in ipairs(order) do
    local n = nodes[name]
    if n.packed then
      local oh, rs, hd, ib = match(n.packed, '^(-?%d+)|(-?%d+)|(-?%d+)|(-?%d+)|')
      for _, value in ipairs({name, tonumber(oh), tonumber(rs), tonumber(hd), tonumber(ib),
                              n.rd or -1, n.cv or -1, n.gv or -1, n.ss or -1}) do
        out[#out + 1] = value
      end
    end
  end
  return out
end

local function demand_buckets(key)
  local out, days = {}, call('HGETALL', key)
  for k = 1, #days, 2 do
    local dnode, day = match(days[k], '^(.+)|(%d+)$')
    out[#out + 1] = dnode; out[#out + 1] = tonumber(day); out[#out + 1] = tonumber(days[k + 1])
  end
  return out
end

local function opt(n) return n and fmt(n) or '' end

-- atp and buffer nil: none published yet
local function pack(s, atp, buffer, channels)
  return format('%d|%d|%d|%d|%s|%s|%s|%d|%s|%s', s.oh, s.rs, s.hd, s.ib, opt(atp),
    opt(buffer), opt(s.cu), s.td, channels, s.ci or '')
end

-- Pre-applied events: the stored buckets move, what was published stays (the worker's
-- apply of the same events, duplicates then, publishes). A node without a ledger gets
-- none here: its first published record makes it.
local function pre_apply_sku(sku)
  local version, nodes, _, latest0 = load_nodes(sku)
  local outcomes, _, latest, decided = apply_events(sku, nodes, latest0)
  local write, known = {}, false
  for node, s in pairs(nodes) do
    known = known or s.exists
    if s.exists and (s.oh ~= s.oh0 or s.rs ~= s.rs0 or s.hd ~= s.hd0 or s.ib ~= s.ib0 or s.dirty) then
      write[#write + 1] = node .. '|'; write[#write + 1] = pack(s, s.at, s.bf, s.ch)
    end
  end
  if known and latest ~= latest0 then write[#write + 1] = 'e'; write[#write + 1] = fmt(latest) end
  if #write > 0 then chunked('HSET', sku.ledger, write, 2) end
  local reply = {version, outcomes, 0, {}, {}, {}, {}, latest}
  if decided then reply[9] = decided[1]; reply[10] = decided[2] end
  return reply
end

local function apply_sku(sku)
  if pre then return pre_apply_sku(sku) end
  local version, nodes, packed_totals, latest0 = load_nodes(sku)
  local outcomes, again, latest = apply_events(sku, nodes, latest0)
  local rows, moves, write, went_negative, changed = {}, {}, {}, 0, false
  local has_totals = packed_totals and true or false -- HMGET answers false for none
  for node, s in pairs(nodes) do
    local terms = sku.terms[node]
    local buffer, served = terms.buffer, terms.served
    local atp = max(0, s.oh - s.rs - s.hd - buffer)
    -- batch.moved; batch.went_negative counts the moved nodes that crossed below zero
    local moved = s.touched and (not s.exists or s.oh ~= s.oh0 or s.rs ~= s.rs0
      or s.hd ~= s.hd0 or s.ib ~= s.ib0 or s.at ~= atp or s.bf ~= buffer or s.ch ~= served)
    if moved then
      changed = true
      -- only a move of the node's ATP or of its channels moves the totals (once they exist)
      local old_atp = s.at or 0
      if atp ~= old_atp or served ~= s.ch or not has_totals then
        local channels = split(served)
        moves[#moves + 1] = {atp = atp, old_atp = old_atp, channels = channels,
                             old_channels = served == s.ch and channels or split(s.ch)}
      end
      if s.oh < 0 and s.oh0 >= 0 then went_negative = went_negative + 1 end
    end
    if moved or s.dirty then
      if not moved then atp, buffer, served = s.at or atp, s.bf or buffer, s.ch end
      write[#write + 1] = node .. '|'; write[#write + 1] = pack(s, atp, buffer, served)
    end
    if moved or (again[node] and s.exists) or (republish and s.touched) then
      local n = #rows
      rows[n + 1], rows[n + 2], rows[n + 3], rows[n + 4] = node, s.exists and 0 or 1, atp, s.oh
      rows[n + 5], rows[n + 6], rows[n + 7], rows[n + 8] = s.rs, s.hd, s.ib, buffer
    end
  end
  local redelivered = false
  for node, _ in pairs(again) do redelivered = redelivered or nodes[node].exists end
  if republish then
    for _, s in pairs(nodes) do redelivered = redelivered or s.touched end
  end
  local new_totals, totals = update_totals(packed_totals, moves, redelivered)
  if new_totals then write[#write + 1] = 't'; write[#write + 1] = new_totals end
  if latest ~= latest0 then write[#write + 1] = 'e'; write[#write + 1] = fmt(latest) end
  if changed then -- batch.version_after: one next_version per batch that moved a node
    version = max(version + 1, now)
    write[#write + 1] = 'v'; write[#write + 1] = fmt(version)
  end
  if #write > 0 then chunked('HSET', sku.ledger, write, 2) end
  local full, buckets = {}, {}
  if with_full and (changed or redelivered) then
    full = full_snapshot(sku.ledger)
    if with_demand then buckets = demand_buckets(sku.demand) end
  end
  return {version, outcomes, went_negative, rows, totals, full, buckets, latest}
end

local replies = {}
for i, sku in ipairs(skus) do replies[i] = apply_sku(sku) end

if #new_members > 0 then chunked('ZADD', seen, new_members, 2) end
local moved_tps = {}
for tp, offset in pairs(tp_offsets) do
  if offset ~= tp_start[tp] then moved_tps[#moved_tps + 1] = tp; moved_tps[#moved_tps + 1] = fmt(offset) end
end
if #moved_tps > 0 then call('HSET', offsets, unpack(moved_tps)) end
return cmsgpack.pack(replies)
