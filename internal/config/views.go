package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DefaultInstagramReachRate is INSTAGRAM_REACH_RATE's default: a post is estimated to reach 30 %
// of the account's followers.
const DefaultInstagramReachRate = 0.3

// reachRateVar reads INSTAGRAM_REACH_RATE: a number r with 0 < r <= 1.
func reachRateVar(getenv func(string) string) (float64, error) {
	v := strings.TrimSpace(getenv("INSTAGRAM_REACH_RATE"))
	if v == "" {
		return DefaultInstagramReachRate, nil
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(r) || r <= 0 || r > 1 {
		return 0, fmt.Errorf("INSTAGRAM_REACH_RATE: want a share of the followers greater than 0 and at most 1 (e.g. 0.3), got %q", truncateVal(v))
	}
	return r, nil
}

func truncateVal(v string) string {
	if len(v) > 40 {
		return v[:40]
	}
	return v
}
