package cache

import (
	"context"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Versioned writes. Redis writes follow the Postgres commit, but two writers (two workers finishing
// channels of one event, a writer and a read-through refill) can land in the other order than they
// committed. Every row carries a version that grows with each UPDATE (migration 0009), stored in the
// hash with the row's id; a write replaces a key only when it carries a newer (id, version): a
// higher id is a newer row (an event's distribution deleted and started again), a higher version a
// later commit of the same row. An equal (id, version) is the same state: only the TTL is renewed.
const fieldVersion = "version"

// Write modes of versionedScript.
const (
	modeWrite   = "write"   // HSET the fields over the key when newer; equal: renew the TTL only
	modeReplace = "replace" // delete and rewrite the key when newer or equal (healing a bad entry)
)

// versionedScript writes hashes, each unless it already holds a newer (id, version). A key that
// has no readable id or version (an old format, a corrupt entry) counts as older. In replace mode
// a key of another type is deleted; in write mode it is an error (WRONGTYPE) as for a plain HSET.
// HSET inside the script fires the keyspace notification as a plain HSET does. One call writes
// every key of a change (a distribution's 7 keys at a start): one script run and one round trip,
// atomic as the MULTI of one call per key it replaced, at less than half its Redis time (make
// bench, engine starts, INFO commandstats: 110 µs a start, where 7 EVALs cost 260 µs).
// KEYS: the keys. ARGV, for each key in turn: TTL seconds, id, version, mode, n, then n field
// and value arguments. Returns for each key 0 (newer kept), 1 (equal: TTL renewed), 2 (written).
var versionedScript = redis.NewScript(`
local function num(s) return type(s) == 'string' and string.match(s, '^%d+$') ~= nil end
local function cmp(a, b)
  a = string.gsub(a, '^0+(%d)', '%1')
  b = string.gsub(b, '^0+(%d)', '%1')
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local function put(key, ttl, id, ver, mode, first, last)
  if mode == 'replace' then
    local t = redis.call('TYPE', key)
    if type(t) == 'table' then t = t.ok end
    if t ~= 'hash' and t ~= 'none' then redis.call('DEL', key) end
  end
  local cur = redis.call('HMGET', key, 'id', 'version')
  if num(cur[1]) and num(cur[2]) then
    local c = cmp(cur[1], id)
    if c == 0 then c = cmp(cur[2], ver) end
    if c > 0 then return 0 end
    if c == 0 and mode ~= 'replace' then
      redis.call('EXPIRE', key, ttl)
      return 1
    end
  end
  if mode == 'replace' then redis.call('DEL', key) end
  redis.call('HSET', key, unpack(ARGV, first, last))
  redis.call('EXPIRE', key, ttl)
  return 2
end
local out, i = {}, 1
for k, key in ipairs(KEYS) do
  local n = tonumber(ARGV[i + 4])
  out[k] = put(key, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], i + 5, i + 4 + n)
  i = i + 5 + n
end
return out`)

// versioned is one key's versioned write. fields must include "id" and "version" with the same
// values as id and version.
type versioned struct {
	key         string
	ttlSeconds  int
	id, version int64
	mode        string
	fields      []any
}

// versionedArgs are the script's keys and arguments for ws.
func versionedArgs(ws []versioned) (keys []string, args []any) {
	keys = make([]string, len(ws))
	for i, w := range ws {
		keys[i] = w.key
		args = append(args, w.ttlSeconds, strconv.FormatInt(w.id, 10), strconv.FormatInt(w.version, 10), w.mode, len(w.fields))
		args = append(args, w.fields...)
	}
	return keys, args
}

// runVersioned writes ws in one script call: EVALSHA, and EVAL when Redis lost the script (a
// restart, SCRIPT FLUSH).
func runVersioned(ctx context.Context, c redis.Scripter, ws []versioned) error {
	_, err := runVersionedResults(ctx, c, ws)
	return err
}

// runVersionedResults is runVersioned with each key's result (0 kept, 1 renewed, 2 written).
func runVersionedResults(ctx context.Context, c redis.Scripter, ws []versioned) ([]int64, error) {
	keys, args := versionedArgs(ws)
	return versionedScript.Run(ctx, c, keys, args...).Int64Slice()
}

// queueVersioned queues ws on p as one script call, for a pipeline that carries other commands
// too (EVAL: a pipelined EVALSHA cannot fall back).
func queueVersioned(ctx context.Context, p redis.Pipeliner, ws []versioned) {
	keys, args := versionedArgs(ws)
	versionedScript.Eval(ctx, p, keys, args...)
}
