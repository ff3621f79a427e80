package live

import (
	"bytes"
	"encoding/json"
	"io"
)

// The SSE wire writer: every event the product sends goes through writeEvent, so one function
// decides what may reach the stream.
//
// The SSE standard (HTML Living Standard, "Parsing an event stream") ends a line at CR, LF or
// CRLF, and so does Datastar's client. Text written into a `data:` line must therefore be split on
// all three: a writer that splits on LF only (as datastar-go v1.2.2's PatchElements and
// PatchSignals do) lets a bare CR in stored text (an event title, a channel's error) end the data
// line, and whatever follows becomes a field of its own: `event: datastar-patch-signals` plus a
// `data: signals ...` line is code that runs in every viewer's browser (CSP allows unsafe-eval,
// which Datastar needs). Splitting is lossless for HTML: its parser turns CR and CRLF into LF
// anyway. So the product writes its events itself and never hands text to datastar-go's generator.

// Datastar v1.0 event types and data-line keys (datastar-go consts.go).
var (
	sseElementsEvent = []byte("datastar-patch-elements")
	sseSignalsEvent  = []byte("datastar-patch-signals")
	sseElementsKey   = []byte("elements ")
	sseSignalsKey    = []byte("signals ")
	sseSelectorKey   = []byte("selector ")
	sseModeKey       = []byte("mode ")
)

// sseLine is one data line: key (e.g. "elements ") and a value that may span lines.
type sseLine struct {
	key, value []byte
}

// writeEvent writes one SSE event: the event line, then, for each data line, one `data: key …`
// line per line of its value (split at CRLF, CR and LF), then the blank line that dispatches it.
// No byte of a value can end a line early, so no value can start a field. The extra blank line
// at the end is what datastar-go writes too (a second dispatch of nothing).
func writeEvent(w io.Writer, event []byte, lines ...sseLine) error {
	var err error
	put := func(b []byte) {
		if err == nil && len(b) > 0 {
			_, err = w.Write(b)
		}
	}
	put(sseEventPrefix)
	put(event)
	put(sseNewline)
	for _, l := range lines {
		rest := l.value
		for {
			i := bytes.IndexAny(rest, "\r\n")
			put(sseDataPrefix)
			put(l.key)
			if i < 0 {
				put(rest)
				put(sseNewline)
				break
			}
			put(rest[:i])
			put(sseNewline)
			if rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n' {
				i++ // CRLF is one line end
			}
			rest = rest[i+1:]
		}
	}
	put(sseNewline)
	put(sseNewline)
	return err
}

var (
	sseEventPrefix = []byte("event: ")
	sseDataPrefix  = []byte("data: ")
	sseNewline     = []byte("\n")
)

// writePatch writes a patch-elements event in the default mode (outer morph by id).
func writePatch(w io.Writer, html []byte) error {
	return writeEvent(w, sseElementsEvent, sseLine{sseElementsKey, html})
}

// writeAppend writes a patch-elements event that appends html to the element selector names.
func writeAppend(w io.Writer, selector string, html []byte) error {
	return writeEvent(w, sseElementsEvent,
		sseLine{sseSelectorKey, []byte(selector)},
		sseLine{sseModeKey, []byte("append")},
		sseLine{sseElementsKey, html})
}

// writeRemove writes a patch-elements event that removes the element selector names.
func writeRemove(w io.Writer, selector string) error {
	return writeEvent(w, sseElementsEvent,
		sseLine{sseSelectorKey, []byte(selector)},
		sseLine{sseModeKey, []byte("remove")})
}

// writeSignals writes a patch-signals event with v marshalled as JSON (which escapes every
// control character inside strings, and the writer splits whatever else).
func writeSignals(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeEvent(w, sseSignalsEvent, sseLine{sseSignalsKey, b})
}
