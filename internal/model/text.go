package model

import (
	"strings"
	"unicode/utf8"
)

// Text rules for everything that arrives from outside (API, forms, query strings, channel results).
// A line break in a value meant to be one line is never harmless: the SSE standard ends a line at
// CR, LF or CRLF, so a stray CR that reaches a live stream can start a new SSE field. Single-line
// values therefore refuse every C0 control character (NUL, CR, LF, TAB, ESC, ...) and DEL;
// multi-line values keep LF (and TAB), with CRLF and bare CR normalised to LF.

// CheckLine checks a single-line value: valid UTF-8, no C0 control characters or DEL, at most max
// characters (runes; max <= 0 means no limit). The error names field.
func CheckLine(field, v string, max int) error {
	if err := checkUTF8(field, v); err != nil {
		return err
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			if r == 0 {
				return FieldErrorf(field, "err.field.nul", "%s must not contain NUL characters")
			}
			return FieldErrorf(field, "err.field.one_line", "%s must be one line without control characters")
		}
	}
	return checkLength(field, v, max)
}

// NormalizeText turns CRLF and bare CR into LF: the form a multi-line value is stored in.
func NormalizeText(v string) string {
	if strings.IndexByte(v, '\r') < 0 {
		return v
	}
	return strings.ReplaceAll(strings.ReplaceAll(v, "\r\n", "\n"), "\r", "\n")
}

// CheckText checks a multi-line value that has been through NormalizeText: valid UTF-8, no C0
// control character other than LF and TAB, at most max characters (max <= 0: no limit).
func CheckText(field, v string, max int) error {
	if err := checkUTF8(field, v); err != nil {
		return err
	}
	for _, r := range v {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f {
			if r == 0 {
				return FieldErrorf(field, "err.field.nul", "%s must not contain NUL characters")
			}
			return FieldErrorf(field, "err.field.control", "%s must not contain control characters")
		}
	}
	return checkLength(field, v, max)
}

// SanitizeLine makes untrusted text that must be kept rather than refused (a channel's error text,
// a User-Agent header) safe to store and show on one line: invalid UTF-8 becomes U+FFFD, every
// control character a space, and the result is cut to at most max runes (with "…").
func SanitizeLine(v string, max int) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, v)
	return Truncate(v, max)
}

// Truncate cuts s to at most max runes, ending it with "…" when something was cut. It never cuts a
// character in half (Korean text is three bytes a character).
func Truncate(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

func checkUTF8(field, v string) error {
	if !utf8.ValidString(v) {
		return FieldErrorf(field, "err.field.utf8", "%s is not valid UTF-8")
	}
	return nil
}

func checkLength(field, v string, max int) error {
	if max > 0 {
		if n := utf8.RuneCountInString(v); n > max {
			return FieldErrorf(field, "err.field.too_long", "%s must be at most %d characters (got %d)", max, n)
		}
	}
	return nil
}
