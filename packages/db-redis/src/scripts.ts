/*
 * Lua scripts: each runs atomically on the server, so a commit's compares, writes,
 * revision bump and feed entry happen all together or not at all.
 *
 * Layout under prefix P (ARGV[1]):
 *   P t:<table>     HASH id → value
 *   P m:<table>     HASH id → "version:modRevision:lease"
 *   P tables        SET of table names
 *   P rev           the current revision (one per commit that changed something)
 *   P feed          STREAM, entry id "<rev>-0", field b = JSON array of the commit's events
 *   P keys          HASH namespace → last unique key handed out
 *   P leases        ZSET lease id → deadline (server clock, ms)
 *   P lttl          HASH lease id → ttl ms
 *   P lk:<lease>    SET of "table\0id" bound to the lease
 *   P leaseseq      lease id counter
 *   P epoch         random id of this DB; a different one means the DB was replaced
 *
 * Leases end on the server clock. Expired leases are reaped (their keys deleted, a
 * delete batch appended to the feed) by every script that touches leases and by a
 * periodic call from each client: plain key expiry would drop keys without a feed
 * event, and the feed must be lossless.
 */

const COMMON = `
local P = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function parse_meta(meta)
  local v, m, l = string.match(meta, '^(%d+):(%d+):(.*)$')
  return tonumber(v), tonumber(m), l
end
local function append(events, maxlen)
  local rev = redis.call('INCR', P .. 'rev')
  redis.call('XADD', P .. 'feed', 'MAXLEN', '~', maxlen, rev .. '-0', 'b', cjson.encode(events))
  return rev
end
local function end_lease(lease, maxlen)
  local events = {}
  local members = redis.call('SMEMBERS', P .. 'lk:' .. lease)
  for _, member in ipairs(members) do
    local sep = string.find(member, '\\0', 1, true)
    local t = string.sub(member, 1, sep - 1)
    local i = string.sub(member, sep + 1)
    local meta = redis.call('HGET', P .. 'm:' .. t, i)
    if meta then
      local v, _, l = parse_meta(meta)
      if l == lease then
        redis.call('HDEL', P .. 't:' .. t, i)
        redis.call('HDEL', P .. 'm:' .. t, i)
        events[#events + 1] = { type = 'delete', table = t, id = i, version = v }
      end
    end
  end
  redis.call('DEL', P .. 'lk:' .. lease)
  redis.call('ZREM', P .. 'leases', lease)
  redis.call('HDEL', P .. 'lttl', lease)
  if #events > 0 then append(events, maxlen) end
end
local function reap(maxlen)
  local expired = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now_ms())
  for _, lease in ipairs(expired) do end_lease(lease, maxlen) end
  return #expired
end
`;

/** ARGV: P, ops JSON, maxlen. Returns JSON {rev, versions} | {conflicts} | {lease}. */
export const COMMIT = `${COMMON}
local ops = cjson.decode(ARGV[2])
local maxlen = tonumber(ARGV[3])
reap(maxlen)
local conflicts = {}
for _, op in ipairs(ops) do
  if op.l ~= nil and op.l ~= cjson.null then
    if not redis.call('ZSCORE', P .. 'leases', op.l) then return cjson.encode({ lease = op.l }) end
  end
  if op.e ~= nil and op.e ~= cjson.null then
    local meta = redis.call('HGET', P .. 'm:' .. op.t, op.i)
    local v, m = 0, 0
    if meta then v, m = parse_meta(meta) end
    local ok
    if op.e == 'exists' then ok = v > 0 else ok = (v == op.e) end
    if not ok then conflicts[#conflicts + 1] = { table = op.t, id = op.i, expected = op.e, actualVersion = v, modRevision = m } end
  end
end
if #conflicts > 0 then return cjson.encode({ conflicts = conflicts }) end
local rev = tonumber(redis.call('GET', P .. 'rev') or '0') + 1
local events = {}
local versions = {}
for n, op in ipairs(ops) do
  versions[n] = 0
  if op.k ~= 'check' then
    local mkey = P .. 'm:' .. op.t
    local meta = redis.call('HGET', mkey, op.i)
    local v, l = 0, ''
    if meta then
      local pv, _pm, pl = parse_meta(meta)
      v = pv
      l = pl
    end
    local member = op.t .. '\\0' .. op.i
    if op.k == 'put' then
      local lease = ''
      if op.l ~= nil and op.l ~= cjson.null then lease = op.l end
      redis.call('HSET', P .. 't:' .. op.t, op.i, op.v)
      redis.call('HSET', mkey, op.i, (v + 1) .. ':' .. rev .. ':' .. lease)
      redis.call('SADD', P .. 'tables', op.t)
      if l ~= '' and l ~= lease then redis.call('SREM', P .. 'lk:' .. l, member) end
      if lease ~= '' then redis.call('SADD', P .. 'lk:' .. lease, member) end
      events[#events + 1] = { type = 'put', table = op.t, id = op.i, value = op.v, version = v + 1 }
      versions[n] = v + 1
    elseif meta then
      redis.call('HDEL', P .. 't:' .. op.t, op.i)
      redis.call('HDEL', mkey, op.i)
      if l ~= '' then redis.call('SREM', P .. 'lk:' .. l, member) end
      events[#events + 1] = { type = 'delete', table = op.t, id = op.i, version = v }
    end
  end
end
if #events > 0 then
  rev = append(events, maxlen)
else
  rev = rev - 1
end
return cjson.encode({ rev = rev, versions = versions })
`;

