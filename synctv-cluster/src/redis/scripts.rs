//! The Lua scripts. One script call per change: each assigns the room's next `seq`, appends
//! the envelope to the room's capped stream (explicit id `<seq>-0`), and publishes it on the
//! room's channel, atomically. Presence changes and their `member_joined`/`member_left`
//! events happen in the same call, so a user's first/last connection is published exactly
//! once however many nodes race.
//!
//! Every script starts with `#!lua`: Redis then refuses the whole call up front when it is
//! out of memory, instead of failing half-way (a seq handed out without its event).
//!
//! Common arguments of the event-appending scripts: KEYS = meta, log, channel (then
//! script-specific keys; the publish script takes a batch of rooms); ARGV[1] a fresh epoch (used if the room has none: its log was
//! lost), ARGV[2] stream MAXLEN, ARGV[3] stream TTL (ms), ARGV[4] meta TTL (ms), ARGV[5]
//! `PUBLISH` or `SPUBLISH`.

use redis::Script;

/// `epoch_in(meta, log)` and `append_in(meta, log, channel, head, event_json)`; `epoch_of()` and
/// `append(head, event_json)` act on KEYS[1..3].
///
/// Expiry is refreshed when a quarter of the stream TTL has passed since the last refresh
/// (meta field `ttl_at`, Redis's own clock), not on every event: two PEXPIREs were a third
/// of an event's cost in Redis. Each refresh adds that quarter to both TTLs, so a room's keys
/// still live at least the configured TTLs after its last event (and at most a quarter of
/// the stream TTL longer).
const PRELUDE: &str = r#"#!lua
local now_ms
local function now()
  if not now_ms then
    local t = redis.call('TIME')
    now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return now_ms
end
local function epoch_in(meta, log)
  local st = redis.call('HMGET', meta, 'epoch', 'ttl_at')
  local e = st[1]
  if not e then
    e = ARGV[1]
    redis.call('HSET', meta, 'epoch', e, 'seq', 0)
    redis.call('DEL', log)
  end
  return e, tonumber(st[2] or '0')
end
local function append_in(meta, log, channel, head, event_json)
  local epoch, ttl_at = epoch_in(meta, log)
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  local env = '{"seq":' .. seq .. ',"epoch":"' .. epoch .. '",' .. head .. event_json .. '}'
  redis.call('XADD', log, 'MAXLEN', '~', ARGV[2], seq .. '-0', 'd', env)
  local slack = math.floor(tonumber(ARGV[3]) / 4)
  if now() - ttl_at >= slack then
    redis.call('PEXPIRE', log, tonumber(ARGV[3]) + slack)
    redis.call('PEXPIRE', meta, tonumber(ARGV[4]) + slack)
    redis.call('HSET', meta, 'ttl_at', now())
  end
  redis.call(ARGV[5], channel, env)
  return seq, epoch, env
end
local function epoch_of() return (epoch_in(KEYS[1], KEYS[2])) end
local function append(head, event_json)
  return append_in(KEYS[1], KEYS[2], KEYS[3], head, event_json)
end
local function head_of(node, id, ts)
  return '"node_id":"' .. node .. '","message_id":"' .. id .. '","timestamp":' .. ts .. ',"event":'
end
local function left(m, node, base, n, ts)
  local id = base
  if n > 0 then id = base .. '-' .. n end
  local _, _, env = append(head_of(node, id, ts), '{"kind":"member_left","data":' .. m .. '}')
  return env
end
local function joined(m, node, base, n, ts)
  local id = base
  if n > 0 then id = base .. '-' .. n end
  local _, _, env = append(head_of(node, id, ts), '{"kind":"member_joined","data":' .. m .. '}')
  return env
end
"#;

