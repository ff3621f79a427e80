package live

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// sseEvent is one dispatched event as a browser's EventSource (and Datastar's fetch-based reader)
// sees it.
type sseEvent struct {
	typ, data string
}

// parseSSE parses an event stream as the HTML standard's "Parsing an event stream" does: lines end
// at CRLF, CR or LF; a blank line dispatches the event (nothing, when no data line was seen);
// "field: value" loses one leading space; comments start with ':'.
func parseSSE(b []byte) []sseEvent {
	var (
		out       []sseEvent
		typ, data string
		hasData   bool
	)
	s := string(b)
	for len(s) > 0 {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			break // an unterminated last line is discarded
		}
		line := s[:i]
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
		switch {
		case line == "":
			if hasData {
				out = append(out, sseEvent{typ: typ, data: strings.TrimSuffix(data, "\n")})
			}
			typ, data, hasData = "", "", false
			continue
		case line[0] == ':':
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			typ = value
		case "data":
			data += value + "\n"
			hasData = true
		}
	}
	return out
}

// lines splits text at every line end the SSE standard knows.
func lines(s string) []string {
	return strings.Split(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n"), "\n")
}

// wantOneEvent fails unless out parses to exactly one event of type typ whose data is want.
func wantOneEvent(t *testing.T, out []byte, typ, want string) {
	t.Helper()
	evs := parseSSE(out)
	if len(evs) != 1 || evs[0].typ != typ || evs[0].data != want {
		t.Fatalf("stream %q parses to %d events %q, want one %s with data %q", out, len(evs), evs, typ, want)
	}
}

// elementsData is the data a patch-elements event must carry for html: one "elements " line per
// line of it.
func elementsData(html string) string {
	return "elements " + strings.Join(lines(html), "\nelements ")
}

// injections are stored texts that try to end the data line and start fields of their own.
var injections = []string{
	"title\revent: datastar-patch-signals\rdata: signals {\"_live\":\"pwned\"}\r\r",
	"title\r\nevent: datastar-patch-signals\r\ndata: signals {\"_live\":\"pwned\"}\r\n\r\n",
	"title\nevent: datastar-patch-signals\ndata: signals {\"_live\":\"pwned\"}\n\n",
	"<tr id=\"r\"><td>a\r\rdata: elements <div id=\"x\" data-init=\"alert(1)\"></div>\r\r</td></tr>",
	"\r", "\n", "\r\n", "\n\r", "\r\r\n\n", "", ":comment\r", "id: 7\rretry: 1",
}

// FuzzWriteEvent: whatever text the product renders, the stream carries exactly the one event the
// writer meant, with exactly that text (line ends normalised as HTML would). Before the writer
// split on CR, a stored title with a bare CR produced a second, attacker-chosen event.
func FuzzWriteEvent(f *testing.F) {
	for _, s := range injections {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var b bytes.Buffer
		if err := writePatch(&b, []byte(text)); err != nil {
			t.Fatal(err)
		}
		wantOneEvent(t, b.Bytes(), "datastar-patch-elements", elementsData(text))

		b.Reset()
		if err := writeAppend(&b, "#toasts", []byte(text)); err != nil {
			t.Fatal(err)
		}
		wantOneEvent(t, b.Bytes(), "datastar-patch-elements", "selector #toasts\nmode append\n"+elementsData(text))

		b.Reset()
		if err := writeSignals(&b, map[string]string{"_live": text}); err != nil {
			t.Fatal(err)
		}
		evs := parseSSE(b.Bytes())
		if len(evs) != 1 || evs[0].typ != "datastar-patch-signals" || !strings.HasPrefix(evs[0].data, "signals ") {
			t.Fatalf("signals stream %q parses to %q", b.Bytes(), evs)
		}
		var got map[string]string
		if err := json.Unmarshal([]byte(strings.TrimPrefix(evs[0].data, "signals ")), &got); err != nil {
			t.Fatalf("signals data %q: %v", evs[0].data, err)
		}
		// JSON carries valid UTF-8 exactly (invalid bytes become U+FFFD, one per byte).
		if utf8.ValidString(text) && got["_live"] != text {
			t.Fatalf("signal _live = %q, want %q", got["_live"], text)
		}
	})
}

func TestWriteRemove(t *testing.T) {
	var b bytes.Buffer
	if err := writeRemove(&b, "#live-stream"); err != nil {
		t.Fatal(err)
	}
	wantOneEvent(t, b.Bytes(), "datastar-patch-elements", "selector #live-stream\nmode remove")
}