/** ARGV: P, table, id... Returns a flat array: value, meta per id (false when absent). */
export const GET_MANY = `${COMMON}
local out = {}
for n = 3, #ARGV do
  out[#out + 1] = redis.call('HGET', P .. 't:' .. ARGV[2], ARGV[n]) or ''
  out[#out + 1] = redis.call('HGET', P .. 'm:' .. ARGV[2], ARGV[n]) or ''
end
return out
`;

/** ARGV: P, table... (none: every table). Returns {rev, {table, {id, value, ...}, {id, meta, ...}}...}. */
export const SNAPSHOT = `${COMMON}
local tables = {}
if #ARGV >= 2 then
  for n = 2, #ARGV do tables[#tables + 1] = ARGV[n] end
else
  tables = redis.call('SMEMBERS', P .. 'tables')
end
local out = { redis.call('GET', P .. 'rev') or '0' }
for _, t in ipairs(tables) do
  out[#out + 1] = t
  out[#out + 1] = redis.call('HGETALL', P .. 't:' .. t)
  out[#out + 1] = redis.call('HGETALL', P .. 'm:' .. t)
end
return out
`;

/** ARGV: P, namespace, max. Returns the key, or -1 when exhausted. */
export const ALLOCATE_KEY = `${COMMON}
local cur = tonumber(redis.call('HGET', P .. 'keys', ARGV[2]) or '0')
if cur >= tonumber(ARGV[3]) then return -1 end
return redis.call('HINCRBY', P .. 'keys', ARGV[2], 1)
`;

/** ARGV: P, ttl ms, maxlen. Returns the lease id. */
export const GRANT_LEASE = `${COMMON}
reap(tonumber(ARGV[3]))
local id = tostring(redis.call('INCR', P .. 'leaseseq'))
redis.call('ZADD', P .. 'leases', now_ms() + tonumber(ARGV[2]), id)
redis.call('HSET', P .. 'lttl', id, ARGV[2])
return id
`;

/** ARGV: P, lease, maxlen. Returns 1, or 0 when the lease is gone. */
export const KEEP_ALIVE = `${COMMON}
reap(tonumber(ARGV[3]))
local ttl = redis.call('HGET', P .. 'lttl', ARGV[2])
if not ttl or not redis.call('ZSCORE', P .. 'leases', ARGV[2]) then return 0 end
redis.call('ZADD', P .. 'leases', now_ms() + tonumber(ttl), ARGV[2])
return 1
`;

/** ARGV: P, lease, maxlen. */
export const REVOKE_LEASE = `${COMMON}
reap(tonumber(ARGV[3]))
if redis.call('ZSCORE', P .. 'leases', ARGV[2]) then end_lease(ARGV[2], tonumber(ARGV[3])) end
return 1
`;

/** ARGV: P, maxlen. Returns how many leases ended. */
export const REAP = `${COMMON}
return reap(tonumber(ARGV[2]))
`;

/**
 * ARGV: P, epoch, from. Checks the feed can resume at `from` before a blocking read:
 * returns {'ok', rev} | {'reset', rev} | {'compacted', oldest}.
 */
export const FEED_CHECK = `${COMMON}
local epoch = redis.call('GET', P .. 'epoch')
local rev = tonumber(redis.call('GET', P .. 'rev') or '0')
if epoch ~= ARGV[2] then return { 'reset', rev } end
local from = tonumber(ARGV[3])
if from > rev + 1 then return { 'reset', rev } end
if from <= rev then
  local first = redis.call('XRANGE', P .. 'feed', '-', '+', 'COUNT', 1)
  if #first == 0 then return { 'compacted', rev + 1 } end
  local oldest = tonumber(string.match(first[1][1], '^(%d+)-'))
  if oldest > from then return { 'compacted', oldest } end
end
return { 'ok', rev }
`;

/** ARGV: P, candidate epoch. Sets the epoch when the DB has none; returns the DB's epoch. */
export const EPOCH = `${COMMON}
redis.call('SET', P .. 'epoch', ARGV[2], 'NX')
return redis.call('GET', P .. 'epoch')
`;
