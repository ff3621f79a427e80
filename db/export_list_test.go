package db

import "time"

// EncodeCursorForTest is encodeCursor, for the list tests of package db_test.
func EncodeCursorForTest(at time.Time, id string) string { return encodeCursor(at, id) }
