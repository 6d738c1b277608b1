/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* redis-queue-lua.c - the scripts of the queue on a Redis store (see
 * redis-queue.c for the keys).  Each reads and writes in one EVAL.
 *
 * Messages cross in one argument (or one reply field) each way: a list
 * of decimal lengths and the payloads end to end, so any byte goes. */
#include "config.h"

#include "redis-queue.h"

/* The keys' suffixes are the gate's (redis-gate.h), so rm, the keeper and
 * the renewer of redis-lease.c work on queues unchanged: ":m" state,
 * ":h" payloads of the messages in flight, ":q" the waiting messages,
 * ":w" the reservations in flight, ":c" the channel. */

/* A reservation in W: "count bytes leased since exp ttl pid start ns host"
 * (exp: end of the renewed lease, ttl: the hard end; 0 = none). */
#define LUA_PRELUDE \
	"local M, H, Q, W, CH = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5] " \
	"local function now() local t = redis.call('TIME') " \
	"  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end " \
	"local function gone() if redis.call('EXISTS', M) == 0 then return -2 end " \
	"  if redis.call('HGET', M, 'kind') ~= 'queue' then return -3 end return 0 end " \
	"local function num(f) return tonumber(redis.call('HGET', M, f) or '0') end " \
	"local function dec(s) local v = {} for x in string.gmatch(s, '%S+') do v[#v+1] = x end " \
	"  return {c=tonumber(v[1]), b=tonumber(v[2]), l=tonumber(v[3]), s=tonumber(v[4]), " \
	"    x=tonumber(v[5]), t=tonumber(v[6]), p=tonumber(v[7]), st=v[8], ns=v[9], " \
	"    h=table.concat(v, ' ', 10)} end " \
	"local function enc(v) return table.concat({v.c, v.b, v.l, v.s, v.x, v.t, v.p, v.st, " \
	"  v.ns, v.h}, ' ') end " \
	"local function split(lens, blob) local t, p = {}, 1 " \
	"  for l in string.gmatch(lens, '%d+') do l = tonumber(l) " \
	"    t[#t+1] = string.sub(blob, p, p + l - 1) p = p + l end return t end " \
	"local function push(cmd, t, a, z, step) " \
	"  local i = a while (step > 0 and i <= z) or (step < 0 and i >= z) do " \
	"    local c = {} local j = i " \
	"    while #c < 1000 and ((step > 0 and j <= z) or (step < 0 and j >= z)) do " \
	"      c[#c+1] = t[j] j = j + step end " \
	"    redis.call(cmd, Q, unpack(c)) i = j end end " \
	"local function msgs(tok) local d = redis.call('HMGET', H, 'l' .. tok, 'd' .. tok) " \
	"  return split(d[1] or '', d[2] or '') end " \
	"local function forget(tok) redis.call('HDEL', W, tok) " \
	"  redis.call('HDEL', H, 'l' .. tok, 'd' .. tok) end " \
	/* hands the messages of tok after the first k back to the head */ \
	"local function back(tok, k, redel) local s = redis.call('HGET', W, tok) " \
	"  if not s then return 0 end local v = dec(s) local t = msgs(tok) " \
	"  if k >= #t then return 0 end local nb = 0 " \
	"  for i = k + 1, #t do nb = nb + #t[i] end " \
	"  push('LPUSH', t, #t, k + 1, -1) " \
	"  redis.call('HINCRBY', M, 'fn', k - #t) redis.call('HINCRBY', M, 'fb', 0 - nb) " \
	"  redis.call('HINCRBY', M, 'b', nb) " \
	"  if redel then redis.call('HINCRBY', M, 'redel', #t - k) end " \
	"  if k == 0 then forget(tok) else " \
	"    local lens = {} for i = 1, k do lens[i] = #t[i] end " \
	"    redis.call('HSET', H, 'l' .. tok, table.concat(lens, ' '), " \
	"      'd' .. tok, table.concat(t, '', 1, k)) " \
	"    v.c = k v.b = v.b - nb redis.call('HSET', W, tok, enc(v)) end " \
	"  return #t - k end " \
	/* the messages of tok leave the queue */ \
	"local function ack(tok) local s = redis.call('HGET', W, tok) " \
	"  if not s then return 0 end local v = dec(s) forget(tok) " \
	"  redis.call('HINCRBY', M, 'fn', 0 - v.c) redis.call('HINCRBY', M, 'fb', 0 - v.b) " \
	"  redis.call('HINCRBY', M, 'acks', v.c) return 1 end " \
	"local function sweep(t) local w = redis.call('HGETALL', W) local n = 0 " \
	"  for i = 1, #w, 2 do local v = dec(w[i+1]) " \
	"    if (v.x > 0 and v.x <= t) or (v.t > 0 and v.t <= t) then " \
	"      n = n + back(w[i], 0, true) end end return n end " \
	"local function changed(what, t) redis.call('HSET', M, 'changed', t) " \
	"  redis.call('HINCRBY', M, 'gen', 1) redis.call('PUBLISH', CH, what) end "

