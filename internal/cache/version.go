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

// versionedScript writes one hash unless it already holds a newer (id, version). A key that has
// no readable id or version (an old format, a corrupt entry) counts as older. In replace mode a key
// of another type is deleted; in write mode it is an error (WRONGTYPE) as for a plain HSET.
// HSET inside the script fires the keyspace notification as a plain HSET does.
// KEYS[1] key; ARGV[1] TTL seconds; ARGV[2] id; ARGV[3] version; ARGV[4] mode; ARGV[5..] pairs.
// Returns 0 (newer kept), 1 (equal: TTL renewed), 2 (written).
var versionedScript = redis.NewScript(`
local key, ttl, id, ver, mode = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function num(s) return type(s) == 'string' and string.match(s, '^%d+$') ~= nil end
local function cmp(a, b)
  a = string.gsub(a, '^0+(%d)', '%1')
  b = string.gsub(b, '^0+(%d)', '%1')
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
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
redis.call('HSET', key, unpack(ARGV, 5))
redis.call('EXPIRE', key, ttl)
return 2`)

// evalVersioned queues one versioned write of key on p. fields must include "id" and "version"
// with the same values as id and version.
func evalVersioned(ctx context.Context, p redis.Pipeliner, key string, ttlSeconds int, id, version int64, mode string, fields []any) *redis.Cmd {
	args := make([]any, 0, 4+len(fields))
	args = append(args, ttlSeconds, strconv.FormatInt(id, 10), strconv.FormatInt(version, 10), mode)
	args = append(args, fields...)
	return versionedScript.Eval(ctx, p, []string{key}, args...)
}
