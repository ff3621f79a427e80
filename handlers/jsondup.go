package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// maxJSONDepth is where duplicateKey stops looking (encoding/json refuses deeper nesting anyway).
const maxJSONDepth = 10000

// duplicateKey returns the path ("title", "channels[0].ch") of the first key that appears twice in
// one object of the JSON text, at any depth, or "" when there is none. encoding/json keeps the
// last of two equal keys and matches field names without regard to case, so {"title":"a",
// "Title":"b"} would be read as "b" while a proxy or log reader may have seen "a": such a body is
// ambiguous and is refused. Malformed JSON is not reported here (the decoder says what is wrong).
func duplicateKey(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dup, _ := walkJSON(dec, "", 0)
	return dup
}

// walkJSON reads one value from dec; the error only stops the walk.
func walkJSON(dec *json.Decoder, path string, depth int) (string, error) {
	if depth > maxJSONDepth {
		return "", fmt.Errorf("nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", err
			}
			k, _ := kt.(string)
			p := k
			if path != "" {
				p = path + "." + k
			}
			fold := strings.ToLower(strings.ToUpper(k)) // the decoder's case-insensitive match
			if seen[fold] {
				return p, nil
			}
			seen[fold] = true
			if dup, err := walkJSON(dec, p, depth+1); dup != "" || err != nil {
				return dup, err
			}
		}
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if dup, err := walkJSON(dec, fmt.Sprintf("%s[%d]", path, i), depth+1); dup != "" || err != nil {
				return dup, err
			}
		}
	default:
		return "", nil // a scalar
	}
	_, err = dec.Token() // the closing delimiter
	return "", err
}
