package main

import (
	"context"
	"errors"
)

func benchFanout(ctx context.Context, o options, e *benchEnv, res *results) error { return nil }
func benchBrowser(ctx context.Context, e *benchEnv, res *results) error {
	return errors.New("todo")
}
func refMain(args []string) {}