/* ARGV: create (0/1) max_items max_bytes max_msg → {0 exists / 1 made,
 * max_items, max_bytes, max_msg} or {-2}/{-3} */
const struct mp_redis_script mp_redis_queue_open_script = { LUA_PRELUDE
	"if redis.call('EXISTS', M) == 0 then "
	"  if ARGV[1] == '0' then return {-2} end local t = now() "
	"  redis.call('HSET', M, 'kind', 'queue', 'mi', ARGV[2], 'mb', ARGV[3], 'mm', ARGV[4], "
	"    'b', 0, 'fn', 0, 'fb', 0, 'un', 0, 'puts', 0, 'acks', 0, 'redel', 0, 'closed', 0, "
	"    'tok', 0, 'gen', 0, 'created', t, 'changed', t) "
	"  return {1, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])} end "
	"local g = gone() if g < 0 then return {g} end "
	"local m = redis.call('HMGET', M, 'mi', 'mb', 'mm') "
	"return {0, tonumber(m[1]), tonumber(m[2]), tonumber(m[3])}", 5
};

/* ARGV: the messages, one each → {0, n} all put, {1, n} full after n,
 * {-4, n} message n is over max_msg, {-5, n} closed, {-2}/{-3} */
const struct mp_redis_script mp_redis_queue_put_script = { LUA_PRELUDE
	"local g = gone() if g < 0 then return {g, 0} end "
	"if redis.call('HGET', M, 'closed') == '1' then return {-5, 0} end "
	"local mi, mb, mm = num('mi'), num('mb'), num('mm') "
	"local n, b = redis.call('LLEN', Q) + num('fn'), num('b') + num('fb') "
	"local k, nb, st = 0, 0, 0 "
	"for i = 1, #ARGV do local l = #ARGV[i] "
	"  if l > mm then st = -4 break end "
	"  if n + k + 1 > mi or b + nb + l > mb then st = 1 break end "
	"  k = k + 1 nb = nb + l end "
	"local i = 1 while i <= k do local j = math.min(i + 999, k) "
	"  redis.call('RPUSH', Q, unpack(ARGV, i, j)) i = j + 1 end "
	"if k > 0 then redis.call('HINCRBY', M, 'b', nb) "
	"  redis.call('HINCRBY', M, 'un', k) redis.call('HINCRBY', M, 'puts', k) "
	"  changed('p', now()) end "
	"return {st, k}", 5
};

/* ARGV: previous token ('': none, acked: it was written) max_count
 * max_bytes strict(0/1: the first over max_bytes is -6, not taken) leased
 * pid start ns host lease_ms ttl_ms check(0/1) self_pid
 * → {1, token, lengths, payloads} (as the put's ARGV: one reply field
 * each, not one per message), {0} none waiting, {-1} closed and drained,
 * {-6} the first is too big, {-2}/{-3}; with check, first {2, token,
 * record, ...}: the reservations of other processes of this host (nothing
 * taken: the caller hands back the dead ones' and asks again) */
