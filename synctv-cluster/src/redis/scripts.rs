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
//! script-specific keys); ARGV[1] a fresh epoch (used if the room has none: its log was
//! lost), ARGV[2] stream MAXLEN, ARGV[3] stream TTL (ms), ARGV[4] meta TTL (ms), ARGV[5]
//! `PUBLISH` or `SPUBLISH`.

use redis::Script;

/// `epoch_of()` and `append(head, event_json)`.
const PRELUDE: &str = r#"#!lua
local function epoch_of()
  local e = redis.call('HGET', KEYS[1], 'epoch')
  if not e then
    e = ARGV[1]
    redis.call('HSET', KEYS[1], 'epoch', e, 'seq', 0)
    redis.call('DEL', KEYS[2])
  end
  return e
end
local function append(head, event_json)
  local epoch = epoch_of()
  local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  local env = '{"seq":' .. seq .. ',"epoch":"' .. epoch .. '",' .. head .. event_json .. '}'
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], seq .. '-0', 'd', env)
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call(ARGV[5], KEYS[3], env)
  return seq, epoch, env
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

/// KEYS[4] members. ARGV[6] envelope head, ARGV[7] event JSON, ARGV[8] a user whose stored
/// member JSON becomes ARGV[9] if they are online ('' for none). Returns {seq, epoch}.
const PUBLISH: &str = r#"
if ARGV[8] ~= '' and redis.call('HEXISTS', KEYS[4], ARGV[8]) == 1 then
  redis.call('HSET', KEYS[4], ARGV[8], ARGV[9])
end
local seq, epoch = append(ARGV[6], ARGV[7])
return {seq, epoch}
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
