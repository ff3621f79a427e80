package db

import (
	"testing"
	"time"

	"github.com/marketing-platform/distribution/model"
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
	f.Fuzz(func(t *testing.T, s string) {
		k, err := decodeReportCursor(s)
		if err != nil {
			if model.ErrorCode(err) != model.EINVALID {
				t.Fatalf("decodeReportCursor(%q) error %v is not EINVALID", s, err)
			}
			return
		}
		if k2, err := decodeReportCursor(encodeReportCursor(k)); err != nil || k2 != k {
			t.Fatalf("round trip of %q: %+v -> %+v %v", s, k, k2, err)
		}
	})
}
