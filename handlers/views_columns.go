package handlers

import "strconv"

// measuredText is a CSV cell of measured views: empty while unknown (never 0 pretending).
func measuredText(v *int) string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(*v)
}

// measuredCell is an Excel cell of measured views: nil (an empty cell) while unknown.
func measuredCell(v *int) any {
	if v == nil {
		return nil
	}
	return *v
}