const struct mp_redis_script mp_redis_queue_take_script = { LUA_PRELUDE
	"local g = gone() if g < 0 then return {g} end "
	"local t0 = now() local what = '' "
	"if ARGV[1] ~= '' and ack(ARGV[1]) == 1 then what = 'a' end "
	"if sweep(t0) > 0 then what = what .. 'b' end "
	"if ARGV[12] == '1' then local w = redis.call('HGETALL', W) local o = {2} "
	"  for i = 1, #w, 2 do local v = dec(w[i+1]) "
	"    if v.h == ARGV[9] and v.p ~= 0 and v.p ~= tonumber(ARGV[13]) then "
	"      o[#o+1] = w[i] o[#o+1] = w[i+1] end end "
	"  if #o > 1 then if what ~= '' then changed(what, t0) end return o end end "
	"local maxc, maxb = tonumber(ARGV[2]), tonumber(ARGV[3]) "
	"local r = redis.call('LRANGE', Q, 0, maxc - 1) "
	"if #r == 0 then if what ~= '' then changed(what, t0) end "
	"  if redis.call('HGET', M, 'closed') == '1' and redis.call('HLEN', W) == 0 then "
	"    return {-1} end return {0} end "
	"if ARGV[4] == '1' and #r[1] > maxb then "
	"  if what ~= '' then changed(what, t0) end return {-6} end "
	"local k, nb, lens = 0, 0, {} "
	"while k < #r and (k == 0 or nb + #r[k+1] <= maxb) do k = k + 1 "
	"  nb = nb + #r[k] lens[k] = #r[k] end "
	"redis.call('LTRIM', Q, k, -1) "
	"local tok = redis.call('HINCRBY', M, 'tok', 1) "
	"local lease, ttl, pid = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[6]) "
	"redis.call('HSET', W, tok, enc({c=k, b=nb, l=tonumber(ARGV[5]), s=t0, "
	"  x=(pid ~= 0 and lease > 0) and (t0 + lease) or 0, t=(ttl > 0) and (t0 + ttl) or 0, "
	"  p=pid, st=ARGV[7], ns=ARGV[8], h=ARGV[9]})) "
	"local ls, d = table.concat(lens, ' '), table.concat(r, '', 1, k) "
	"redis.call('HSET', H, 'l' .. tok, ls, 'd' .. tok, d) "
	"redis.call('HINCRBY', M, 'b', 0 - nb) redis.call('HINCRBY', M, 'fn', k) "
	"redis.call('HINCRBY', M, 'fb', nb) changed(what .. 'g', t0) "
	"return {1, tok, ls, d}", 5
};

/* ARGV: token written leased pid start ns host lease_ms ttl_ms
 * → 0 settled, -1 no such reservation */
const struct mp_redis_script mp_redis_queue_settle_script = { LUA_PRELUDE
	"local s = redis.call('HGET', W, ARGV[1]) if not s then return -1 end "
	"local t0 = now() local k = tonumber(ARGV[2]) "
	"back(ARGV[1], k, false) "
	"if k == 0 then changed('b', t0) return 0 end "
	"if ARGV[3] == '1' then local v = dec(redis.call('HGET', W, ARGV[1])) "
	"  local lease, ttl, pid = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[4]) "
	"  v.l = 1 v.p = pid v.st = ARGV[5] v.ns = ARGV[6] v.h = ARGV[7] "
	"  v.x = (pid ~= 0 and lease > 0) and (t0 + lease) or 0 "
	"  v.t = (ttl > 0) and (t0 + ttl) or 0 "
	"  redis.call('HSET', W, ARGV[1], enc(v)) changed('b', t0) return 0 end "
	"ack(ARGV[1]) changed('a', t0) return 0", 5
};

/* ARGV: token requeue(0/1) → 0, -1 no such lease */
const struct mp_redis_script mp_redis_queue_end_script = { LUA_PRELUDE
	"local t0 = now() sweep(t0) "
	"if not redis.call('HGET', W, ARGV[1]) then return -1 end "
	"if ARGV[2] == '1' then back(ARGV[1], 0, false) changed('b', t0) "
	"else ack(ARGV[1]) changed('a', t0) end return 0", 5
};

/* ARGV: token ('0': any) force pid start host → {0, token, record},
 * {-10} (leases, none of who's), {-11} no lease */
const struct mp_redis_script mp_redis_queue_ack_owner_script = { LUA_PRELUDE
	"local g = gone() if g < 0 then return {g} end "
	"local t0 = now() if sweep(t0) > 0 then changed('b', t0) end "
	"local w = redis.call('HGETALL', W) local any, best, bv = false, nil, nil "
	"for i = 1, #w, 2 do local v = dec(w[i+1]) local tk = tonumber(w[i]) "
	"  if v.l == 1 and (ARGV[1] == '0' or w[i] == ARGV[1]) then any = true "
	"    if ARGV[2] == '1' or v.p == 0 or (v.p == tonumber(ARGV[3]) and v.st == ARGV[4] "
	"        and v.h == ARGV[5]) then "
	"      if not best or (bv.p == 0 and v.p ~= 0) or "
	"         ((bv.p == 0) == (v.p == 0) and tk < best) then best, bv = tk, v end end end end "
	"if not best then return {any and -10 or -11} end "
	"local rec = redis.call('HGET', W, best) ack(best) changed('a', t0) "
	"return {0, best, rec}", 5
};