/// A batch of events, possibly of several rooms (in a Redis Cluster, of one hash slot): per
/// event four keys (meta, log, channel, members) and, from ARGV[6], four arguments: envelope
/// head, event JSON, a user whose stored member JSON becomes the fourth if they are online
/// ('' for none). Events are appended in the order given. Returns {seq, epoch} per event,
/// flat.
const PUBLISH: &str = r#"
local out = {}
for i = 0, #KEYS / 4 - 1 do
  local k, a = i * 4, 6 + i * 4
  local user = ARGV[a + 2]
  if user ~= '' and redis.call('HEXISTS', KEYS[k + 4], user) == 1 then
    redis.call('HSET', KEYS[k + 4], user, ARGV[a + 3])
  end
  local seq, epoch = append_in(KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], ARGV[a], ARGV[a + 1])
  out[#out + 1] = seq
  out[#out + 1] = epoch
end
return out
"#;

/// KEYS[4] presence, KEYS[5] members, KEYS[6] this node's connections. ARGV[6] envelope
/// head, ARGV[7] event JSON (member_joined), ARGV[8] user, ARGV[9] member JSON.
/// Returns {seq or 0, epoch, presence as a flat list}.
const JOIN: &str = r#"
redis.call('HINCRBY', KEYS[6], ARGV[8], 1)
local total = redis.call('HINCRBY', KEYS[4], ARGV[8], 1)
local seq, epoch = 0, epoch_of()
if total == 1 then
  redis.call('HSET', KEYS[5], ARGV[8], ARGV[9])
  seq, epoch = append(ARGV[6], ARGV[7])
end
return {seq, epoch, redis.call('HGETALL', KEYS[4])}
"#;

/// Keys as JOIN. ARGV[6] node, ARGV[7] message id, ARGV[8] time, ARGV[9] user.
/// Returns {envelope of member_left} or {}.
const LEAVE: &str = r#"
local c = redis.call('HGET', KEYS[6], ARGV[9])
if not c then return {} end
if tonumber(c) <= 1 then
  redis.call('HDEL', KEYS[6], ARGV[9])
else
  redis.call('HINCRBY', KEYS[6], ARGV[9], -1)
end
local total = redis.call('HINCRBY', KEYS[4], ARGV[9], -1)
if total > 0 then return {} end
redis.call('HDEL', KEYS[4], ARGV[9])
local m = redis.call('HGET', KEYS[5], ARGV[9])
redis.call('HDEL', KEYS[5], ARGV[9])
if not m then return {} end
return {left(m, ARGV[6], ARGV[7], 0, ARGV[8])}
"#;

/// Keys as JOIN, KEYS[6] being the dead node's connections. ARGV[6] node (origin),
/// ARGV[7] message id base, ARGV[8] time. Returns the member_left envelopes.
const DROP_NODE: &str = r#"
local conns = redis.call('HGETALL', KEYS[6])
local out, n = {}, 0
for i = 1, #conns, 2 do
  local uid, c = conns[i], tonumber(conns[i + 1])
  local total = redis.call('HINCRBY', KEYS[4], uid, -c)
  if total <= 0 then
    redis.call('HDEL', KEYS[4], uid)
    local m = redis.call('HGET', KEYS[5], uid)
    redis.call('HDEL', KEYS[5], uid)
    if m then
      table.insert(out, left(m, ARGV[6], ARGV[7], n, ARGV[8]))
      n = n + 1
    end
  end
end
redis.call('DEL', KEYS[6])
return out
"#;

/// Keys as JOIN. ARGV[6] node, ARGV[7] message id base, ARGV[8] time, then triples from
/// ARGV[9]: user, connections, member JSON: this node's connections become exactly those.
/// Returns the member_left/member_joined envelopes.
const SYNC: &str = r#"
local wanted = {}
for i = 9, #ARGV, 3 do wanted[ARGV[i]] = {tonumber(ARGV[i + 1]), ARGV[i + 2]} end
local old = redis.call('HGETALL', KEYS[6])
local have = {}
for i = 1, #old, 2 do have[old[i]] = tonumber(old[i + 1]) end
local out, n = {}, 0
local function total_of(uid)
  local t = tonumber(redis.call('HGET', KEYS[4], uid) or '0')
  if t < 0 then t = 0 end
  return t
end
for uid, c in pairs(have) do
  local w = wanted[uid]
  local want = 0
  if w then want = w[1] end
  if want < c then
    if want == 0 then redis.call('HDEL', KEYS[6], uid) else redis.call('HSET', KEYS[6], uid, want) end
    local total = total_of(uid) - (c - want)
    if total <= 0 then
      redis.call('HDEL', KEYS[4], uid)
      local m = redis.call('HGET', KEYS[5], uid)
      redis.call('HDEL', KEYS[5], uid)
      if m then
        table.insert(out, left(m, ARGV[6], ARGV[7], n, ARGV[8]))
        n = n + 1
      end
    else
      redis.call('HSET', KEYS[4], uid, total)
    end
  end
end
for uid, w in pairs(wanted) do
  local c = have[uid] or 0
  if w[1] > c then
    redis.call('HSET', KEYS[6], uid, w[1])
    local before = total_of(uid)
    redis.call('HSET', KEYS[4], uid, before + w[1] - c)
    if before == 0 then
      redis.call('HSET', KEYS[5], uid, w[2])
      table.insert(out, joined(w[2], ARGV[6], ARGV[7], n, ARGV[8]))
      n = n + 1
    end
  end
end
return out
"#;

/// KEYS meta, log, presence, members; ARGV[1] fresh epoch, ARGV[2] meta TTL (ms).
/// Returns {epoch, seq, presence flat list, members flat list}.
const LOAD_POINT: &str = r#"#!lua
local e = redis.call('HGET', KEYS[1], 'epoch')
if not e then
  e = ARGV[1]
  redis.call('HSET', KEYS[1], 'epoch', e, 'seq', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('DEL', KEYS[2])
end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
return {e, seq, redis.call('HGETALL', KEYS[3]), redis.call('HGETALL', KEYS[4])}
"#;

/// KEYS meta, log; ARGV[1] since, ARGV[2] upto ('' for the head).
/// Returns {epoch or '', seq, XRANGE entries}.
const READ: &str = r#"#!lua flags=no-writes
local e = redis.call('HGET', KEYS[1], 'epoch')
if not e then return {'', 0, {}} end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local upto = seq
if ARGV[2] ~= '' then upto = math.min(tonumber(ARGV[2]), seq) end
local since = tonumber(ARGV[1])
local entries = {}
if since < upto then
  entries = redis.call('XRANGE', KEYS[2], string.format('%d-0', since + 1), string.format('%d-0', upto))
end
return {e, seq, entries}
"#;

/// KEYS meta, log, channel; ARGV[1] new epoch, ARGV[2] meta TTL (ms), ARGV[3] publish
/// command. Returns {0, epoch}.
const NEW_EPOCH: &str = r#"#!lua
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'seq', 0)
redis.call('HDEL', KEYS[1], 'ttl_at')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
redis.call(ARGV[3], KEYS[3], '{"control":"resync","epoch":"' .. ARGV[1] .. '"}')
return {0, ARGV[1]}
"#;

/// KEYS[1] the lock; ARGV[1] the holder's token. Returns 1 if released.
const UNLOCK: &str = r#"#!lua
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

pub struct Scripts {
    pub publish: Script,
    pub join: Script,
    pub leave: Script,
    pub drop_node: Script,
    pub sync: Script,
    pub load_point: Script,
    pub read: Script,
    pub new_epoch: Script,
    pub unlock: Script,
}

impl Scripts {
    pub fn new() -> Self {
        let with_prelude = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Self {
            publish: with_prelude(PUBLISH),
            join: with_prelude(JOIN),
            leave: with_prelude(LEAVE),
            drop_node: with_prelude(DROP_NODE),
            sync: with_prelude(SYNC),
            load_point: Script::new(LOAD_POINT),
            read: Script::new(READ),
            new_epoch: Script::new(NEW_EPOCH),
            unlock: Script::new(UNLOCK),
        }
    }
}

impl Default for Scripts {
    fn default() -> Self {
        Self::new()
    }
}
