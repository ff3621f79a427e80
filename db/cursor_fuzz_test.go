package db

import (
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// Cursors come back from the outside (a URL): decoding never panics, refuses with EINVALID, and
// what it accepts names a valid event id and round-trips.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(time.UnixMicro(1_700_000_000_000_000), "ev-1"))
	f.Add("")
	f.Add("not base64!")
	f.Add("LTEsLi4veA")       // "-1,../x"
	f.Add("OTk5OTk5OTk5OTk5") // no comma
	f.Add(string(make([]byte, 200)))
	f.Add("OTIyMzM3MjAzNjg1NDc3NTgwNyxldi0x")   // "9223372036854775807,ev-1": past PostgreSQL's range
	f.Add("LTkyMjMzNzIwMzY4NTQ3NzU4MDgsZXYtMQ") // "-9223372036854775808,ev-1"
	f.Fuzz(func(t *testing.T, s string) {
		at, id, err := decodeCursor(s)
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("decodeCursor(%q) error %v is not EINVALID", s, err)
			}
			return
		}
		if !model.ValidEventID(id) {
			t.Fatalf("decodeCursor(%q) accepted id %q", s, id)
		}
		if at.Before(time.Unix(0, 0)) || at.Year() > 9999 {
			t.Fatalf("decodeCursor(%q) accepted time %v", s, at)
		}
		if _, id2, err := decodeCursor(encodeCursor(at, id)); err != nil || id2 != id {
			t.Fatalf("round trip of %q: %q %v", s, id2, err)
		}
	})
}

func FuzzDecodeReportCursor(f *testing.F) {
	f.Add(encodeReportCursor(reportKey{StartedAt: time.UnixMicro(1_700_000_000_000_000), DistID: 7, Rank: 2}))
	f.Add("")
	f.Add("%%%")
	f.Add("MSwyLDM")
	f.Add("OTIyMzM3MjAzNjg1NDc3NTgwNywxLDE") // "9223372036854775807,1,1"
	f.Add("MTcwMDAwMDAwMDAwMDAwMCwtMSwtNQ")  // "1700000000000000,-1,-5"
	f.Fuzz(func(t *testing.T, s string) {
		k, err := decodeReportCursor(s)
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("decodeReportCursor(%q) error %v is not EINVALID", s, err)
			}
			return
		}
		if k.DistID < 0 || k.Rank < 0 || k.StartedAt.Before(time.Unix(0, 0)) || k.StartedAt.Year() > 9999 {
			t.Fatalf("decodeReportCursor(%q) accepted %+v", s, k)
		}
		if k2, err := decodeReportCursor(encodeReportCursor(k)); err != nil || k2 != k {
			t.Fatalf("round trip of %q: %+v -> %+v %v", s, k, k2, err)
		}
	})
}