/* ARGV: n → {0, unfinished}, {-12, unfinished} (n is more) */
const struct mp_redis_script mp_redis_queue_done_script = { LUA_PRELUDE
	"local g = gone() if g < 0 then return {g} end "
	"local un = num('un') local n = tonumber(ARGV[1]) "
	"if n > un then return {-12, un} end "
	"redis.call('HINCRBY', M, 'un', 0 - n) changed('d', now()) return {0, un - n}", 5
};

/* → 0 */
const struct mp_redis_script mp_redis_queue_close_script = { LUA_PRELUDE
	"local g = gone() if g < 0 then return g end "
	"redis.call('HSET', M, 'closed', 1) changed('c', now()) return 0", 5
};

/* reopen → 0 */
const struct mp_redis_script mp_redis_queue_reopen_script = { LUA_PRELUDE
	"local g = gone() if g < 0 then return g end "
	"redis.call('HSET', M, 'closed', 0) changed('o', now()) return 0", 5
};

/* ARGV: sweep (0/1) → {items, bytes, fn, fb, unfinished, puts, acks, redel,
 * closed, gen, created, changed, now, mi, mb, mm, {token, record, ...},
 * getters, putters} */
const struct mp_redis_script mp_redis_queue_info_script = { LUA_PRELUDE
	"local g = gone() if g < 0 then return {g} end "
	"local t0 = now() if ARGV[1] == '1' and sweep(t0) > 0 then changed('b', t0) end "
	"local m = redis.call('HMGET', M, 'b', 'fn', 'fb', 'un', 'puts', 'acks', 'redel', "
	"  'closed', 'gen', 'created', 'changed', 'mi', 'mb', 'mm') "
	"local out = {redis.call('LLEN', Q)} "
	"for i = 1, 11 do out[#out+1] = tonumber(m[i] or '0') end "
	"out[#out+1] = t0 "
	"for i = 12, 14 do out[#out+1] = tonumber(m[i] or '0') end "
	"out[#out+1] = redis.call('HGETALL', W) "
	"local f, ng, np = redis.call('HGETALL', M), 0, 0 "
	"for i = 1, #f, 2 do local k = string.sub(f[i], 1, 3) "
	"  if k == 'wg ' or k == 'wp ' then "
	"    if tonumber(f[i+1]) <= t0 then redis.call('HDEL', M, f[i]) "
	"    elseif k == 'wg ' then ng = ng + 1 else np = np + 1 end end end "
	"out[#out+1] = ng out[#out+1] = np return out", 5
};

/* ARGV: field ("wg ID" a getter or joiner, "wp ID" a putter), 1 listed
 * for 3 s more / 0 off the list → 0 (the waiters info counts) */
const struct mp_redis_script mp_redis_queue_waiter_script = { LUA_PRELUDE
	"local g = gone() if g < 0 then return g end "
	"if ARGV[2] == '1' then redis.call('HSET', M, ARGV[1], now() + 3000) "
	"else redis.call('HDEL', M, ARGV[1]) end return 0", 5
};

/* ARGV: token [owner_start owner_pid] → 1 its messages were handed back,
 * 0 no such reservation (the keeper's and the reaper's; as the gate's
 * drop).  The reaper names the owner it saw dead: a reservation leased to
 * another owner since (settle) is not that owner's to lose, even when the
 * two started in the same clock tick. */
const struct mp_redis_script mp_redis_queue_drop_script = { LUA_PRELUDE
	"local s = redis.call('HGET', W, ARGV[1]) if not s then return 0 end "
	"if ARGV[2] and (dec(s).st ~= ARGV[2] or dec(s).p ~= tonumber(ARGV[3])) then "
	"  return 0 end "
	"back(ARGV[1], 0, true) changed('b', now()) return 1", 5
};

/* ARGV: token lease_ms → 1 renewed, 0 gone (or its lease ran out) */
const struct mp_redis_script mp_redis_queue_renew_script = { LUA_PRELUDE
	"local t0 = now() if sweep(t0) > 0 then changed('b', t0) end "
	"local s = redis.call('HGET', W, ARGV[1]) if not s then return 0 end "
	"local v = dec(s) if v.x > 0 then v.x = t0 + tonumber(ARGV[2]) "
	"  redis.call('HSET', W, ARGV[1], enc(v)) end return 1", 5
};
