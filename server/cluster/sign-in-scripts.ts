/**
 * The Lua scripts of the shared sign-in limits (PG-63). Each runs atomically in Redis: no other
 * process's attempt can come between a check and its count. A window is a sorted set of attempt
 * times (score: ms; member: time and a random suffix, so one attempt can be taken back); the
 * semantics are `createAttemptCounter`'s: an attempt at t counts while now - t < window, and the
 * wait ends when the oldest counted attempt leaves the window (at least 1 s).
 *
 * `LOCKED` and `UNLOCK` reach the pair keys listed in an account's set by name: fine on one Redis
 * (with or without replicas), not meant for Redis Cluster.
 */

/**
 * KEYS: pair window, address window, account window, known-address flag, the account's pair set.
 * ARGV: now, member, pair max, pair window, address max, address window, account max, account
 * window, pair hash. Returns the seconds to wait, or 0 after counting the attempt in all three.
 */
export const BEGIN = `
local now = tonumber(ARGV[1])
local function wait(key, max, window)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) < max then return 0 end
  local oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
  return math.max(1, math.ceil((oldest + window - now) / 1000))
end
local w = math.max(wait(KEYS[1], tonumber(ARGV[3]), tonumber(ARGV[4])),
                   wait(KEYS[2], tonumber(ARGV[5]), tonumber(ARGV[6])))
if redis.call('EXISTS', KEYS[4]) == 0 then
  w = math.max(w, wait(KEYS[3], tonumber(ARGV[7]), tonumber(ARGV[8])))
end
if w > 0 then return w end
for i = 1, 3 do
  redis.call('ZADD', KEYS[i], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[i], ARGV[2 + 2 * i])
end
redis.call('SADD', KEYS[5], ARGV[9])
redis.call('PEXPIRE', KEYS[5], ARGV[4])
return 0
`;

/**
 * The password was right. KEYS: pair window, address window, account window, known-address flag.
 * ARGV: the attempt's member, how long the address stays known (ms).
 */
export const SUCCEEDED = `
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SET', KEYS[4], '1', 'PX', ARGV[2])
return 0
`;

/**
 * KEYS: account window, the account's pair set. ARGV: account window's exclusive lower bound
 * ('(' .. now - window), account max, the same two for pairs, the pair keys' prefix. Returns 1
 * when the account is held by its ceiling or from at least one address. Reads only.
 */
export const LOCKED = `
if redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf') >= tonumber(ARGV[2]) then return 1 end
for _, pair in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('ZCOUNT', ARGV[5] .. pair, ARGV[3], '+inf') >= tonumber(ARGV[4]) then return 1 end
end
return 0
`;

/** KEYS: account window, the account's pair set. ARGV: the pair keys' prefix. */
export const UNLOCK = `
redis.call('DEL', KEYS[1])
for _, pair in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('DEL', ARGV[1] .. pair) end
redis.call('DEL', KEYS[2])
return 0
`;
