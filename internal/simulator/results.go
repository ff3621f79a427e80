package simulator

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// Result is a successful publication's result; which fields are set depends on the channel.
type Result struct {
	DistributionID     string                 `json:"distributionId,omitempty"`
	PostID             string                 `json:"postId,omitempty"`
	PostURL            string                 `json:"postUrl,omitempty"`
	MessageID          string                 `json:"messageId,omitempty"`
	EstimatedViews     int                    `json:"estimatedViews"`
	ImpressionSchedule []model.ImpressionSlot `json:"impressionSchedule,omitempty"`
}

// kst is Korea Standard Time (no DST), fixed so the simulator needs no tzdata.
var kst = time.FixedZone("KST", 9*60*60)

// naverBlogs are plausible Naver blog ids of small shops (Korean romanised).
var naverBlogs = []string{"dongne_gage", "matjib_story", "sijang_news", "uri_store", "hanok_cafe", "ttokbokki_lab"}

// slotKinds are TV ad slots: name, start hour, length in hours (KST).
var slotKinds = []struct {
	name  string
	hour  int
	hours int
}{
	{"morning", 7, 2},
	{"daytime", 11, 5},
	{"prime", 19, 4},
	{"late", 23, 2},
}

// ResultFor returns the result a channel produces for an event. It is deterministic: the same
// (eventID, channel) always gives the same ids and views; the impression schedule is laid on the
// days following submitted (KST).
func ResultFor(eventID string, ch model.Channel, submitted time.Time) Result {
	h := fnv.New64a()
	h.Write([]byte(eventID))
	h.Write([]byte{0})
	h.Write([]byte(ch))
	seed := h.Sum64()
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	between := func(lo, hi int) int { return lo + r.IntN(hi-lo+1) }

	switch ch {
	case model.ChannelUridongneTV:
		return Result{DistributionID: "UDTV-" + code(r, 8), EstimatedViews: between(5000, 50000), ImpressionSchedule: schedule(r, submitted)}
	case model.ChannelGiniTV:
		return Result{DistributionID: "GTV-" + code(r, 8), EstimatedViews: between(10000, 80000), ImpressionSchedule: schedule(r, submitted)}
	case model.ChannelRingoBiz:
		return Result{DistributionID: "RGB-" + code(r, 8), EstimatedViews: between(300, 5000)}
	case model.ChannelInstagram:
		short := shortcode(r)
		return Result{PostID: "3" + digits(r, 18), PostURL: "https://www.instagram.com/p/" + short + "/", EstimatedViews: between(500, 20000)}
	case model.ChannelNaver:
		blog := naverBlogs[r.IntN(len(naverBlogs))]
		num := "2234" + digits(r, 8)
		return Result{PostID: num, PostURL: "https://blog.naver.com/" + blog + "/" + num, EstimatedViews: between(200, 8000)}
	case model.ChannelKakao:
		return Result{MessageID: "KM" + digits(r, 14), EstimatedViews: between(100, 3000)}
	}
	return Result{}
}

func schedule(r *rand.Rand, submitted time.Time) []model.ImpressionSlot {
	day0 := submitted.In(kst)
	day0 = time.Date(day0.Year(), day0.Month(), day0.Day(), 0, 0, 0, 0, kst)
	type key struct{ day, kind int }
	n := 3 + r.IntN(4)
	seen := map[key]bool{}
	var keys []key
	for len(keys) < n {
		k := key{1 + r.IntN(7), r.IntN(len(slotKinds))}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.day != b.day {
			return a.day - b.day
		}
		return slotKinds[a.kind].hour - slotKinds[b.kind].hour
	})
	slots := make([]model.ImpressionSlot, len(keys))
	for i, k := range keys {
		sk := slotKinds[k.kind]
		start := day0.AddDate(0, 0, k.day).Add(time.Duration(sk.hour) * time.Hour)
		slots[i] = model.ImpressionSlot{
			Start: start.Format(time.RFC3339),
			End:   start.Add(time.Duration(sk.hours) * time.Hour).Format(time.RFC3339),
			Slot:  sk.name,
			Spots: 2 + r.IntN(11),
		}
	}
	return slots
}

func code(r *rand.Rand, n int) string   { return pick(r, n, "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") }
func digits(r *rand.Rand, n int) string { return pick(r, n, "0123456789") }
func shortcode(r *rand.Rand) string {
	return pick(r, 11, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
}

func pick(r *rand.Rand, n int, alphabet string) string {
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// publicationID makes a unique, unguessable-enough publication id.
func publicationID(seq uint64, r *rand.Rand) string {
	return fmt.Sprintf("pub_%06d%s", seq, strings.ToLower(code(r, 10)))
}
