"""The Lua scripts of the Redis rate-limit store (``redis.py``): each runs atomically in Redis,
on Redis's clock. Keys are built inside the scripts from the prefix (single-node Redis only)."""

_PRELUDE = """
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function fmt(x) return string.format('%.6f', x) end
"""

# One major parameter set's bucket state (a JSON document), the hash its route has learned and
# Redis's clock, read at one instant.
_MAJOR_READ = """
local P, major, route = ARGV[1], ARGV[2], ARGV[3]
local t = redis.call('TIME')
local state = redis.call('GET', P .. 's:' .. major) or ''
local h = ''
if route ~= '' then h = redis.call('HGET', P .. 'routes', route) or '' end
return {t[1], t[2], state, h}
"""

# Compare and set: write the new state only if nobody changed it since it was read.
_MAJOR_WRITE = """
local P, major, old, new, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local route, h, op = ARGV[6], ARGV[7], ARGV[8]
local k = P .. 's:' .. major
if op ~= '' and redis.call('EXISTS', P .. 'op:' .. op) == 1 then return 2 end
if (redis.call('GET', k) or '') ~= old then return 0 end
if new == '' then redis.call('DEL', k) else redis.call('SET', k, new, 'PX', ttl) end
if op ~= '' then redis.call('SET', P .. 'op:' .. op, '1', 'PX', 900000) end
if h ~= '' then
  redis.call('HSET', P .. 'routes', route, h)
  redis.call('PEXPIRE', P .. 'routes', 86400000)
end
return 1
"""

_GLOBAL_ACQUIRE = (
    _PRELUDE
    + """
local P, g, limit, window, hold = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5])
local id, worker = ARGV[6], ARGV[7]
local now = now_s()
local done, pend = P .. 'g:' .. g, P .. 'gp:' .. g
local w = P .. 'workers:' .. g
redis.call('ZADD', w, now, worker)
redis.call('ZREMRANGEBYSCORE', w, '-inf', now - 30)
redis.call('PEXPIRE', w, 60000)
local workers = redis.call('ZCARD', w)
local blocked = tonumber(redis.call('GET', P .. 'gb:' .. g) or '0')
if now < blocked then return {'', fmt(blocked - now), workers} end
redis.call('ZREMRANGEBYSCORE', done, '-inf', now)
redis.call('ZREMRANGEBYSCORE', pend, '-inf', now)
if redis.call('ZCARD', done) + redis.call('ZCARD', pend) < limit then
  redis.call('ZADD', pend, now + hold, id)
  redis.call('PEXPIRE', pend, math.floor((hold + window) * 1000))
  return {id, '0', workers}
end
local first = redis.call('ZRANGE', done, 0, 0, 'WITHSCORES')
if first[2] then return {'', fmt(tonumber(first[2]) - now), workers} end
return {'', '-1', workers}
"""
)

_GLOBAL_RELEASE = (
    _PRELUDE
    + """
local P, g, id, hold = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = now_s()
local done, pend = P .. 'g:' .. g, P .. 'gp:' .. g
if redis.call('ZREM', pend, id) == 1 and hold > 0 then
  redis.call('ZADD', done, now + hold, id)
  redis.call('PEXPIRE', done, math.floor(hold * 1000) + 1000)
end
return 1
"""
)

# Slots this worker took locally while Redis was unreachable, still in the window: counted in
# Redis too once it is back (ARGV[3..]: seconds each still counts).
_GLOBAL_IMPORT = (
    _PRELUDE
    + """
local P, g, tag = ARGV[1], ARGV[2], ARGV[3]
local now = now_s()
local done = P .. 'g:' .. g
local longest = 0
for i = 4, #ARGV do
  local left = tonumber(ARGV[i])
  redis.call('ZADD', done, now + left, tag .. ':' .. i)
  if left > longest then longest = left end
end
redis.call('PEXPIRE', done, math.floor(longest * 1000) + 1000)
return 1
"""
)

_GLOBAL_BLOCK = (
    _PRELUDE
    + """
local P, g, seconds = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_s()
local k = P .. 'gb:' .. g
local cur = tonumber(redis.call('GET', k) or '0')
if now + seconds > cur then
  redis.call('SET', k, fmt(now + seconds), 'PX', math.floor(seconds * 1000) + 1)
end
return 1
"""
)

_INVALID = (
    _PRELUDE
    + """
local P, window, add = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local now = now_s()
local k = P .. 'inv'
if add then
  local id = tostring(redis.call('INCR', P .. 'invid'))
  redis.call('PEXPIRE', P .. 'invid', 86400000)
  redis.call('ZADD', k, now, id)
  redis.call('PEXPIRE', k, math.floor(window * 1000) + 1000)
end
redis.call('ZREMRANGEBYSCORE', k, '-inf', now - window)
return redis.call('ZCARD', k)
"""
)

# The state's identity: a restarted (empty) Redis has another one, so nothing is given back to it.
_EPOCH = """
local k, mine = ARGV[1] .. 'epoch', ARGV[2]
local v = redis.call('GET', k)
if not v then redis.call('SET', k, mine); v = mine end
redis.call('PEXPIRE', k, 86400000)
return v
"""

_OP_EXISTS = """
return redis.call('EXISTS', ARGV[1] .. 'op:' .. ARGV[2])
"""
